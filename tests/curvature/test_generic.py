"""curvature/generic.py (and layer_tangent.py): the dense Hessian of any module from batched products, every
strategy on every shared case against the independent reference; then the strategy rule, timing, block sizes
and logging on the SPEC convnet case (their numbers are that model's layer groups)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from curvature_cases import CASES_BY_NAME, Branchy
from curvature_reference import references, rel
from nnspectra.curvature.generic import STRATEGIES, hessian_any, parameter_groups
from nnspectra.resources import GIB

RTOL = 1e-10
CONVNET = CASES_BY_NAME["convnet_spec_tiny"]
CE = nn.functional.cross_entropy


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "timed"])
def test_every_strategy_matches_reference(case, strategy):
    """Several blocks per layer group (at most 8 columns each on the small cases, 24 on the larger); fixed
    strategies are used as asked (output_jvp falls back to jvp where its closed form does not apply). ``timed``
    (benchmarks only: it runs every candidate) is checked on the convnet below."""
    model, x, y = case.build()
    info: dict = {}
    chunk = 8 if case.n_params < 200 else 24
    h = hessian_any(model, case.loss_fn, x, y, budget=GIB, strategy=strategy, chunk=chunk, info=info)
    assert rel(h, references(case).hessian) <= RTOL
    assert torch.equal(h, h.T)
    sizes = [sum(dict(model.named_parameters())[n].numel() for n in g) for g in parameter_groups(model)]
    assert [g["params"] for g in info["groups"]] == sizes and sum(sizes) == case.n_params
    used = {g["strategy"] for g in info["groups"]}
    if strategy == "output_jvp":
        assert used <= {"output_jvp", "jvp"}
    elif strategy not in ("auto", "timed"):
        assert used == {strategy}


@pytest.mark.parametrize("strategy", ["auto", "output_jvp"])
def test_whole_group_blocks_on_the_convnet(strategy):
    model, x, y = CONVNET.build()
    info: dict = {}
    h = hessian_any(model, CE, x, y, budget=GIB, strategy=strategy, info=info)
    assert rel(h, references(CONVNET).hessian) <= RTOL
    assert [g["params"] for g in info["groups"]] == [20, 57, 20, 60]
    if strategy == "output_jvp":  # a plain Sequential of Conv2d / Linear layers: no fallback to jvp
        assert {g["strategy"] for g in info["groups"]} == {"output_jvp"}


def test_auto_strategy_is_a_fixed_rule_and_bit_identical():
    """auto picks by layer type and block size, never by timing: the same model gives the same bytes."""
    model, x, y = CONVNET.build()
    runs = []
    for _ in range(2):
        info: dict = {}
        runs.append((hessian_any(model, CE, x, y, budget=GIB, chunk=8, info=info), info))
    (h, info), (h2, _info2) = runs
    assert torch.equal(h, h2)
    assert rel(h, references(CONVNET).hessian) <= RTOL
    kinds = {name: type(module) for name, module in model.named_modules()}
    for group in info["groups"]:
        expected = "output_jvp" if kinds[group["group"]] is nn.Conv2d else "double_backward"
        assert group["strategy"] == expected, info["groups"]


def test_timed_strategy_times_candidates_and_keeps_fastest():
    model, x, y = CONVNET.build()
    info: dict = {}
    h = hessian_any(model, CE, x, y, budget=GIB, chunk=8, strategy="timed", info=info)
    assert rel(h, references(CONVNET).hessian) <= RTOL
    for group in info["groups"]:
        timed = group["s_per_column"]
        # a plain Sequential of Conv2d / Linear layers: the layer-output jvp replaces the plain jvp
        assert set(timed) == {"output_jvp", "double_backward", "double_backward_batched"}  # >= 3 blocks of 8
        assert group["strategy"] == min(timed, key=timed.__getitem__)


def test_output_jvp_on_nested_sequential_with_smooth_layers_and_fallbacks():
    from nnspectra.curvature.layer_tangent import output_tangent_plan

    case = CASES_BY_NAME["nested_sequential"]
    model, x, y = case.build()
    ref = references(case).hessian
    info: dict = {}
    h = hessian_any(model, CE, x, y, budget=GIB, strategy="output_jvp", chunk=7, info=info)
    assert rel(h, ref) <= RTOL
    used = {g["group"]: g["strategy"] for g in info["groups"]}
    assert used == {"0": "output_jvp", "2.0": "jvp", "2.2": "jvp", "3": "output_jvp", "6": "output_jvp",
                    "9.0": "output_jvp", "10": "output_jvp"}
    assert "grouped" in output_tangent_plan(model, ["2.0.weight", "2.0.bias"])
    assert "not nn.Linear" in output_tangent_plan(model, ["2.2.weight", "2.2.bias"])
    assert "not a plain nn.Sequential" in output_tangent_plan(Branchy(), ["conv.weight", "conv.bias"])
    auto: dict = {}
    assert rel(hessian_any(model, CE, x, y, budget=GIB, chunk=3, info=auto), ref) <= RTOL


def test_unused_parameters_form_the_last_group():
    model, _, _ = CASES_BY_NAME["branchy_custom_forward"].build()
    assert parameter_groups(model)[-1] == ["unused.weight", "unused.bias"]


def test_block_size_follows_the_memory_budget():
    model, x, y = CONVNET.build()
    ref = references(CONVNET).hessian
    small, large = {}, {}
    h = hessian_any(model, CE, x, y, budget=1, info=small)  # one column per block
    assert rel(h, ref) <= RTOL
    hessian_any(model, CE, x, y, budget=GIB, info=large)
    assert [g["block"] for g in small["groups"]] == [1, 1, 1, 1]
    assert [g["block"] for g in large["groups"]] == [20, 57, 20, 60]  # whole groups
    assert all(g["graph_mb"] > 0 for g in large["groups"])
    # a fixed chunk is an upper bound: the budget still wins (the pipeline passes chunk = 256)
    capped: dict = {}
    assert rel(hessian_any(model, CE, x, y, budget=1, chunk=256, info=capped), ref) <= RTOL
    assert [g["block"] for g in capped["groups"]] == [1, 1, 1, 1]


def test_block_working_set_is_capped_whatever_the_budget(monkeypatch):
    import nnspectra.curvature.generic as generic

    model, x, y = CONVNET.build()
    ample: dict = {}
    hessian_any(model, CE, x, y, budget=64 * GIB, info=ample)
    per_column = [g["graph_mb"] * 2**20 * generic.PER_COLUMN_FACTOR for g in ample["groups"]]
    monkeypatch.setattr(generic, "MAX_BLOCK_BYTES", int(2.5 * min(per_column)))  # <= 2 columns in every group
    capped: dict = {}
    h = hessian_any(model, CE, x, y, budget=64 * GIB, info=capped)
    assert rel(h, references(CONVNET).hessian) <= RTOL
    assert [g["block"] for g in ample["groups"]] == [20, 57, 20, 60]
    assert all(1 <= g["block"] <= 2 for g in capped["groups"])


def test_long_groups_log_progress(monkeypatch, caplog):
    import logging
    import re

    import nnspectra.curvature.generic as generic

    model, x, y = CONVNET.build()
    monkeypatch.setattr(generic, "PROGRESS_SECONDS", -1.0)  # a line after every block but a group's last
    with caplog.at_level(logging.INFO, logger="nnspectra.curvature.generic"):
        hessian_any(model, CE, x, y, budget=GIB, chunk=20, info={})
    progress = [r.getMessage() for r in caplog.records if " of " in r.getMessage()]
    assert "Hessian columns of 3: 20 of 57 (output_jvp)" in progress
    assert not any(re.search(r": (\d+) of \1 \(", m) for m in progress)  # none after a group's last block


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_generic_paths_match_reference():
    from curvature_cases import CASES
    from nnspectra.curvature import hessian

    for case in CASES:
        model, x, y = case.build()
        ref = references(case).hessian
        for strategy in STRATEGIES:
            gpu = hessian(model, case.loss_fn, x, y, device="cuda", method="hvp") if strategy == "auto" else \
                hessian_any(model.cuda(), case.loss_fn, x.cuda(), y.cuda(), budget=GIB, strategy=strategy)
            model.cpu()
            assert gpu.is_cuda and rel(gpu.cpu(), ref) <= RTOL, (case.name, strategy)
