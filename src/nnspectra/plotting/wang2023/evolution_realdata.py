"""Figure ``evolution_realdata``: the three regimes of Wang et al. (2023) on real images (SPEC §3.3).

One row per real-data variant: ESD of the first weight layer with the MP law, CK tails with the stored power-law
fits, the top weight eigenvalue over the MP edge against the step (largest over hidden layers for SPEC §3.3's
3-layer MLP), and test MSE. Titles name the dataset and the network each row trained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnspectra.errors import ConfigError
from nnspectra.plotting import GREY, legend_below, new_figure, save_figure
from nnspectra.plotting.esd import draw_esd, draw_mp
from nnspectra.plotting.wang2023.evolution import STEP_AXIS, mse_panel, tail_panel
from nnspectra.plotting.wang2023.evolution_runs import (
    EvoPlot,
    dataset_title,
    diverged_note,
    final_step,
    median_curve,
    real_datasets,
    run_label,
    run_styles,
    seed_summary,
    spectra_for,
)


def architecture(summary: Mapping[str, Any], model_cfg: Any) -> str:
    """``"3-layer MLP width 2048, tanh"``: weight layers counted as SPEC §3.0's "two-layer network"."""
    layers = int(summary.get("hidden_layers", 1)) + 1
    return f"{layers}-layer MLP width {summary['width']}, {summary.get('activation', model_cfg.activation)}"


