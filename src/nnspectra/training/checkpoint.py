"""Checkpoints of a training run: written atomically (a full disk fails in one line, no partial file), read
with ``weights_only=True`` and resumed only when their fingerprint matches; each one logs progress and the
remaining time, and past the run's deadline (config ``max_hours``) ends the run there."""

from __future__ import annotations

import io
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nnspectra.errors import StorageError, TimeBudgetReached, storage_message

if TYPE_CHECKING:
    from nnspectra.training.divergence import DivergenceMonitor
    from nnspectra.training.loop import BatchSampler, TrainResult

log = logging.getLogger("nnspectra.training.loop")


def save_checkpoint(path: Path, fingerprint: str, step: int, model: torch.nn.Module, opt: torch.optim.Optimizer,
                    sampler: BatchSampler, result: TrainResult, monitor: DivergenceMonitor) -> None:
    """Write the run's state at ``step`` to ``path`` (via a temporary and a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    buffer = io.BytesIO()  # serialised first: a full disk fails in one line and leaves no partial file
    torch.save({"fingerprint": fingerprint, "step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "sampler": sampler.state_dict(),  # tensors and plain values only: loads with weights_only=True
                "divergence": {"reference": monitor.reference, "streak": monitor.streak},
                "history": [{k: v.item() if hasattr(v, "item") else v for k, v in r.items()} for r in result.history]},
               buffer)
    try:
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise StorageError(storage_message(err, path, buffer.getbuffer().nbytes)) from None


def report_checkpoint(desc: str, ckpt: Path, step: int, start: int, total: int, started: float,
                      deadline: float | None) -> None:
    """Log progress with the remaining-time estimate at a checkpoint; past the deadline, stop the run here."""
    now = time.time()
    rate = (now - started) / max(step - start, 1)
    left_h = rate * (total - step) / 3600
    log.info("%s: checkpoint at step %d of %d (%.1f %%); %.3f s per step, ~%.2f h left at this rate",
             desc, step, total, 100.0 * step / total, rate, left_h)
    if deadline is not None and now >= deadline and step < total:
        raise TimeBudgetReached(f"{desc} stopped at step {step:,} of {total:,} (max_hours reached); its checkpoint "
                                f"{ckpt} is kept: run the same command again to continue (~{left_h:.2f} h of "
                                f"this job left at {rate:.3f} s per step)")


def load_checkpoint(path: Path, fingerprint: str, device: torch.device) -> dict[str, Any] | None:
    """The checkpoint's state if it belongs to this run; a stale or unreadable one is removed."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # a checkpoint cut short by a crash: start over rather than fail
        log.warning("ignoring unreadable checkpoint %s (%s); starting from step 0", path, type(err).__name__)
        path.unlink(missing_ok=True)
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        log.warning("ignoring checkpoint %s: it was written by a run with other settings, initial weights or "
                    "data; starting from step 0", path)
        path.unlink(missing_ok=True)
        return None
    return state
