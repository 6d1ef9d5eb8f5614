"""Figures of the predecessor paper (P0: Sagun, Bottou & LeCun 2016, Figs 1-8; SPEC §1.12).

Every function takes arrays (spectra, matrices, per-init values, profiles) and writes one PNG through
:func:`nnspectra.plotting.save_figure` (title = the setting, caption = what is shown). Nothing here
computes a Hessian or trains a network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import NullFormatter

from nnspectra.plotting import GREY, legend_below, new_figure, save_figure, series_colours, short_setting

EIG_UNIT = "Hessian eigenvalue λ (loss units / parameter²)"


def _save(fig: Any, path: str | Path, title: str, setting: str, caption: str) -> None:
    """:func:`save_figure` with the preset's short name in the title and the whole setting under the caption."""
    save_figure(fig, path, f"{title} ({short_setting(setting)})", f"{caption} Setting: {setting}.")


def _log_ticks(axis: Any, lo: float, hi: float) -> None:
    """Labelled ticks on a log axis: decades when the range spans more than 2, else 1-2-5 steps (finer under
    0.7 decades), so a narrow range never shows a single labelled tick; minor ticks stay unlabelled."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator

    axis.set_minor_formatter(NullFormatter())  # minor labels collide
    decades = np.log10(hi / lo) if hi > lo > 0 else 0.0
    if decades > 2:
        return
    subs = (1.0, 2.0, 5.0) if decades > 0.7 else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
    ticks = [t for t in LogLocator(base=10, subs=subs).tick_values(lo, hi) if lo <= t <= hi]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.3g}"))


def _log_histogram(ax: Any, eigs: np.ndarray, bins: int, color: Any, label: str, alpha: float = 0.55,
                   edges: np.ndarray | None = None) -> None:
    """Histogram of eigenvalues with a log count axis (P0's plotly histograms)."""
    lam = np.asarray(eigs, dtype=np.float64)
    ax.hist(lam, bins=edges if edges is not None else bins, log=True, color=color, alpha=alpha, label=label,
            histtype="stepfilled", edgecolor=color, linewidth=0.8)


def _blob_spectrum_panel(ax: Any, lam: np.ndarray, bins: int, color: Any, label: str, title: str) -> None:
    """One panel of P0 Figs 4 and 7: log-count histogram of a final-Hessian spectrum, legend below."""
    _log_histogram(ax, lam, bins, color, label)
    ax.set_title(title)
    ax.set_xlabel("λ (loss / param²)")
    legend_below(ax)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))


def _common_edges(spectra: Sequence[np.ndarray], bins: int) -> np.ndarray:
    lo = min(float(np.min(s)) for s in spectra)
    hi = max(float(np.max(s)) for s in spectra)
    if hi <= lo:
        hi = lo + 1e-12
    return np.linspace(lo, hi, bins + 1)


def _label(name: str, eigs: np.ndarray) -> str:
    lam = np.asarray(eigs)
    return f"{name}: λ ∈ [{lam.min():.3g}, {lam.max():.3g}]"


def plot_fig1(spectra: Mapping[str, np.ndarray], heatmap: np.ndarray | None, path: str | Path, setting: str,
              heatmap_label: str = "", bins: int = 100, heatmap_params: int | None = None) -> None:
    """P0 Fig 1: final-Hessian eigenvalue histograms (log counts) per MNIST net; left: a Hessian heatmap.

    ``spectra`` maps a legend label (e.g. "n=10, P=7,960") -> eigenvalues; ``heatmap`` is a (block-
    averaged) final Hessian matrix or None, covering ``heatmap_params`` parameters (axis units).
    """
    ncols = 2 if heatmap is not None else 1
    fig, axes = new_figure(1, ncols, width=6.0, height=4.6)
    if heatmap is not None:
        heat = np.asarray(heatmap)
        clip = float(np.percentile(np.abs(heat), 99.5)) or float(np.max(np.abs(heat))) or 1.0
        _heatmap(fig, axes[0, 0], heat, f"final Hessian {heatmap_label}".strip(), clip,
                 "entry (loss / param²), clipped", span=heatmap_params)
    ax = axes[0, -1]
    edges = _common_edges(list(spectra.values()), bins)
    for (name, lam), color in zip(spectra.items(), series_colours(len(spectra))):
        _log_histogram(ax, lam, bins, color, _label(name, lam), edges=edges)
    ax.set_xlabel(EIG_UNIT)
    ax.set_ylabel("count (log scale)")
    ax.set_title("eigenvalues after GD")
    legend_below(ax)
    _save(fig, path, "P0 Fig. 1 replica: Hessian after training, MLP on MNIST", setting,
                "Histogram (log count, common bins) of all eigenvalues of the exact float64 Hessian of the mean "
                "training loss after full-batch GD, one colour per network size. Left: the smallest net's final Hessian as "
                "a heatmap (block means when P is large; colours saturate beyond the 99.5th percentile of |entry|). "
                "P0's claim: adding units only adds to the mass at 0.")


