"""Claims 33-42 of Wang et al. (2023) from the per-seed run summaries of :mod:`nnspectra.experiments.wang2023.evolution`,
and the section's summary table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import math

import numpy as np

from nnspectra.claims import load_claims
from nnspectra.errors import ConfigError
from nnspectra.experiments.metrics import MetricsRecord


@dataclass(frozen=True)
class EvoClaims:
    """Config ``evolution.claims``: the dataset and the four runs the claims read, the real-data dataset of
    claim 42, and further real-data datasets checked the same way (details, not read by a claim)."""

    dataset: str = "teacher"
    real_dataset: str | None = "cifar10"
    gd_small: str = "gd_lr1"
    sgd_small: str = "sgd_lr1"
    gd_large: str = "gd_eta_star"
    adam: str = "adam_lr1"
    also_real_datasets: tuple[str, ...] = ()


def _layers(summary: Mapping[str, Any]) -> list[str]:
    """The weight matrices of a run: ``["w"]`` (two-layer net) or ``["w", "w2", ...]`` (SPEC §3.3's deep MLP)."""
    return ["w"] + [f"w{layer}" for layer in range(2, int(summary.get("hidden_layers", 1)) + 1)]


def _worst(values: Sequence[float], key: Callable[[float], float]) -> float:
    """The value maximising ``key`` (NaN if any is NaN: a diverged run decides nothing)."""
    return math.nan if any(math.isnan(v) for v in values) else max(values, key=key)


def _heaviest(g: Mapping[str, Any], a: Mapping[str, Any]) -> str:
    """The weight matrix with the smallest power-law alpha after Adam (claims 39a-b on a deep net)."""
    return min(_layers(a), key=lambda m: _final(a)[f"{m}_alpha"])


# Claim 42 ("claims 33, 37 and 39 hold with the same thresholds") part by part: the claim id whose check
# (threshold, read from the claim files) applies, the detail metric's name, and its value from the final
# rows of the small-lr GD, large-lr GD and Adam runs of one seed (first row = init for the outlier test).
# With several hidden layers (SPEC §3.3) the W parts read every W_l^T W_l / h: invariance (33a-b) is the
# worst layer's, an outlier (37) may emerge in any layer that had none at init, and the heavy tail (39a-b) is
# that of the layer with the smallest alpha after Adam. With one layer these are the two-layer values.
REGIME_PARTS: dict[str, tuple[str, Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], float]]] = {
    "33a": ("ks_w_gd", lambda g, lg, a: _worst([_final(g)[f"{m}_ks_init"] for m in _layers(g)], float)),
    "33b": ("lmax_ratio_w_gd", lambda g, lg, a: _worst([_final(g)[f"{m}_lmax_ratio"] for m in _layers(g)],
                                                       lambda v: abs(v - 1.0))),
    "37": ("outlier_emerged", lambda g, lg, a: float(any(_final(lg)[f"{m}_outliers"] >= 1
                                                         and _first(lg)[f"{m}_outliers"] == 0 for m in _layers(lg)))),
    "39a": ("alpha_w_adam", lambda g, lg, a: _final(a)[f"{_heaviest(g, a)}_alpha"]),
    "39b": ("alpha_drop_w", lambda g, lg, a: _final(g)[f"{_heaviest(g, a)}_alpha"] - _final(a)[f"{_heaviest(g, a)}_alpha"]),
    "39c": ("alpha_drop_ck", lambda g, lg, a: _final(g)["ck_alpha"] - _final(a)["ck_alpha"]),
    "39d": ("alpha_drop_ntk", lambda g, lg, a: _final(g)["ntk_alpha"] - _final(a)["ntk_alpha"]),
    "39e": ("alpha_ck_adam", lambda g, lg, a: _final(a)["ck_alpha"]),
    "39f": ("alpha_ntk_adam", lambda g, lg, a: _final(a)["ntk_alpha"]),
}


