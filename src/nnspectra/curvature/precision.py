"""The precision curvature is computed at: the rounding unit of an operator's products, and float32 at IEEE
precision on CUDA.

PyTorch lets cuDNN compute float32 convolutions in TensorFloat-32 by default (``torch.backends.cudnn.allow_tf32``;
10 mantissa bits, machine epsilon 2^-10 against float32's 2^-23), and a user may allow it for matrix products
too. A float32 Hessian product on a GPU would then round about 8,000 times coarser than its dtype says, and
the bulk of small eigenvalues, the object of study, would sit below that noise. The model operators
(:mod:`nnspectra.curvature.products`) and the dense builders (:func:`nnspectra.curvature.dense.dense_curvature`)
therefore run under :func:`ieee_float32`; on the CPU the switches change nothing. Operators written elsewhere
keep whatever torch allows, and :func:`unit_roundoff` accounts for it where partial reorthogonalisation needs
the rounding unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

FLOAT64_EPS = float(torch.finfo(torch.float64).eps)
TF32_EPS = 2.0**-10  # TensorFloat-32 keeps 10 mantissa bits


def tf32_allowed() -> bool:
    """Whether torch may compute float32 convolutions or matrix products on CUDA in TensorFloat-32 now."""
    return bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)


def unit_roundoff(dtype: torch.dtype, device: torch.device | str | None = None) -> float:
    """The rounding unit of products computed in ``dtype`` on ``device``: that dtype's eps, never below float64's
    (the Lanczos recurrence and basis are float64); float32 on CUDA rounds at TF32's eps where torch allows
    TensorFloat-32 (:func:`tf32_allowed`)."""
    if not dtype.is_floating_point:
        return FLOAT64_EPS
    eps = max(FLOAT64_EPS, float(torch.finfo(dtype).eps))
    if dtype == torch.float32 and device is not None and torch.device(device).type == "cuda" and tf32_allowed():
        eps = max(eps, TF32_EPS)
    return eps


@contextmanager
def ieee_float32() -> Iterator[None]:
    """Within the block (or the decorated function), float32 convolutions and matrix products on CUDA run at
    IEEE float32 precision, not TensorFloat-32; torch's switches are restored on exit."""
    conv, matmul = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = conv
        torch.backends.cuda.matmul.allow_tf32 = matmul