def plot_fig2(spectra: Mapping[str, Mapping[str, np.ndarray]], path: str | Path, setting: str, bins: int = 100,
              ) -> None:
    """P0 Fig 2: MNIST vs random inputs, at init (left) and after GD (right), same net and init.

    ``spectra`` maps "mnist"/"random" -> {"init": eigenvalues, "final": eigenvalues}.
    """
    fig, axes = new_figure(1, 2, width=6.0, height=4.6)
    colors = dict(zip(("mnist", "random"), series_colours(2)))
    names = {"mnist": "MNIST", "random": "random inputs"}
    for ax, point, title in zip(axes[0], ("init", "final"), ("at the random init", "after GD")):
        present = [k for k in spectra if point in spectra[k]]
        edges = _common_edges([spectra[k][point] for k in present], bins)
        for key in present:
            lam = spectra[key][point]
            _log_histogram(ax, lam, bins, colors.get(key, GREY), _label(names.get(key, key), lam), edges=edges)
        ax.set_xlabel(EIG_UNIT)
        ax.set_ylabel("count (log scale)")
        ax.set_title(title)
        legend_below(ax)
    _save(fig, path, "P0 Fig. 2 replica: MNIST vs random inputs", setting,
                "Histograms (log count) of all Hessian eigenvalues of the same network with the same random init, "
                "fed MNIST or i.i.d. random patterns, at the init (left) and after GD to a small gradient norm or the iteration "
                "cap (right; the setting says which). P0's claim (claim 23): the initial spectrum is much wider for MNIST.")


def plot_fig4(spectra: Mapping[int, np.ndarray], path: str | Path, setting: str, cutoff_fraction: float = 0.1,
              bins: int = 60) -> None:
    """P0 Fig 4: final-Hessian histograms (log counts) of the 2-D blob nets, one panel per size.

    ``spectra`` maps the parameter count P -> eigenvalues. Dotted lines: ±``cutoff_fraction``·λ_max
    (claim 20: exactly two eigenvalues beyond, the rest inside).
    """
    sizes = sorted(spectra)
    fig, axes = new_figure(1, len(sizes), width=max(2.8, 14.0 / len(sizes)), height=4.2)
    for ax, p, color in zip(axes[0], sizes, series_colours(len(sizes))):
        lam = np.asarray(spectra[p])
        top = float(lam.max())
        n_iso = int(np.sum(lam > cutoff_fraction * top))
        for sign in (-1, 1):
            ax.axvline(sign * cutoff_fraction * top, color="0.3", ls=":", lw=0.9)
        _blob_spectrum_panel(ax, lam, bins, color, f"{n_iso} above {cutoff_fraction:g}·λ_max",
                             f"{p} parameters\nλ_max = {top:.3g}")
    axes[0, 0].set_ylabel("count (log scale)")
    _save(fig, path, "P0 Fig. 4 replica: final Hessian of 2-n-n-2 nets on two blobs", setting,
                "Histogram (log count) of all eigenvalues of the exact float64 Hessian after GD to a small gradient "
                f"norm, for widths n with P = n² + 6n + 2. Dotted: ±{cutoff_fraction:g}·λ_max. P0's claim (claim 20): "
                "two isolated eigenvalues for every size, the rest concentrated at 0.")


