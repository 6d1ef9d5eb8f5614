"""Dense curvature of any module from batched products, and the torch product operators, against
independent float64 references (torch.func.hessian, explicit J^T B J, per-sample gradients)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnspectra.curvature import gauss_newton, gradient_moment, hessian
from nnspectra.curvature.choose import choose_spectrum_method, dense_spectrum_bytes
from nnspectra.curvature.dense import flat_parameters, loss_of_flat_params, outputs_of_flat_params
from nnspectra.curvature.generic import STRATEGIES, hessian_any, parameter_groups
from nnspectra.curvature.memory import GIB
from nnspectra.curvature.products import (DenseOperator, GaussNewtonProducts, GradientMomentProducts,
                                          HessianProducts, ScipyOperator, as_torch_operator)
from nnspectra.models.convnets import make_small_convnet

CE = nn.functional.cross_entropy
RTOL = 1e-10


def convnet_case(n: int = 9, seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """SPEC §1.7 convnet shape with tiny channels: P = 157 (conv 1->2 3x3, conv 2->3 3x3, FC 3->5->10)."""
    model = make_small_convnet(image_size=12, channels=(2, 3), kernel=3, hidden=5, seed=seed, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(n, 1, 12, 12, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (n,), generator=gen)
    return model, x, y


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def reference_hessian(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.func.hessian(loss_of_flat_params(model, loss_fn, x, y))(flat_parameters(model))


def reference_outer(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """J^T B J with the full (N C x P) Jacobian and B the full (N C x N C) output Hessian (Gauss-Newton)
    or N g g^T per sample (G-matrix), g = dL/df."""
    theta = flat_parameters(model)
    jac = torch.func.jacrev(outputs_of_flat_params(model, x))(theta)  # (N, C, P)
    out = outputs_of_flat_params(model, x)(theta).detach()
    if kind == "gauss_newton":
        b = torch.func.hessian(lambda o: loss_fn(o, y))(out)  # (N, C, N, C)
        return torch.einsum("icp,icjd,jdq->pq", jac, b, jac)
    g = torch.func.grad(lambda o: loss_fn(o, y))(out)
    return torch.einsum("icp,ic,id,idq->pq", jac, g, g, jac) * len(x)


class Branchy(nn.Module):
    """Not a Sequential: two branches, a buffer, a parameter-free op and a parameter the loss ignores."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.fc_a = nn.Linear(2 * 6 * 6, 4)
        self.fc_b = nn.Linear(36, 4, bias=False)
        self.head = nn.Linear(4, 3)
        self.unused = nn.Linear(2, 2)
        self.register_buffer("shift", torch.linspace(-0.5, 0.5, 36))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.tanh(self.conv(x)).flatten(1)
        b = torch.nn.functional.softplus(self.fc_b(x.flatten(1) + self.shift))
        return self.head(torch.sigmoid(self.fc_a(a)) * b)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_convnet_hessian_every_strategy_matches_torch_func(strategy):
    model, x, y = convnet_case()
    ref = reference_hessian(model, CE, x, y)
    info: dict = {}
    h = hessian_any(model, CE, x, y, budget=GIB, strategy=strategy, info=info)
    assert rel(h, ref) <= RTOL
    assert torch.equal(h, h.T)
    assert [g["params"] for g in info["groups"]] == [20, 57, 20, 60]
    if strategy not in ("auto", "timed"):
        assert {g["strategy"] for g in info["groups"]} == {strategy}


def test_auto_strategy_is_a_fixed_rule_and_bit_identical():
    """auto picks by layer type and block size, never by timing: the same model gives the same bytes."""
    model, x, y = convnet_case()
    runs = []
    for _ in range(2):
        info: dict = {}
        runs.append((hessian_any(model, CE, x, y, budget=GIB, chunk=8, info=info), info))
    (h, info), (h2, _info2) = runs
    assert torch.equal(h, h2)
    assert rel(h, reference_hessian(model, CE, x, y)) <= RTOL
    kinds = {name: type(module) for name, module in model.named_modules()}
    for group in info["groups"]:
        expected = "output_jvp" if kinds[group["group"]] is nn.Conv2d else "double_backward"
        assert group["strategy"] == expected, info["groups"]


def test_timed_strategy_times_candidates_and_keeps_fastest():
    model, x, y = convnet_case()
    info: dict = {}
    h = hessian_any(model, CE, x, y, budget=GIB, chunk=8, strategy="timed", info=info)
    assert rel(h, reference_hessian(model, CE, x, y)) <= RTOL
    for group in info["groups"]:
        timed = group["s_per_column"]
        # a plain Sequential of Conv2d / Linear layers: the layer-output jvp replaces the plain jvp
        assert set(timed) == {"output_jvp", "double_backward", "double_backward_batched"}  # >= 3 blocks of 8
        assert group["strategy"] == min(timed, key=timed.__getitem__)


