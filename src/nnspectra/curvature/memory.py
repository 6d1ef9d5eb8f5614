"""Memory guard for dense curvature matrices: fail early, in one line, instead of swapping or OOM-killing.

A float64 P x P Hessian takes 8 P^2 bytes: 24.8 GB for the widest MNIST net of Sagun et al. (2018)
(P = 55,660). Before any dense P x P allocation the curvature code calls :func:`check_dense_fits`.
"""

from __future__ import annotations

import torch

from nnspectra.errors import MemoryBudgetError

GIB = 1024**3

#: fraction of the available memory a dense matrix may use when no budget is configured
DEFAULT_FRACTION = 0.8


def available_memory_bytes(device: torch.device | str | None = None) -> int:
    """Memory available for new allocations on ``device`` (free GPU memory, or available host RAM)."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # psutil is optional; Linux always has /proc/meminfo
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    raise MemoryBudgetError("cannot determine the available memory; set 'memory_budget_gb' in your config")


def dense_bytes(n_rows: int, n_cols: int, dtype: torch.dtype = torch.float64) -> int:
    """Bytes taken by a dense ``n_rows x n_cols`` tensor of ``dtype``."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    return int(n_rows) * int(n_cols) * itemsize


def memory_budget_bytes(budget_gb: float | None = None, device: torch.device | str | None = None) -> int:
    """The budget in bytes: ``budget_gb`` GiB if given, else 80% of the memory available now."""
    if budget_gb is not None:
        if budget_gb <= 0:
            raise MemoryBudgetError(f"memory budget must be positive, got {budget_gb} GiB; fix 'memory_budget_gb'")
        return int(budget_gb * GIB)
    return int(DEFAULT_FRACTION * available_memory_bytes(device))


def check_dense_fits(n_rows: int, n_cols: int, dtype: torch.dtype = torch.float64, budget_gb: float | None = None,
                     what: str = "Hessian", device: torch.device | str | None = None, copies: float = 1.0) -> int:
    """Raise :class:`MemoryBudgetError` (one line) unless ``copies`` dense matrices of this size fit.

    ``copies`` counts the P x P buffers the caller holds at its peak (e.g. 3 for H, G and R).
    Returns the bytes of one matrix.
    """
    one = dense_bytes(n_rows, n_cols, dtype)
    need = int(one * copies)
    budget = memory_budget_bytes(budget_gb, device)
    if need > budget:
        source = f"budget {budget_gb:g} GiB" if budget_gb is not None else (
            f"{DEFAULT_FRACTION:.0%} of the {available_memory_bytes(device) / GIB:.2f} GiB available")
        dev = torch.device(device).type if device is not None else "cpu"
        raise MemoryBudgetError(
            f"a dense {n_rows:,} x {n_cols:,} {str(dtype).replace('torch.', '')} {what}"
            f"{f' (x{copies:g} buffers)' if copies != 1 else ''} needs {need / GIB:.2f} GiB but only "
            f"{budget / GIB:.2f} GiB may be used on {dev} ({source}); alternatives: Lanczos edges "
            f"(nnspectra.curvature.top_eigenpairs / bottom_eigenpairs on a HessianOperator), dtype float32 "
            f"(half the memory), a GPU with more memory (device: cuda), or raise 'memory_budget_gb'")
    return one
