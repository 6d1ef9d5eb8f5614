"""Hessian spectral densities (SLQ) with the top outliers marked: the CIFAR-10 AlexNet figure beyond the paper."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nnspectra.plotting import legend_below, new_figure, save_figure


def one_eigenvalue_density(arr: Mapping[str, np.ndarray]) -> float:
    """Peak density of a single eigenvalue under the SLQ Gaussian kernel, 1 / (P sigma sqrt(2 pi)): below a tenth
    of it the estimate holds less than a tenth of one eigenvalue, so lower values are noise, not spectrum."""
    return 1.0 / (float(arr["n_params"]) * max(float(arr["sigma"]), 1e-300) * np.sqrt(2.0 * np.pi))


def plot_spectral_densities(panels: Mapping[str, Mapping[str, np.ndarray]], path: str | Path, setting: str = "",
                            xscale: str = "symlog", model: str = "AlexNet", dataset: str = "CIFAR-10") -> None:
    """One panel per model (e.g. "Part I (large batch)", "Part II (small batch)"): log density of the Hessian
    spectrum on a symmetric-log (``xscale="symlog"``, linear within about sigma of 0) or linear x axis shared
    by the panels, the Gauss-Newton density when present, the top eigenvalues as vertical marks, lambda_max and
    the Hutchinson trace (± std across probes) in the legend. Densities below a tenth of one eigenvalue's
    peak (:func:`one_eigenvalue_density`) are cut off: they hold no eigenvalue.

    Each panel's arrays: ``grid``, ``density`` (and ``density_std``), ``top`` (descending), ``trace_mean``,
    ``trace_std``, ``n_params``, ``n_samples``, ``sigma``; optional ``gn_grid`` / ``gn_density``.
    """
    if xscale not in ("symlog", "linear"):
        raise ValueError(f"xscale must be 'symlog' or 'linear', got {xscale!r}")
    fig, axes = new_figure(1, len(panels), width=5.4, height=4.2, sharex=True, sharey=True)
    lows, highs, floors, peaks = [], [], [], []
    for arr in panels.values():
        grid, top = np.asarray(arr["grid"], float), np.asarray(arr["top"], float)
        lows.append(float(grid.min()))
        highs.append(float(max(grid.max(), top.max() if top.size else grid.max())))
        floors.append(0.1 * one_eigenvalue_density(arr))
        peaks.append(float(np.max(arr["density"])))
    floor = min(floors)
    for ax, (title, arr) in zip(axes[0], panels.items()):
        grid, dens = np.asarray(arr["grid"], float), np.asarray(arr["density"], float)
        shown = np.where(dens >= floor, dens, np.nan)  # gaps where the estimate holds no eigenvalue
        ax.plot(grid, shown, color="tab:blue", lw=1.4, label="Hessian density (stochastic Lanczos quadrature)")
        if "density_std" in arr:
            std = np.asarray(arr["density_std"], float)
            ax.fill_between(grid, np.maximum(dens - std, floor), np.maximum(dens + std, floor), color="tab:blue",
                            alpha=0.2, lw=0, label="± std across random probes")
        if "gn_density" in arr:
            gd = np.asarray(arr["gn_density"], float)
            ax.plot(np.asarray(arr["gn_grid"], float), np.where(gd >= floor, gd, np.nan), color="tab:green", lw=1.0,
                    ls="--", label="Gauss-Newton part G (SLQ)")
        top = np.asarray(arr["top"], float)
        for i, lam in enumerate(top):
            ax.axvline(lam, color="tab:red", lw=0.8, alpha=0.7,
                       label=f"top {top.size} eigenvalues (Lanczos)" if i == 0 else None)
        ax.plot([], [], " ", label=rf"$\lambda_{{max}}$ = {top[0]:.4g}" if top.size else r"$\lambda_{max}$ n/a")
        ax.plot([], [], " ", label=f"trace (Hutchinson) = {float(arr['trace_mean']):.4g} ± {float(arr['trace_std']):.2g}")
        ax.set_yscale("log")
        if xscale == "symlog":
            ax.set_xscale("symlog", linthresh=max(min(float(a["sigma"]) for a in panels.values()), 1e-12))
        axis = " (symmetric-log axis)" if xscale == "symlog" else ""
        ax.set_xlabel(f"Hessian eigenvalue λ, loss / parameter²{axis}")
        ax.set_title(f"{title}: P = {int(arr['n_params']):,} parameters, N = {int(arr['n_samples']):,} images",
                     fontsize="small")
        legend_below(ax, fontsize="x-small")
    axes[0, 0].set_ylabel("spectral density (fraction of eigenvalues per unit λ)")
    span = max(highs) - min(lows)
    axes[0, 0].set_xlim(min(lows), max(highs) + 0.02 * span)
    axes[0, 0].set_ylim(floor, max(peaks) * 3)
    save_figure(fig, path, f"Hessian spectral density of the {dataset} {model} at the end of each training phase",
                (f"Setting: {setting}. " if setting else "")
                + f"Density of all eigenvalues of the Hessian of the training loss of the {model} trained on "
                "{dataset} (Part I: large batch; Part II: small batch from Part I's end point), estimated by "
                "stochastic Lanczos quadrature with a Gaussian kernel; red lines: the top eigenvalues computed "
                "by Lanczos (the outliers the density smooths into its right tail). Both panels share their axes. "
                "The y axis starts at a tenth of the peak density of one single eigenvalue: below it the estimate "
                "holds less than a tenth of an eigenvalue, so the curves stop there.".replace("{dataset}", dataset))
