"""Claim 42 from planted CIFAR-10 run summaries: a verdict only on SPEC §3.3's deep MLP, a divergence fails."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from nnspectra.claims import load_claims
from nnspectra.claims.metric_files import load_metrics
from nnspectra.claims.requirements import shortfalls
from nnspectra.experiments.wang2023.evolution_metrics import EvoClaims, regime_metrics, run_evidence
from nnspectra.experiments.metrics import MetricsRecord
from nnspectra.cli import resolve_config
from nnspectra.pipeline.io import save_json
from nnspectra.scorecard import evaluate_claim

CLAIM = next(c for c in load_claims() if str(c.id) == "42")
CFG = EvoClaims(dataset="teacher", real_dataset="cifar10")


def _row(step: int, **values: float) -> dict[str, float]:
    return {"step": step, **values}


def _summaries(layers: int, width: int, seeds: int, diverged: bool = False, outlier_layer: str = "w2",
               ) -> dict[str, list[dict[str, Any]]]:
    """GD-small, eta_star GD and Adam summaries that pass every part of claims 33/37/39 (W via ``outlier_layer``)."""
    mats = ["w"] + [f"w{layer}" for layer in range(2, layers + 1)]
    base = {"kind": "cifar10", "n_train": 2000, "dim": 3072, "width": width}
    if layers > 1:
        base["hidden_layers"] = layers
    calm = {f"{m}_{k}": v for m in mats for k, v in (("ks_init", 0.01), ("lmax_ratio", 1.01), ("outliers", 0))}
    gd_alpha = {f"{m}_alpha": 7.0 for m in [*mats, "ck", "ntk"]}
    adam_alpha = {**{f"{m}_alpha": 6.0 for m in mats}, "w_alpha": 3.0, "ck_alpha": 3.0, "ntk_alpha": 3.0}
    runs: dict[str, list[dict[str, Any]]] = {"gd": [], "large": [], "adam": []}
    for seed in range(seeds):
        runs["gd"].append({**base, "seed": seed, "rows": [_row(0, **calm, **gd_alpha), _row(10, **calm, **gd_alpha)]})
        spiked = {**calm, f"{outlier_layer}_outliers": 2}
        large = {**base, "seed": seed, "rows": [_row(0, **calm), _row(10, **spiked)]}
        if diverged:
            large.update(rows=[_row(0, **calm)], diverged="training diverged at step 4 (loss 112)")
        runs["large"].append(large)
        runs["adam"].append({**base, "seed": seed, "rows": [_row(0, **calm), _row(10, **calm, **adam_alpha)]})
    return {"gd_lr1": runs["gd"], "gd_eta_star": runs["large"], "adam_lr1": runs["adam"]}


def _evaluate(tmp_path: Path, runs: dict[str, list[dict[str, Any]]]) -> tuple[Any, dict[str, Any]]:
    out = MetricsRecord()
    regime_metrics(out, runs, CFG, "c42", "cifar10")
    path = tmp_path / "evolution.json"
    save_json(path, out.as_dict())
    metrics = load_metrics([path])
    return evaluate_claim(CLAIM, metrics), metrics["evolution"]


def test_deep_mlp_at_spec_scale_gets_a_verdict(tmp_path: Path) -> None:
    result, metrics = _evaluate(tmp_path, _summaries(layers=2, width=2048, seeds=5))
    assert result.status == "pass", result.note
    assert metrics["c42_outlier_emerged"].values == (1.0,) * 5  # the outlier of layer 2 counts
    assert metrics["c42_alpha_w_adam"].values == (3.0,) * 5 and metrics["c42_alpha_drop_w"].values == (4.0,) * 5


@pytest.mark.parametrize(("layers", "width", "seeds", "missing"), [
    (1, 2048, 5, "architecture [3-layer MLP width 2048], this run has [2-layer MLP width 2048]"),
    (2, 1024, 5, "architecture [3-layer MLP width 2048], this run has [3-layer MLP width 1024]"),
    (2, 2048, 2, "seeds, this run has 2"),
])
def test_other_networks_or_fewer_seeds_are_not_run(tmp_path: Path, layers: int, width: int, seeds: int,
                                                   missing: str) -> None:
    result, _ = _evaluate(tmp_path, _summaries(layers=layers, width=width, seeds=seeds))
    assert result.status == "not_run" and missing in result.note, result.note


def test_divergence_at_eta_star_is_a_fail_with_its_diagnosis(tmp_path: Path) -> None:
    result, metrics = _evaluate(tmp_path, _summaries(layers=2, width=2048, seeds=5, diverged=True))
    assert result.status == "fail"
    assert metrics["c42_diverged"].values == (1.0,) * 5
    assert math.isnan(metrics["c42_ks_w_gd"].values[0]) is False and metrics["c42_outlier_emerged"].values[0] == 0.0
    assert "a run diverged 1, 1, 1, 1, 1" in result.diagnosis_text, result.diagnosis_text


def test_paper_and_cpu_presets_train_the_spec_network() -> None:
    """config.yaml's and cpu.yaml's CIFAR-10 entries record exactly claim 42's requirements (5 seeds, SPEC §3.3's
    network and size), so both give it a verdict."""
    root = Path(__file__).resolve().parents[1]
    for files, short in (([], []), ([root / "config" / "cpu.yaml"], [])):
        evo = resolve_config(files)["evolution"]
        entry = evo["datasets"][evo["claims"]["real_dataset"]]
        model = {**evo["model"], **entry["model"]}
        assert entry["data"]["kind"] == "cifar10" and entry["data"].get("image_size", 32) == 32
        assert model["ntk_points"] == 1000
        summaries = [{"seed": s, "kind": "cifar10", "n_train": entry["data"]["n_train"], "dim": 3072,
                      "width": model["width"], "hidden_layers": model["hidden_layers"]}
                     for s in entry["seeds"] or evo["seeds"]]
        assert shortfalls(CLAIM.requires, run_evidence(summaries)) == short
        assert evo["runs"][evo["claims"]["gd_large"]]["on_divergence"] == "record"
