"""Figures of the Sagun et al. (2018) synthetic blob experiments (Figs 1-3, seed numbering)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nnspectra.plotting import legend_below, new_figure, save_figure, series_styles


def outlier_cap(values: np.ndarray, factor: float = 3.0) -> float | None:
    """A linear axis' upper limit that keeps the bulk readable: when the largest values stand more than
    ``factor`` times above the next one, 1.25 x the largest of the rest (None: no such outliers)."""
    top = np.sort(np.asarray(values, dtype=float))[::-1]
    for i in range(min(3, top.size - 1)):  # at most 3 eigenvalues are put off scale
        if top[i + 1] > 0 and top[i] > factor * top[i + 1]:
            return 1.25 * float(top[i + 1])
    return None


def plot_fig1(spectra: Mapping[str, Mapping[str, np.ndarray]], path: str | Path, setting: str,
              algorithm: str = "GD") -> None:
    """Ordered eigenvalues at init and after training (paper Fig. 1: after GD), plus the H = G + R split.

    ``spectra`` maps point ("init", "final") -> {"eig_H": ..., optionally "eig_G", "eig_R"} (ascending);
    ``algorithm`` is the optimiser of the run drawn (the panel says when it is not the paper's GD).
    Left: the paper's panel (H at both points, x = rank), a linear axis capped under up to 3 outliers that
    would squash the rest (:func:`outlier_cap`; their values are written in). Right: the Gauss-Newton
    decomposition of the same two Hessians on a symmetric-log axis, so the near-zero bulk and outliers are
    both visible.
    """
    import matplotlib.pyplot as plt

    fig, axes = new_figure(1, 2, width=6.0, height=4.4)
    ax = axes[0, 0]
    colors = {"init": "tab:blue", "final": "tab:red"}
    markers = {"init": "o", "final": "s"}
    points = {"init": "at initialisation", "final": "after training"}
    for point, spec in spectra.items():
        lam = np.sort(spec["eig_H"])
        ax.plot(np.arange(1, lam.size + 1), lam, ls="none", marker=markers.get(point, "^"), ms=2,
                color=colors.get(point), label=f"{points.get(point, point)}: λmin = {lam[0]:.3g}, λmax = {lam[-1]:.3g}")
    ax.axhline(0.0, color="0.3", lw=0.7)
    all_h = np.concatenate([np.asarray(spec["eig_H"], dtype=float) for spec in spectra.values()])
    cap = outlier_cap(all_h)
    if cap is not None:
        above = np.sort(all_h[all_h > cap])[::-1]
        ax.set_ylim(min(float(all_h.min()) * 1.1, -0.02 * cap), cap)
        ax.text(0.02, 0.97, f"off scale above: λ = {', '.join(f'{v:.3g}' for v in above)}", transform=ax.transAxes,
                ha="left", va="top", fontsize="x-small")
    ax.set_xlabel("rank of eigenvalue (ascending, 1 = most negative)")
    ax.set_ylabel("Hessian eigenvalue λ (loss units / parameter²)")
    paper = "as paper Fig. 1" if algorithm.upper() == "GD" else f"after {algorithm.upper()}; paper Fig. 1 shows GD"
    ax.set_title(f"Full Hessian spectrum ({paper})")
    legend_below(ax, markerscale=3, fontsize="small")
    ax = axes[0, 1]
    # colour: the point (as on the left); line style and marker: the matrix
    styles = {"eig_H": ("-", "o"), "eig_G": ("--", "^"), "eig_R": (":", "x")}
    names = {"eig_H": "Hessian H", "eig_G": "Gauss-Newton part G", "eig_R": "residual R = H − G"}
    for point, spec in spectra.items():
        for key in ("eig_H", "eig_G", "eig_R"):
            if key in spec:
                lam = np.sort(spec[key])
                ls, marker = styles[key]
                ax.plot(np.arange(1, lam.size + 1), lam, ls, lw=1.2, color=colors.get(point), marker=marker,
                        markevery=max(1, lam.size // 8), ms=4, label=f"{points.get(point, point)}: {names[key]}")
    lam_all = np.concatenate([np.abs(s["eig_H"]) for s in spectra.values()])
    linthresh = max(float(np.max(lam_all)) * 1e-4, 1e-12)
    ax.set_yscale("symlog", linthresh=linthresh)
    # one labelled tick per decade outside the linear band, so labels near zero do not collide
    decades = 10.0 ** np.arange(np.floor(np.log10(linthresh)) + 1, np.ceil(np.log10(np.max(lam_all))) + 1)
    ax.set_yticks(np.concatenate([-decades[::-1], [0.0], decades]))
    ax.set_xlabel("rank of eigenvalue (ascending)")
    ax.set_ylabel("eigenvalue (loss units / parameter²)")
    ax.set_title("Gauss-Newton split H = G + R (symmetric log y axis)")
    legend_below(ax, ncol=2, fontsize="small")
    save_figure(fig, path, title=f"Fig. 1 replica: Hessian spectrum at init and after training (run: {setting})",
                caption="All eigenvalues of the exact float64 Hessian of the mean training loss, sorted. "
                        "Left: at the random initial point and at the end of training with the algorithm named in the "
                        "title (the paper's Fig. 1 shows full-batch GD, the default run). Right: the same spectra "
                        "with the Gauss-Newton part G (positive semi-definite) and the residual R = H - G; symlog y "
                        "axis, linear within 1e-4 of the largest |λ|." + (
                            " The left axis stops below the largest eigenvalues, whose values are written in: on a "
                            "linear axis they would flatten the rest." if cap is not None else ""))
    plt.close("all")


def plot_fig2(scree: Mapping[int, np.ndarray], path: str | Path, setting: str, top: int = 60) -> None:
    """PCA scree of the standardised training inputs for each number of classes k (seed Fig. 2)."""
    import matplotlib.pyplot as plt

    fig, axes = new_figure(1, 1, width=7.0, height=4.6)
    ax = axes[0, 0]
    dim = max(np.asarray(ev).size for ev in scree.values())
    shown = min(top, dim)
    for (colour, marker), (k, ev) in zip(series_styles(len(scree)), sorted(scree.items())):
        ev = np.asarray(ev)[:top]
        ax.plot(np.arange(1, ev.size + 1), ev, "-", marker=marker, ms=4, lw=1, color=colour,
                label=f"k = {k} classes (dotted: rank k − 1 = {k - 1})")
        ax.axvline(k - 1, color=colour, lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("principal component rank (1 = largest variance)")
    ax.set_ylabel("variance of the component (standardised units²)")
    legend_below(ax, ncol=min(3, len(scree)), fontsize="small")
    what = f"all {dim} components" if shown == dim else f"the first {shown} of {dim} components"
    save_figure(fig, path, title=f"Seed Fig. 2 replica: PCA of the blob inputs\n({setting})",
                caption=f"Eigenvalues of the sample covariance of the standardised training inputs (scree, {what} "
                        "of the input space). The between-class covariance has rank k - 1, so about k - 1 large "
                        "components stand above the noise floor; dotted lines mark rank k - 1.")
    plt.close("all")


def plot_fig3(tops: Mapping[int, np.ndarray], cutoffs: Mapping[int, float], path: str | Path, setting: str,
              top: int = 120) -> None:
    """Top eigenvalues of the final Hessian for each k with the automatic elbow threshold (seed Fig. 3).

    ``tops`` maps k -> eigenvalues (any order); ``cutoffs`` maps k -> elbow cutoff of that spectrum.
    x = rank shown reversed (``top`` ... 1) as in the paper.
    """
    import matplotlib.pyplot as plt

    ks = sorted(tops)
    fig, axes = new_figure(1, len(ks), width=max(3.0, 9.0 / len(ks)), height=4.6, sharey=False)
    for ax, k in zip(axes[0], ks):
        lam = np.sort(np.asarray(tops[k]))[::-1][:top]
        ranks = np.arange(1, lam.size + 1)
        above = lam > cutoffs[k]
        ax.plot(ranks[~above], lam[~above], ls="none", marker="o", ms=3, color="0.5", label="bulk (below the threshold)")
        ax.plot(ranks[above], lam[above], ls="none", marker="s", ms=3.5, color="tab:red",
                label=f"above the threshold: {int(above.sum())}")
        ax.axhline(cutoffs[k], color="tab:blue", ls="--", lw=1, label=f"elbow threshold {cutoffs[k]:.2g}")
        ax.invert_xaxis()
        ax.set_title(f"k = {k} classes")
        ax.set_xlabel("rank of eigenvalue (1 = largest, reversed)")
        legend_below(ax, fontsize="small")
    axes[0, 0].set_ylabel("Hessian eigenvalue λ (loss units / parameter²)")
    save_figure(fig, path, title=f"Seed Fig. 3 replica: top-{top} Hessian eigenvalues\nafter training ({setting})",
                caption="Largest eigenvalues of the exact Hessian after training, one panel per number of classes "
                        "k, rank reversed as in the paper. Dashed: the automatic elbow threshold (Kneedle on the "
                        "linear scree); red points lie above it. The paper's claim: the count above the gap is k.")
    plt.close("all")