def _mixed_sequential() -> nn.Sequential:
    """Nested Sequential: strided/padded/dilated conv, a grouped conv (no closed form here), batch norm in eval
    mode, smooth activations (nothing piecewise linear), a Linear on a 3-D input, a bias-free Linear."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=1), nn.Tanh(),
        nn.Sequential(nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2), nn.Softplus(), nn.BatchNorm2d(4)),
        nn.Conv2d(4, 3, (2, 3), padding=(1, 0), dilation=(1, 2), bias=False), nn.Sigmoid(),
        nn.Flatten(start_dim=2), nn.Linear(6, 5), nn.GELU(), nn.Flatten(),
        nn.Sequential(nn.Linear(15, 6, bias=False), nn.Tanh()), nn.Linear(6, 4),
    ).double().eval()
    model[2][2].running_mean.uniform_(-0.2, 0.2)
    return model


def test_output_jvp_on_nested_sequential_with_smooth_layers_and_fallbacks():
    from nnspectra.curvature.layer_tangent import output_tangent_plan

    model = _mixed_sequential()
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(6, 2, 9, 9, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (6,), generator=gen)
    ref = reference_hessian(model, CE, x, y)
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


def test_block_size_follows_the_memory_budget():
    model, x, y = convnet_case()
    ref = reference_hessian(model, CE, x, y)
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

    model, x, y = convnet_case()
    ample: dict = {}
    hessian_any(model, CE, x, y, budget=64 * GIB, info=ample)
    per_column = [g["graph_mb"] * 2**20 * generic.PER_COLUMN_FACTOR for g in ample["groups"]]
    monkeypatch.setattr(generic, "MAX_BLOCK_BYTES", int(2.5 * min(per_column)))  # <= 2 columns in every group
    capped: dict = {}
    h = hessian_any(model, CE, x, y, budget=64 * GIB, info=capped)
    assert rel(h, reference_hessian(model, CE, x, y)) <= RTOL
    assert [g["block"] for g in ample["groups"]] == [20, 57, 20, 60]
    assert all(1 <= g["block"] <= 2 for g in capped["groups"])


def test_any_module_with_branches_buffers_and_unused_parameters():
    torch.manual_seed(0)
    model = Branchy().double()
    x = torch.randn(7, 1, 6, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (7,))
    assert parameter_groups(model)[-1] == ["unused.weight", "unused.bias"]
    ref = reference_hessian(model, CE, x, y)
    for strategy in STRATEGIES:
        assert rel(hessian_any(model, CE, x, y, budget=GIB, strategy=strategy, chunk=5), ref) <= RTOL
    assert rel(hessian(model, CE, x, y), ref) <= RTOL  # public API, method auto -> generic
    assert rel(HessianProducts(model, CE, x, y).dense(), ref) <= RTOL
    assert rel(HessianProducts(model, CE, x, y, batched=True).dense(), ref) <= RTOL
    for kind, fn, cls in (("gauss_newton", gauss_newton, GaussNewtonProducts),
                          ("gradient_moment", gradient_moment, GradientMomentProducts)):
        outer = reference_outer(model, CE, x, y, kind)
        assert rel(fn(model, CE, x, y), outer) <= RTOL
        assert rel(cls(model, CE, x, y).dense(), outer) <= RTOL
        assert rel(cls(model, CE, x, y, batched=True, sample_chunk=3).dense(), outer) <= RTOL


def test_public_api_generic_paths_on_the_convnet():
    model, x, y = convnet_case()
    assert rel(hessian(model, CE, x, y), reference_hessian(model, CE, x, y)) <= RTOL
    assert rel(hessian(model, CE, x, y, method="hvp", chunk=6), reference_hessian(model, CE, x, y)) <= RTOL
    assert rel(gauss_newton(model, CE, x, y), reference_outer(model, CE, x, y, "gauss_newton")) <= RTOL
    assert rel(gradient_moment(model, CE, x, y), reference_outer(model, CE, x, y, "gradient_moment")) <= RTOL


@pytest.mark.parametrize("options", [{}, {"sample_chunk": 4}, {"sample_chunk": 2, "cache_graph": False},
                                     {"batched": True}, {"batched": True, "sample_chunk": 5}])
def test_product_operators_match_references(options):
    model, x, y = convnet_case()
    refs = {HessianProducts: reference_hessian(model, CE, x, y),
            GaussNewtonProducts: reference_outer(model, CE, x, y, "gauss_newton"),
            GradientMomentProducts: reference_outer(model, CE, x, y, "gradient_moment")}
    vecs = torch.randn(3, 157, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for cls, ref in refs.items():
        op = cls(model, CE, x, y, **options)
        assert op.size == 157 and op.dtype == torch.float64
        assert rel(op.matmat(vecs), vecs @ ref) <= RTOL
        assert rel(op.matvec(vecs[0]), ref @ vecs[0]) <= RTOL
        assert rel(op.dense(block=50), ref) <= RTOL
        assert op.n_products == 3 + 1 + 157
        if options.get("cache_graph", True):
            assert op.graph_bytes > 0


def test_product_operator_float32_and_callers_model_untouched():
    model, x, y = convnet_case()
    before = [p.detach().clone() for p in model.parameters()]
    op = HessianProducts(model, CE, x, y, dtype=torch.float32)
    v = torch.randn(157, dtype=torch.float64)
    out = op.matvec(v)
    assert out.dtype == torch.float32
    ref = reference_hessian(model, CE, x, y) @ v
    assert rel(out.double(), ref) < 1e-4
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert next(model.parameters()).dtype == torch.float64
    with pytest.raises(ValueError, match="size 157"):
        op.matvec(torch.ones(5))


def test_adapters_wrap_matrices_and_scipy_operators():
    from nnspectra.curvature import HessianOperator

    model, x, y = convnet_case()
    ref = reference_hessian(model, CE, x, y)
    vecs = torch.randn(4, 157, dtype=torch.float64)
    dense = as_torch_operator(ref)
    assert isinstance(dense, DenseOperator) and rel(dense.matmat(vecs), vecs @ ref) <= RTOL
    wrapped = as_torch_operator(HessianOperator(model, CE, x, y, block=3))
    assert isinstance(wrapped, ScipyOperator) and rel(wrapped.matmat(vecs), vecs @ ref) <= RTOL
    from scipy.sparse.linalg import aslinearoperator

    generic = as_torch_operator(aslinearoperator(ref.numpy()))
    assert rel(generic.matmat(vecs), vecs @ ref) <= RTOL
    with pytest.raises(TypeError, match="cannot use"):
        as_torch_operator("not an operator")


def test_choose_spectrum_method_is_dense_exactly_when_it_fits():
    p = 11_978
    need = dense_spectrum_bytes(p, torch.float64)
    assert need == 2 * p * p * 8
    fits = choose_spectrum_method(p, torch.float64, "cuda", budget_gb=need / GIB * 1.01)
    assert fits.method == "dense" and fits.need_bytes == need and "cuda" in fits.reason
    tight = choose_spectrum_method(p, torch.float64, "cuda", budget_gb=need / GIB * 0.99)
    assert tight.method == "lanczos" and "GiB" in tight.reason
    assert choose_spectrum_method(p, torch.float32, "cpu", budget_gb=need / GIB * 0.99).method == "dense"
    # no budget: 80 % of the available memory (given explicitly: a pure function)
    assert choose_spectrum_method(p, available_bytes=int(need / 0.8) + 1).method == "dense"
    assert choose_spectrum_method(p, available_bytes=int(need / 0.8) - 10**6).method == "lanczos"
    # P = 55,660 float64 (2 x 24.8 GB = 46.2 GiB): dense on an H100's 80 GB, not when only 48 GB are free
    assert choose_spectrum_method(55_660, device="cuda", available_bytes=80 * GIB).method == "dense"
    assert choose_spectrum_method(55_660, device="cuda", available_bytes=48 * GIB).method == "lanczos"
    assert choose_spectrum_method(p, budget_gb=100.0, max_dense_params=10_000).method == "lanczos"
    with pytest.raises(ValueError, match="memory_budget_gb"):
        choose_spectrum_method(p, budget_gb=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_generic_paths_match_cpu():
    model, x, y = convnet_case()
    cpu = hessian_any(model, CE, x, y, budget=GIB)
    for strategy in STRATEGIES:
        gpu = hessian(model, CE, x, y, device="cuda") if strategy == "auto" else hessian_any(
            model.cuda(), CE, x.cuda(), y.cuda(), budget=GIB, strategy=strategy)
        model.cpu()
        assert gpu.is_cuda and rel(gpu.cpu(), cpu) <= RTOL
    op = HessianProducts(model, CE, x, y, device="cuda")
    v = torch.randn(2, 157, dtype=torch.float64, device="cuda")
    out = op.matmat(v)
    assert out.is_cuda and rel(out.cpu(), v.cpu() @ cpu) <= RTOL
    gn = GaussNewtonProducts(model, CE, x, y, device="cuda").dense()
    assert gn.is_cuda and rel(gn.cpu(), reference_outer(model, CE, x, y, "gauss_newton")) <= RTOL


def test_long_groups_log_progress(monkeypatch, caplog):
    import logging
    import re

    import nnspectra.curvature.generic as generic

    model, x, y = convnet_case()
    monkeypatch.setattr(generic, "PROGRESS_SECONDS", -1.0)  # a line after every block but a group's last
    with caplog.at_level(logging.INFO, logger="nnspectra.curvature.generic"):
        hessian_any(model, CE, x, y, budget=GIB, chunk=20, info={})
    progress = [r.getMessage() for r in caplog.records if " of " in r.getMessage()]
    assert "Hessian columns of 3: 20 of 57 (output_jvp)" in progress
    assert not any(re.search(r": (\d+) of \1 \(", m) for m in progress)  # none after a group's last block
