"""Figures of Sagun et al. (2018) §3.2, seed Figs 4-6: the right and left edges of
the Hessian spectrum of 784-n-10 MLPs on MNIST as the width n grows.

Each function takes loaded results (numpy arrays / DataFrames) and writes one PNG through
:func:`nnspectra.plotting.save_figure` (title = setting, caption = what is shown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nnspectra.plotting import MARKERS, legend_below, new_figure, save_figure
from nnspectra.plotting.sagun2018 import palette


def _neg_part(spec: Mapping[str, np.ndarray]) -> np.ndarray:
    """Negative eigenvalues beyond round-off, ascending (from all eigenvalues when dense, else bottom)."""
    eigs = spec["eigenvalues"] if np.asarray(spec["eigenvalues"]).size else spec["bottom"]
    tol = float(np.asarray(spec["negative_tolerance"]))
    return np.sort(np.asarray(eigs)[np.asarray(eigs) < -tol])


def rank_ticks(n: int, most: int = 8) -> list[int]:
    """Integer rank ticks for ranks 1..n: 1 (the largest eigenvalue) and round steps up to n, never 0."""
    from matplotlib.ticker import MaxNLocator

    steps = [int(t) for t in MaxNLocator(nbins=most, integer=True, steps=[1, 2, 5, 10]).tick_values(1, n)]
    return sorted({1, *(t for t in steps if 1 < t <= n)})


def mlp_input_dim(n_params: int, width: int, classes: int = 10) -> int | None:
    """Input dimension d of a d-n-``classes`` MLP with biases from its parameter count (None if it is not one)."""
    d, rest = divmod(n_params - width - width * classes - classes, width)
    return d if rest == 0 and d > 0 else None


def plot_right_edge(spectra: Mapping[int, Mapping[str, np.ndarray]], path: str | Path, top: int, setting: str) -> None:
    """Seed Fig. 4: the ``top`` largest eigenvalues per width, ordered, rank ``top`` -> 1."""
    fig, axes = new_figure(1, 2, width=6.0, height=4.2)
    colors = palette(len(spectra))
    n_shown = 1
    for i, ((width, spec), color) in enumerate(zip(sorted(spectra.items()), colors)):
        lam = np.asarray(spec["top"])[:top]
        n_shown = max(n_shown, lam.size)
        ranks = np.arange(1, lam.size + 1)
        label = (f"hidden width n = {width} (P = {int(np.asarray(spec['n_params'])):,} parameters, "
                 f"{np.asarray(spec['method']).item()} spectrum)")
        for ax in axes[0]:
            ax.plot(ranks, lam, "-", marker=MARKERS[i % len(MARKERS)], ms=3, lw=1, color=color, label=label)
    for ax, scale in zip(axes[0], ("linear", "symlog")):
        ax.set_xlim(n_shown + 0.5, 0.5)  # rank top on the left, rank 1 (the largest) on the right, as in the paper
        ax.set_xticks(rank_ticks(n_shown))
        ax.set_xlabel("rank of eigenvalue (1 = largest)")
        ax.set_ylabel("Hessian eigenvalue (loss units / parameter²)")
        if scale == "symlog":
            ax.set_yscale("symlog", linthresh=1e-4)
            shown = np.concatenate([np.asarray(s["top"])[:top] for s in spectra.values()])
            if shown.size and shown.min() > 0:  # no empty negative decades under an all-positive edge
                ax.set_ylim(shown.min() / 2, shown.max() * 2)
            ax.set_title("same eigenvalues, symmetric-log y axis")
        else:
            ax.set_title(f"top {top} eigenvalues, increasing")
    legend_below(axes[0, 0], fontsize="small")
    dims = {mlp_input_dim(int(np.asarray(s["n_params"])), int(w)) for w, s in spectra.items()}
    d = dims.pop() if len(dims) == 1 and None not in dims else None
    side = math.isqrt(d) if d else 0
    pixels = f" ({side}×{side} images)" if d and side * side == d else ""
    net = f"{d}-n-10 MLP on MNIST{pixels}" if d else "d-n-10 MLP on MNIST"
    save_figure(fig, path, f"Right edge of the Hessian spectrum, {net} ({setting})",
                f"Largest {top} eigenvalues of the exact Hessian of the training loss at the end of GD, ordered "
                "(x axis runs from rank {top} to rank 1 as in the paper). Claim: the shape of the right edge does "
                "not change as the hidden width n (and the parameter count P) grows.".replace("{top}", str(top)))


def plot_left_edge(spectra: Mapping[int, Mapping[str, np.ndarray]], path: str | Path, fraction: bool, setting: str,
                   ) -> None:
    """Seed Figs. 5 (x = rank) and 6 (x = rank / P): the negative eigenvalues, most negative first."""
    fig, axes = new_figure(1, 1, width=9.0, height=4.8)
    ax = axes[0, 0]
    colors = palette(len(spectra))
    for i, ((width, spec), color) in enumerate(zip(sorted(spectra.items()), colors)):
        neg = _neg_part(spec)
        p = int(np.asarray(spec["n_params"]))
        exact = bool(np.asarray(spec["negative_count_exact"]))
        ranks = np.arange(1, neg.size + 1)
        x = ranks / p if fraction else ranks
        share = f"{100 * neg.size / p:.2f}% negative" if exact else f">= {neg.size} negative (Lanczos window)"
        ax.plot(x, neg, "-", marker=MARKERS[i % len(MARKERS)], markevery=max(1, neg.size // 12), ms=4, lw=1.3,
                color=color, label=f"hidden width n = {width} (P = {p:,} parameters): {share}")
    ax.set_xlabel("rank / P (fraction of all P eigenvalues, 0 = most negative)" if fraction
                  else "rank of eigenvalue (1 = most negative)")
    ax.set_ylabel("Hessian eigenvalue (loss units / parameter²)")
    ax.axhline(0.0, color="0.4", lw=0.8)
    legend_below(ax, fontsize="small")
    what = "against the fraction of the parameter count" if fraction else "by rank"
    title = "Left edge of the Hessian spectrum " + ("against rank / P" if fraction else "by rank")
    save_figure(fig, path, f"{title} (seed Fig. {6 if fraction else 5}), d-n-10 MLP on MNIST ({setting})",
                f"Negative eigenvalues (below the round-off level P·eps·|λ|max) of the same Hessians, sorted "
                f"ascending and plotted {what}. Legend: share of negative eigenvalues per width. Claim: about "
                "1.1% are negative for every width, orders of magnitude smaller than the top outliers.")
