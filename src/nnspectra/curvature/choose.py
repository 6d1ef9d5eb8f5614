"""Dense spectrum or Lanczos edges? "Dense whenever it fits the device's budget, else Lanczos" (issue 15).

A dense spectrum needs the P x P matrix plus the eigensolver's copy of it (``torch.linalg.eigvalsh``
works on a copy; its values-only workspace is O(P)), i.e. ``copies = 2`` matrices of P^2 * itemsize
bytes, plus the workspace of the blocks of columns that build it (a fraction
:data:`nnspectra.curvature.generic.BLOCK_FRACTION` of the budget, so it always fits by construction).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnspectra.resources import DEFAULT_FRACTION, GIB, memory_limit_bytes

#: P x P buffers at the peak of a dense spectrum (the matrix and eigvalsh's copy)
DENSE_COPIES = 2.0


@dataclass(frozen=True)
class SpectrumChoice:
    """``method`` ("dense" or "lanczos"), the bytes a dense spectrum needs, the budget, and why."""

    method: str
    need_bytes: int
    budget_bytes: int
    reason: str


def dense_spectrum_bytes(n_params: int, dtype: torch.dtype = torch.float64, copies: float = DENSE_COPIES) -> int:
    """Peak bytes of a dense spectrum: ``copies`` P x P matrices of ``dtype``."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    return int(copies * int(n_params) ** 2 * itemsize)


def choose_spectrum_method(n_params: int, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
                           budget_gb: float | None = None, *, available_bytes: int | None = None,
                           copies: float = DENSE_COPIES, max_dense_params: int | None = None) -> SpectrumChoice:
    """Dense when ``copies`` P x P matrices fit the budget (and P <= ``max_dense_params`` if given), else Lanczos.

    The budget is ``budget_gb`` GiB when given, else 80 % of ``available_bytes``, the memory a job may use
    on ``device`` (by default :func:`nnspectra.curvature.memory.memory_limit_bytes`: the GPU's total memory,
    or the RAM / cgroup / SLURM limit; never the free memory of the moment, so the choice does not move
    with the machine's load).
    """
    if n_params < 1:
        raise ValueError(f"n_params must be positive, got {n_params}")
    if budget_gb is not None:
        if not 0 < budget_gb < float("inf"):
            raise ValueError(f"memory budget must be a positive finite number, got {budget_gb} GiB; "
                             f"fix 'memory_budget_gb'")
        budget = int(budget_gb * GIB)
        source = f"budget {budget_gb:g} GiB"
    else:
        if available_bytes is None:
            avail, where = memory_limit_bytes(device)
        else:
            avail, where = int(available_bytes), "given"
        budget = int(DEFAULT_FRACTION * avail)
        source = f"{DEFAULT_FRACTION:.0%} of {avail / GIB:.2f} GiB ({where})"
    need = dense_spectrum_bytes(n_params, dtype, copies)
    dev = torch.device(device).type
    name = str(dtype).replace("torch.", "")
    if max_dense_params is not None and n_params > max_dense_params:
        return SpectrumChoice("lanczos", need, budget, f"P = {n_params:,} > max_dense_params = {max_dense_params:,}")
    if need > budget:
        return SpectrumChoice("lanczos", need, budget, f"dense {name} spectrum needs {need / GIB:.2f} GiB > "
                              f"{budget / GIB:.2f} GiB on {dev} ({source})")
    return SpectrumChoice("dense", need, budget, f"dense {name} spectrum needs {need / GIB:.2f} GiB <= "
                          f"{budget / GIB:.2f} GiB on {dev} ({source})")