def _heatmap(fig: Any, ax: Any, mat: np.ndarray, title: str, vmax: float | None = None,
             label: str = "Hessian entry (loss units / parameter²)", span: int | None = None) -> None:
    """Diverging heatmap; ``span`` = number of parameters the (block-averaged) matrix covers (axis units)."""
    v = float(np.max(np.abs(mat))) if vmax is None else float(vmax)
    extent = None if span is None else (0, span, span, 0)
    image = ax.imshow(mat, cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest", extent=extent)
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, format="%.1e")
    cbar.set_label(label)
    ax.set_title(title)
    ax.set_xlabel("parameter index")
    ax.set_ylabel("parameter index")
    ax.grid(False)


def plot_fig5(hessians: Mapping[int, np.ndarray], path: str | Path, setting: str, vmax: float | None = None) -> None:
    """P0 Fig 5: the full final Hessians as heatmaps (P -> (P, P) matrix), one shared symmetric colour range.

    ``vmax`` default: the largest |entry| over all matrices (P0 shows ±0.005).
    """
    sizes = sorted(hessians)
    v = vmax if vmax is not None else max(float(np.max(np.abs(hessians[p]))) for p in sizes)
    fig, axes = new_figure(1, len(sizes), width=4.6, height=4.2)
    for ax, p in zip(axes[0], sizes):
        _heatmap(fig, ax, np.asarray(hessians[p]), f"{p} parameters", v)
    _save(fig, path, "P0 Fig. 5 replica: Hessian matrices of the 2-D blob nets", setting,
                "Every entry of the exact final Hessian (parameters in layer order: W1, b1, W2, b2, W3, b3), diverging "
                f"colour scale ±{v:.2g} shared by the panels. Most of the matrix is ~0: the Hessian is highly singular.")


def plot_fig6(lambda_max: np.ndarray, path: str | Path, setting: str, mode: float, band: tuple[float, float],
              bins: int = 40, paper_mode: float | None = 0.024,
              at_tolerance: Mapping[float, np.ndarray] | None = None, final_tolerance: float | None = None) -> None:
    """P0 Fig 6: histogram of the final λ_max over many random inits, with the mode and the claim band.

    Left: the paper's panel (linear axes, the data's own range). Right: the same values on a log λ axis
    beside the claim band and the paper's mode, plus, when given, ``at_tolerance`` (gradient-norm level
    -> λ_max of the same nets where their gradient norm first fell to that level): how λ_max depends on
    the stopping rule. ``final_tolerance`` labels the final values.
    """
    lam = np.asarray(lambda_max, dtype=np.float64)
    lam = lam[np.isfinite(lam)]
    fig, axes = new_figure(1, 2, width=6.2, height=4.6)
    ax = axes[0, 0]
    lo, hi = np.percentile(lam, [1, 99]) if lam.size else (0.0, 1.0)
    ax.hist(lam, bins=bins, range=(float(lo), float(hi)) if hi > lo else None, color="tab:blue", alpha=0.8,
            label=f"{lam.size} inits (1st-99th pct shown)")
    ax.axvline(mode, color="tab:red", lw=1.5, label=f"mode = {mode:.3g}")
    ax.set_xlabel("λ_max after GD (loss units / parameter²)")
    ax.set_ylabel("number of inits")
    ax.set_title("final λ_max (paper's panel)")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    legend_below(ax)
    ax = axes[0, 1]
    series = {f"final (grad norm {final_tolerance:g})" if final_tolerance else "final": lam}
    for tol, values in sorted((at_tolerance or {}).items(), reverse=True):
        v = np.asarray(values, dtype=np.float64)
        series[f"where grad norm first ≤ {tol:g}"] = v[np.isfinite(v) & (v > 0)]
    positive = np.concatenate([v[v > 0] for v in series.values()] + [np.asarray(band, dtype=np.float64)])
    edges = np.geomspace(positive.min() / 1.2, positive.max() * 1.2, 60)
    for (name, v), color in zip(series.items(), series_colours(len(series))):
        ax.hist(v, bins=edges, color=color, alpha=0.6, label=name)
    ax.axvspan(band[0], band[1], color=GREY, alpha=0.15,
               label=f"claim band [{band[0]:g}, {band[1]:g}]: {np.mean((lam >= band[0]) & (lam <= band[1])):.0%} of final")
    if paper_mode is not None:
        ax.axvline(paper_mode, color="0.2", ls="--", lw=1, label=f"paper mode ≈ {paper_mode:g}")
    ax.set_xscale("log")
    _log_ticks(ax.xaxis, float(edges[0]), float(edges[-1]))
    ax.set_xlabel("λ_max (loss units / parameter², log scale)")
    ax.set_ylabel("number of inits")
    ax.set_title("against the claim, and vs the stopping rule")
    legend_below(ax, ncol=2)
    _save(fig, path, "P0 Fig. 6 replica: top eigenvalue over random inits on a sphere", setting,
                "λ_max of the exact Hessian after GD, one count per random initialisation drawn uniformly on a sphere of "
                "fixed radius. Left: final values with their mode (red). Right: log axis with claim 21b's band "
                "(shaded) and the paper's mode (dashed); extra histograms give λ_max of the same nets where their "
                "gradient norm first fell to a larger level, i.e. had training stopped earlier.")


