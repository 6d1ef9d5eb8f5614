"""Figures of the Ben Arous et al. (ICLR 2024) replication: spectra over time, alignment, per layer.

Time is always ell/d (SGD steps divided by the dimension) on a symlog axis (linear below 0.1, so that
ell = 0 is shown); colour encodes ell/d in the spectra panels (with a colour bar) and lam or d in the
curve panels (legend). Curves are medians over seeds with the interquartile range shaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnspectra.plotting import new_figure, save_figure
from nnspectra.spectra.alignment import first_crossing, subspace_overlap

Run = Mapping[str, np.ndarray]


def _time_axis(ax: Any, xlabel: bool = True) -> None:
    ax.set_xscale("symlog", linthresh=0.1, linscale=0.5)
    ax.set_xlim(left=0)
    if xlabel:
        ax.set_xlabel("training time ell/d (SGD steps / dimension)")


def _band(ax: Any, times: np.ndarray, values: np.ndarray, label: str, color: Any, ls: str = "-") -> None:
    """Median over axis 0 of ``values`` (seeds, T) with the interquartile range."""
    med = np.nanmedian(values, axis=0)
    ax.plot(times, med, ls, color=color, label=label, marker="o", ms=3)
    if values.shape[0] > 1:
        lo, hi = np.nanpercentile(values, [25, 75], axis=0)
        ax.fill_between(times, lo, hi, color=color, alpha=0.2, lw=0)


def _group(runs: Sequence[Run], key: str) -> dict[float, list[Run]]:
    out: dict[float, list[Run]] = {}
    for r in runs:
        out.setdefault(float(r[key]), []).append(r)
    return dict(sorted(out.items()))


def _time_colours(times: np.ndarray, fig: Any, ax: Any):  # type: ignore[no-untyped-def]
    """Colours for checkpoints (by index) and a colour bar labelled with ell/d."""
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    norm = mpl.colors.Normalize(vmin=0, vmax=max(1, len(times) - 1))
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    cbar = fig.colorbar(sm, ax=ax, ticks=np.arange(len(times)))
    cbar.ax.set_yticklabels([f"{t:g}" for t in times])
    cbar.set_label("checkpoint ell/d")
    return [cmap(norm(i)) for i in range(len(times))]


def plot_gmm_alignment(gmm: Sequence[Run], dscan: Sequence[Run], claims: Mapping[str, Any],
                       path: str | Path) -> None:
    """Figure alignment_gmm: alignment with H and G, per block, mean overlap, outliers, lam and d scans."""
    import seaborn as sns

    fig, axes = new_figure(2, 4, width=4.6, height=3.6)
    by_lam = _group(gmm, "lam")
    colours = sns.color_palette("rocket_r", len(by_lam) + 1)[1:]
    level = float(claims["align_level"])
    ax_h, ax_g, ax_b, ax_o = axes[0]
    ax_r, ax_snr, ax_d, ax_t = axes[1]
    for (lam, runs), col in zip(by_lam.items(), colours):
        t = runs[0]["times"]
        lab = f"lam = {lam:g}"
        _band(ax_h, t, np.stack([r["hessian_align"] for r in runs]), lab, col)
        _band(ax_g, t, np.stack([r["gmatrix_align"] for r in runs]), lab, col)
        if "hessian_block_align" in runs[0]:
            _band(ax_b, t, np.stack([r["hessian_block_align"].mean(axis=1) for r in runs]), lab + " (H_cc)", col)
            _band(ax_b, t, np.stack([r["gmatrix_block_align"].mean(axis=1) for r in runs]), lab + " (G_cc)", col, "--")
            _band(ax_o, t, np.stack([r["hessian_block_mean_overlap"].min(axis=1) for r in runs]), lab, col)
        _band(ax_r, t, np.stack([r["hessian_r"] for r in runs]).astype(float), lab + " (H)", col)
        _band(ax_r, t, np.stack([r["gmatrix_r"] for r in runs]).astype(float), lab + " (G)", col, "--")
    for ax, name in ((ax_h, "Hessian H"), (ax_g, "G-matrix G")):
        ax.axhline(level, color="grey", ls=":", label=f"level {level:g}")
        ax.set_title(f"A(x, top-r eigenspace of {name})")
        ax.set_ylabel("alignment A (fraction of |x|^2)")
    ax_b.set_title("per class block: A(x^c, top-r_c of block)")
    ax_b.set_ylabel("alignment A, mean over classes c")
    ax_o.set_title("top-k eigvecs of H_cc vs span(means)")
    ax_o.set_ylabel("subspace overlap, min over classes")
    ax_r.set_title("outliers above the null-run edge")
    ax_r.set_ylabel("number of outliers r (full matrix)")
    for ax in (ax_h, ax_g, ax_b, ax_o, ax_r):
        _time_axis(ax)
        ax.legend(fontsize="x-small")
    # SNR dependence of the alignment error
    t_snr = float(claims["snr_time"])
    lams = list(by_lam)
    errs = [[1.0 - r["hessian_align"][np.argmin(np.abs(r["times"] - t_snr))] for r in runs] for runs in by_lam.values()]
    for lam, e, col in zip(lams, errs, colours):
        ax_snr.scatter(np.full(len(e), lam), np.maximum(e, 1e-4), color=col, s=14, label=f"lam = {lam:g} (seeds)")
    ax_snr.plot(lams, [np.median(e) for e in errs], "k-", label="median")
    ax_snr.set_xscale("log")
    ax_snr.set_yscale("log")
    ax_snr.set_xticks(lams, [f"{lam:g}" for lam in lams])
    ax_snr.minorticks_off()
    ax_snr.set_xlabel("inverse noise variance lam (SNR)")
    ax_snr.set_ylabel(f"1 - A(x, top-r of H) at ell/d = {t_snr:g}")
    ax_snr.set_title("alignment error vs SNR")
    ax_snr.legend(fontsize="x-small")
    # dimension dependence
    by_d = _group(dscan, "d")
    dcols = sns.color_palette("mako_r", len(by_d) + 1)[1:]
    t_al: dict[float, list[float]] = {}
    for (d, runs), col in zip(by_d.items(), dcols):
        _band(ax_d, runs[0]["times"], np.stack([r["hessian_align"] for r in runs]), f"d = {d:g}", col)
        t_al[d] = [first_crossing(r["times"], r["hessian_align"], level) for r in runs]
    ax_d.axhline(level, color="grey", ls=":", label=f"level {level:g}")
    _time_axis(ax_d)
    ax_d.set_ylabel("alignment A(x, top-r of H)")
    ax_d.set_title(f"d-scan, lam = {float(dscan[0]['lam']):g}" if dscan else "d-scan (no runs)")
    ax_d.legend(fontsize="x-small")
    for (d, vals), col in zip(t_al.items(), dcols):
        finite = [v for v in vals if np.isfinite(v)]
        ax_t.scatter(np.full(len(finite), d), finite, color=col, s=14, label=f"d = {d:g}: {len(finite)}/{len(vals)} reach")
    if not any(np.isfinite(v).any() for v in t_al.values()):
        ax_t.text(0.5, 0.5, f"A never reached {level:g}\nin the d-scan window", ha="center", va="center",
                  transform=ax_t.transAxes)
        ax_t.set_xlim(min(by_d, default=1) / 2, max(by_d, default=1) * 2)
    ax_t.set_xscale("log")
    ax_t.set_xticks(list(by_d), [f"{d:g}" for d in by_d])
    ax_t.minorticks_off()
    ax_t.set_xlabel("dimension d")
    ax_t.set_ylabel(f"time to A >= {level:g}, ell/d")
    ax_t.set_title("time to align / d (constant if linear in d)")
    ax_t.legend(fontsize="x-small")
    g0 = gmm[0]
    title = (f"Ben Arous et al. task (i): k-GMM (k = {int(g0['hessian_block_r'].shape[1]) if 'hessian_block_r' in g0 else '?'}"
             f", d = {int(g0['d'])}) + softmax regression, online SGD, {len(gmm) // max(1, len(by_lam))} seeds per lam")
    caption = ("Alignment A(v, U) = |P_U v|^2/|v|^2 of the SGD iterate with the top-r eigenspace of the empirical "
               "Hessian H and G-matrix G on M fresh samples; r = eigenvalues above the top eigenvalue of the null "
               "(noise-only) matrix. Lines: median over seeds, bands: interquartile range. Dashed lines in the block "
               "panel and the outlier panel: G. Bottom right: d-scan of the time at which A first reaches the level "
               "(log-interpolated between checkpoints).")
    save_figure(fig, path, title, caption)


def plot_gmm_spectra(gmm: Sequence[Run], claims: Mapping[str, Any], plot: Mapping[str, Any], path: str | Path) -> None:
    """Figure alignment_gmm_spectra: top eigenvalues of H, G, H_00, G_00 at every checkpoint, coloured by ell/d."""
    lam = float(claims["lam"])
    run = next((r for r in gmm if np.isclose(float(r["lam"]), lam) and int(r["seed"]) == int(plot["seed"])), gmm[0])
    has_blocks = "hessian_block_eigs" in run
    panels = [("hessian_eigs", "hessian_edge", "full Hessian H (kd x kd)"),
              ("gmatrix_eigs", "gmatrix_edge", "full G-matrix G (kd x kd)")]
    if has_blocks:
        panels += [("hessian_block_eigs", "hessian_block_edge", "class block H_00 (d x d)"),
                   ("gmatrix_block_eigs", "gmatrix_block_edge", "class block G_00 (d x d)")]
    fig, axes = new_figure(1, len(panels), width=4.4, height=3.8)
    times = run["times"]
    for ax, (ekey, edgekey, name) in zip(axes[0], panels):
        cols = _time_colours(times, fig, ax)
        eigs, edges = run[ekey], run[edgekey]
        if eigs.ndim == 3:
            eigs, edges = eigs[:, 0], edges[:, 0]
        ranks = np.arange(1, eigs.shape[1] + 1)
        for t in range(len(times)):
            ax.plot(ranks, eigs[t], "o-", color=cols[t], ms=3, lw=1)
            ax.axhline(edges[t], color=cols[t], ls=":", lw=0.8)
        ax.plot([], [], "ko-", ms=3, label="top eigenvalues")
        ax.plot([], [], "k:", label="null-run edge")
        ax.set_yscale("log")
        ax.set_xlabel("eigenvalue rank (descending)")
        ax.set_ylabel("eigenvalue (loss units)")
        ax.set_title(name)
        ax.legend(fontsize="x-small")
    title = f"Ben Arous et al. task (i): emerging outliers, d = {int(run['d'])}, lam = {lam:g}, seed {int(run['seed'])}"
    caption = ("Top eigenvalues of the empirical Hessian and G-matrix (M fresh test samples) at each SGD checkpoint; "
               "colour = ell/d (colour bar). Dotted lines: top eigenvalue of the null (noise-only) matrix at the same "
               "parameters, the bulk edge used to count outliers.")
    save_figure(fig, path, title, caption)


def plot_xor(runs: Sequence[Run], claims: Mapping[str, Any], plot: Mapping[str, Any], path: str | Path) -> None:
    """Figure alignment_xor: per-layer spectra, alignment, overlap with span(mu, nu), evolution, rank deficiency."""
    import seaborn as sns

    fig, axes = new_figure(2, 3, width=4.8, height=3.8)
    run = next((r for r in runs if int(r["seed"]) == int(plot["seed"])), runs[0])
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
    ax.plot([], [], "ko-", ms=3, label=f"unit {unit} block eigenvalues")
    ax.plot([], [], "k:", label="null-run edge")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue rank (descending)")
    ax.set_ylabel("eigenvalue (loss units)")
    ax.set_title(f"first layer: H block (W_{unit}, W_{unit}), seed {int(run['seed'])}")
    ax.legend(fontsize="x-small")
    # (b) readout block eigenvalues over time
    ax = axes[0, 1]
    pal = sns.color_palette("deep", K)
    for j in range(K):
        ax.plot(times, np.maximum(run["hessian_v_eigs"][:, j], 1e-12), "o-", color=pal[j], ms=3, label=f"eigenvalue {j + 1}")
    ax.plot(times, np.maximum(run["hessian_v_edge"], 1e-12), "k:", label="null-run edge")
    ax.set_yscale("log")
    _time_axis(ax)
    ax.set_ylabel("eigenvalue (loss units)")
    ax.set_title(f"second layer: H block (v, v), K x K, seed {int(run['seed'])}")
    ax.legend(fontsize="x-small")
    # (c) per-layer alignment (all seeds)
    ax = axes[0, 2]
    pal = sns.color_palette("deep", 4)

    def active_median(key: str, r: Run) -> np.ndarray:
        vals = np.where(r["W_norm"] >= np.median(r["W_norm"], axis=1, keepdims=True), r[key], np.nan)
        return np.nanmedian(vals, axis=1)

    for i, kind in enumerate(("hessian", "gmatrix")):
        ls = "-" if kind == "hessian" else "--"
        tag = "H" if kind == "hessian" else "G"
        _band(ax, times, np.stack([active_median(f"{kind}_unit_align2", r) for r in runs]),
              f"layer 1: A(W_i, top-2 of {tag}_ii)", pal[0 + i], ls)
        _band(ax, times, np.stack([r[f"{kind}_v_align"] for r in runs]), f"layer 2: A(v, top-r of {tag}_vv)", pal[2 + i], ls)
    _time_axis(ax)
    ax.set_ylabel("alignment A (median over active units)")
    ax.set_title("per-layer alignment")
    ax.legend(fontsize="x-small")
    # (d) overlap with span(mu, nu)
    ax = axes[1, 0]
    _band(ax, times, np.stack([active_median("hessian_unit_mean_overlap", r) for r in runs]), "H_ii top-2", pal[0])
    _band(ax, times, np.stack([active_median("gmatrix_unit_mean_overlap", r) for r in runs]), "G_ii top-2", pal[1], "--")
    _time_axis(ax)
    ax.set_ylabel("overlap with span(mu, nu)")
    ax.set_title("first-layer outlier space vs the means")
    ax.legend(fontsize="x-small")
    # (e) evolution of the readout eigenspace
    ax = axes[1, 1]
    r_last = max(1, int(run["hessian_v_r"][-1]))
    vecs = run["hessian_v_vecs"][:, :, :r_last]
    ov = np.array([[subspace_overlap(a, b) for b in vecs] for a in vecs])
    im = ax.imshow(ov, vmin=0, vmax=1, cmap="magma", origin="lower")
    fig.colorbar(im, ax=ax, label=f"overlap |Q(t1)^T Q(t2)|_F^2 / r, r = {r_last}")
    labels = [f"{t:g}" for t in times]
    ax.set_xticks(range(len(times)), labels, rotation=90, fontsize="x-small")
    ax.set_yticks(range(len(times)), labels, fontsize="x-small")
    ax.set_xlabel("checkpoint ell/d")
    ax.set_ylabel("checkpoint ell/d")
    ax.set_title(f"readout eigenspace evolution, seed {int(run['seed'])}")
    # (f) rank deficiency
    ax = axes[1, 2]
    gap = float(claims["suboptimal_gap"])
    acc = np.array([r["acc"][-1] for r in runs])
    bayes = float(runs[0]["bayes"])
    counts = np.array([r["hessian_v_r"][-1] for r in runs], dtype=float)
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(runs))
    sub = acc < bayes - gap
    ax.scatter(acc[~sub], counts[~sub] + jitter[~sub], color=pal[0], s=18, label=f"optimal ({int((~sub).sum())})")
    ax.scatter(acc[sub], counts[sub] + jitter[sub], color=pal[3], marker="x", s=22, label=f"sub-optimal ({int(sub.sum())})")
    ax.axvline(bayes - gap, color="grey", ls=":", label=f"Bayes - {gap:g} = {bayes - gap:.3f}")
    ax.set_xlabel("final test accuracy (fraction)")
    ax.set_ylabel("readout-Hessian outliers at the end")
    ax.set_title("rank deficiency of sub-optimal runs")
    ax.legend(fontsize="x-small")
    title = (f"Ben Arous et al. task (ii): XOR-GMM, d = {int(run['d'])}, K = {K} ReLU units, lam = {float(run['lam']):g}, "
             f"online SGD, {len(runs)} seeds")
    caption = ("Per-layer spectra of the empirical Hessian on M fresh test samples: first-layer unit blocks (W_i, W_i) "
               "and the K x K readout block. Active units have |W_i| >= median. Alignment A = |P_U w|^2/|w|^2 with the "
               "top eigenspace; r = eigenvalues above the null (noise-only) matrix's top eigenvalue. Bands: IQR over "
               "seeds. Bottom right: runs are sub-optimal when their final accuracy is below Bayes - gap.")
    save_figure(fig, path, title, caption)
