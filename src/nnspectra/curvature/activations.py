"""ReLU recorded without its zero second derivative, so Hessian-vector products do less autograd work.

A Hessian-vector product by double backward differentiates the gradient's graph. For ``torch.relu`` that graph
holds ``threshold_backward(grad, relu_output, 0)``, and autograd's formula for its derivative with respect to
``relu_output`` is ``zeros_like(grad)``: every product materialises that zero tensor and adds it into the
gradient that flows back through the ReLU. The second derivative of ReLU is zero almost everywhere, so
nothing of it reaches the product.

:func:`first_order_relu` records each out-of-place ReLU called while it is active (``nn.ReLU``,
``F.relu``, ``torch.relu``, ``Tensor.relu``) as :class:`_FirstOrderReLU`: the same forward kernel, the same
backward kernel, with the output a constant of the backward. The products are bit-identical, and each ReLU
costs one zero tensor and one add less per product (the ``mm`` and ``threshold_backward`` work is the same;
tests/curvature/test_activations.py; timings in docs/performance.md). In-place ReLUs are left to autograd.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

#: the out-of-place ReLU entry points a model's forward reaches (``nn.ReLU`` calls ``F.relu``)
RELU_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset({F.relu, torch.relu, torch.Tensor.relu})


class _FirstOrderReLU(torch.autograd.Function):
    """ReLU whose backward treats the output as a constant: differentiable in the incoming gradient only."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, out.detach(), 0)


class _FirstOrderReLUMode(TorchFunctionMode):
    def __torch_function__(self, func: Callable[..., Any], types: Any, args: tuple = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if func in RELU_FUNCTIONS and not kwargs.get("inplace", False) and len(args) == 1:
            return _FirstOrderReLU.apply(args[0])
        return func(*args, **kwargs)


@contextmanager
def first_order_relu() -> Iterator[None]:
    """Within the block, out-of-place ReLUs are recorded as :class:`_FirstOrderReLU` (for graphs that are
    differentiated twice: Hessian-vector products)."""
    with _FirstOrderReLUMode():
        yield
