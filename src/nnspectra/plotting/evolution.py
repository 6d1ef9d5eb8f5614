"""Figures of the spectral-evolution experiment (Wang et al. 2023; SPEC §3.1 "Plots").

* ``evolution_invariance`` -- ESDs at init and at the end of small-lr GD / SGD, MP density on W;
  Kolmogorov distance to init against time.
* ``evolution_spike`` -- large-lr GD: W ESD with its outlier, top eigenvalues against time, the
  outlier's size and eigenvector alignment against the learning rate.
* ``evolution_heavytail`` -- log-log tails (rank-ordered spectra) after Adam vs small-lr GD with the
  fitted power law; test MSE against time for every run.
* ``evolution_realdata`` -- the same regimes on the real-data variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnspectra.errors import ConfigError
from nnspectra.plotting import new_figure, save_figure

MATRICES = ("w", "ck", "ntk")  # the three matrices of each run, in panel order
from nnspectra.spectra.mp import mp_density, mp_edges
from nnspectra.spectra.powerlaw import fit_power_law

LABELS = {"w": r"$W^\top W/h$", "ck": "CK", "ntk": "NTK"}
REGIME_COLOURS = {"invariant": "tab:blue", "sgd": "tab:green", "spike": "tab:orange", "heavy_tail": "tab:red"}


def _spectra_for(summary: Mapping[str, Any], spectra: Mapping[str, Mapping[str, np.ndarray]]) -> Mapping[str, np.ndarray]:
    """The eigenvalue arrays of the run of ``summary`` (``spectra`` is keyed by run name, plot seed only)."""
    if summary["run"] not in spectra:
        raise ConfigError(f"spectra of run {summary['run']} were not passed to the figure; check evolution.plot.seed")
    return spectra[summary["run"]]


def _seed_summary(seeds: Sequence[Mapping[str, Any]], seed: int) -> Mapping[str, Any]:
    for summary in seeds:
        if summary["seed"] == seed:
            return summary
    raise ConfigError(f"evolution.plot.seed {seed} has no run; it must be one of evolution.seeds")


def _final_step(summary: Mapping[str, Any]) -> int:
    return int(summary["rows"][-1]["step"])


def _median_curve(seeds: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    steps = np.array([r["step"] for r in seeds[0]["rows"]], dtype=float)
    values = np.array([[r[key] for r in s["rows"]] for s in seeds], dtype=float)
    return steps, np.median(values, axis=0), values.min(axis=0), values.max(axis=0)


def _log_eigs(vals: np.ndarray) -> np.ndarray:
    """log10 of the eigenvalues above round-off (1e-10 x the largest)."""
    vals = np.asarray(vals)
    return np.log10(vals[vals > 1e-10 * vals.max()])


def _hist_pair(ax: Any, name: str, vals0: np.ndarray, vals1: np.ndarray, step: int, bins: int,
               model_cfg: Mapping[str, Any], ratio: float, ks: float) -> None:
    """Init vs final ESD on one axis; W in linear scale with the MP density, kernels in log10 scale."""
    if name == "w":
        hi = max(vals0.max(), vals1.max())
        edges = np.linspace(0.0, hi * 1.02, bins)
        ax.hist(vals0, bins=edges, density=True, alpha=0.45, color="tab:gray", label="t = 0")
        ax.hist(vals1, bins=edges, density=True, histtype="step", lw=1.6, color="tab:blue", label=f"t = {step}")
        grid = np.linspace(1e-6, hi * 1.02, 600)
        sigma2 = float(model_cfg["init_std"]) ** 2
        ax.plot(grid, mp_density(grid, ratio, sigma2), color="k", lw=1.2, label=f"MP, d/h = {ratio:.2f}")
        ax.axvline(mp_edges(ratio, sigma2)[1], color="k", ls=":", lw=1, label="MP edge")
        ax.set_xlabel("eigenvalue of $W^\\top W/h$ (dimensionless)")
        ax.set_ylabel("density")
    else:
        l0, l1 = _log_eigs(vals0), _log_eigs(vals1)
        edges = np.linspace(min(l0.min(), l1.min()), max(l0.max(), l1.max()) + 1e-9, bins)
        ax.hist(l0, bins=edges, density=True, alpha=0.45, color="tab:gray", label="t = 0")
        ax.hist(l1, bins=edges, density=True, histtype="step", lw=1.6, color="tab:blue", label=f"t = {step}")
        ax.set_xlabel(f"log10 eigenvalue of the {LABELS[name]} (dimensionless)")
        ax.set_ylabel("density of log10 eigenvalue")
    ax.set_title(f"{LABELS[name]}: KS(t, 0) = {ks:.3f}")
    ax.legend(fontsize="x-small")


def _ks_vs_time(ax: Any, runs: Mapping[str, Sequence[Mapping[str, Any]]], names: Sequence[str]) -> None:
    styles = {"w": "-", "ck": "--", "ntk": ":"}
    colours = iter(["tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:olive", "tab:cyan"])
    for run in names:
        colour = next(colours)
        for name in MATRICES:
            steps, med, lo, hi = _median_curve(runs[run], f"{name}_ks_init")
            ax.plot(np.maximum(steps, 0.5), med, styles[name], color=colour, marker="o", ms=3,
                    label=f"{run}: {LABELS[name]}")
    ax.axhline(0.05, color="k", lw=0.8, ls="-.", label="claim threshold 0.05")
    ax.set_xscale("log")
    ax.set_xlabel("training step t (t = 0 drawn at 0.5)")
    ax.set_ylabel("KS distance of the ESD to t = 0")
    ax.set_title("distance from the initial spectrum")
    ax.legend(fontsize="xx-small", ncol=2)


def plot_invariance(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
                    spectra: Mapping[str, Mapping[str, np.ndarray]], plot_cfg: Mapping[str, Any],
                    model_cfg: Mapping[str, Any], claims: Mapping[str, Any], path: str | Path) -> None:
    """Small-lr GD and SGD: init vs final ESDs of W, CK, NTK and KS distance to init vs time."""
    runs = grouped[claims["dataset"]]
    rows = [claims["gd_small"], claims["sgd_small"]]
    fig, axes = new_figure(2, 4, width=4.6, height=3.6)
    for i, run in enumerate(rows):
        summary = _seed_summary(runs[run], plot_cfg["seed"])
        arrays, step = _spectra_for(summary, spectra), _final_step(summary)
        ratio = summary["dim"] / summary["width"]
        for j, name in enumerate(MATRICES):
            _hist_pair(axes[i, j], name, arrays[f"{name}_t0"], arrays[f"{name}_t{step}"], step, plot_cfg["bins"],
                       model_cfg, ratio, summary["rows"][-1][f"{name}_ks_init"])
            axes[i, j].set_title(f"{run} (lr {summary['lr']:.3g}): " + axes[i, j].get_title(), fontsize="small")
        same = [r for r, s in runs.items() if s[0]["regime"] == runs[run][0]["regime"]]
        _ks_vs_time(axes[i, 3], runs, same)
    s0 = _seed_summary(runs[rows[0]], plot_cfg["seed"])
    save_figure(fig, path,
                title=f"Spectral invariance under small learning rates (n={s0['n_train']}, d={s0['dim']}, "
                      f"h={s0['width']}, {model_cfg['activation']}, seed {plot_cfg['seed']})",
                caption="Rows: full-batch GD and SGD (batch 32) at small learning rates. Columns 1-3: eigenvalue "
                        "histograms of W^T W/h (with the Marchenko-Pastur density of ratio d/h and unit variance), the "
                        "conjugate kernel and the NTK (kernels on a log10 axis; eigenvalues below 1e-10 x the largest "
                        "are dropped) at t = 0 (grey) and at the last step (blue). Column 4: Kolmogorov distance of "
                        "each ESD at step t from its ESD at t = 0, median over seeds, for every run of that regime.")


def plot_spike(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
               spectra: Mapping[str, Mapping[str, np.ndarray]], plot_cfg: Mapping[str, Any],
               model_cfg: Mapping[str, Any], claims: Mapping[str, Any], path: str | Path) -> None:
    """Large-lr GD: ESD with outlier, top eigenvalues vs time, outlier size and alignment vs lr."""
    runs = grouped[claims["dataset"]]
    main = _seed_summary(runs[claims["gd_large"]], plot_cfg["seed"])
    arrays, step = _spectra_for(main, spectra), _final_step(main)
    ratio = main["dim"] / main["width"]
    edge = mp_edges(ratio, float(model_cfg["init_std"]) ** 2)[1]
    fig, axes = new_figure(1, 4, width=4.6, height=3.8)
    ax = axes[0, 0]
    _hist_pair(ax, "w", arrays["w_t0"], arrays[f"w_t{step}"], step, plot_cfg["bins"], model_cfg, ratio,
               main["rows"][-1]["w_ks_init"])
    ax.set_yscale("log")
    ax.set_title(f"{claims['gd_large']} (lr {main['lr']:.3g}): W ESD", fontsize="small")
    ax = axes[0, 1]
    k = int(plot_cfg["top_k"])
    steps = [r["step"] for r in main["rows"]]
    tops = np.array([arrays[f"w_t{t}"][-k:][::-1] for t in steps])
    for i in range(tops.shape[1]):
        ax.plot(np.maximum(steps, 0.5), tops[:, i], marker="o", ms=3, label=f"λ{i + 1}")
    ax.axhline(edge, color="k", ls=":", label="MP edge")
    factor = float(claims["outlier_factor"])
    ax.axhline(factor * edge, color="tab:red", ls="--", lw=0.8, label=f"{factor:g} x MP edge")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training step t (t = 0 drawn at 0.5)")
    ax.set_ylabel("top eigenvalues of $W^\\top W/h$")
    ax.set_title(f"top-{k} eigenvalues, {claims['gd_large']}", fontsize="small")
    ax.legend(fontsize="x-small")
    spike_runs = sorted((r for r, s in runs.items() if s[0]["regime"] == "spike"),
                        key=lambda r: np.median([s["lr"] for s in runs[r]]))
    lrs = np.array([np.median([s["lr"] for s in runs[r]]) for r in spike_runs])

    def stat(run: str, key: str) -> tuple[float, float, float]:
        vals = np.array([s["rows"][-1][key] for s in runs[run]], dtype=float)
        return float(np.median(vals)), float(vals.min()), float(vals.max())

    ax = axes[0, 2]
    ratios = np.array([[v / edge for v in stat(r, "w_lmax")] for r in spike_runs])
    ax.errorbar(lrs, ratios[:, 0], yerr=[ratios[:, 0] - ratios[:, 1], ratios[:, 2] - ratios[:, 0]], marker="o",
                capsize=3, label="λmax / MP edge (median, range over seeds)")
    ax.axhline(factor, color="tab:red", ls="--", lw=0.8, label=f"{factor:g} (claim 37)")
    for r, lr in zip(spike_runs, lrs):
        ax.annotate(r, (lr, ratios[spike_runs.index(r), 0]), fontsize="xx-small", rotation=30)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate η (GD, 10 steps)")
    ax.set_ylabel("λmax($W^\\top W/h$) / MP edge")
    ax.set_title("outlier size vs learning rate", fontsize="small")
    ax.legend(fontsize="x-small")
    ax = axes[0, 3]
    for key, label, null in (("w_align_beta", "|<u1, β>| (W)", main["null_alignment_beta"]),
                             ("ck_align_y", "<v1, y>²/|y|² (CK)", main["null_alignment_y"]),
                             ("ntk_align_y", "<v1, y>²/|y|² (NTK)", None)):
        vals = np.array([stat(r, key) for r in spike_runs])
        ax.errorbar(lrs, vals[:, 0], yerr=[vals[:, 0] - vals[:, 1], vals[:, 2] - vals[:, 0]], marker="o",
                    capsize=3, label=label)
        if null is not None:
            ax.axhline(null, ls=":", lw=0.8, color="gray")
    ax.axhline(0.5, color="tab:red", ls="--", lw=0.8, label="0.5 (claim 38, W)")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("learning rate η (GD, 10 steps)")
    ax.set_ylabel("alignment of the top eigenvector")
    ax.set_title("top eigenvector alignment (dotted: random baselines)", fontsize="small")
    ax.legend(fontsize="x-small")
    save_figure(fig, path,
                title=f"Large learning rate: an outlier emerges (n={main['n_train']}, d={main['dim']}, "
                      f"h={main['width']}, seed {plot_cfg['seed']})",
                caption="(1) ESD of W^T W/h at init and after large-lr GD (log density) with the MP law; "
                        "(2) its top eigenvalues against the step; (3) top eigenvalue over the MP edge after training "
                        "for each large learning rate (η* = ||W0||op/||grad L(W0)||op per seed); (4) alignment of the "
                        "top eigenvector of W^T W/h with the teacher direction β and of the top CK/NTK eigenvectors "
                        "with the training labels, median and range over seeds.")


def _tail_panel(ax: Any, name: str, curves: Sequence[tuple[str, np.ndarray, str]], min_tail: int) -> None:
    for label, vals, colour in curves:
        vals = np.sort(vals[vals > 1e-10 * vals.max()])[::-1]
        ranks = np.arange(1, vals.size + 1) / vals.size
        fit = fit_power_law(vals, min_tail=min(min_tail, vals.size))
        ax.loglog(vals, ranks, ".", ms=2.5, color=colour, label=f"{label}: α = {fit.alpha:.2f}")
        tail_frac = fit.n_tail / vals.size
        grid = np.geomspace(fit.xmin, vals[0], 50)
        ax.loglog(grid, tail_frac * (grid / fit.xmin) ** (1.0 - fit.alpha), "-", color=colour, lw=1.2)
    ax.set_xlabel(f"eigenvalue λ of the {LABELS[name]} (dimensionless)")
    ax.set_ylabel("fraction of eigenvalues ≥ λ")
    ax.set_title(f"{LABELS[name]} tail (lines: CSN power-law fit)", fontsize="small")
    ax.legend(fontsize="x-small")


def _mse_panel(ax: Any, runs: Mapping[str, Sequence[Mapping[str, Any]]], title: str) -> None:
    for run, seeds in runs.items():
        steps, med, lo, hi = _median_curve(seeds, "test_mse")
        colour = REGIME_COLOURS.get(seeds[0]["regime"], "k")
        ax.plot(np.maximum(steps, 0.5), med, marker="o", ms=3, color=colour, label=f"{run} ({seeds[0]['regime']})",
                alpha=0.85)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training step t (t = 0 drawn at 0.5)")
    ax.set_ylabel("test MSE (label units², log scale)")
    ax.set_title(title, fontsize="small")
    ax.legend(fontsize="xx-small", ncol=2)


def plot_heavytail(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
                   spectra: Mapping[str, Mapping[str, np.ndarray]], plot_cfg: Mapping[str, Any],
                   model_cfg: Mapping[str, Any], claims: Mapping[str, Any], path: str | Path) -> None:
    """Adam vs small-lr GD: log-log tails with fitted alpha; test MSE vs time for every run."""
    runs = grouped[claims["dataset"]]
    adam = _seed_summary(runs[claims["adam"]], plot_cfg["seed"])
    gd = _seed_summary(runs[claims["gd_small"]], plot_cfg["seed"])
    a_arr, g_arr = _spectra_for(adam, spectra), _spectra_for(gd, spectra)
    fig, axes = new_figure(1, 4, width=4.6, height=3.9)
    for j, name in enumerate(MATRICES):
        _tail_panel(axes[0, j], name, [
            ("init", g_arr[f"{name}_t0"], "tab:gray"),
            (f"{claims['gd_small']} t={_final_step(gd)}", g_arr[f"{name}_t{_final_step(gd)}"], "tab:blue"),
            (f"{claims['adam']} t={_final_step(adam)}", a_arr[f"{name}_t{_final_step(adam)}"], "tab:red"),
        ], min_tail=10)
    _mse_panel(axes[0, 3], runs, "test MSE, median over seeds (colour: regime)")
    save_figure(fig, path,
                title=f"Adam gives heavy-tailed spectra (n={adam['n_train']}, d={adam['dim']}, h={adam['width']}, "
                      f"seed {plot_cfg['seed']})",
                caption="Panels 1-3: rank-ordered eigenvalues (fraction of eigenvalues >= λ, log-log) of W^T W/h, the "
                        "CK and the NTK at init, after small-lr GD and after Adam; lines show the power law "
                        "p(λ) ∝ λ^-α fitted by maximum likelihood above the KS-chosen xmin (Clauset et al. 2009). "
                        "Panel 4: test MSE against the step for every run (median over seeds).")


def plot_realdata(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
                  spectra: Mapping[str, Mapping[str, np.ndarray]], plot_cfg: Mapping[str, Any],
                  model_cfg: Mapping[str, Any], claims: Mapping[str, Any], path: str | Path) -> None:
    """The three regimes on the real-data variant: W ESDs, CK tails, top eigenvalue vs t, test MSE."""
    dataset = claims["real_dataset"] or claims["dataset"]
    runs = grouped[dataset]
    names = [r for r in (claims["gd_small"], claims["gd_large"], claims["adam"]) if r in runs]
    if not names:
        raise ConfigError(f"evolution_realdata: dataset '{dataset}' trains none of the claims' runs")
    colours = ["tab:blue", "tab:orange", "tab:red"]
    picked = {r: _seed_summary(runs[r], plot_cfg["seed"]) for r in names}
    first = picked[names[0]]
    fig, axes = new_figure(1, 4, width=4.6, height=3.9)
    ratio = first["dim"] / first["width"]
    ax = axes[0, 0]
    arr0 = _spectra_for(first, spectra)
    finals = [_spectra_for(s, spectra)[f"w_t{_final_step(s)}"] for s in picked.values()]
    hi = max(v.max() for v in finals)
    lo = min(v[v > 1e-8 * v.max()].min() for v in [arr0["w_t0"], *finals])
    edges = np.geomspace(lo * 0.95, hi * 1.05, plot_cfg["bins"])
    ax.hist(arr0["w_t0"], bins=edges, density=True, alpha=0.4, color="tab:gray", label="t = 0")
    for (run, s), colour in zip(picked.items(), colours):
        vals = _spectra_for(s, spectra)[f"w_t{_final_step(s)}"]
        ax.hist(vals, bins=edges, density=True, histtype="step", lw=1.4, color=colour,
                label=f"{run} t={_final_step(s)}")
    grid = np.geomspace(edges[0], edges[-1], 600)
    ax.plot(grid, mp_density(grid, ratio, float(model_cfg["init_std"]) ** 2), "k", lw=1, label="MP")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue of $W^\\top W/h$ (dimensionless)")
    ax.set_ylabel("density")
    ax.set_title("weight ESD (zero eigenvalues not drawn)", fontsize="small")
    ax.legend(fontsize="x-small")
    _tail_panel(axes[0, 1], "ck", [("init", arr0["ck_t0"], "tab:gray")] + [
        (f"{run}", _spectra_for(s, spectra)[f"ck_t{_final_step(s)}"], colour)
        for (run, s), colour in zip(picked.items(), colours)], min_tail=10)
    ax = axes[0, 2]
    edge = mp_edges(ratio, float(model_cfg["init_std"]) ** 2)[1]
    for run, colour in zip(names, colours):
        steps, med, lo, hi_ = _median_curve(runs[run], "w_lmax")
        ax.fill_between(np.maximum(steps, 0.5), lo / edge, hi_ / edge, color=colour, alpha=0.2)
        ax.plot(np.maximum(steps, 0.5), med / edge, marker="o", ms=3, color=colour, label=run)
    ax.axhline(1.2, color="k", ls="--", lw=0.8, label="1.2 (claim 37)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training step t (t = 0 drawn at 0.5)")
    ax.set_ylabel("λmax($W^\\top W/h$) / MP edge")
    ax.set_title("top weight eigenvalue (median, range over seeds)", fontsize="small")
    ax.legend(fontsize="x-small")
    _mse_panel(axes[0, 3], runs, "test MSE, median over seeds")
    save_figure(fig, path,
                title=f"Real data ({first['dataset']}, n={first['n_train']}, d={first['dim']}, h={first['width']}, "
                      f"seed {plot_cfg['seed']})",
                caption=f"The three regimes on a class-balanced subset of real images ({first['dataset']}; "
                        "flattened, standardised pixels, scalar target): "
                        "(1) ESD of W^T W/h at init and after small-lr GD, large-lr GD and Adam with the MP law "
                        "(log-log); (2) rank-ordered CK eigenvalues with CSN power-law fits; (3) top eigenvalue of "
                        "W^T W/h over the MP edge against the step; (4) test MSE against the step.")


FIGURES = {"evolution_invariance": plot_invariance, "evolution_spike": plot_spike,
           "evolution_heavytail": plot_heavytail, "evolution_realdata": plot_realdata}


def plot_figure(figure: str, grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]], spectra: Mapping[str, Mapping[str, np.ndarray]],
                plot_cfg: Mapping[str, Any], model_cfg: Mapping[str, Any], claims: Mapping[str, Any],
                analysis: Mapping[str, Any], path: str | Path) -> None:
    """Draw the named figure from per-seed run summaries (each with its ``run`` name) and the plot seed's
    spectra keyed by run name."""
    if figure not in FIGURES:
        raise ConfigError(f"unknown evolution figure '{figure}'; choose one of {sorted(FIGURES)}")
    claims = {**claims, "outlier_factor": float(analysis["outlier_factor"])}
    FIGURES[figure](grouped, spectra, plot_cfg, model_cfg, claims, path)
