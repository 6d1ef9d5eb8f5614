"""Figure of Sagun et al. (2018) Appendix B: logistic-regression Hessian spectra against
the Marchenko-Pastur law.

Each function takes loaded results (numpy arrays / DataFrames) and writes one PNG through
:func:`nnspectra.plotting.save_figure` (title = setting, caption = what is shown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnspectra.plotting import legend_below, new_figure, save_figure
from nnspectra.plotting.sagun2018 import palette


def plot_mp_appendix(results: Mapping[str, Any], ratios: Sequence[float], two_blob_ratios: Sequence[float],
                     path: str | Path, bins: int, setting: str) -> None:
    """Appendix B figure: single-blob Hessian vs MP density; two-blob Hessian with one outlier."""
    from nnspectra.spectra.mp import mp_density, mp_edges

    fig, axes = new_figure(1, 2, width=6.2, height=4.4)
    ax = axes[0, 0]
    colors = palette(len(ratios) + 1)
    peak = 0.0
    for ratio, color in zip(ratios, colors):
        eigs = np.asarray(results[f"single_{ratio:g}"])
        heights, _, _ = ax.hist(eigs, bins=bins, density=True, alpha=0.45, color=color,
                                label=f"Hessian, α = M/N = {ratio:g} (KS distance {float(np.asarray(results[f'ks_{ratio:g}'])):.3f})")
        peak = max(peak, float(np.max(heights)))
        a, b = mp_edges(float(ratio))
        grid = np.linspace(max(a, 1e-3), b, 400)
        ax.plot(grid, mp_density(grid, float(ratio)), color=color, lw=1.6, label=f"Marchenko-Pastur law, α = {ratio:g}")
    ax.set_ylim(0, 1.6 * peak)  # the alpha = 1 density diverges like x^(-1/2) at 0
    ax.set_xlabel("eigenvalue / mean eigenvalue (dimensionless)")
    ax.set_ylabel("density (1 / unit eigenvalue)")
    ax.set_title("one Gaussian blob, logistic regression")
    legend_below(ax)
    ax = axes[0, 1]
    colors = palette(len(two_blob_ratios) + 1)
    styles = ("-", "--", "-.", ":")
    for i, (ratio, color) in enumerate(zip(two_blob_ratios, colors)):
        eigs = np.asarray(results[f"two_{ratio:g}"])
        positive = eigs[eigs > 1e-9 * eigs.max()]
        top = float(np.asarray(results[f"top_{ratio:g}"]))
        count = int(np.asarray(results[f"outliers_{ratio:g}"]))
        ls = styles[i % len(styles)]
        # outlines, so that a small spectrum is not hidden under a larger one
        ax.hist(positive, bins=np.logspace(np.log10(positive.min()), np.log10(eigs.max() * 1.5), bins),
                histtype="step", lw=1.6, ls=ls, color=color,
                label=f"α = d/N = {ratio:g}: {count} outlier(s), largest eigenvalue {top:.4g} (vertical line)")
        ax.axvline(top, color=color, ls=ls, lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("non-zero Hessian eigenvalue (summed loss, loss units / parameter²)")
    ax.set_ylabel("count of eigenvalues")
    ax.set_title("two Gaussian blobs, softmax regression at W = 0")
    legend_below(ax)
    save_figure(fig, path, f"Appendix B: logistic-regression Hessians and the Marchenko-Pastur law ({setting})",
                "Left: spectrum of the logistic-loss Hessian on one standard Gaussian blob (normalised by its mean "
                "eigenvalue) against the MP density with ratio α = M/N. Right: the summed Hessian for two blobs has "
                "a bulk plus one outlier (vertical lines: the largest eigenvalue) along the mean direction, larger for larger α = d/N.")
