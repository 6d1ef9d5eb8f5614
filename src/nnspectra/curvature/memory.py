"""Memory guards for dense curvature matrices and training: fail early, in one line, instead of swapping or
OOM-killing. Both read the job's memory limit (RAM, the cgroup's ``memory.max``, SLURM's ``--mem``), not
only the machine's (:mod:`nnspectra.resources`; the training guard lives there too, so training code does not
reach curvature code).

A float64 P x P Hessian takes 8 P^2 bytes: 24.8 GB for the widest MNIST net of Sagun et al. (2018)
(P = 55,660). Before any dense P x P allocation the curvature code calls :func:`check_dense_fits`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nnspectra.errors import MemoryBudgetError
from nnspectra.resources import (  # noqa: F401 (the memory helpers, re-exported where curvature code finds them)
    DEFAULT_FRACTION, GIB, available_memory_bytes, memory_budget_bytes, memory_limit_bytes, usable_bytes)


def dense_bytes(n_rows: int, n_cols: int, dtype: torch.dtype = torch.float64) -> int:
    """Bytes taken by a dense ``n_rows x n_cols`` tensor of ``dtype``."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    return int(n_rows) * int(n_cols) * itemsize


DENSE_ALTERNATIVES = ("Lanczos edges (nnspectra.curvature.top_eigenpairs / bottom_eigenpairs on HessianProducts), "
                      "dtype float32 (half the memory), a GPU with more memory (device: cuda)")


def check_dense_fits(n_rows: int, n_cols: int, dtype: torch.dtype = torch.float64, budget_gb: float | None = None,
                     what: str = "Hessian", device: torch.device | str | None = None, copies: float = 1.0,
                     alternatives: str | Callable[[int], str] = DENSE_ALTERNATIVES) -> int:
    """Raise :class:`MemoryBudgetError` (one line) unless ``copies`` dense matrices of this size fit the
    budget and the memory available now (the cgroup / SLURM limit included).

    ``copies`` counts the P x P buffers the caller holds at its peak (e.g. 3 for H, G and R);
    ``alternatives`` what the message offers instead, or a function of the bytes that may be used that says it
    (e.g. how much of the work fits). Returns the bytes of one matrix.
    """
    one = dense_bytes(n_rows, n_cols, dtype)
    need = int(one * copies)
    budget, source = usable_bytes(need, budget_gb, device)
    if need > budget:
        dev = torch.device(device).type if device is not None else "cpu"
        raise MemoryBudgetError(
            f"a dense {n_rows:,} x {n_cols:,} {str(dtype).replace('torch.', '')} {what}"
            f"{f' (x{copies:g} buffers)' if copies != 1 else ''} needs {need / GIB:.2f} GiB but only "
            f"{budget / GIB:.2f} GiB may be used on {dev} ({source}); alternatives: "
            f"{alternatives(budget) if callable(alternatives) else alternatives}, or raise 'memory_budget_gb'")
    return one