def _top_over_edge(seeds: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps and the median / min / max over seeds of max_l lambda_max(W_l^T W_l/h) / its MP edge, at each step
    over the seeds that reached it (:func:`median_curve`; a run that diverged stops recording)."""
    mats = [k[:-len("_mp_edge")] for k in seeds[0]["rows"][0] if k.endswith("_mp_edge")]
    return median_curve(seeds, lambda r: max(r[f"{m}_lmax"] / r[f"{m}_mp_edge"] for m in mats))


def _realdata_row(axes: Any, runs: Mapping[str, Sequence[Mapping[str, Any]]],
                  spectra: Mapping[str, Mapping[str, np.ndarray]], plot_cfg: EvoPlot,
                  model_cfg: Any, claims: Any, outlier_factor: float, names: Sequence[str]) -> Mapping[str, Any]:
    """One dataset's row: W ESDs, CK tails (plot seed), top weight eigenvalue and test MSE (over seeds)."""
    picked, styles = {r: seed_summary(runs[r], plot_cfg.seed) for r in names}, run_styles(runs)
    first = picked[names[0]]
    net, deep = architecture(first, model_cfg), int(first.get("hidden_layers", 1)) > 1
    where = f"{dataset_title(first['dataset']).split(':')[0]}, {net}"  # targets: caption
    seed = f"seed {plot_cfg.seed}"
    gram = r"$W_1^\top W_1/h$ (first layer)" if deep else r"$W^\top W/h$"
    ratio, sigma2 = first["dim"] / first["width"], float(model_cfg.init_std) ** 2
    ax, arr0 = axes[0], spectra_for(first, spectra)
    finals = [spectra_for(s, spectra)[f"w_t{final_step(s)}"] for s in picked.values()]
    hi = max(v.max() for v in finals)
    lo = min(v[v > 1e-8 * v.max()].min() for v in [arr0["w_t0"], *finals])
    edges = np.geomspace(lo * 0.95, hi * 1.05, plot_cfg.bins)
    draw_esd(ax, arr0["w_t0"], edges, "t = 0", GREY, filled=True)
    for run, s in picked.items():
        draw_esd(ax, spectra_for(s, spectra)[f"w_t{final_step(s)}"], edges, f"{run_label(s)}, t = {final_step(s)}",
                 styles[run][0])
    draw_mp(ax, np.geomspace(edges[0], edges[-1], 600), ratio, sigma2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"eigenvalue λ of {gram} (log scale)")
    ax.set_ylabel("density (fraction of all eigenvalues per unit λ)")
    ax.set_title(f"{where}\nweight spectrum, {seed} (zero eigenvalues not drawn)", fontsize="small")
    legend_below(ax)
    tail_panel(axes[1], "ck", (arr0["ck_t0"], first["rows"][0], first["run"]), [
        (f"{run_label(s)}, t = {final_step(s)}", spectra_for(s, spectra)[f"ck_t{final_step(s)}"], s["rows"][-1], run,
         styles[run]) for run, s in picked.items()])
    axes[1].set_title(f"{where}\nCK tail and power-law fit (lines), {seed}", fontsize="small")
    ax = axes[2]
    for run in names:
        colour, marker = styles[run]
        steps, med, low, high = _top_over_edge(runs[run])
        ax.fill_between(np.maximum(steps, 0.5), low, high, color=colour, alpha=0.2)
        ax.plot(np.maximum(steps, 0.5), med, marker=marker, ms=4, color=colour,
                label=run_label(picked[run]) + diverged_note(runs[run]))
    factor = float(outlier_factor)
    ax.axhline(factor, color="k", ls="--", lw=0.8, label=f"{factor:g} (claim 37 threshold)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(STEP_AXIS)
    ax.set_ylabel("λmax / MP bulk edge, largest over\nhidden layers $W_l^\\top W_l/h$" if deep
                  else r"λmax($W^\top W/h$) / MP bulk edge")
    ax.set_title(f"{where}\ntop weight eigenvalue: median, range over {len(runs[names[0]])} seeds",
                 fontsize="small")
    legend_below(ax)
    mse_panel(axes[3], runs, f"{where}\ntest mean squared error (MSE), median over {len(runs[names[0]])} seeds")
    return first


def plot_realdata(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
                  spectra: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]], plot_cfg: EvoPlot,
                  model_cfg: Any, claims: Any, outlier_factor: float, path: str | Path) -> None:
    """The three regimes on each real-data variant (one row per dataset, :func:`real_datasets`): W ESDs, CK
    tails, top eigenvalue vs t, test MSE. ``spectra``: dataset -> run -> the plot seed's arrays."""
    datasets = real_datasets(grouped, claims)
    rows = []
    for dataset in datasets:
        names = [r for r in (claims.gd_small, claims.gd_large, claims.adam) if r in grouped[dataset]]
        if not names:
            raise ConfigError(f"evolution_realdata: dataset '{dataset}' trains none of the claims' runs")
        rows.append((dataset, names))
    fig, axes = new_figure(len(rows), 4, width=4.6, height=3.9)
    firsts = [_realdata_row(axes[i], grouped[dataset], spectra[dataset], plot_cfg, model_cfg, claims,
                            outlier_factor, names) for i, (dataset, names) in enumerate(rows)]
    names = [dataset_title(f["dataset"]).split(":")[0] for f in firsts]
    sizes = "; ".join(f"{name}: n = {f['n_train']}, d = {f['dim']}, {architecture(f, model_cfg)}"
                      for name, f in zip(names, firsts))
    targets = " ".join(f"{dataset_title(f['dataset'])}." for f in firsts)
    save_figure(fig, path, title=f"Spectral regimes on real images: {' and '.join(names)}\n({sizes})",
                caption=f"The three regimes on class-balanced subsets of real images (flattened, standardised pixels, "
                        f"a scalar regression target). {targets} Columns: (1) ESD of W^T W/h at init and after "
                        "small-lr GD, large-lr GD and Adam with the MP law (log-log; histograms are densities of all "
                        "d eigenvalues, so the zero eigenvalues of a rank-deficient W keep their mass, as in the MP "
                        "law's atom at 0); (2) rank-ordered CK eigenvalues with the runs' power-law fits (columns 1-2: "
                        f"the plot seed {plot_cfg.seed}); (3) top eigenvalue of W^T W/h over the MP edge against the "
                        "step (the largest over the hidden layers of a deeper MLP) and (4) test MSE against the step, both "
                        "median over seeds; a deeper MLP's column 1 shows its first layer, its CK is that of the last "
                        "hidden layer.")
