"""Figures read without the paper (issue 13): the MP overlay on the histogram's scale, tails drawn from the
stored fits, one colour and marker per series, legends and captions that cover no panel, and the specific
defects users reported (fig2's component count, fig5/fig6 titles, alignment_xor's integer counts,
alignment_gmm's empty panel)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nnspectra.experiments.benarous2024 import alignment as aln
from nnspectra.experiments.wang2023 import heavytail_examples as hx
from nnspectra.experiments.benarous2024.alignment import MatrixSettings, OnlineSGD
from nnspectra.experiments.benarous2024.alignment_metrics import (
    AlignmentClaims,
    gmm_figure_numbers,
    xor_figure_numbers,
)
from nnspectra.experiments.wang2023.evolution import (
    EvoAnalysis,
    EvoData,
    EvoModel,
    EvoRun,
    run_evolution,
)
from nnspectra.experiments.wang2023.evolution_metrics import EvoClaims, group_summaries
from nnspectra.experiments.sagun2018.mp import MpSettings, run_mp_appendix
from nnspectra.plotting.wang2023.evolution_runs import EvoPlot
from nnspectra.spectra.mp import mp_atom

# d > h: W^T W/h has d - h exact zeros (the MP atom of mass 1 - h/d), the case issue 13 saw drawn 5x too low
DATA = EvoData(kind="teacher", n_train=30, n_test=20, dim=400, noise_std=0.3)
MODEL = EvoModel(width=80, activation="tanh", init_std=1.0, dtype="float64")
ANALYSIS = EvoAnalysis(checkpoints=(0, 1, 10), outlier_factor=1.2, min_tail=5)
RUNS = {
    "gd_small": EvoRun(regime="invariant", optimizer="gd", lr=0.1, steps=3),
    "gd_mid": EvoRun(regime="invariant", optimizer="gd", lr=0.3, steps=3),
    "sgd_small": EvoRun(regime="sgd", optimizer="sgd", lr=0.1, steps=3, batch_size=8),
    "gd_large": EvoRun(regime="spike", optimizer="gd", lr="eta_star", steps=2),
    "gd_larger": EvoRun(regime="spike", optimizer="gd", lr="eta_star", lr_factor=2.0, steps=2),
    "adam": EvoRun(regime="heavy_tail", optimizer="adam", lr=0.5, steps=3, train_a=True),
}
CLAIMS = {"dataset": "teacher", "real_dataset": None, "gd_small": "gd_small", "sgd_small": "sgd_small",
          "gd_large": "gd_large", "adam": "adam"}
MODEL_CFG = {"width": 80, "activation": "tanh", "init_std": 1.0, "dtype": "float64"}
ANALYSIS_CFG = {"checkpoints": [0, 1, 10], "outlier_factor": 1.2, "min_tail": 5}
PLOT_CFG = {"seed": 0, "bins": 30, "top_k": 3}
SETTING = "smoke preset (config/smoke.yaml): tiny sizes"  # as long as a real setting string
EVO_FIGURES = ("evolution_invariance", "evolution_spike", "evolution_heavytail", "evolution_realdata")


@pytest.fixture
def keep_figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[Any]]]:
    """Figures stay open after ``save_figure`` (laid out as saved) so their artists can be inspected."""
    import matplotlib.pyplot as plt

    real_close = plt.close
    real_close("all")  # figures an earlier test left open are not this test's
    monkeypatch.setattr(plt, "close", lambda *args, **kwargs: None)

    def take() -> list[Any]:
        figs = [plt.figure(num) for num in plt.get_fignums()]
        for fig in figs:  # detach from pyplot, so the next call starts from none
            real_close(fig)
        return figs

    yield take
    real_close("all")


@pytest.fixture(scope="module")
def evo() -> dict[str, Any]:
    summaries = []
    for name, run in RUNS.items():
        for seed in (0,):  # one seed: the figures' medians and ranges over seeds work with one
            summary, arrays = run_evolution(DATA, MODEL, run, ANALYSIS, seed)
            summaries.append(("teacher", name, summary | {"run": name, "_arrays": arrays}))
    spectra = {run: s["_arrays"] for _, run, s in summaries if s["seed"] == 0}
    return {"grouped": group_summaries(summaries), "spectra": spectra}


def _evo_figure(evo: dict[str, Any], name: str, tmp_path: Path, take: Callable[[], list[Any]],
                grouped: Any = None) -> Any:
    from nnspectra.plotting.wang2023.evolution import plot_figure

    plot_figure(name, grouped or evo["grouped"], {"teacher": evo["spectra"]}, EvoPlot(**PLOT_CFG), EvoModel(**MODEL_CFG),
                EvoClaims(**{**CLAIMS, "real_dataset": "teacher"}), EvoAnalysis(**ANALYSIS_CFG), tmp_path / f"{name}.png")
    (fig,) = take()
    return fig


def _labelled(ax: Any, prefix: str, kind: str) -> Any:
    found = [a for a in (ax.lines if kind == "line" else ax.patches) if str(a.get_label()).startswith(prefix)]
    assert len(found) == 1, [a.get_label() for a in ax.lines + list(ax.patches)]
    return found[0]


@pytest.mark.parametrize("name", ["evolution_realdata", "evolution_spike"])
def test_mp_curve_and_initial_histogram_agree(evo: dict[str, Any], name: str, tmp_path: Path, keep_figures) -> None:
    """KS distance between the plotted MP curve's CDF and the plotted t = 0 histogram's CDF, both from the
    drawn range's lower edge, in the plot's units (fraction of ALL d eigenvalues)."""
    fig = _evo_figure(evo, name, tmp_path, keep_figures)
    ax = fig.axes[0]
    hist = _labelled(ax, "t = 0", "patch")
    heights, edges = (np.asarray(a, dtype=float) for a in (hist.get_data().values, hist.get_data().edges))
    curve = _labelled(ax, "Marchenko", "line")
    x, y = (np.asarray(a, dtype=float) for a in curve.get_data())
    eigs = evo["spectra"]["gd_small"]["w_t0"]
    d, h = DATA.dim, MODEL.width
    # the histogram is a density of all d eigenvalues: its mass up to each edge is the empirical fraction there
    hist_cdf = np.r_[0.0, np.cumsum(heights * np.diff(edges))]
    empirical = np.array([np.mean((eigs >= edges[0]) & (eigs < e)) for e in edges])
    np.testing.assert_allclose(hist_cdf, empirical, atol=1e-12)
    # the eigenvalues not drawn (below the first edge) are exactly the MP atom: d - h zeros
    assert np.mean(eigs < edges[0]) == pytest.approx(mp_atom(d / h)) == pytest.approx(1 - h / d)
    # the plotted curve's CDF over the drawn range (trapezoid on its own points)
    curve_cdf_grid = np.r_[0.0, np.cumsum(np.diff(x) * (y[1:] + y[:-1]) / 2)]
    curve_cdf = np.interp(edges, x, curve_cdf_grid - np.interp(edges[0], x, curve_cdf_grid))
    ks = float(np.max(np.abs(curve_cdf - hist_cdf)))
    # Threshold. The h = 80 non-zero eigenvalues' ECDF against the MP law: eigenvalues are more rigid than i.i.d.
    # draws, so the DKW bound sqrt(ln(2/delta) / (2h)) = 0.22 at delta = 1e-3 is conservative; in the plot's
    # units (fraction of all d eigenvalues) it is multiplied by h/d = 0.2: 0.044. The defect of issue 13
    # (histogram normalised to the non-zero eigenvalues only) gives 1 - h/d = 0.8.
    threshold = math.sqrt(math.log(2 / 1e-3) / (2 * h)) * h / d
    assert ks < threshold, f"KS {ks:.4f} between the MP curve and the t = 0 histogram >= {threshold:.4f}"
    assert ks < 0.1 * (1 - h / d)


def test_tail_lines_are_the_runs_stored_fits(evo: dict[str, Any], tmp_path: Path, keep_figures) -> None:
    """Each fitted line of the heavy-tail figure is (n_tail/n_pos)(λ/xmin)^(1-α) with the summary's numbers:
    change the stored α and the drawn line follows (nothing is refitted in the plot)."""
    fig = _evo_figure(evo, "evolution_heavytail", tmp_path, keep_figures)
    adam = next(s for s in evo["grouped"]["teacher"]["adam"] if s["seed"] == 0)
    fits = [_fit_lines(ax) for ax in fig.axes[:3]]
    for name, lines in zip(("w", "ck", "ntk"), fits):
        row = adam["rows"][-1]
        xmin, alpha = row[f"{name}_alpha_xmin"], row[f"{name}_alpha"]
        x, y = lines[-1]  # initialisation, GD, Adam: the Adam line is drawn last
        assert x[0] == pytest.approx(xmin)
        assert y[0] == pytest.approx(row[f"{name}_alpha_ntail"] / row[f"{name}_alpha_npos"])
        assert np.diff(np.log(y)) / np.diff(np.log(x)) == pytest.approx(np.full(x.size - 1, 1.0 - alpha))
    changed = copy.deepcopy(evo["grouped"])
    target = next(s for s in changed["teacher"]["adam"] if s["seed"] == 0)
    target["rows"][-1]["w_alpha"] = 3.0
    fig = _evo_figure(evo, "evolution_heavytail", tmp_path, keep_figures, grouped=changed)
    x, y = _fit_lines(fig.axes[0])[-1]
    assert np.log(y[-1] / y[0]) / np.log(x[-1] / x[0]) == pytest.approx(-2.0)


def _fit_lines(ax: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    return [tuple(np.asarray(a, dtype=float) for a in line.get_data()) for line in ax.lines
            if line.get_gid() == "power-law fit"]


def test_stale_summary_without_stored_fits_is_one_readable_line(evo: dict[str, Any], tmp_path: Path,
                                                                keep_figures) -> None:
    from nnspectra.errors import NnspectraError

    stale = copy.deepcopy(evo["grouped"])
    for seeds in stale["teacher"].values():
        for s in seeds:
            for row in s["rows"]:
                row.pop("w_alpha_ntail")
    with pytest.raises(NnspectraError, match="w_alpha_ntail.*rerun"):
        _evo_figure(evo, "evolution_heavytail", tmp_path, keep_figures, grouped=stale)


# -- every figure: series, legends, captions ------------------------------------------------------------
def _gmm_runs() -> tuple[list, list, list]:
    mats = MatrixSettings(m_factor=4, matrix_data="test", n_top=8, edge_margin=0.05, null_model="noise", dense_max=35)
    sgd = OnlineSGD(0.5, 0.0)
    gmm = [aln.run_gmm(3, "orthonormal", sgd, mats, 20, lam, 0, [0, 1, 2]) for lam in (2.0, 10.0, 50.0)]
    dscan = [aln.run_gmm(3, "orthonormal", sgd, mats, d, 10.0, 0, [0, 1, 2]) for d in (12, 20)]
    xmats = MatrixSettings(m_factor=4, matrix_data="test", n_top=6, edge_margin=0.05, null_model="noise",
                           dense_max=1000)
    xor = [aln.run_xor(sgd, xmats, 12, 3, 10.0, s, [0, 1, 2]) for s in (0, 1, 2)]
    return gmm, dscan, xor


def _lanczos_like(top: np.ndarray, bottom: np.ndarray, p: int, width: int | None = None) -> dict[str, np.ndarray]:
    eigs = np.r_[bottom, np.zeros(p - top.size - bottom.size), top[::-1]]
    out = {"top": top, "bottom": bottom, "eigenvalues": eigs, "negative_tolerance": np.array(1e-9),
           "n_params": np.array(p), "method": np.array("dense"), "negative_count_exact": np.array(True)}
    return out | ({"width": np.array(width)} if width else {})


def _density_panels(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """Two SLQ-like densities of P = 10,000 eigenvalues: a bulk near 0 and a few outliers, different ranges."""
    panels = {}
    for name, top in (("Part I (large batch)", np.array([40.0, 25.0, 12.0])), ("Part II (small batch)",
                                                                               np.array([90.0, 30.0, 8.0]))):
        grid = np.linspace(-2.0, top[0] + 1.0, 800)
        sigma = 0.3
        kernel = lambda c: np.exp(-((grid - c) ** 2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))  # noqa: E731
        density = 0.999 * kernel(0.0) + sum(kernel(t) for t in top) / 10_000
        panels[name] = {"grid": grid, "density": density, "density_std": 0.1 * density, "top": top,
                        "trace_mean": np.array(100.0), "trace_std": np.array(3.0), "n_params": np.array(10_000),
                        "n_samples": np.array(500), "sigma": np.array(sigma)}
    return panels


@pytest.fixture(scope="module")
def all_figures(evo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, str]]:
    """Every figure of the library drawn from tiny inputs: name -> (figure as saved, caption)."""
    import matplotlib.pyplot as plt

    from nnspectra import plotting
    from nnspectra.plotting.benarous2024 import alignment as pa
    from nnspectra.plotting.sagun2018 import blobs as pb
    from nnspectra.plotting.sagun2018 import cifar_density as pd_
    from nnspectra.plotting.wang2023 import evolution as pe
    from nnspectra.plotting.wang2023 import evolution_realdata as per
    from nnspectra.plotting.wang2023 import heavytail_examples as ph
    from nnspectra.plotting.sagun2018 import (
        cifar as pr_cifar,
        lbsb as pr_lbsb,
        mnist as pr_mnist,
        mp as pr_mp,
    )

    out_dir = tmp_path_factory.mktemp("figures")
    figures: dict[str, tuple[Any, str]] = {}
    real_save = plotting.save_figure
    mp = pytest.MonkeyPatch()

    def save(fig: Any, path: Any, title: str, caption: str, dpi: int = 150) -> None:
        mp.setattr(plt, "close", lambda *a, **k: None)
        try:
            real_save(fig, path, title, caption, dpi=50)
        finally:
            mp.setattr(plt, "close", real_close)
        figures[Path(path).stem] = (fig, caption)

    real_close = plt.close
    for module in (pa, pb, pd_, pe, per, ph, pr_cifar, pr_lbsb, pr_mnist, pr_mp):
        mp.setattr(module, "save_figure", save)
    try:
        rng = np.random.default_rng(0)
        spec = {p: {"eig_H": rng.normal(size=200), "eig_G": np.abs(rng.normal(size=200)),
                    "eig_R": rng.normal(size=200)} for p in ("init", "final")}
        spec["final"]["eig_H"] = np.r_[spec["final"]["eig_H"][:-1], 400.0]  # one outlier far above the rest
        pb.plot_fig1(spec, out_dir / "fig1.png", "SGD, relu, k=2, cov=1, seed 0", algorithm="sgd")
        pb.plot_fig2({2: np.sort(rng.uniform(size=20))[::-1], 5: np.sort(rng.uniform(size=20))[::-1]},
                     out_dir / "fig2.png", "N=40 training points, cov=1, seed 0")
        pb.plot_fig3({2: rng.uniform(size=60), 5: rng.uniform(size=60)}, {2: 0.9, 5: 0.8}, out_dir / "fig3.png",
                     "SGD, relu, cov=1, seed 0", top=40)
        widths = {w: _lanczos_like(np.sort(rng.uniform(0, 0.1, 30))[::-1], -np.sort(rng.uniform(0, 1e-4, 12))[::-1],
                                   784 * w + w + 10 * w + 10) for w in (5, 10, 15)}  # 784-n-10 MLPs
        pr_mnist.plot_right_edge(widths, out_dir / "fig4.png", 20, SETTING)
        pr_mnist.plot_left_edge(widths, out_dir / "fig5.png", fraction=False, setting=SETTING)
        pr_mnist.plot_left_edge(widths, out_dir / "fig6.png", fraction=True, setting=SETTING)
        pair = {r: {**_lanczos_like(np.sort(rng.uniform(0, 5, 20))[::-1], -np.sort(rng.uniform(0, 0.01, 10))[::-1],
                                    3146), "batch_size": b} for r, b in (("lb", 100), ("sb", 10))}
        pr_lbsb.plot_lbsb_top(pair, {"lb": (4, 1.0), "sb": (5, 0.3)}, out_dir / "fig7.png", 20, "elbow", SETTING)
        pr_lbsb.plot_lbsb_bottom(pair, out_dir / "fig8.png", SETTING)
        steps = np.arange(0, 201, 10)
        history = pd.DataFrame({"step": steps, "part": np.where(steps <= 100, 1, 2),
                                "batch_size": np.where(steps <= 100, 100, 32), "train_loss": np.exp(-steps / 80),
                                "test_loss": 1 + np.exp(-steps / 80), "train_acc": 1 - np.exp(-steps / 50),
                                "test_acc": 0.7 - 0.5 * np.exp(-steps / 50)})
        pr_cifar.plot_cifar_training(history, 100, out_dir / "fig9.png", SETTING)
        a = np.linspace(-1, 2, 10)
        pr_cifar.plot_interpolation(pd.DataFrame({"alpha": a, "train_loss": a**2, "test_loss": 1 + a**2,
                                                  "train_acc": 1 - a**2 / 4, "test_acc": 0.7 - a**2 / 4}), 0.0,
                                    out_dir / "fig10.png", SETTING)
        mps = MpSettings(n_samples=60, ratios=(0.2, 1.0), two_blob_ratios=(0.5, 1.0), bins=15)
        pr_mp.plot_mp_appendix(run_mp_appendix(mps, 0), mps.ratios, mps.two_blob_ratios, out_dir / "appendix_mp.png",
                               15, SETTING)
        cfg = {"n_train": 100, "n_test": 100, "dim": 30, "width": 45, "noise_std": 0.3, "activation": "tanh",
               "ridges": [0.01, 1.0], "spike_scale": 2.0, "pareto_alpha": 2.0, "min_tail": 5}
        runs, spectra = hx.run_examples(hx.HtExamples(**cfg), [0, 1])
        table = hx.summary(runs)
        ph.plot_heavytail_examples(runs, spectra, dict(zip(table["matrix"], table["description"])), hx.HtExamples(**cfg),
                                   out_dir / "evolution_ht_examples.png")
        for name in EVO_FIGURES:
            pe.plot_figure(name, evo["grouped"], {"teacher": evo["spectra"]}, EvoPlot(**PLOT_CFG), EvoModel(**MODEL_CFG),
                           EvoClaims(**{**CLAIMS, "real_dataset": "teacher"}), EvoAnalysis(**ANALYSIS_CFG), out_dir / f"{name}.png")
        gmm, dscan, xor = _gmm_runs()
        claims = {"lam": 10.0, "align_level": 0.99, "snr_time": 2, "suboptimal_gap": 0.05}
        typed = AlignmentClaims(**claims)
        pa.plot_gmm_alignment(gmm, dscan, typed, out_dir / "alignment_gmm.png", gmm_figure_numbers(gmm, dscan, typed))
        pa.plot_gmm_spectra(gmm, typed, pa.AlignmentPlot(seed=0), out_dir / "alignment_gmm_spectra.png")
        pa.plot_xor(xor, typed, pa.AlignmentPlot(seed=0), out_dir / "alignment_xor.png", xor_figure_numbers(xor, typed))
        pd_.plot_spectral_densities(_density_panels(rng), out_dir / "fig_cifar_density.png", SETTING)
    finally:
        mp.undo()
    yield figures
    plt.close("all")


FIGURE_NAMES = ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "fig_cifar_density",
                "appendix_mp",
                "evolution_ht_examples", *EVO_FIGURES, "alignment_gmm", "alignment_gmm_spectra", "alignment_xor"]


@pytest.mark.slow
def test_every_figure_was_drawn(all_figures: dict[str, tuple[Any, str]]) -> None:
    assert sorted(all_figures) == sorted(FIGURE_NAMES)


def _style(handle: Any) -> tuple:
    """What tells a legend entry apart: colour, marker and line style (or face/edge colour for areas)."""
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_rgba
    from matplotlib.container import ErrorbarContainer

    if isinstance(handle, ErrorbarContainer):
        handle = handle.lines[0]
    elif hasattr(handle, "patches"):  # the bars of ax.hist
        handle = handle.patches[0]
    if isinstance(handle, PathCollection):
        colours = handle.get_facecolor() if len(handle.get_facecolor()) else handle.get_edgecolor()
        path = handle.get_paths()[0].vertices.round(3).tobytes() if handle.get_paths() else b""
        return ("scatter", tuple(np.round(colours[0], 3)), path, len(handle.get_facecolor()) == 0)
    if hasattr(handle, "get_marker"):
        return ("line", tuple(np.round(to_rgba(handle.get_color()), 3)), str(handle.get_marker()),
                str(handle.get_linestyle()))
    return ("area", tuple(np.round(handle.get_facecolor(), 3)), tuple(np.round(handle.get_edgecolor(), 3)))


@pytest.mark.slow
@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_series_of_a_panel_differ_in_colour_or_marker(all_figures: dict[str, tuple[Any, str]], name: str) -> None:
    fig, _ = all_figures[name]
    for ax in fig.axes:
        handles, labels = ax.get_legend_handles_labels()
        styles = [_style(h) for h in handles]
        dupes = {s for s in styles if styles.count(s) > 1}
        assert not dupes, f"{name}, panel '{ax.get_title()}': series drawn alike: " + ", ".join(
            label for label, s in zip(labels, styles) if s in dupes)


@pytest.mark.slow
@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_no_legend_or_caption_covers_a_panel(all_figures: dict[str, tuple[Any, str]], name: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, _ = all_figures[name]
    canvas = FigureCanvasAgg(fig)  # pyplot.close("all") in a plot function detaches the canvas
    canvas.draw()  # label positions at the figure's own dpi (the last draw was savefig's)
    renderer = canvas.get_renderer()
    panels = [(ax.get_title() or f"number {i + 1}", ax.get_window_extent(renderer)) for i, ax in enumerate(fig.axes)]
    texts = [("caption", t.get_window_extent(renderer)) for t in fig.texts]
    if fig._suptitle is not None:
        texts.append(("title", fig._suptitle.get_window_extent(renderer)))
    legends = [(f"legend of '{ax.get_title()}'", ax.get_legend().get_window_extent(renderer)) for ax in fig.axes
               if ax.get_legend() is not None]
    for what, box in legends + texts:
        for title, panel in panels:
            assert not box.overlaps(panel), f"{name}: {what} covers panel '{title}'"
    labels = [(f"y label '{ax.get_ylabel()}'", ax.yaxis.label.get_window_extent(renderer)) for ax in fig.axes
              if ax.get_ylabel()]
    labels += [(f"panel title '{ax.get_title()}'", ax.title.get_window_extent(renderer)) for ax in fig.axes
               if ax.get_title()]
    for what, box in labels:
        for other, text_box in texts:
            assert not box.overlaps(text_box), f"{name}: {what} runs into the figure's {other}"
    width, height = fig.get_size_inches() * fig.dpi
    for what, box in legends + texts + labels:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, f"{name}: {what} clipped"


@pytest.mark.slow
def test_fig2_caption_counts_the_components_drawn(all_figures: dict[str, tuple[Any, str]]) -> None:
    fig, caption = all_figures["fig2"]
    drawn = {len(line.get_xdata()) for line in fig.axes[0].lines if not str(line.get_label()).startswith("_")}
    assert drawn == {20} and "all 20 components" in caption


@pytest.mark.slow
def test_fig5_and_fig6_have_their_own_titles(all_figures: dict[str, tuple[Any, str]]) -> None:
    titles = {name: all_figures[name][0]._suptitle.get_text() for name in ("fig5", "fig6")}
    assert titles["fig5"] != titles["fig6"] and "Fig. 5" in titles["fig5"] and "Fig. 6" in titles["fig6"]


@pytest.mark.slow
def test_xor_outlier_counts_are_drawn_at_integers(all_figures: dict[str, tuple[Any, str]]) -> None:
    fig, _ = all_figures["alignment_xor"]
    ax = next(a for a in fig.axes if a.get_title().startswith("rank deficiency"))
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert ys.size == 3 and np.array_equal(ys, np.round(ys))
    assert all(float(t).is_integer() for t in ax.get_yticks())


@pytest.mark.slow
def test_gmm_time_to_align_panel_counts_runs_that_never_align(all_figures: dict[str, tuple[Any, str]]) -> None:
    """Level 0.99 is not reached by ℓ/d = 2: no point is drawn as if it had aligned at the window's end (issue 22);
    each d says how many runs never align, inside a band above the end of the scan."""
    fig, _ = all_figures["alignment_gmm"]
    ax = next(a for a in fig.axes if a.get_title().startswith("time to align"))
    assert not [c for c in ax.collections if len(c.get_offsets())], "never-aligned runs drawn as points"
    counts = [t.get_text() for t in ax.texts]
    assert counts == ["1 of 1\nnever", "1 of 1\nnever"], counts
    assert all(t.get_position()[1] > 2.0 for t in ax.texts) and ax.get_ylim()[1] > 2.0
    assert any("never reach" in label for label in ax.get_legend_handles_labels()[1])


@pytest.mark.slow
def test_fig4_ranks_start_at_1_and_its_title_gives_the_input_dimension(all_figures: dict[str, tuple[Any, str]]) -> None:
    fig, _ = all_figures["fig4"]
    for ax in fig.axes[:2]:
        ticks = list(ax.get_xticks())
        assert 0 not in ticks and min(ticks) == 1 and max(ticks) <= 20, ticks
        assert ax.get_xlim() == (20.5, 0.5)  # rank 20 on the left, rank 1 (the largest) on the right
    assert "784-n-10 MLP on MNIST (28×28 images)" in fig._suptitle.get_text()


@pytest.mark.slow
def test_fig1_names_the_algorithm_drawn_and_keeps_the_bulk_readable(all_figures: dict[str, tuple[Any, str]]) -> None:
    fig, caption = all_figures["fig1"]
    ax = fig.axes[0]
    assert "after SGD; paper Fig. 1 shows GD" in ax.get_title()
    bulk = max(float(np.max(line.get_ydata())) for line in ax.lines if len(line.get_ydata()) > 1
               and float(np.max(line.get_ydata())) < 100)
    assert bulk < ax.get_ylim()[1] < 100, ax.get_ylim()  # the outlier at 400 is off scale, the bulk fills the axis
    assert any("400" in t.get_text() for t in ax.texts) and "off" in " ".join(t.get_text() for t in ax.texts)
    assert "values are written in" in caption


@pytest.mark.slow
def test_cifar_density_is_titled_and_shares_its_axes(all_figures: dict[str, tuple[Any, str]]) -> None:
    from nnspectra.plotting.sagun2018.cifar_density import one_eigenvalue_density

    fig, caption = all_figures["fig_cifar_density"]
    title = fig._suptitle.get_text()
    assert "CIFAR-10" in title and "AlexNet" in title
    left, right = fig.axes[:2]
    assert left.get_xlim() == right.get_xlim() and left.get_ylim() == right.get_ylim()
    assert left.get_xlim()[1] >= 90.0  # both panels reach the largest top eigenvalue of either
    floor = 0.1 * one_eigenvalue_density({"n_params": 10_000, "sigma": 0.3})
    assert left.get_ylim()[0] == pytest.approx(floor)
    for ax in (left, right):
        drawn = np.asarray(ax.lines[0].get_ydata(), dtype=float)
        assert np.nanmin(drawn) >= floor and np.isnan(drawn).any()  # gaps where less than a tenth of one eigenvalue


def test_p0_fig6_title_is_one_line_and_its_log_axis_has_labels(tmp_path: Path, keep_figures) -> None:
    from nnspectra.plotting.sagun2016.predecessor import plot_fig6

    rng = np.random.default_rng(1)
    lam = rng.uniform(0.004, 0.008, 40)
    at_tol = {1e-2: rng.uniform(0.03, 0.06, 40), 1e-3: rng.uniform(0.005, 0.007, 40)}
    plot_fig6(lam, tmp_path / "p0_fig6.png", SETTING, mode=0.004, band=(0.012, 0.05), at_tolerance=at_tol,
              final_tolerance=1e-4)
    (fig,) = keep_figures()
    title = fig._suptitle.get_text()
    assert "\n" not in title and title.endswith("(smoke preset (config/smoke.yaml))") and "tiny" not in title
    ax = fig.axes[1]
    lo, hi = ax.get_xlim()
    labelled = [t for t in ax.xaxis.get_majorticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
    assert len(labelled) >= 3, [t.get_text() for t in labelled]


def test_every_regression_target_has_words() -> None:
    from nnspectra.data.teacher import CIFAR_TARGETS, TARGETS
    from nnspectra.plotting.wang2023.evolution_runs import TARGET_MEANINGS, dataset_title

    assert set(TARGET_MEANINGS) == set(TARGETS) | set(CIFAR_TARGETS)
    assert dataset_title("CIFAR-10 vehicle").startswith("CIFAR-10: target +1 for the 4 vehicle classes")
    assert dataset_title("teacher") == "teacher"


def test_evolution_realdata_draws_every_real_dataset_in_words(evo: dict[str, Any], tmp_path: Path,
                                                               keep_figures) -> None:
    """One row per real-data variant (MNIST and CIFAR-10), targets explained, runs named by what they are, and
    seed 0 said only over the panels that show seed 0."""
    grouped, spectra = {}, {}
    for key, name, deep in (("cifar10", "CIFAR-10 vehicle", {"hidden_layers": 2}), ("mnist", "MNIST parity", {})):
        grouped[key] = {run: [dict(s, dataset=name, **deep) for s in seeds]
                        for run, seeds in evo["grouped"]["teacher"].items()}
        spectra[key] = evo["spectra"]
    from nnspectra.plotting.wang2023.evolution import plot_figure

    plot_figure("evolution_realdata", grouped, spectra, EvoPlot(**PLOT_CFG), EvoModel(**MODEL_CFG),
                EvoClaims(**{**CLAIMS, "real_dataset": "cifar10", "also_real_datasets": ("mnist",)}),
                EvoAnalysis(**ANALYSIS_CFG),
                tmp_path / "evolution_realdata.png")
    (fig,) = keep_figures()
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 8  # two rows of four
    assert [ax.get_title().splitlines()[0] for ax in panels[::4]] == ["CIFAR-10, 3-layer MLP width 80, tanh",
                                                                      "MNIST, 2-layer MLP width 80, tanh"]
    title = fig._suptitle.get_text()
    assert "MNIST" in title and "CIFAR-10" in title and "seed" not in title and "3-layer MLP width 80" in title
    assert "first layer" in panels[0].get_xlabel() and "hidden layers" in panels[2].get_ylabel()
    labels = [label for ax in panels for label in ax.get_legend_handles_labels()[1]]
    assert not [label for label in labels if any(run in label for run in RUNS)], labels
    assert "seed 0" in panels[0].get_title() and "seed 0" in panels[1].get_title()
    caption = fig.texts[0].get_text().replace("\n", " ")
    assert "CIFAR-10: target +1 for the 4 vehicle classes" in caption and "MNIST: target +1 for odd" in caption
    assert "seeds" in panels[2].get_title() and "seeds" in panels[3].get_title()


@pytest.mark.slow
def test_no_shorthand_a_reader_cannot_decode(all_figures: dict[str, tuple[Any, str]]) -> None:
    """'lam' and 'ell/d' were the paper's variable names; the figures say λ (signal-to-noise ratio) and ℓ/d."""
    for name, (fig, caption) in all_figures.items():
        words = [caption, fig._suptitle.get_text() if fig._suptitle else ""]
        for ax in fig.axes:
            words += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), *ax.get_legend_handles_labels()[1]]
        text = " ".join(words)
        assert "lam =" not in text and "ell/d" not in text and " lam " not in text, name


