"""Figures of the Ben Arous et al. (ICLR 2024) replication: spectra over time, alignment, per layer.

Time is always ℓ/d (online-SGD steps ℓ divided by the dimension d) on a symlog axis (linear below 0.1, so
that ℓ = 0 is shown); colour encodes ℓ/d in the spectra panels (with a colour bar) and the signal-to-noise
ratio λ or d in the curve panels (legend). Curves are medians over seeds with the interquartile range shaded.
Numbers read off the runs (times to align, readout overlaps, the sub-optimal split) come from
:mod:`nnspectra.experiments.benarous2024.alignment_metrics` through the figure script: nothing is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnspectra.plotting import MARKERS, legend_below, new_figure, save_figure

Run = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class AlignmentPlot:
    """Config ``alignment.plot``: the seed whose run the spectra and xor panels show."""

    seed: int = 0
TIME_AXIS = "training time ℓ/d (SGD steps per input dimension)"
SNR = "signal-to-noise ratio λ"


def _time_axis(ax: Any, xlabel: bool = True) -> None:
    ax.set_xscale("symlog", linthresh=0.1, linscale=0.5)
    ax.set_xlim(left=0)
    if xlabel:
        ax.set_xlabel(TIME_AXIS)


def _band(ax: Any, times: np.ndarray, values: np.ndarray, label: str, color: Any, ls: str = "-",
          marker: str = "o") -> None:
    """Median over axis 0 of ``values`` (seeds, T) with the interquartile range."""
    med = np.nanmedian(values, axis=0)
    ax.plot(times, med, ls, color=color, label=label, marker=marker, ms=4)
    if values.shape[0] > 1:
        lo, hi = np.nanpercentile(values, [25, 75], axis=0)
        ax.fill_between(times, lo, hi, color=color, alpha=0.2, lw=0)


def _group(runs: Sequence[Run], key: str) -> dict[float, list[Run]]:
    out: dict[float, list[Run]] = {}
    for r in runs:
        out.setdefault(float(r[key]), []).append(r)
    return dict(sorted(out.items()))


def _time_colours(times: np.ndarray, fig: Any, ax: Any):  # type: ignore[no-untyped-def]
    """Colours for checkpoints (by index) and a colour bar labelled with ℓ/d."""
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    norm = mpl.colors.Normalize(vmin=0, vmax=max(1, len(times) - 1))
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    cbar = fig.colorbar(sm, ax=ax, ticks=np.arange(len(times)))
    cbar.ax.set_yticklabels([f"{t:g}" for t in times])
    cbar.set_label("checkpoint ℓ/d (SGD steps per dimension)")
    return [cmap(norm(i)) for i in range(len(times))]


def plot_gmm_alignment(gmm: Sequence[Run], dscan: Sequence[Run], claims: Any, path: str | Path,
                       numbers: Mapping[str, Mapping[float, np.ndarray]]) -> None:
    """Figure alignment_gmm: alignment with H and G, per block, mean overlap, outliers, SNR and d scans.

    ``claims``: the typed settings of config ``alignment.claims``
    (:class:`nnspectra.experiments.benarous2024.alignment_metrics.AlignmentClaims`: ``align_level``, ``snr_time``).

    ``numbers`` (:func:`nnspectra.experiments.benarous2024.alignment_metrics.gmm_figure_numbers`): ``snr_error`` (lam ->
    1 - A per run at ``snr_time``) and ``align_time`` (d -> first ℓ/d with A >= level per run, inf if never).
    """
    import seaborn as sns
    from matplotlib.ticker import LogFormatterSciNotation, NullLocator

    fig, axes = new_figure(2, 4, width=4.6, height=3.6)
    by_lam = _group(gmm, "lam")
    colours = sns.color_palette("rocket_r", len(by_lam) + 1)[1:]
    level = float(claims.align_level)
    ax_h, ax_g, ax_b, ax_o = axes[0]
    ax_r, ax_snr, ax_d, ax_t = axes[1]
    n = len(by_lam)
    for i, ((lam, runs), col) in enumerate(zip(by_lam.items(), colours)):
        t = runs[0]["times"]
        lab = f"λ = {lam:g}"
        m_h, m_g = MARKERS[i % len(MARKERS)], MARKERS[(i + n) % len(MARKERS)]
        _band(ax_h, t, np.stack([r["hessian_align"] for r in runs]), lab, col, marker=m_h)
        _band(ax_g, t, np.stack([r["gmatrix_align"] for r in runs]), lab, col, marker=m_h)
        if "hessian_block_align" in runs[0]:
            _band(ax_b, t, np.stack([r["hessian_block_align"].mean(axis=1) for r in runs]), lab + ", Hessian block",
                  col, marker=m_h)
            _band(ax_b, t, np.stack([r["gmatrix_block_align"].mean(axis=1) for r in runs]), lab + ", G-matrix block",
                  col, "--", marker=m_g)
            _band(ax_o, t, np.stack([r["hessian_block_mean_overlap"].min(axis=1) for r in runs]), lab, col, marker=m_h)
        _band(ax_r, t, np.stack([r["hessian_r"] for r in runs]).astype(float), lab + ", Hessian H", col, marker=m_h)
        _band(ax_r, t, np.stack([r["gmatrix_r"] for r in runs]).astype(float), lab + ", G-matrix G", col, "--",
              marker=m_g)
    for ax, name in ((ax_h, "Hessian H"), (ax_g, "G-matrix G")):
        ax.axhline(level, color="grey", ls=":", label=f"level {level:g} (claims 24-25)")
        ax.set_title(f"iterate x vs the top-r eigenspace of the {name}", fontsize="small")
        ax.set_ylabel("alignment A = |P x|² / |x|² (0 to 1)")
    ax_b.set_title("class c's weights x^c vs the top eigenspace\nof its diagonal block", fontsize="small")
    ax_b.set_ylabel("alignment A, mean over classes c")
    ax_o.set_title("top-k eigenvectors of each Hessian block\nvs the span of the class means", fontsize="small")
    ax_o.set_ylabel("subspace overlap (0 to 1), min over classes")
    ax_r.set_title("outliers: eigenvalues above the noise-only edge", fontsize="small")
    ax_r.set_ylabel("number of outlier eigenvalues r")
    ax_r.yaxis.set_major_locator(_integer_ticks())
    for ax in (ax_h, ax_g, ax_b, ax_o, ax_r):
        _time_axis(ax)
        legend_below(ax, ncol=2 if ax in (ax_b, ax_r) else 1)
    # SNR dependence of the alignment error (claim 28)
    t_snr = float(claims.snr_time)
    errs = numbers["snr_error"]
    for i, ((lam, e), col) in enumerate(zip(errs.items(), colours)):
        ax_snr.scatter(np.full(len(e), lam), np.maximum(e, 1e-4), color=col, marker=MARKERS[i % len(MARKERS)], s=18,
                       label=f"λ = {lam:g}, one point per seed")
    lams = list(errs)
    ax_snr.plot(lams, [np.median(e) for e in errs.values()], "k-", label="median over seeds")
    ax_snr.set_xscale("log")
    ax_snr.set_yscale("log")
    ax_snr.set_xticks(lams, [f"{lam:g}" for lam in lams])
    ax_snr.xaxis.set_minor_locator(NullLocator())
    ax_snr.yaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(2, 1)))
    ax_snr.set_xlabel(f"{SNR} (inverse noise variance, log scale)")
    ax_snr.set_ylabel(f"1 - A (Hessian) at ℓ/d = {t_snr:g}, floored at 1e-4")
    ax_snr.set_title("alignment error against the signal-to-noise ratio", fontsize="small")
    legend_below(ax_snr)
    # dimension dependence (claim 29)
    by_d = _group(dscan, "d")
    dcols = sns.color_palette("mako_r", len(by_d) + 1)[1:]
    for i, ((d, runs), col) in enumerate(zip(by_d.items(), dcols)):
        _band(ax_d, runs[0]["times"], np.stack([r["hessian_align"] for r in runs]), f"d = {d:g}", col,
              marker=MARKERS[i % len(MARKERS)])
    ax_d.axhline(level, color="grey", ls=":", label=f"level {level:g}")
    _time_axis(ax_d)
    ax_d.set_ylabel("alignment A with the top-r Hessian eigenspace")
    ax_d.set_title(f"dimension scan at λ = {float(dscan[0]['lam']):g}" if dscan else "dimension scan (no runs)",
                   fontsize="small")
    legend_below(ax_d)
    _align_time_panel(ax_t, numbers["align_time"], dcols, level, max((float(r["times"][-1]) for r in dscan), default=1.0))
    g0 = gmm[0]
    title = (f"Ben Arous et al. task (i): k-GMM (k = {int(g0['hessian_block_r'].shape[1]) if 'hessian_block_r' in g0 else '?'}"
             f", d = {int(g0['d'])}) + softmax regression, online SGD, {len(gmm) // max(1, len(by_lam))} seeds per λ")
    caption = ("Alignment A(v, U) = |P_U v|^2/|v|^2 of the SGD iterate with the top-r eigenspace of the empirical "
               "Hessian H and G-matrix G on M fresh samples; r = eigenvalues above the top eigenvalue of the null "
               "(noise-only) matrix; λ = signal-to-noise ratio (inverse noise variance); ℓ/d = SGD steps per "
               "dimension. Lines: median over seeds, bands: interquartile range; dashed: G. Bottom right: time at "
               "which A first reaches the level in the dimension scan (log-interpolated between checkpoints); runs that "
               "never reach it are counted in the shaded band above the end of the scan, not drawn as points.")
    save_figure(fig, path, title, caption)


def _align_time_panel(ax: Any, times: Mapping[float, np.ndarray], colours: Sequence[Any], level: float,
                      window: float) -> None:
    """Time to align per d (one marker per run that aligns); runs that never align within the scan are not
    points: they are counted in a shaded band above the end of the scan."""
    ceiling = 1.3 * window
    ax.axhspan(window, ceiling, color="0.9", lw=0, zorder=0,
               label=f"band: count of runs that never reach A ≥ {level:g} by ℓ/d = {window:g} (no time to plot)")
    for i, ((d, vals), col) in enumerate(zip(times.items(), colours)):
        vals = np.asarray(vals, dtype=float)
        reached = np.isfinite(vals)
        marker = MARKERS[i % len(MARKERS)]
        if reached.any():
            ax.scatter(np.full(int(reached.sum()), d), vals[reached], color=col, marker=marker, s=22,
                       label=f"d = {d:g}: {int(reached.sum())} of {vals.size} runs reach A ≥ {level:g}")
        never = int((~reached).sum())
        if never:
            ax.text(d, (window + ceiling) / 2, f"{never} of {vals.size}\nnever", color=col, ha="center", va="center",
                    fontsize="x-small", fontweight="bold")
    ax.axhline(window, color="grey", ls=":", lw=0.8, label=f"end of the scan, ℓ/d = {window:g}")
    ax.set_ylim(0, ceiling)
    ax.set_xscale("log")
    if times:  # room around the outer dimensions for their markers and counts
        ax.set_xlim(min(times) / 1.5, max(times) * 1.5)
    ax.set_xticks(list(times), [f"{d:g}" for d in times])
    ax.minorticks_off()
    ax.set_xlabel("input dimension d (log scale)")
    ax.set_ylabel(f"time to reach A ≥ {level:g}, ℓ/d")
    ax.set_title("time to align per dimension\n(flat if the steps needed grow linearly in d)", fontsize="small")
    legend_below(ax)


def _integer_ticks():  # type: ignore[no-untyped-def]
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def plot_gmm_spectra(gmm: Sequence[Run], claims: Any, plot: AlignmentPlot, path: str | Path) -> None:
    """Figure alignment_gmm_spectra: top eigenvalues of H, G, H_00, G_00 at every checkpoint, coloured by ℓ/d
    (the run at ``claims.lam`` of the typed ``alignment.claims``, seed ``plot.seed``)."""
    lam = float(claims.lam)
    run = next((r for r in gmm if np.isclose(float(r["lam"]), lam) and int(r["seed"]) == int(plot.seed)), gmm[0])
    has_blocks = "hessian_block_eigs" in run
    panels = [("hessian_eigs", "hessian_edge", "full Hessian H (kd x kd)"),
              ("gmatrix_eigs", "gmatrix_edge", "full G-matrix G (kd x kd)")]
    if has_blocks:
        panels += [("hessian_block_eigs", "hessian_block_edge", "class block H_00 (d x d)"),
                   ("gmatrix_block_eigs", "gmatrix_block_edge", "class block G_00 (d x d)")]
    fig, axes = new_figure(1, len(panels), width=4.4, height=3.8)
    times = run["times"]
    cols = _time_colours(times, fig, axes[0, -1])  # one colour bar, right of the last panel
    for ax, (ekey, edgekey, name) in zip(axes[0], panels):
        eigs, edges = run[ekey], run[edgekey]
        if eigs.ndim == 3:
            eigs, edges = eigs[:, 0], edges[:, 0]
        ranks = np.arange(1, eigs.shape[1] + 1)
        for t in range(len(times)):
            ax.plot(ranks, eigs[t], "-", marker=MARKERS[t % len(MARKERS)], color=cols[t], ms=3.5, lw=1,
                    label=f"ℓ/d = {times[t]:g}")
            ax.axhline(edges[t], color=cols[t], ls=":", lw=0.8)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(_integer_ticks())
        ax.set_xlabel("eigenvalue rank (1 = largest)")
        ax.set_ylabel("eigenvalue (loss units, log scale)")
        ax.set_title(name, fontsize="small")
    axes[0, 0].plot([], [], "k:", label="noise-only bulk edge\n(same colour: same checkpoint)")
    legend_below(axes[0, 0], ncol=3)  # the same checkpoints in every panel: one legend
    title = (f"Ben Arous et al. task (i): emerging outliers, d = {int(run['d'])}, signal-to-noise ratio λ = {lam:g}, "
             f"seed {int(run['seed'])}")
    caption = ("Top eigenvalues of the empirical Hessian and G-matrix (M fresh test samples) at each SGD checkpoint; "
               "colour and marker = checkpoint ℓ/d (SGD steps per dimension; colour bar). Dotted lines: top eigenvalue "
               "of the null (noise-only) matrix at the same parameters, the bulk edge used to count outliers.")
    save_figure(fig, path, title, caption)


def plot_xor(runs: Sequence[Run], claims: Any, plot: AlignmentPlot, path: str | Path,
             numbers: Mapping[str, Any]) -> None:
    """Figure alignment_xor: per-layer spectra, alignment, overlap with span(mu, nu), evolution, rank deficiency
    (seed ``plot.seed``; ``claims.suboptimal_gap`` of the typed ``alignment.claims``).

    ``numbers`` (:func:`nnspectra.experiments.benarous2024.alignment_metrics.xor_figure_numbers`), one entry per run:
    ``readout_overlap`` ((T, T) overlap matrix, r) and the claim-32 ``suboptimal`` flags.
    """
    import seaborn as sns

    fig, axes = new_figure(2, 3, width=4.8, height=3.8)
    pick = next((i for i, r in enumerate(runs) if int(r["seed"]) == int(plot.seed)), 0)
    run = runs[pick]
    times = run["times"]
    K = int(run["K"])
    # (a) first-layer unit block spectra of the unit with the largest final norm
    ax = axes[0, 0]
    unit = int(np.argmax(run["W_norm"][-1]))
    cols = _time_colours(times, fig, ax)
    eigs = run["hessian_unit_eigs"][:, unit]
    for t in range(len(times)):
        ax.plot(np.arange(1, eigs.shape[1] + 1), np.maximum(eigs[t], 1e-12), "o-", color=cols[t], ms=3, lw=1)
        ax.axhline(max(run["hessian_unit_edge"][t, unit], 1e-12), color=cols[t], ls=":", lw=0.8)
    ax.plot([], [], "ko-", ms=3, label=f"eigenvalues of unit {unit}'s block (colour: checkpoint)")
    ax.plot([], [], "k:", label="bulk edge of the noise-only matrix")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue rank (1 = largest)")
    ax.set_ylabel("Hessian eigenvalue (loss units, log scale)")
    ax.set_title(f"first layer: Hessian block of hidden unit {unit}'s weights\n(largest final norm), seed "
                 f"{int(run['seed'])}", fontsize="small")
    legend_below(ax)
    # (b) readout block eigenvalues over time
    ax = axes[0, 1]
    pal = sns.color_palette("deep", K)
    for j in range(K):
        ax.plot(times, np.maximum(run["hessian_v_eigs"][:, j], 1e-12), "-", marker=MARKERS[j % len(MARKERS)],
                color=pal[j], ms=4, label=f"eigenvalue {j + 1}")
    ax.plot(times, np.maximum(run["hessian_v_edge"], 1e-12), "k:", label="bulk edge of the noise-only matrix")
    ax.set_yscale("log")
    _time_axis(ax)
    ax.set_ylabel("Hessian eigenvalue (loss units, log scale)")
    ax.set_title(f"second layer: {K} x {K} Hessian block of the readout v,\nseed {int(run['seed'])}", fontsize="small")
    legend_below(ax, ncol=2)
    # (c) per-layer alignment (all seeds)
    ax = axes[0, 2]
    pal = sns.color_palette("deep", 4)

    def active_median(key: str, r: Run) -> np.ndarray:
        vals = np.where(r["W_norm"] >= np.median(r["W_norm"], axis=1, keepdims=True), r[key], np.nan)
        return np.nanmedian(vals, axis=1)

    for i, kind in enumerate(("hessian", "gmatrix")):
        ls = "-" if kind == "hessian" else "--"
        tag = "Hessian" if kind == "hessian" else "G-matrix"
        _band(ax, times, np.stack([active_median(f"{kind}_unit_align2", r) for r in runs]),
              f"layer 1: unit weights W_i vs top-2 of their {tag} block", pal[0 + i], ls, MARKERS[i])
        _band(ax, times, np.stack([r[f"{kind}_v_align"] for r in runs]),
              f"layer 2: readout v vs top-r of its {tag} block", pal[2 + i], ls, MARKERS[2 + i])
    _time_axis(ax)
    ax.set_ylabel("alignment A = |P w|² / |w|² (0 to 1)")
    ax.set_title("per-layer alignment (layer 1: median over active units)", fontsize="small")
    legend_below(ax)
    # (d) overlap with span(mu, nu)
    ax = axes[1, 0]
    _band(ax, times, np.stack([active_median("hessian_unit_mean_overlap", r) for r in runs]),
          "top-2 eigenvectors of the unit's Hessian block", pal[0], "-", MARKERS[0])
    _band(ax, times, np.stack([active_median("gmatrix_unit_mean_overlap", r) for r in runs]),
          "top-2 eigenvectors of the unit's G-matrix block", pal[1], "--", MARKERS[1])
    _time_axis(ax)
    ax.set_ylabel("subspace overlap with span(μ, ν) (0 to 1)")
    ax.set_title("first-layer outlier space vs the class means μ, ν\n(median over active units)", fontsize="small")
    legend_below(ax)
    # (e) evolution of the readout eigenspace
    ax = axes[1, 1]
    ov, r_last = numbers["readout_overlap"][pick]
    im = ax.imshow(ov, vmin=0, vmax=1, cmap="magma", origin="lower")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label=f"overlap |Q(t1)ᵀQ(t2)|²_F / r (0 to 1), r = {r_last}")
    labels = [f"{t:g}" for t in times]
    ax.set_xticks(range(len(times)), labels, rotation=90, fontsize="x-small")
    ax.set_yticks(range(len(times)), labels, fontsize="x-small")
    ax.set_xlabel("checkpoint t2, ℓ/d")
    ax.set_ylabel("checkpoint t1, ℓ/d")
    ax.set_title(f"how the top-r readout eigenvectors Q move,\nseed {int(run['seed'])}", fontsize="small")
    # (f) rank deficiency
    ax = axes[1, 2]
    gap = float(claims.suboptimal_gap)
    acc = np.array([r["acc"][-1] for r in runs])
    bayes = float(runs[0]["bayes"])
    counts = np.array([r["hessian_v_r"][-1] for r in runs], dtype=int)
    sub = np.asarray(numbers["suboptimal"], dtype=bool)
    ax.scatter(acc[~sub], counts[~sub], color=pal[0], marker="o", s=30, alpha=0.7,
               label=f"optimal runs ({int((~sub).sum())})")
    ax.scatter(acc[sub], counts[sub], color=pal[3], marker="X", s=40, alpha=0.7,
               label=f"sub-optimal runs ({int(sub.sum())})")
    ax.axvline(bayes - gap, color="grey", ls=":", label=f"Bayes accuracy - {gap:g} = {bayes - gap:.3f}")
    ax.yaxis.set_major_locator(_integer_ticks())
    if counts.size:
        ax.set_ylim(max(-0.5, counts.min() - 0.5), counts.max() + 0.5)
    ax.set_xlabel("final test accuracy (fraction)")
    ax.set_ylabel("outlier eigenvalues of the readout Hessian at the end")
    ax.set_title("rank deficiency of sub-optimal runs (one point per seed)", fontsize="small")
    legend_below(ax)
    title = (f"Ben Arous et al. task (ii): XOR-GMM, d = {int(run['d'])}, K = {K} ReLU units, λ = {float(run['lam']):g}, "
             f"online SGD, {len(runs)} seeds")
    caption = ("Per-layer spectra of the empirical Hessian on M fresh test samples: first-layer unit blocks (W_i, W_i) "
               "and the K x K readout block. Active units have |W_i| >= median. Alignment A = |P_U w|^2/|w|^2 with the "
               "top eigenspace; r = eigenvalues above the null (noise-only) matrix's top eigenvalue; λ = signal-to-"
               "noise ratio; ℓ/d = SGD steps per dimension. Bands: IQR over seeds. Bottom right: runs are "
               "sub-optimal when their final accuracy is below the Bayes accuracy minus the gap.")
    save_figure(fig, path, title, caption)
