"""Run one pipeline step: logging to the rule's log, threads, one-line errors, provenance sidecars.

Workflow scripts stay thin::

    from nnspectra.pipeline.step import Step
    with Step.from_namespace(snakemake) as step:   # any object with input/output/params/log/threads
        result = some_library_function(**step.params["cfg"])
        save(result, step.output["spectrum"])

On entry every input that has a ``.prov.json`` sidecar is checked against the sha256 it records
(:mod:`nnspectra.pipeline.verify`): a corrupt input stops the step before it reads or writes anything.
On success every output gets a ``.prov.json`` sidecar. A :class:`NnspectraError` (bad input,
missing data, divergence, memory) ends the step with one readable line on stderr and in the log.
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspectra.errors import NnspectraError, storage_message
from nnspectra.pipeline.provenance import build_record, write_sidecar

log = logging.getLogger("nnspectra")
#: OSErrors that mean "cannot store the result here" (full disk, quota, read-only tree, permission)
STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _as_dict(obj: Any) -> dict[str, Any]:
    """Named entries of a Snakemake Namedlist (or a plain mapping/list)."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "_names") and hasattr(obj, "items"):
        named = dict(obj.items())
        if named:
            return named
    return {str(i): value for i, value in enumerate(obj)}


@dataclass
class Step:
    """Inputs, outputs and settings of one pipeline step (one Snakemake job)."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    wildcards: dict[str, Any] = field(default_factory=dict)
    log_file: str | None = None
    threads: int = 1
    gpus: int = 0
    device: str = "cpu"
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _t0: float = 0.0
    _c0: float = 0.0
    _handler: logging.Handler | None = None
    _stream: Any = None
    _gpu_claim: Any = None

    @classmethod
    def from_namespace(cls, ns: Any) -> "Step":
        """Build from a Snakemake-like object (``snakemake`` inside a ``script:``)."""
        logs = list(getattr(ns, "log", []) or [])
        wildcards = _as_dict(getattr(ns, "wildcards", {}))
        params = _as_dict(getattr(ns, "params", {}))
        seed = params.get("seed", wildcards.get("seed"))
        return cls(
            name=str(getattr(ns, "rule", "step")),
            input=_as_dict(getattr(ns, "input", {})),
            output=_as_dict(getattr(ns, "output", {})),
            params=params,
            wildcards=wildcards,
            log_file=str(logs[0]) if logs else None,
            threads=int(getattr(ns, "threads", 1) or 1),
            gpus=int(_as_dict(getattr(ns, "resources", {})).get("gpu", 0) or 0),
            seed=int(seed) if seed is not None else None,
        )

    # -- context management -------------------------------------------------------------------
    def __enter__(self) -> "Step":
        from nnspectra.pipeline.runtime import configure_threads, request_determinism, reuse_freed_memory

        self._setup_logging()
        self._verify_inputs()
        vision_files = sys.modules.get("nnspectra.data.vision_files")
        if vision_files is not None:  # the datasets this step reads are its own (several steps may share a process)
            vision_files.forget_reads()
        if self.gpus > 0:  # before CUDA starts: pin this job to a free GPU of a multi-GPU machine
            from nnspectra.pipeline.gpu_slots import claim_gpu

            self._gpu_claim = claim_gpu()
            if self._gpu_claim is not None:
                self.extra["gpu_claim"] = {"index": self._gpu_claim.index, "lock": str(self._gpu_claim.lock_path)}
        configure_threads(self.threads)
        self.extra["malloc_reuse"] = reuse_freed_memory()
        if "torch" in sys.modules:  # scripts import their (torch) library code before entering the step
            self.extra["determinism"] = request_determinism()
        for path in self.output.values():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        gc.freeze()  # the imports are done: their objects live to the end, so full collections skip them
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        log.info("step %s: threads=%d inputs=%s", self.name, self.threads, list(self.input))
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        wall, cpu = time.perf_counter() - self._t0, time.process_time() - self._c0
        if self._gpu_claim is not None:
            self._gpu_claim.release()
        if exc is None:
            try:
                self._write_provenance(wall, cpu)
            except (NnspectraError, OSError) as err:  # e.g. the disk filled up: no output without its sidecar
                exc_type, exc, tb = type(err), err, err.__traceback__
        if exc is None:
            log.info("step %s done in %.1f s wall, %.1f s CPU", self.name, wall, cpu)
            self._teardown_logging()
            # A job's script ends with its step: what is alive now (torch's modules above all) stays out of the
            # cyclic collections still to come, the one at interpreter exit included (~1 s CPU per torch job).
            gc.freeze()
            return False
        if isinstance(exc, NnspectraError):
            message = f"nnspectra error in step '{self.name}': {exc}"
        elif isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:  # written by code outside pipeline.io
            message = f"nnspectra error in step '{self.name}': {storage_message(exc, exc.filename or '?')}"
        else:
            message = f"nnspectra internal error in step '{self.name}': {exc_type.__name__}: {exc}"
            log.error("".join(traceback.format_exception(exc_type, exc, tb)))
        log.error(message)
        self._teardown_logging()
        print(message, file=sys.__stderr__, flush=True)
        self._remove_partial_outputs()
        sys.exit(1)

    # -- helpers --------------------------------------------------------------------------------
    def set_device(self, device: Any) -> None:
        """Record the device the step computed on (goes into every sidecar)."""
        from nnspectra.pipeline.runtime import describe_device

        self.device = describe_device(device) if hasattr(device, "type") else str(device)

    def use_device(self, requested: str) -> Any:
        """Resolve the config's ``device`` (auto|cpu|cuda) to a torch device, record it and return it."""
        from nnspectra.pipeline.runtime import resolve_device

        device = resolve_device(requested)
        self.set_device(device)
        return device

    def _setup_logging(self) -> None:
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        if self.log_file:
            Path(self.log_file).parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(self.log_file, "a", buffering=1)
            # progress bars (tqdm writes to stderr) and prints land in the rule's log file
            sys.stderr = self._stream
            sys.stdout = self._stream
            handler: logging.Handler = logging.StreamHandler(self._stream)
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(fmt)
        root.addHandler(handler)
        self._handler = handler

    def _teardown_logging(self) -> None:
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _input_files(self) -> dict[str, Any]:
        """Input paths by name; list-valued inputs (aggregation rules) as ``name[i]``."""
        inputs: dict[str, Any] = {}
        for key, value in self.input.items():
            if isinstance(value, (str, os.PathLike)):
                inputs[key] = value
            elif isinstance(value, (list, tuple)):
                inputs.update({f"{key}[{i}]": v for i, v in enumerate(value) if isinstance(v, (str, os.PathLike))})
        return inputs

    def _verify_inputs(self) -> None:
        """Stop before anything is read or written when a cached input differs from its sidecar (one line)."""
        from nnspectra.pipeline.verify import verify_inputs

        try:
            verify_inputs(self._input_files().values())
        except NnspectraError as err:
            message = f"nnspectra error in step '{self.name}': {err}"
            log.error(message)
            self._teardown_logging()
            print(message, file=sys.__stderr__, flush=True)
            sys.exit(1)

    def _remove_partial_outputs(self) -> None:
        """Remove this step's outputs, their sidecars and its temporaries (a failed step leaves nothing)."""
        for path in self.output.values():
            path = Path(path)
            for candidate in (path, Path(str(path) + ".prov.json"), *path.parent.glob(f".*.tmp{os.getpid()}*")):
                try:
                    if candidate.is_file():
                        candidate.unlink()
                except OSError:  # a read-only tree: its one-line error is already out
                    pass

    def _write_provenance(self, wall: float, cpu: float) -> None:
        code = self.params.get("code")
        cfg = {k: v for k, v in self.params.items() if k != "code"}
        inputs = self._input_files()
        # the datasets this step read (its data inputs: a changed dataset makes the outputs stale in the audit)
        vision_files = sys.modules.get("nnspectra.data.vision_files")
        data = vision_files.datasets_read() if vision_files is not None else []
        for key, path in self.output.items():
            if not Path(path).is_file():
                continue
            record = build_record(
                step=self.name, output=path, inputs=inputs, params=cfg, seed=self.seed, code=code,
                device=self.device, threads=self.threads, wall_time_s=round(wall, 3),
                cpu_time_s=round(cpu, 3), extra={"wildcards": self.wildcards, **self.extra}, data=data,
            )
            write_sidecar(record, path)
