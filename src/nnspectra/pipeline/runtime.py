"""Process-level settings for a pipeline step: CPU threads, the allocator, device and random seeds."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from nnspectra.errors import NnspectraError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")
#: environment variable holding the run's deadline (epoch seconds) when config ``max_hours`` is set
DEADLINE_ENV = "NNSPECTRA_DEADLINE"


def gpu_present() -> bool:
    """Cheap check for an NVIDIA GPU without importing torch (the Snakefile calls it while parsing)."""
    import shutil
    from pathlib import Path

    return Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi") is not None


def holds_gpu(device: str, gpu_present: bool, cuda_falls_back: bool = False) -> bool:
    """Whether a job whose device setting is ``device`` (auto|cpu|cuda) takes a slot of the workflow's global
    ``gpu`` budget (Snakemake ``resources: gpu``; on SLURM, ``--gpus``), given whether a GPU is present here.

    ``auto`` holds one where a GPU is present, ``cpu`` never. ``cuda`` always does for the papers' steps: they
    stop without a GPU (:func:`resolve_device`), so a submit node without one still asks the cluster for it.
    An analyze study's own ``cuda`` falls back to the CPU where no GPU is (``cuda_falls_back``), so there it
    holds none. The one rule for the Snakefile's ``USE_GPU`` and an analyze study's slot.
    """
    if device not in DEVICE_CHOICES:
        raise NnspectraError(f"device '{device}' is not one of {DEVICE_CHOICES}; fix 'device' in your config")
    if device == "cuda" and not cuda_falls_back:
        return True
    return device != "cpu" and gpu_present


#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: blocks below this come from the heap and are reused once freed (glibc's largest allowed value on 64-bit)
MMAP_THRESHOLD = 32 * 2**20
#: freed heap memory a process keeps before handing it back to the system
TRIM_THRESHOLD = 2**30


def reuse_freed_memory() -> bool:
    """Let glibc's malloc reuse freed blocks of up to 32 MiB instead of mapping fresh pages for each.

    By default glibc maps a block above its (adaptive) threshold with ``mmap`` and unmaps it when freed, and trims
    the heap top, so every same-sized torch temporary of a training step faults in its pages anew: on P0 Fig 6's
    pool of 250 nets one vmapped gradient step takes 14.7 ms that way and 9.7 ms with this setting (one thread,
    ``benchmarks/bench_allocator.py``). Numbers are unchanged (only where memory comes from); a process keeps up
    to 1 GiB of freed heap. Returns False where the C library has no ``mallopt`` (not glibc: nothing changes).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def configure_threads(threads: int = 1) -> None:
    """Give torch (when the step imported it) and BLAS exactly ``threads`` threads that sleep when idle.

    On shared machines busy-waiting OpenMP threads slow everything down, so OMP_WAIT_POLICY is
    PASSIVE unless the user set it.
    """
    threads = max(1, int(threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:  # steps that never import torch do not pay for it (~2 s CPU per job)
        sys.modules["torch"].set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # numpy's BLAS reads the environment variables at import time instead
        pass


def resolve_device(requested: str = "auto") -> "torch.device":
    """Turn the config's ``device`` (auto|cpu|cuda) into a torch device, failing clearly."""
    import torch

    if requested not in DEVICE_CHOICES:
        raise NnspectraError(f"device '{requested}' is not one of {DEVICE_CHOICES}; fix 'device' in your config")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise NnspectraError("config asks for device 'cuda' but torch sees no GPU; set 'device: auto' or 'cpu'")
    # several GPUs visible: take the one with the most free memory (jobs sharing a machine spread out)
    free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
    return torch.device("cuda", int(max(range(len(free)), key=free.__getitem__)))


def describe_device(device: "torch.device") -> str:
    """Human-readable device name recorded in provenance (e.g. 'cuda:0 NVIDIA H100')."""
    import torch

    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} {torch.cuda.get_device_name(index)}"
    import platform

    return f"cpu {platform.processor() or platform.machine()}"


def request_determinism() -> dict[str, object]:
    """Ask torch for deterministic kernels (matters on CUDA; CPU kernels already are) and say what is on.

    Called by every pipeline step before any CUDA work; the returned flags go into the provenance.
    """
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    return determinism_state()


def determinism_state() -> dict[str, object]:
    """Torch's determinism switches as they stand (recorded in provenance sidecars)."""
    import torch

    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        # TensorFloat-32 for float32 on CUDA (training may use it; curvature never does: curvature/precision.py)
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        "cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "torch_threads": torch.get_num_threads(),
    }


def set_run_deadline(max_hours: float | None) -> None:
    """Start the run's clock (config ``max_hours``): jobs inherit the deadline through :data:`DEADLINE_ENV`.

    Not a rule parameter, so a time budget never makes a result stale; an already exported deadline (a
    cluster job started by the main Snakemake process) is kept.
    """
    if max_hours is not None:
        import time

        os.environ.setdefault(DEADLINE_ENV, repr(time.time() + 3600.0 * float(max_hours)))


def run_deadline() -> float | None:
    """The run's deadline in epoch seconds, or None when the run has no time budget."""
    value = os.environ.get(DEADLINE_ENV)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise NnspectraError(f"environment variable {DEADLINE_ENV}={value!r} is not a time in epoch seconds; "
                             f"unset it and use config 'max_hours'") from None
