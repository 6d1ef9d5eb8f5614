"""Memory a job may use: its limit (GPU total memory; RAM, the cgroup's ``memory.max`` or SLURM's ``--mem``),
what is available now, the budget, and the training memory guard (the dense-matrix guard is
:func:`nnspectra.curvature.memory.check_dense_fits`).

Every choice that shapes a result derives from the limit or a configured budget, never from the free
memory of the moment (issue 21: same inputs, same bytes); the free memory only makes the guards fail early.
"""

from __future__ import annotations

import os

import torch

from nnspectra.errors import MemoryBudgetError

GIB = 1024**3
#: fraction of the memory limit (:func:`memory_limit_bytes`) a dense matrix may use when no budget is configured
DEFAULT_FRACTION = 0.8
#: where the cgroup files are (a test points it at a fake tree)
CGROUP_ROOT = "/sys/fs/cgroup"


def _meminfo_bytes(field: str) -> int | None:
    """A field of /proc/meminfo in bytes (None where there is no /proc)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _host_memory(meminfo_field: str, psutil_field: str) -> int | None:
    """Host memory in bytes from /proc/meminfo, else psutil (optional), else None."""
    value = _meminfo_bytes(meminfo_field)
    if value is None:
        try:
            import psutil

            value = int(getattr(psutil.virtual_memory(), psutil_field))
        except ImportError:
            return None
    return value


def _read_int(path: str) -> int | None:
    """The integer in a cgroup file, None when absent or unlimited ("max", or v1's near-2^63 sentinel)."""
    try:
        text = open(path).read().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    value = int(text)
    return value if value < 2**60 else None


def host_memory_limit() -> tuple[int | None, str]:
    """(bytes, source): the smallest host-memory limit this process runs under, the one a job may fill.

    Candidates: the machine's RAM, the cgroup's ``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1; a
    container or a SLURM job with ``ConstrainRAMSpace``), and SLURM's ``SLURM_MEM_PER_NODE`` or
    ``SLURM_MEM_PER_CPU`` x CPUs (MB). The SLURM figures bind even where no cgroup enforces them.
    """
    found: list[tuple[int, str]] = []
    total = _host_memory("MemTotal", "total")
    if total is not None:
        found.append((total, "RAM"))
    for path in (f"{CGROUP_ROOT}/memory.max", f"{CGROUP_ROOT}/memory/memory.limit_in_bytes"):
        value = _read_int(path)
        if value is not None:
            found.append((value, f"cgroup limit {path}"))
    per_node = os.environ.get("SLURM_MEM_PER_NODE", "")
    per_cpu = os.environ.get("SLURM_MEM_PER_CPU", "")
    cpus = os.environ.get("SLURM_CPUS_ON_NODE") or os.environ.get("SLURM_CPUS_PER_TASK") or "1"
    if per_node.isdigit() and int(per_node) > 0:
        found.append((int(per_node) * 2**20, "SLURM_MEM_PER_NODE"))
    elif per_cpu.isdigit() and int(per_cpu) > 0 and cpus.isdigit():
        found.append((int(per_cpu) * int(cpus) * 2**20, "SLURM_MEM_PER_CPU x CPUs"))
    if not found:
        return None, "unknown"
    return min(found)


def memory_limit_bytes(device: torch.device | str | None = None) -> tuple[int, str]:
    """(bytes, source): the memory a job may use on ``device`` in all, independent of the load.

    GPU: the device's total memory; CPU: :func:`host_memory_limit`. Every choice that shapes a result
    (dense or Lanczos, columns per block) derives its default budget from this, never from the free memory
    of the moment, so the same config and model give the same bytes however busy the machine is.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory), f"{device} total memory"
    value, source = host_memory_limit()
    if value is None:
        raise MemoryBudgetError("cannot determine the memory limit; set 'memory_budget_gb' in your config")
    return value, source


def available_memory_bytes(device: torch.device | str | None = None) -> int:
    """Memory available for new allocations on ``device`` now (free GPU memory, or available host RAM,
    within the cgroup / SLURM limit less what the cgroup already uses). For fail-early guards only: it
    moves with the load, so nothing that shapes a result may depend on it."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    avail = _host_memory("MemAvailable", "available")
    limit, source = host_memory_limit()
    if limit is not None and source != "RAM":
        if source.startswith("SLURM"):  # no cgroup enforces it: this process's own resident memory is what counts
            used = _rss_bytes()
        else:
            used = _read_int(f"{CGROUP_ROOT}/memory.current") or _read_int(
                f"{CGROUP_ROOT}/memory/memory.usage_in_bytes") or 0
        room = max(0, limit - used)
        avail = room if avail is None else min(avail, room)
    if avail is None:
        raise MemoryBudgetError("cannot determine the available memory; set 'memory_budget_gb' in your config")
    return int(avail)


def _rss_bytes() -> int:
    """Resident memory of this process (0 where unknown)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def memory_budget_bytes(budget_gb: float | None = None, device: torch.device | str | None = None) -> int:
    """The budget in bytes: ``budget_gb`` GiB if given, else 80% of the memory limit of ``device``
    (:func:`memory_limit_bytes`: fixed for a machine or allocation, not the free memory of the moment)."""
    if budget_gb is not None:
        if not budget_gb > 0 or budget_gb == float("inf"):
            raise MemoryBudgetError(f"memory budget must be a positive finite number, got {budget_gb} GiB; "
                                    f"fix 'memory_budget_gb'")
        return int(budget_gb * GIB)
    return int(DEFAULT_FRACTION * memory_limit_bytes(device)[0])


def usable_bytes(need: int, budget_gb: float | None = None, device: torch.device | str | None = None,
                 ) -> tuple[int, str]:
    """(bytes that may be used, where that figure comes from) for an allocation of ``need`` bytes: the budget
    (``budget_gb``, else 80% of the memory limit: RAM, cgroup or SLURM), or the memory available now when
    that is smaller than ``need``. The one rule of both memory guards."""
    budget = memory_budget_bytes(budget_gb, device)
    if budget_gb is not None:
        source = f"budget {budget_gb:g} GiB"
    else:
        limit, where = memory_limit_bytes(device)
        source = f"{DEFAULT_FRACTION:.0%} of the {limit / GIB:.2f} GiB available to this job ({where})"
    if need <= budget:
        avail = available_memory_bytes(device)
        if need > avail:
            return avail, f"{avail / GIB:.2f} GiB available now"
    return budget, source


def check_training_fits(need: int, what: str, budget_gb: float | None = None,
                        device: torch.device | str | None = None, fix: str = "") -> None:
    """Raise :class:`MemoryBudgetError` (one line) unless ``need`` bytes of training state fit the budget
    (``budget_gb``, else 80% of the memory limit: RAM, cgroup or SLURM) and the memory available now;
    ``what`` says what needs it, ``fix`` the config keys to change. The training twin of
    :func:`check_dense_fits`: fail before the first step, not by swapping or an OOM kill hours later."""
    budget, source = usable_bytes(need, budget_gb, device)
    if need <= budget:
        return
    dev = torch.device(device).type if device is not None else "cpu"
    raise MemoryBudgetError(f"{what} needs ~{need / GIB:.2f} GiB but only {budget / GIB:.2f} GiB may be used on {dev} "
                            f"({source}); {fix or 'lower the batch size or the width'}, or raise 'memory_budget_gb'")
