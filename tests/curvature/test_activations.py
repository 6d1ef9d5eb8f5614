"""curvature/activations.py: ReLU recorded without its zero second derivative gives bit-identical Hessian
products with less autograd work per product, on every shared case and on the ways a model calls ReLU."""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from curvature_cases import ALL_CASES, case_id
from curvature_reference import references, rel
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from nnspectra.curvature import products
from nnspectra.curvature.activations import first_order_relu
from nnspectra.curvature.products import HessianProducts


class _CountOps(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def _autograd_relu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator as before this module: ReLU recorded by autograd's own formula."""
    monkeypatch.setattr(products, "first_order_relu", contextlib.nullcontext)


def _vecs(p: int) -> torch.Tensor:
    return torch.randn(3, p, generator=torch.Generator().manual_seed(7), dtype=torch.float64)


@pytest.mark.parametrize("case", ALL_CASES, ids=case_id)
@pytest.mark.parametrize("options", [{}, {"sample_chunk": 2, "cache_graph": False}, {"batched": True}],
                         ids=["default", "chunks-rebuilt", "batched"])
def test_products_are_bit_identical_to_autograds_relu(case, options, monkeypatch):
    model, x, y = case.build()
    vecs = _vecs(case.n_params)
    new = HessianProducts(model, case.loss_fn, x, y, **options).matmat(vecs)
    _autograd_relu(monkeypatch)
    old = HessianProducts(model, case.loss_fn, x, y, **options).matmat(vecs)
    assert torch.equal(new, old)


class _FunctionalReLUs(nn.Module):
    """ReLU reached three ways (F.relu, torch.relu, Tensor.relu) plus an in-place one autograd keeps."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c, self.d = nn.Linear(4, 6), nn.Linear(6, 5), nn.Linear(5, 5), nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.a(x))
        h = torch.relu(self.b(h))
        h = self.c(h).relu()
        return self.d(F.relu(h + 0.1, inplace=True))


def _relu_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    return torch.randn(11, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (11,), generator=g)


def test_every_way_of_calling_relu_loses_its_zero_tensor_per_product(monkeypatch):
    """Counted aten ops of one product: each out-of-place ReLU (three ways of calling it) no longer makes a zero
    tensor and adds it in; the in-place one keeps autograd's formula; the same threshold_backward work (each ReLU's
    backward, twice: in the gradient's graph and in the forward's); the product equals torch.func's Hessian."""
    torch.manual_seed(0)
    model = _FunctionalReLUs().double()
    x, y = _relu_data()
    v = _vecs(sum(p.numel() for p in model.parameters()))[0]

    def product_ops() -> tuple[torch.Tensor, Counter[str]]:
        op = HessianProducts(model, F.cross_entropy, x, y)
        op.matvec(v)  # builds the graph
        with _CountOps() as counter:
            out = op.matvec(v)
        return out, counter.counts

    new, new_ops = product_ops()
    _autograd_relu(monkeypatch)
    old, old_ops = product_ops()
    assert torch.equal(new, old)
    assert new_ops["threshold_backward"] == old_ops["threshold_backward"] == 2 * 4
    assert old_ops["zeros_like"] - new_ops["zeros_like"] == 3
    assert old_ops["add"] - new_ops["add"] == 3
    assert new_ops["mm"] == old_ops["mm"]
    params = {n: p.detach() for n, p in model.named_parameters()}
    names = list(params)

    def loss(*flat: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(torch.func.functional_call(model, dict(zip(names, flat)), (x,)), y)

    blocks = torch.func.hessian(loss, argnums=tuple(range(len(names))))(*params.values())
    dense = torch.cat([torch.cat([blocks[i][j].reshape(params[n].numel(), -1) for j in range(len(names))], 1)
                       for i, n in enumerate(names)])
    assert rel(new, dense @ v) <= 1e-12


def test_outside_the_block_relu_is_autograds_own():
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    with first_order_relu():
        inside = torch.relu(x)
    outside = torch.relu(x)
    assert type(inside.grad_fn).__name__ == "_FirstOrderReLUBackward"
    assert type(outside.grad_fn).__name__ == "ReluBackward0"
    assert torch.equal(inside, outside)


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.name in ("mlp_relu", "convnet_spec_tiny")], ids=case_id)
def test_products_still_match_the_reference(case):
    model, x, y = case.build()
    vecs = _vecs(case.n_params)
    assert rel(HessianProducts(model, case.loss_fn, x, y).matmat(vecs), vecs @ references(case).hessian) <= 1e-10
