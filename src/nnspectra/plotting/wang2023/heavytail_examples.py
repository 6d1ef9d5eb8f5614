"""Figure of Wang et al.'s heavy-tail examples (SPEC §3.2): weight spectra and ridge test error."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnspectra.plotting import legend_below, new_figure, save_figure
from nnspectra.spectra.mp import mp_edges

COLOURS = {"gaussian": "tab:blue", "spiked": "tab:orange", "heavy_tail_aligned": "tab:red",
           "heavy_tail_random": "tab:purple"}
MARKERS = {"gaussian": "o", "spiked": "s", "heavy_tail_aligned": "^", "heavy_tail_random": "D"}


def plot_heavytail_examples(runs: pd.DataFrame, spectra: Mapping[str, np.ndarray], labels: Mapping[str, str],
                            examples: Any, out: str | Path) -> None:
    """(1) rank-ordered W^T W/h spectra with their fitted tail exponents; (2) test MSE against the ridge.

    ``examples``: the typed settings of config ``evolution.ht_examples``
    (:class:`nnspectra.experiments.wang2023.heavytail_examples.HtExamples`; its sizes ``n_train``, ``dim``, ``width``).

    ``labels`` maps each first-layer kind (the ``matrix`` column of ``runs``) to its legend text, in the
    order the curves are drawn (the summary table's ``matrix`` and ``description`` columns).
    """
    fig, axes = new_figure(1, 2, width=6.0, height=4.4)
    ax = axes[0, 0]
    ratio = int(examples.dim) / int(examples.width)
    for kind in labels:
        if kind not in spectra:
            continue
        eigs = np.sort(np.asarray(spectra[kind]))[::-1]
        eigs = eigs[eigs > 0]
        alpha = float(runs.loc[(runs["seed"] == runs["seed"].min()) & (runs["matrix"] == kind), "alpha"].iloc[0])
        ranks = np.arange(1, eigs.size + 1)
        ax.loglog(ranks, eigs, color=COLOURS[kind], lw=1.4, marker=MARKERS[kind], ms=4,
                  markevery=np.unique(np.geomspace(1, eigs.size, 10).astype(int)) - 1,
                  label=f"{labels[kind]} (α = {alpha:.1f})")
    ax.axhline(mp_edges(ratio)[1], color="grey", ls=":", lw=1, label="Marchenko-Pastur bulk edge (Gaussian)")
    ax.set_xlabel("rank i of the eigenvalue (1 = largest, log scale)")
    ax.set_ylabel(r"eigenvalue $\lambda_i$ of $W^\top W/h$")
    ax.set_title("first-layer spectra (first seed)")
    legend_below(ax, fontsize="small")

    ax = axes[0, 1]
    for kind in labels:
        part = runs[runs["matrix"] == kind].groupby("ridge")["test_mse"]
        if part.ngroups == 0:
            continue
        mean, std = part.mean(), part.std().fillna(0.0)
        ax.errorbar(mean.index, mean.to_numpy(), yerr=std.to_numpy(), color=COLOURS[kind], marker=MARKERS[kind],
                    capsize=3, label=labels[kind])
    null = runs.groupby("ridge")["null_test_mse"].mean()
    ax.plot(null.index, null.to_numpy(), color="black", ls="--", lw=1, label="predict the training mean")
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.1 * float(null.max()))
    ax.set_xlabel(r"ridge strength $\lambda_{reg}$ (readout: $(Z^\top Z + \lambda_{reg} n/h\, I)^{-1} Z^\top y$)")
    ax.set_ylabel("test mean squared error (label units²)")
    ax.set_title(f"random-features ridge regression ({runs['seed'].nunique()} seeds, mean ± sd)")
    legend_below(ax, fontsize="small", ncol=2)
    save_figure(
        fig, out,
        title=(f"Heavy-tailed first layers vs Gaussian (SPEC §3.2; n = {examples.n_train}, d = {examples.dim}, "
               f"h = {examples.width}, softplus teacher)"),
        caption=("Left: eigenvalues of W^T W/h by rank (log-log) for four fixed first layers with (about) the "
                 "same Frobenius norm: Gaussian (Marchenko-Pastur bulk), Gaussian plus a rank-one spike along the "
                 "teacher direction β, and a Pareto heavy tail whose top direction is β or random; α is the "
                 "power-law exponent fitted by maximum likelihood above the KS-chosen xmin. Right: test MSE of "
                 "the ridge readout on tanh features against the ridge strength (error bars: sd over seeds). "
                 "A heavy tail helps when its top directions carry the signal, not by itself."),
    )