def test_median_curves_over_seeds_that_stopped_early() -> None:
    """A diverged seed stops recording: later steps are medians over the seeds that reached them (the cpu run's
    CIFAR-10 lr = eta* runs diverged in 4 of 5 seeds and stopped the realdata figure before this)."""
    from nnspectra.plotting.wang2023.evolution_runs import diverged_note, median_curve

    full = {"rows": [{"step": 0, "test_mse": 1.0}, {"step": 1, "test_mse": 2.0}, {"step": 10, "test_mse": 3.0}]}
    stopped = {"rows": [{"step": 0, "test_mse": 5.0}, {"step": 1, "test_mse": None}], "diverged": "training diverged"}
    steps, med, low, high = median_curve([full, stopped, full], "test_mse")
    np.testing.assert_array_equal(steps, [0.0, 1.0, 10.0])
    np.testing.assert_array_equal(med, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(low, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(high, [5.0, 2.0, 3.0])
    assert diverged_note([full, stopped, full]) == "; diverged in 1 of 3 seeds" and diverged_note([full]) == ""


def test_evolution_realdata_draws_runs_with_diverged_seeds(evo: dict[str, Any], tmp_path: Path, keep_figures) -> None:
    grouped = {run: [dict(s, dataset="CIFAR-10 vehicle", hidden_layers=2) for s in seeds * 2]
               for run, seeds in evo["grouped"]["teacher"].items()}
    run = next(iter(grouped))
    cut = dict(grouped[run][1], rows=grouped[run][1]["rows"][:2], diverged="training diverged at step 1")
    grouped[run] = [grouped[run][0], cut]
    from nnspectra.plotting.wang2023.evolution import plot_figure

    plot_figure("evolution_realdata", {"cifar10": grouped}, {"cifar10": evo["spectra"]}, EvoPlot(**PLOT_CFG),
                EvoModel(**MODEL_CFG), EvoClaims(**{**CLAIMS, "real_dataset": "cifar10"}), EvoAnalysis(**ANALYSIS_CFG),
                tmp_path / "evolution_realdata.png")
    (fig,) = keep_figures()
    noted = {ax.get_ylabel(): sum("diverged in 1 of 2 seeds" in label for label in ax.get_legend_handles_labels()[1])
             for ax in fig.axes}
    # both panels drawn over seeds (the top weight eigenvalue and the test MSE) say so, each once
    assert sorted(k[:8] for k, n in noted.items() if n) == ["test MSE", "λmax / M"], noted
    assert all(n <= 1 for n in noted.values()), noted