def plot_fig7(spectra: Mapping[float, np.ndarray], path: str | Path, setting: str, bins: int = 60) -> None:
    """P0 Fig 7: final-Hessian histograms (log counts) for each blob std (std -> eigenvalues)."""
    stds = sorted(spectra)
    fig, axes = new_figure(1, len(stds), width=max(2.8, 14.0 / len(stds)), height=4.2)
    for ax, s, color in zip(axes[0], stds, series_colours(len(stds))):
        lam = np.asarray(spectra[s])
        _blob_spectrum_panel(ax, lam, bins, color, f"λ_max = {lam.max():.3g}", f"blob std {s:g}")
    axes[0, 0].set_ylabel("count (log scale)")
    _save(fig, path, "P0 Fig. 7 replica: data complexity vs Hessian spectrum", setting,
                "Histogram (log count) of all final-Hessian eigenvalues of the same net and init trained by GD on two "
                "blobs centred (1,1) and (-1,-1) of growing std. P0's claim (claim 22): λ_max grows with the std.")


def plot_fig8(alphas: np.ndarray, steps: np.ndarray, profiles: Mapping[str, np.ndarray], path: str | Path,
              setting: str, n_curves: int = 8) -> None:
    """P0 Fig 8: loss on the line between simultaneous iterates, at ``n_curves`` steps coloured by step.

    ``profiles`` maps a panel title -> (T, A) losses (rows = recorded ``steps``, columns = ``alphas``).
    """
    import matplotlib as mpl

    alphas, steps = np.asarray(alphas), np.asarray(steps)
    fig, axes = new_figure(1, len(profiles), width=6.0, height=4.6)
    pick = np.unique(np.round(np.geomspace(1, max(len(steps) - 1, 1), n_curves)).astype(int))
    pick = np.concatenate([[0], pick]) if len(steps) > 1 else np.array([0])
    norm = mpl.colors.SymLogNorm(linthresh=1.0, vmin=0.0, vmax=max(float(steps[pick].max()), 1.0))
    cmap = mpl.colormaps["viridis"]
    for ax, (title, prof) in zip(axes[0], profiles.items()):
        prof = np.asarray(prof)
        for i in pick:
            ax.plot(alphas, prof[i], "-", lw=1.3, color=cmap(norm(steps[i])))
        ax.set_yscale("log")
        ax.set_xlabel("α (0 = first run's iterate, 1 = second run's iterate at the same step)")
        ax.set_ylabel("training loss (mean cross-entropy, nats)")
        ax.set_title(title)
        cbar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax)
        cbar.set_label("training step (symmetric log scale)")
    _save(fig, path, "P0 Fig. 8 replica: straight-line profiles between simultaneous iterates", setting,
                "Training loss on θ_1(t) + α (θ_2(t) − θ_1(t)) for a few steps t (colour). Left: GD and SGD from the "
                "same init; right: two SGD runs from two random inits. P0: the same-init profile is flat; the other "
                "also decreases, less flatly.")
