"""Figures of Sagun et al. (2018) §4.1, seed Figs 7-8: large batch vs small batch spectra.

Each function takes loaded results (numpy arrays / DataFrames) and writes one PNG through
:func:`nnspectra.plotting.save_figure` (title = setting, caption = what is shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nnspectra.plotting import MARKERS, legend_below, new_figure, save_figure


def _integer_ticks():  # type: ignore[no-untyped-def]
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def plot_lbsb_top(specs: Mapping[str, Mapping[str, np.ndarray]], counts: Mapping[str, tuple[int, float]],
                  path: str | Path, top: int, rule: str, setting: str) -> None:
    """Seed Fig. 7: top eigenvalues of the LB and SB end points with the heuristic threshold."""
    fig, axes = new_figure(1, 1, width=9.0, height=4.8)
    ax = axes[0, 0]
    styles = {"lb": ("tab:red", "LB"), "sb": ("tab:blue", "SB")}
    for regime, spec in specs.items():
        color, name = styles[regime]
        lam = np.asarray(spec["top"])[:top]
        count, cutoff = counts[regime]
        batch = int(np.asarray(spec.get("batch_size", 0))) if "batch_size" in spec else None
        label = f"{name}{f' (batch {batch})' if batch else ''}: λmax={lam[0]:.3g}, {count} above threshold"
        ax.plot(np.arange(1, lam.size + 1), lam, "-", marker=MARKERS[len(ax.lines) % len(MARKERS)], ms=3, lw=1,
                color=color, label=label)
        ax.axhline(cutoff, color=color, ls="--", lw=0.9, label=f"{name} threshold ({rule} rule) = {cutoff:.3g}")
    ax.invert_xaxis()
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("rank of eigenvalue (1 = largest)")
    ax.set_ylabel("Hessian eigenvalue (loss units / parameter²)")
    legend_below(ax, ncol=2, fontsize="small")
    save_figure(fig, path, f"Outliers of LB vs SB, 2-conv + 2-FC convnet on MNIST ({setting})",
                f"Largest {top} eigenvalues of the exact training-loss Hessian at the end of SGD with a large batch "
                "(LB) and a small batch (SB), same lr and iteration count; dashed lines: the heuristic threshold. "
                "Claim: the same number of outliers (about the number of classes), larger for LB.")


def plot_lbsb_bottom(specs: Mapping[str, Mapping[str, np.ndarray]], path: str | Path, setting: str) -> None:
    """Seed Fig. 8: the negative edge of LB and SB against the fraction of the parameter count."""
    fig, axes = new_figure(1, 1, width=9.0, height=4.8)
    ax = axes[0, 0]
    styles = {"lb": ("tab:red", "LB"), "sb": ("tab:blue", "SB")}
    for i, (regime, spec) in enumerate(specs.items()):
        color, name = styles[regime]
        bottom = np.sort(np.asarray(spec["bottom"]))
        p = int(np.asarray(spec["n_params"]))
        x = np.arange(1, bottom.size + 1) / p
        ax.plot(x, bottom, "-", marker=MARKERS[i % len(MARKERS)], ms=3, lw=1, color=color,
                label=f"{name}: λmin={bottom[0]:.3g}, |λmax/λmin|={float(spec['top'][0]) / abs(bottom[0]):.3g}")
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel("rank / P (fraction of all P eigenvalues, 0 = most negative)")
    ax.set_ylabel("Hessian eigenvalue (loss units / parameter²)")
    legend_below(ax, fontsize="small")
    save_figure(fig, path, f"Negative eigenvalues of LB vs SB, convnet on MNIST ({setting})",
                "Smallest eigenvalues of the same Hessians (Lanczos bottom window or dense), sorted ascending, against "
                "rank / P. Claim: the negative eigenvalues are orders of magnitude smaller than the top outliers.")