def run_evidence(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a metric over these per-seed run summaries rests on, read off the summaries: seeds, dataset kind,
    the smallest n (training points), d (input dimension) and h (width), and the network (SPEC §3: the
    two-layer net a^T act(W x / sqrt(d)) / sqrt(h); §3.3 asks a 3-layer MLP of width 2,048 on CIFAR-10)."""
    widths = [int(s.get("width", 0)) for s in summaries]
    kinds = sorted({str(s["kind"]) for s in summaries if "kind" in s})
    nets = {f"{int(s.get('hidden_layers', 1)) + 1}-layer MLP width {int(s.get('width', 0))}" for s in summaries}
    return {"seeds": len({s["seed"] for s in summaries}), **({"dataset": kinds} if kinds else {}),
            "n_train": min(int(s["n_train"]) for s in summaries), "dim": min(int(s["dim"]) for s in summaries),
            "width": min(widths), "architecture": sorted(nets)}


class _Diverged(dict):  # type: ignore[type-arg]
    """The final row of a diverged run: every measure is NaN, so each check on it fails."""

    def __missing__(self, key: str) -> float:
        return math.nan


def _final(summary: Mapping[str, Any]) -> dict[str, float]:
    return _Diverged() if summary.get("diverged") else summary["rows"][-1]


def _first(summary: Mapping[str, Any]) -> dict[str, float]:
    return summary["rows"][0]


def claim_metrics(runs: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
                  scaling: Mapping[float, Sequence[Mapping[str, Any]]], claims_cfg: EvoClaims) -> MetricsRecord:
    """Per-seed metrics for SPEC §4 claims 33-42 (``results/metrics/evolution.json``).

    ``runs[dataset][run]`` is the list of per-seed summaries of :func:`run_evolution` (same seed
    order everywhere); ``scaling[factor]`` the per-seed records of :func:`run_scaling`.
    """
    from nnspectra.experiments.wang2023.evolution import MATRICES  # here: the figure and table jobs need no torch

    ds = runs[claims_cfg.dataset]
    gd, sgd = ds[claims_cfg.gd_small], ds[claims_cfg.sgd_small]
    large, adam = ds[claims_cfg.gd_large], ds[claims_cfg.adam]
    seeds = [s["seed"] for s in gd]
    for name, group in (("sgd_small", sgd), ("gd_large", large), ("adam", adam)):
        if [s["seed"] for s in group] != seeds:
            raise ConfigError(f"evolution claims: run '{getattr(claims_cfg, name)}' has seeds {[s['seed'] for s in group]}, "
                              f"expected {seeds}")
    out = MetricsRecord()
    base = run_evidence(gd)

    def add(name: str, values: Sequence[float], unit: str, description: str, seed_list: Sequence[int] = seeds,
            evidence: Mapping[str, Any] | None = None) -> None:
        out.add(name, values, seed_list, unit, description, evidence or base)

    add("c33_ks_w_gd", [_final(s)["w_ks_init"] for s in gd], "KS distance",
        "Kolmogorov distance between the ESDs of W^T W/h at the end of small-lr GD and at init")
    add("c33_lmax_ratio_w_gd", [_final(s)["w_lmax_ratio"] for s in gd], "ratio",
        "lambda_max(W^T W/h) final / init under small-lr GD")
    add("c33_ks_mp_w_gd", [_final(s)["w_ks_mp"] for s in gd], "KS distance",
        "Kolmogorov distance between the final W^T W/h ESD and the MP law (ratio d/h, init variance)")
    add("c34_dW_op_gd", [_final(s)["dW_op"] for s in gd], "operator norm", "||W_T - W_0||_op, small-lr GD")
    add("c34_dW_fro_gd", [_final(s)["dW_fro"] for s in gd], "Frobenius norm", "||W_T - W_0||_F, small-lr GD")
    factors = sorted(scaling)
    if len(factors) >= 2:
        lo, hi = factors[0], factors[-1]
        sc_seeds = [r["seed"] for r in scaling[lo]]
        pairs = list(zip(scaling[lo], scaling[hi]))
        for key, label in (("dW_op", "||W_T - W_0||_op"), ("dW_fro", "||W_T - W_0||_F"), ("W0_op", "||W_0||_op")):
            add(f"c34_{key}_size_ratio", [b[key] / a[key] for a, b in pairs], "ratio",
                f"{label} at sizes x{hi} over x{lo} (n, d, h scaled together; GD, same lr and steps)", sc_seeds,
                {**run_evidence(scaling[hi]), "seeds": len(sc_seeds), "size_factor": [round(hi / lo, 9)]})
    add("c35_ks_ck_gd", [_final(s)["ck_ks_init"] for s in gd], "KS distance", "KS(CK final, CK init), small-lr GD")
    add("c35_ks_ntk_gd", [_final(s)["ntk_ks_init"] for s in gd], "KS distance", "KS(NTK final, NTK init), small-lr GD")
    add("c35_ks_max_kernels_gd", [max(_final(s)["ck_ks_init"], _final(s)["ntk_ks_init"]) for s in gd],
        "KS distance", "max over CK and NTK of KS(final, init), small-lr GD")
    for name in MATRICES:
        add(f"c36_ks_{name}_sgd", [_final(s)[f"{name}_ks_init"] for s in sgd], "KS distance",
            f"KS({name} final, {name} init), small-lr SGD batch 32")
    add("c36_ks_max_sgd", [max(_final(s)[f"{m}_ks_init"] for m in MATRICES) for s in sgd], "KS distance",
        "max over W, CK, NTK of KS(final, init), small-lr SGD")
    add("c36_lmax_ratio_w_sgd", [_final(s)["w_lmax_ratio"] for s in sgd], "ratio",
        "lambda_max(W^T W/h) final / init under small-lr SGD (batch 32)")
    add("c37_outliers_w_large", [_final(s)["w_outliers"] for s in large], "count",
        "eigenvalues of W^T W/h above outlier_factor x the MP edge after large-lr GD")
    add("c37_outliers_w_init", [_first(s)["w_outliers"] for s in large], "count",
        "eigenvalues of W^T W/h above outlier_factor x the MP edge at init")
    add("c37_outlier_emerged", [float(_final(s)["w_outliers"] >= 1 and _first(s)["w_outliers"] == 0) for s in large],
        "indicator", "1 if >= 1 outlier of W^T W/h after large-lr GD and none at init")
    add("c37_lmax_over_edge_large", [_final(s)["w_lmax"] / _final(s)["w_mp_edge"] for s in large], "ratio",
        "lambda_max(W^T W/h) after large-lr GD / MP edge")
    add("c38_align_beta_large", [_final(s)["w_align_beta"] for s in large], "|cosine|",
        "|<u_1, beta>| of the top eigenvector of W^T W/h after large-lr GD (random: 1/sqrt(d))")
    add("c38_align_y_ck_large", [_final(s)["ck_align_y"] for s in large], "squared cosine",
        "<v_1, y>^2/||y||^2 of the top CK eigenvector after large-lr GD (random: 1/n)")
    after_one = [next((r for r in s["rows"] if r["step"] == 1), _final(s)) for s in large]
    add("c38_align_beta_large_t1", [r["w_align_beta"] for r in after_one], "|cosine|",
        "diagnostic: |<u_1, beta>| after the first large-lr GD step")
    add("c38_align_y_ck_large_t1", [r["ck_align_y"] for r in after_one], "squared cosine",
        "diagnostic: <v_1, y>^2/||y||^2 of the top CK eigenvector after the first large-lr GD step")
    add("c38_lmax_over_edge_large_t1", [r["w_lmax"] / r["w_mp_edge"] for r in after_one], "ratio",
        "diagnostic: lambda_max(W^T W/h) / MP edge after the first large-lr GD step")
    for name in MATRICES:
        add(f"c39_alpha_{name}_adam", [_final(s)[f"{name}_alpha"] for s in adam], "PL exponent",
            f"CSN power-law alpha of the {name} ESD after Adam")
        add(f"c39_alpha_{name}_gd", [_final(s)[f"{name}_alpha"] for s in gd], "PL exponent",
            f"CSN power-law alpha of the {name} ESD after small-lr GD")
        add(f"c39_alpha_drop_{name}", [_final(g)[f"{name}_alpha"] - _final(a)[f"{name}_alpha"]
                                        for g, a in zip(gd, adam)], "PL exponent",
            f"alpha(GD small) - alpha(Adam) for the {name} ESD")
    add("c39_alpha_w_hill_adam", [_final(s)["w_alpha_hill"] for s in adam], "PL exponent",
        "Hill alpha (xmin = median) of the W^T W/h ESD after Adam")
    add("c40_test_mse_gd", [_final(s)["test_mse"] for s in gd], "MSE", "test MSE after small-lr GD")
    add("c40_test_mse_adam", [_final(s)["test_mse"] for s in adam], "MSE", "test MSE after Adam")
    add("c40_test_mse_rel_gain", [1.0 - _final(a)["test_mse"] / _final(g)["test_mse"] for g, a in zip(gd, adam)],
        "fraction", "1 - MSE(Adam)/MSE(GD small): relative test-error reduction by Adam")
    add("c40_align_gain", [_final(a)["w_align_beta"] - _final(g)["w_align_beta"] for g, a in zip(gd, adam)],
        "|cosine|", "|<u_1, beta>|(Adam) - |<u_1, beta>|(GD small)")
    for name in ("ck", "ntk"):
        dists = [(_final(g)[f"{name}_dist_init"], _final(lg)[f"{name}_dist_init"], _final(a)[f"{name}_dist_init"])
                 for g, lg, a in zip(gd, large, adam)]
        add(f"c41_{name}_dist_gd", [d[0] for d in dists], "relative Frobenius", f"||K-K0||_F/||K0||_F ({name}), GD small")
        add(f"c41_{name}_dist_large", [d[1] for d in dists], "relative Frobenius", f"||K-K0||_F/||K0||_F ({name}), GD large")
        add(f"c41_{name}_dist_adam", [d[2] for d in dists], "relative Frobenius", f"||K-K0||_F/||K0||_F ({name}), Adam")
        add(f"c41_{name}_ordered", [float(d[0] < d[1] < d[2]) for d in dists], "indicator",
            f"1 if the {name} distance from init orders GD small < GD large < Adam")
    for name in [claims_cfg.real_dataset, *claims_cfg.also_real_datasets]:
        if name and name in runs:
            prefix = "c42" if name == claims_cfg.real_dataset else f"c42_{name}"
            regime_metrics(out, runs[name], claims_cfg, prefix, name)
    return out


def regime_metrics(out: MetricsRecord, runs: Mapping[str, Sequence[Mapping[str, Any]]], claims_cfg: EvoClaims,
                    prefix: str, name: str) -> None:
    """Claim 42 on one real-data dataset: every part of claims 33, 37 and 39 (:data:`REGIME_PARTS`) with the
    thresholds of those claims, and the indicator that all hold (``<prefix>_regimes_reproduce``)."""
    r_gd, r_large, r_adam = runs[claims_cfg.gd_small], runs[claims_cfg.gd_large], runs[claims_cfg.adam]
    r_seeds = [s["seed"] for s in r_gd]
    for group in (r_large, r_adam):
        if [s["seed"] for s in group] != r_seeds:
            raise ConfigError(f"evolution claims: the runs of dataset '{name}' do not share the seeds {r_seeds}")
    evidence = run_evidence(r_gd)
    checks = {str(c.id): c.check for c in load_claims() if str(c.id) in REGIME_PARTS}
    missing = sorted(set(REGIME_PARTS) - set(checks))
    if missing:
        raise ConfigError(f"claim 42 reads the thresholds of claims {missing}, which the claim files lack")
    out.add(f"{prefix}_diverged", [float(any(s.get("diverged") for s in runs_)) for runs_ in zip(r_gd, r_large, r_adam)],
            r_seeds, "indicator", f"real data ({name}): 1 if the small-lr GD, large-lr GD or Adam run diverged (its "
            "summary's 'diverged' message; every part read from it is NaN and fails)", evidence)
    ok = np.ones(len(r_seeds), dtype=bool)
    for cid, (metric, value) in REGIME_PARTS.items():
        values = [float(value(g, lg, a)) for g, lg, a in zip(r_gd, r_large, r_adam)]
        out.add(f"{prefix}_{metric}", values, r_seeds, "", f"real data ({name}): claim {cid}'s measure, "
                f"checked {checks[cid].describe()}", evidence)
        ok &= np.array([checks[cid](v) for v in values])
    out.add(f"{prefix}_regimes_reproduce", [float(v) for v in ok], r_seeds, "indicator",
            f"real data ({name}): 1 if every part of claims 33, 37 and 39 ({', '.join(REGIME_PARTS)}) holds with "
            "its threshold", evidence)


def group_summaries(summaries: Sequence[tuple[str, str, Mapping[str, Any]]]
                    ) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """``{dataset: {run: [summary per seed, sorted by seed]}}`` from ``(dataset, run, summary)`` triples."""
    grouped: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for dataset, run, summary in summaries:
        grouped.setdefault(dataset, {}).setdefault(run, []).append(summary)
    for runs in grouped.values():
        for seeds in runs.values():
            seeds.sort(key=lambda s: s["seed"])
    return grouped


TABLE_COLUMNS = {
    "w_ks_init": "KS(W_T, W_0)", "ck_ks_init": "KS(CK_T, CK_0)", "ntk_ks_init": "KS(NTK_T, NTK_0)",
    "w_lmax_ratio": "λmax(W) T/0", "w_outliers": "W outliers", "w_align_beta": "|<u1,β>|",
    "ck_align_y": "CK <v1,y>²/|y|²", "w_alpha": "α(W)", "ck_alpha": "α(CK)", "ntk_alpha": "α(NTK)",
    "dW_op": "‖ΔW‖op", "dW_fro": "‖ΔW‖F", "ck_dist_init": "CK rel. dist", "ntk_dist_init": "NTK rel. dist",
    "test_mse": "test MSE",
}


def summary_table(summaries: Sequence[tuple[str, str, Mapping[str, Any]]]) -> "Any":
    """DataFrame: one row per (dataset, run), medians over seeds of the final-step measures (input as
    for :func:`group_summaries`)."""
    import pandas as pd

    rows = []
    for dataset, runs in group_summaries(summaries).items():
        for run, seeds in runs.items():
            finals = [s["rows"][-1] for s in seeds]
            row: dict[str, Any] = {"dataset": dataset, "run": run, "regime": seeds[0]["regime"],
                                   "optimizer": seeds[0]["optimizer"], "lr (median)": float(np.median([s["lr"] for s in seeds])),
                                   "steps": seeds[0]["steps"], "seeds": len(seeds),
                                   "test MSE at init": float(np.median([s["rows"][0]["test_mse"] for s in seeds])),
                                   "α(W) at init": float(np.median([s["rows"][0]["w_alpha"] for s in seeds]))}
            for key, label in TABLE_COLUMNS.items():
                row[label] = float(np.median([f[key] for f in finals]))
            rows.append(row)
    order = {"invariant": 0, "sgd": 1, "spike": 2, "heavy_tail": 3}
    table = pd.DataFrame(rows)
    table["_order"] = table["regime"].map(order)
    return table.sort_values(["dataset", "_order", "run"]).drop(columns="_order").round(4).reset_index(drop=True)
