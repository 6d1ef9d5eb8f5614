"""Figures of the spectral-evolution experiment (Wang et al. 2023; SPEC §3.1 "Plots").

* ``evolution_invariance`` -- ESDs at init and at the end of small-lr GD / SGD, MP density on W;
  Kolmogorov distance to init against time.
* ``evolution_spike`` -- large-lr GD: W ESD with its outlier, top eigenvalues against time, the
  outlier's size and eigenvector alignment against the learning rate.
* ``evolution_heavytail`` -- log-log tails (rank-ordered spectra) after Adam vs small-lr GD with the
  power law the run fitted; test MSE against time for every run.
* ``evolution_realdata`` -- the same regimes on the real-data variant.

Every number drawn is read from the runs' summaries and spectra (the tail fits included): nothing is refitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnspectra.errors import ConfigError
from nnspectra.plotting import (
    GREY,
    legend_below,
    new_figure,
    save_figure,
    series_styles,
)
from nnspectra.plotting.esd import draw_esd, draw_mp, draw_tail, stored_fit
from nnspectra.plotting.wang2023.evolution_runs import (
    EvoPlot,
    final_step,
    diverged_note,
    median_curve,
    dataset_title,
    real_datasets,
    run_label,
    run_styles,
    seed_summary,
    spectra_for,
)
from nnspectra.spectra.mp import mp_edges

MATRICES = ("w", "ck", "ntk")  # the three matrices of each run, in panel order
LABELS = {"w": r"$W^\top W/h$", "ck": "conjugate kernel (CK)", "ntk": "neural tangent kernel (NTK)"}
SHORT = {"w": r"$W^\top W/h$", "ck": "CK", "ntk": "NTK"}
STEP_AXIS = "training step t (log scale; t = 0 drawn at 0.5)"


def _log_eigs(vals: np.ndarray) -> np.ndarray:
    """log10 of the eigenvalues above round-off (1e-10 x the largest)."""
    vals = np.asarray(vals)
    return np.log10(vals[vals > 1e-10 * vals.max()])


def _hist_pair(ax: Any, name: str, vals0: np.ndarray, vals1: np.ndarray, step: int, bins: int,
               model_cfg: Any, ratio: float, colour: Any) -> None:
    """Init vs final ESD on one axis; W on a linear axis with the MP law, kernels on a log10 axis."""
    if name == "w":
        hi = max(vals0.max(), vals1.max()) * 1.02
        edges = np.linspace(1e-10 * hi, hi, bins)  # exact zeros (rank deficiency) fall below: not drawn
        draw_esd(ax, vals0, edges, "t = 0", GREY, filled=True)
        draw_esd(ax, vals1, edges, f"t = {step}", colour)
        sigma2 = float(model_cfg.init_std) ** 2
        draw_mp(ax, np.linspace(1e-6, hi, 600), ratio, sigma2)
        ax.axvline(mp_edges(ratio, sigma2)[1], color="k", ls=":", lw=1, label="MP bulk edge")
        ax.set_xlabel(r"eigenvalue λ of $W^\top W/h$ (dimensionless)")
        ax.set_ylabel("density (fraction of eigenvalues per unit λ)")
    else:
        l0, l1 = _log_eigs(vals0), _log_eigs(vals1)
        edges = np.linspace(min(l0.min(), l1.min()), max(l0.max(), l1.max()) + 1e-9, bins)
        ax.stairs(np.histogram(l0, bins=edges, density=True)[0], edges, fill=True, alpha=0.4, color=GREY,
                  label="t = 0")
        ax.stairs(np.histogram(l1, bins=edges, density=True)[0], edges, lw=1.5, color=colour, label=f"t = {step}")
        ax.set_xlabel(f"log10 of the eigenvalue of the {SHORT[name]}")
        ax.set_ylabel("density (per unit of log10 eigenvalue)")
    legend_below(ax, ncol=2)


def _ks_vs_time(ax: Any, runs: Mapping[str, Sequence[Mapping[str, Any]]], names: Sequence[str]) -> None:
    """Median Kolmogorov distance to t = 0 per (run, matrix): colour and marker per series, style per matrix."""
    styles = {"w": "-", "ck": "--", "ntk": ":"}
    series = [(run, name) for run in names for name in MATRICES]
    for (run, name), (colour, marker) in zip(series, series_styles(len(series))):
        steps, med, _, _ = median_curve(runs[run], f"{name}_ks_init")
        ax.plot(np.maximum(steps, 0.5), med, styles[name], color=colour, marker=marker, ms=4,
                label=f"{run}, {SHORT[name]}")
    ax.axhline(0.05, color="k", lw=0.8, ls="-.", label="0.05 (claim 33 threshold)")
    ax.set_xscale("log")
    ax.set_xlabel(STEP_AXIS)
    ax.set_ylabel("Kolmogorov distance of the ESD to t = 0")
    ax.set_title("distance from the initial spectrum", fontsize="small")
    legend_below(ax, ncol=2)


def plot_invariance(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
                    spectra: Mapping[str, Mapping[str, np.ndarray]], plot_cfg: EvoPlot,
                    model_cfg: Any, claims: Any, path: str | Path) -> None:
    """Small-lr GD and SGD: init vs final ESDs of W, CK, NTK and KS distance to init vs time."""
    runs = grouped[claims.dataset]
    rows = [claims.gd_small, claims.sgd_small]
    fig, axes = new_figure(2, 4, width=4.6, height=3.6)
    styles = run_styles(runs)
    for i, run in enumerate(rows):
        summary = seed_summary(runs[run], plot_cfg.seed)
        arrays, step = spectra_for(summary, spectra), final_step(summary)
        for j, name in enumerate(MATRICES):
            _hist_pair(axes[i, j], name, arrays[f"{name}_t0"], arrays[f"{name}_t{step}"], step, plot_cfg.bins,
                       model_cfg, summary["dim"] / summary["width"], styles[run][0])
            ks = summary["rows"][-1][f"{name}_ks_init"]
            axes[i, j].set_title(f"{SHORT[name]}, {run_label(summary)}\nKolmogorov distance to t = 0: {ks:.3f}",
                                 fontsize="small")
        same = [r for r, s in runs.items() if s[0]["regime"] == runs[run][0]["regime"]]
        _ks_vs_time(axes[i, 3], runs, same)
    s0 = seed_summary(runs[rows[0]], plot_cfg.seed)
    save_figure(fig, path,
                title=f"Spectral invariance under small learning rates (n={s0['n_train']}, d={s0['dim']}, "
                      f"h={s0['width']}, {model_cfg.activation}, seed {plot_cfg.seed})",
                caption="Rows: full-batch GD and SGD at small learning rates. Columns 1-3: eigenvalue histograms of "
                        "W^T W/h (with the Marchenko-Pastur law of ratio d/h and the initial variance), the "
                        "conjugate kernel and the NTK (kernels on a log10 axis; eigenvalues below 1e-10 x the largest "
                        "are not drawn) at t = 0 (grey) and at the last step. Column 4: Kolmogorov distance of "
                        "each ESD at step t from its ESD at t = 0, median over seeds, for every run of that regime.")


def plot_spike(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
               spectra: Mapping[str, Mapping[str, np.ndarray]], plot_cfg: EvoPlot,
               model_cfg: Any, claims: Any, outlier_factor: float, path: str | Path) -> None:
    """Large-lr GD: ESD with outlier, top eigenvalues vs time, outlier size and alignment vs lr (an outlier is
    ``outlier_factor`` x the bulk edge)."""
    runs = grouped[claims.dataset]
    main = seed_summary(runs[claims.gd_large], plot_cfg.seed)
    arrays, step = spectra_for(main, spectra), final_step(main)
    ratio = main["dim"] / main["width"]
    edge = mp_edges(ratio, float(model_cfg.init_std) ** 2)[1]
    factor = float(outlier_factor)
    fig, axes = new_figure(1, 4, width=4.6, height=3.8)
    ax = axes[0, 0]
    _hist_pair(ax, "w", arrays["w_t0"], arrays[f"w_t{step}"], step, plot_cfg.bins, model_cfg, ratio,
               run_styles(runs)[main["run"]][0])
    ax.set_yscale("log")
    ax.set_title(f"{SHORT['w']}, {run_label(main)}", fontsize="small")
    ax = axes[0, 1]
    k = int(plot_cfg.top_k)
    steps = [r["step"] for r in main["rows"]]
    tops = np.array([arrays[f"w_t{t}"][-k:][::-1] for t in steps])
    for i, (colour, marker) in enumerate(series_styles(tops.shape[1])):
        ax.plot(np.maximum(steps, 0.5), tops[:, i], marker=marker, ms=4, color=colour, label=f"λ{i + 1}")
    ax.axhline(edge, color="k", ls=":", label="MP bulk edge")
    ax.axhline(factor * edge, color="tab:red", ls="--", lw=0.8, label=f"{factor:g} x MP bulk edge")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(STEP_AXIS)
    ax.set_ylabel(r"largest eigenvalues of $W^\top W/h$")
    ax.set_title(f"top {k} eigenvalues, {main['run']}", fontsize="small")
    legend_below(ax, ncol=3)
    spike_runs = sorted((r for r, s in runs.items() if s[0]["regime"] == "spike"),
                        key=lambda r: np.median([s["lr"] for s in runs[r]]))
    lrs = np.array([np.median([s["lr"] for s in runs[r]]) for r in spike_runs])

    def stat(run: str, key: str) -> tuple[float, float, float]:
        vals = np.array([s["rows"][-1][key] for s in runs[run]], dtype=float)
        return float(np.median(vals)), float(vals.min()), float(vals.max())

    ax = axes[0, 2]
    ratios = np.array([[v / edge for v in stat(r, "w_lmax")] for r in spike_runs])
    ax.errorbar(lrs, ratios[:, 0], yerr=[ratios[:, 0] - ratios[:, 1], ratios[:, 2] - ratios[:, 0]], marker="o",
                capsize=3, label="λmax / MP bulk edge (median, range over seeds)")
    ax.axhline(factor, color="tab:red", ls="--", lw=0.8, label=f"{factor:g} (claim 37 threshold)")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate η of large-lr GD (log scale)")
    ax.set_ylabel(r"λmax($W^\top W/h$) / MP bulk edge")
    ax.set_title("outlier size after training (one point per large-lr run)", fontsize="small")
    legend_below(ax)
    ax = axes[0, 3]
    series = (("w_align_beta", r"|<u1, β>|, top eigenvector of $W^\top W/h$ vs teacher β"),
              ("ck_align_y", "<v1, y>²/|y|², top CK eigenvector vs labels y"),
              ("ntk_align_y", "<v1, y>²/|y|², top NTK eigenvector vs labels y"))
    for (key, label), (colour, marker) in zip(series, series_styles(len(series))):
        vals = np.array([stat(r, key) for r in spike_runs])
        ax.errorbar(lrs, vals[:, 0], yerr=[vals[:, 0] - vals[:, 1], vals[:, 2] - vals[:, 0]], marker=marker,
                    color=colour, capsize=3, label=label)
    ax.axhline(main["null_alignment_beta"], ls=":", lw=0.8, color="tab:blue", label="random direction: 1/√d")
    ax.axhline(main["null_alignment_y"], ls=":", lw=0.8, color="tab:orange", label="random vector: 1/n (CK, NTK)")
    ax.axhline(0.5, color="tab:red", ls="--", lw=0.8, label="0.5 (claim 38 threshold, W)")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("learning rate η of large-lr GD (log scale)")
    ax.set_ylabel("alignment of the top eigenvector (0 to 1)")
    ax.set_title("top-eigenvector alignment after training", fontsize="small")
    legend_below(ax)
    save_figure(fig, path,
                title=f"Large learning rate: an outlier emerges (n={main['n_train']}, d={main['dim']}, "
                      f"h={main['width']}, seed {plot_cfg.seed})",
                caption="(1) ESD of W^T W/h at init and after large-lr GD (log density) with the MP law; "
                        "(2) its top eigenvalues against the step; (3) top eigenvalue over the MP edge after training "
                        "for each large learning rate (η* = ||W0||op/||grad L(W0)||op per seed); (4) alignment of the "
                        "top eigenvector of W^T W/h with the teacher direction β and of the top CK/NTK eigenvectors "
                        "with the training labels, median and range over seeds; dotted: the value for a random "
                        "direction.")


def tail_panel(ax: Any, name: str, init: tuple[np.ndarray, Mapping[str, Any], str],
                curves: Sequence[tuple[str, np.ndarray, Mapping[str, Any], str, tuple[Any, str]]]) -> None:
    """Rank-ordered spectra of matrix ``name``: the initialisation (eigenvalues, t = 0 row, run; grey open
    circles) and ``curves`` (label, eigenvalues, checkpoint row, run name, (colour, marker))."""
    vals0, row0, run0 = init
    draw_tail(ax, vals0, stored_fit(row0, name, run0), "initialisation", GREY, "o", hollow=True)
    for label, vals, row, run, (colour, marker) in curves:
        draw_tail(ax, vals, stored_fit(row, name, run), label, colour, marker)
    ax.set_xlabel(f"eigenvalue λ of the {SHORT[name]} (log scale)")
    ax.set_ylabel("fraction of eigenvalues ≥ λ (log scale)")
    ax.set_title(f"{LABELS[name]}: tail and power-law fit (lines)", fontsize="small")
    legend_below(ax)


def mse_panel(ax: Any, runs: Mapping[str, Sequence[Mapping[str, Any]]], title: str) -> None:
    styles = run_styles(runs)
    for run, seeds in runs.items():
        colour, marker = styles[run]
        steps, med, _, _ = median_curve(seeds, "test_mse")
        ax.plot(np.maximum(steps, 0.5), med, marker=marker, ms=4, color=colour, alpha=0.85,
                label=run_label(seeds[0]) + diverged_note(seeds))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(STEP_AXIS)
    ax.set_ylabel("test MSE (label units², log scale)")
    ax.set_title(title, fontsize="small")
    legend_below(ax, ncol=2)


def plot_heavytail(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
                   spectra: Mapping[str, Mapping[str, np.ndarray]], plot_cfg: EvoPlot,
                   model_cfg: Any, claims: Any, path: str | Path) -> None:
    """Adam vs small-lr GD: log-log tails with their stored fits; test MSE vs time for every run."""
    runs = grouped[claims.dataset]
    adam = seed_summary(runs[claims.adam], plot_cfg.seed)
    gd = seed_summary(runs[claims.gd_small], plot_cfg.seed)
    a_arr, g_arr = spectra_for(adam, spectra), spectra_for(gd, spectra)
    fig, axes = new_figure(1, 4, width=4.6, height=3.9)
    tg, ta = final_step(gd), final_step(adam)
    styles = run_styles(runs)
    for j, name in enumerate(MATRICES):
        tail_panel(axes[0, j], name, (g_arr[f"{name}_t0"], gd["rows"][0], gd["run"]), [
            (f"{run_label(gd)}, t = {tg}", g_arr[f"{name}_t{tg}"], gd["rows"][-1], gd["run"], styles[gd["run"]]),
            (f"{run_label(adam)}, t = {ta}", a_arr[f"{name}_t{ta}"], adam["rows"][-1], adam["run"],
             styles[adam["run"]]),
        ])
    mse_panel(axes[0, 3], runs, "test mean squared error (MSE) of every run,\nmedian over seeds")
    save_figure(fig, path,
                title=f"Adam gives heavy-tailed spectra (n={adam['n_train']}, d={adam['dim']}, h={adam['width']}, "
                      f"seed {plot_cfg.seed})",
                caption="Panels 1-3: rank-ordered eigenvalues (fraction of eigenvalues >= λ, log-log) of W^T W/h, the "
                        "CK and the NTK at init, after small-lr GD and after Adam; lines show the power law "
                        "p(λ) ∝ λ^-α fitted by maximum likelihood above the KS-chosen xmin (Clauset et al. 2009), "
                        "as the run stored it. Panel 4: test MSE against the step for every run (median over seeds).")


FIGURES = {"evolution_invariance": plot_invariance, "evolution_spike": plot_spike,
           "evolution_heavytail": plot_heavytail, "evolution_realdata": None}  # realdata: evolution_realdata.py
OUTLIER_FIGURES = ("evolution_spike", "evolution_realdata")  # the figures that mark outliers over the bulk edge


def plot_figure(figure: str, grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]], spectra: Mapping[str, Mapping[str, np.ndarray]],
                plot_cfg: EvoPlot, model_cfg: Any, claims: Any, analysis: Any, path: str | Path) -> None:
    """Draw the named figure from per-seed run summaries (each with its ``run`` name) and the plot seed's
    spectra keyed by dataset, then run name. The settings are the typed sections of the config:
    ``plot_cfg`` (``evolution.plot``), ``model_cfg`` (``evolution.model``: ``init_std``, ``activation``),
    ``claims`` (``evolution.claims``: the dataset and runs shown) and ``analysis`` (``evolution.analysis``:
    ``outlier_factor``)."""
    if figure not in FIGURES:
        raise ConfigError(f"unknown evolution figure '{figure}'; choose one of {sorted(FIGURES)}")
    factor = {"outlier_factor": float(analysis.outlier_factor)} if figure in OUTLIER_FIGURES else {}
    if figure == "evolution_realdata":
        from nnspectra.plotting.wang2023.evolution_realdata import plot_realdata

        plot_realdata(grouped, spectra, plot_cfg, model_cfg, claims, path=path, **factor)
    else:
        FIGURES[figure](grouped, spectra[claims.dataset], plot_cfg, model_cfg, claims,  # type: ignore[misc]
                        path=path, **factor)
