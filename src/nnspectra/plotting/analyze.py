"""Figures of one study of `snakemake analyze`, readable without any paper: every axis says what it shows.

Each function takes plain arrays and writes one PNG: the top of the Hessian and Gauss-Newton spectra with the
outlier cutoff and the number of classes C marked; the log spectral density of H and GN with its spread over
probes; the per-block trace and largest eigenvalue; lambda_max over training against the stability bound 2/lr.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _save(fig, path: str | Path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_top_spectrum(top_h: np.ndarray, top_gn: np.ndarray, cutoff: float | None, n_classes: int, path: str | Path,
                      title: str = "", rule: str = "gap") -> None:
    """Scree plot: the k largest eigenvalues of H and GN by rank, the outlier cutoff of ``rule`` as a horizontal
    line and rank C (the number of classes) as a vertical line. Log y axis where all shown values are positive."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    top_h, top_gn = np.asarray(top_h, float), np.asarray(top_gn, float)
    ax.plot(np.arange(1, top_h.size + 1), top_h, "o-", ms=3, color="C0", label="Hessian H")
    ax.plot(np.arange(1, top_gn.size + 1), top_gn, "s--", ms=3, color="C2", label="Gauss-Newton GN")
    if cutoff is not None and np.isfinite(cutoff):
        ax.axhline(cutoff, color="C3", lw=1, ls=":", label=f"outlier cutoff of H ({rule} rule) = {cutoff:.3g}")
    ax.axvline(n_classes + 0.5, color="0.4", lw=1, ls="-.", label=f"rank C = {n_classes} (number of classes)")
    if top_h.size and top_gn.size and min(top_h.min(), top_gn.min()) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("rank i (largest first)")
    ax.set_ylabel(r"eigenvalue $\lambda_i$")
    ax.set_title(title or "largest eigenvalues")
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_densities(grid_h: np.ndarray, density_h: np.ndarray, per_probe_h: np.ndarray, grid_gn: np.ndarray,
                   density_gn: np.ndarray, per_probe_gn: np.ndarray, path: str | Path, title: str = "") -> None:
    """Log spectral density (SLQ) of H and GN: the mean over probes as a line, the min-max over probes shaded."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for grid, dens, per, color, label in ((grid_h, density_h, per_probe_h, "C0", "Hessian H"),
                                          (grid_gn, density_gn, per_probe_gn, "C2", "Gauss-Newton GN")):
        grid, dens, per = np.asarray(grid, float), np.asarray(dens, float), np.asarray(per, float)
        floor = max(float(dens.max()) * 1e-7, 1e-300)
        ax.plot(grid, np.maximum(dens, floor), color=color, lw=1.3, label=f"{label} (mean of {per.shape[0]} probes)")
        if per.shape[0] > 1:
            ax.fill_between(grid, np.maximum(per.min(0), floor), np.maximum(per.max(0), floor), color=color,
                            alpha=0.2, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel(r"eigenvalue $\lambda$")
    ax.set_ylabel("spectral density (log scale)")
    ax.set_title(title or "spectral density (stochastic Lanczos quadrature)")
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_blocks(names: Sequence[str], trace: np.ndarray, trace_err: np.ndarray, top: np.ndarray, path: str | Path,
                title: str = "") -> None:
    """Per block (layer or parameter group) of H: its trace (bars, with standard errors where estimated) and its
    largest eigenvalue (dots)."""
    import matplotlib.pyplot as plt

    n = len(names)
    fig, ax = plt.subplots(figsize=(max(5.5, 0.35 * n + 2), 4.2))
    pos = np.arange(n)
    ax.bar(pos, np.asarray(trace, float), yerr=np.asarray(trace_err, float), color="C0", alpha=0.7,
           label="trace of the block of H")
    ax.plot(pos, np.asarray(top, float), "o", color="C3", label=r"largest eigenvalue of the block")
    ax.set_xticks(pos)
    ax.set_xticklabels(list(names), rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("value")
    ax.set_title(title or "curvature per block (diagonal blocks of H)")
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_lambda_max(steps: np.ndarray, lambda_max: np.ndarray, two_over_lr: float | None, path: str | Path,
                    title: str = "") -> None:
    """lambda_max of H at each training snapshot with the stability bound 2/lr of gradient descent (when trained);
    without training, one point and a note."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    steps, lam = np.asarray(steps, float), np.asarray(lambda_max, float)
    ax.plot(steps, lam, "o-", color="C0", label=r"$\lambda_{max}(H)$")
    if two_over_lr is not None:
        ax.axhline(two_over_lr, color="C3", ls="--", label=f"2 / lr = {two_over_lr:.4g}")
    else:
        ax.text(0.5, 0.5, "not trained: no snapshots", transform=ax.transAxes, ha="center")
    ax.set_xlabel("training step")
    ax.set_ylabel(r"largest Hessian eigenvalue $\lambda_{max}$")
    ax.set_title(title or r"$\lambda_{max}$ during training")
    ax.legend(fontsize=7)
    _save(fig, path)
