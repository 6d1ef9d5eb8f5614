"""Hessian spectral densities (SLQ) with the top outliers marked: the CIFAR-10 AlexNet figure beyond the paper."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def plot_spectral_densities(panels: Mapping[str, Mapping[str, np.ndarray]], path: str | Path, setting: str = "",
                            xscale: str = "symlog") -> None:
    """One panel per model (e.g. "Part I (LB)", "Part II (SB)"): log density of the Hessian spectrum on a
    symmetric-log (``xscale="symlog"``, linear within about sigma of 0) or linear x axis, the Gauss-Newton
    density when present, the top eigenvalues as vertical marks, lambda_max and the Hutchinson trace
    (± std across probes) in the legend.

    Each panel's arrays: ``grid``, ``density`` (and ``density_std``), ``top`` (descending), ``trace_mean``,
    ``trace_std``, ``n_params``, ``n_samples``, ``sigma``; optional ``gn_grid`` / ``gn_density``.
    """
    import matplotlib.pyplot as plt

    if xscale not in ("symlog", "linear"):
        raise ValueError(f"xscale must be 'symlog' or 'linear', got {xscale!r}")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
    for ax, (title, arr) in zip(axes[0], panels.items()):
        grid, dens = np.asarray(arr["grid"], float), np.asarray(arr["density"], float)
        floor = max(float(dens.max()) * 1e-12, 1e-300)
        ax.plot(grid, np.maximum(dens, floor), color="C0", lw=1.4, label="Hessian (SLQ)")
        if "density_std" in arr:
            std = np.asarray(arr["density_std"], float)
            ax.fill_between(grid, np.maximum(dens - std, floor), dens + std, color="C0", alpha=0.2, lw=0)
        if "gn_density" in arr:
            gd = np.asarray(arr["gn_density"], float)
            ax.plot(np.asarray(arr["gn_grid"], float), np.maximum(gd, floor), color="C2", lw=1.0, ls="--",
                    label="Gauss-Newton (SLQ)")
        top = np.asarray(arr["top"], float)
        for i, lam in enumerate(top):
            ax.axvline(lam, color="C3", lw=0.8, alpha=0.7, label=f"top {top.size} (Lanczos)" if i == 0 else None)
        ax.plot([], [], " ", label=rf"$\lambda_{{max}}$ = {top[0]:.4g}" if top.size else r"$\lambda_{max}$ n/a")
        ax.plot([], [], " ", label=f"trace (Hutchinson) = {float(arr['trace_mean']):.4g} ± {float(arr['trace_std']):.2g}")
        ax.set_yscale("log")
        ax.set_ylim(bottom=float(dens.max()) * 1e-9)  # deep dips between outliers say nothing; keep 9 decades
        if xscale == "symlog":
            ax.set_xscale("symlog", linthresh=max(float(arr["sigma"]), 1e-12))
        axis = ", symmetric-log axis" if xscale == "symlog" else ""
        ax.set_xlabel(f"curvature eigenvalue (loss / parameter²{axis})")
        ax.set_ylabel("spectral density (per unit eigenvalue)")
        ax.set_title(f"{title}: P = {int(arr['n_params']):,}, N = {int(arr['n_samples']):,}", fontsize=10)
        ax.legend(fontsize=8, loc="lower center")
    if setting:
        fig.suptitle(setting, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
