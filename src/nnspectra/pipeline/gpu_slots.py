"""Pin each GPU job of a local multi-GPU run to its own device.

Snakemake's ``gpu`` resource caps how many GPU jobs run at once but does not say *which* GPU a
job gets. A job that declares ``gpu=1`` therefore claims a device itself: it takes an exclusive
``flock`` on one lock file per GPU and sets ``CUDA_VISIBLE_DEVICES`` to that device before CUDA
starts. The kernel drops the lock when the process ends, even on a crash or SIGKILL, so a claim
can never leak. Where a scheduler already pinned the job (SLURM, or a user exporting
``CUDA_VISIBLE_DEVICES``), nothing is claimed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nnspectra.errors import NnspectraError

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "NNSPECTRA_GPU_LOCK_DIR"


def visible_gpu_count(dev: str | os.PathLike[str] = "/dev") -> int:
    """Number of NVIDIA devices (``/dev/nvidia0``, ``/dev/nvidia1``, ...), counted without starting CUDA."""
    root = Path(dev)
    if not root.is_dir():
        return 0
    return sum(1 for p in root.iterdir() if re.fullmatch(r"nvidia\d+", p.name))


def default_lock_dir() -> Path:
    """``$NNSPECTRA_GPU_LOCK_DIR``, else a per-user folder in the temp dir (shared by all jobs of a machine)."""
    env = os.environ.get(LOCK_DIR_ENV)
    return Path(env) if env else Path(tempfile.gettempdir()) / f"nnspectra-gpu-locks-{os.getuid()}"


@dataclass
class GpuClaim:
    """An exclusive claim on GPU ``index``, held until :meth:`release` or the end of the process."""

    index: int
    lock_path: Path
    _handle: IO[bytes] | None = None

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _try_lock(path: Path) -> IO[bytes] | None:
    handle = open(path, "a+b")  # noqa: SIM115 - the handle must outlive this function to hold the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    return handle


def claim_gpu(n_devices: int | None = None, lock_dir: str | os.PathLike[str] | None = None,
              wait_s: float = 3600.0, poll_s: float = 2.0, set_env: bool = True) -> GpuClaim | None:
    """Claim the first free GPU of ``n_devices`` and make it the only one CUDA sees.

    Returns None (claims nothing) when ``CUDA_VISIBLE_DEVICES`` is already set or fewer than two
    GPUs exist. Waits up to ``wait_s`` seconds for a device to come free, then stops with one line.
    """
    if set_env and os.environ.get("CUDA_VISIBLE_DEVICES", "").strip():
        return None
    n = visible_gpu_count() if n_devices is None else int(n_devices)
    if n <= 1:
        return None
    folder = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        for index in range(n):
            path = folder / f"gpu{index}.lock"
            handle = _try_lock(path)
            if handle is not None:
                if set_env:
                    os.environ["CUDA_VISIBLE_DEVICES"] = str(index)
                log.info("claimed GPU %d of %d (lock %s)", index, n, path)
                return GpuClaim(index, path, handle)
        if time.monotonic() >= deadline:
            raise NnspectraError(
                f"all {n} GPUs stayed claimed for {wait_s:.0f} s (locks in {folder}); run with "
                f"--resources gpu=N where N is at most the number of GPUs, or remove stale jobs")
        time.sleep(poll_s)
