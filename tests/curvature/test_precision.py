"""curvature/precision.py: the rounding unit of products, and curvature at IEEE float32 precision on CUDA (no
TensorFloat-32) whatever torch allows outside. The switches are read and set without a device, so these run on
the CPU; the float32 products' accuracy on a GPU is the CUDA test at the end (benchmarks/gpu_check.sh runs it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from nnspectra.curvature.dense import hessian
from nnspectra.curvature.precision import ieee_float32, tf32_allowed, unit_roundoff
from nnspectra.curvature.products import GaussNewtonProducts, HessianProducts

CE = nn.functional.cross_entropy
EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


@contextmanager
def tf32_switches(conv: bool, matmul: bool) -> Iterator[None]:
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = conv, matmul
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_unit_roundoff_is_the_products_rounding():
    assert unit_roundoff(torch.float32) == EPS32 and unit_roundoff(torch.float64) == EPS64
    assert unit_roundoff(torch.bfloat16) > EPS32 and unit_roundoff(torch.int64) == EPS64
    with tf32_switches(True, False):  # cuDNN's default: float32 convolutions on CUDA in TensorFloat-32
        assert tf32_allowed()
        assert unit_roundoff(torch.float32, "cuda") == 2.0**-10 and unit_roundoff(torch.float32, "cpu") == EPS32
        assert unit_roundoff(torch.float64, "cuda") == EPS64
    with tf32_switches(False, True):
        assert unit_roundoff(torch.float32, torch.device("cuda", 0)) == 2.0**-10
    with tf32_switches(False, False):
        assert not tf32_allowed() and unit_roundoff(torch.float32, "cuda") == EPS32


def test_ieee_float32_switches_tf32_off_and_restores_them():
    with tf32_switches(True, True):
        with ieee_float32():
            assert not tf32_allowed()
            with ieee_float32():  # nested
                assert not tf32_allowed()
            assert not tf32_allowed()
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        with pytest.raises(RuntimeError, match="inside"), ieee_float32():
            raise RuntimeError("inside")
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32

        @ieee_float32()
        def seen() -> bool:
            return tf32_allowed()

        assert seen() is False and seen() is False and tf32_allowed()


class _Spy(torch.autograd.Function):
    """Identity that records whether TensorFloat-32 was allowed in its forward and in its backward."""

    seen: ClassVar[list[tuple[str, bool]]] = []

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        _Spy.seen.append(("forward", tf32_allowed()))
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        _Spy.seen.append(("backward", tf32_allowed()))
        return _Spy.apply(grad)  # differentiable, so double backward passes here too


class SpyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Spy.apply(self.net(x))


def test_products_and_dense_builders_never_run_in_tf32():
    """Graph building, every product (Hessian, Gauss-Newton) and the dense builders run with TensorFloat-32
    off even where torch allows it outside; outside they leave the switches as they were."""
    torch.manual_seed(0)
    model = SpyNet().double()
    x, y = torch.randn(7, 4, dtype=torch.float64), torch.randint(0, 3, (7,))
    _Spy.seen.clear()
    with tf32_switches(True, True):
        for cls in (HessianProducts, GaussNewtonProducts):
            op = cls(model, CE, x, y)
            op.matvec(torch.ones(op.size, dtype=torch.float64))
            op.dense("products")
        hessian(model, CE, x, y, method="hvp")
        assert tf32_allowed()
    kinds = {kind for kind, _ in _Spy.seen}
    assert kinds == {"forward", "backward"} and len(_Spy.seen) > 10
    assert not any(allowed for _, allowed in _Spy.seen), _Spy.seen


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_float32_products_at_float32_accuracy_with_tf32_allowed():
    """On a GPU with TensorFloat-32 allowed for convolutions and matrix products, a float32 Hessian product of
    the SPEC convnet agrees with float64 to float32's accuracy (TF32 would be ~1e-3 off)."""
    from curvature_cases import small_convnet

    model = small_convnet(image_size=14, channels=(8, 8), hidden=16, seed=0)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 1, 14, 14, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    with tf32_switches(True, True):
        single = HessianProducts(model, CE, x, y, dtype=torch.float32, device="cuda")
        double = HessianProducts(model, CE, x, y, dtype=torch.float64, device="cuda")
        v = torch.randn(single.size, generator=gen, dtype=torch.float64).cuda()
        got, ref = single.matvec(v).double(), double.matvec(v)
    assert float((got - ref).norm() / ref.norm()) < 1e-4
