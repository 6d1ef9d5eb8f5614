"""Verify cached results against their provenance sidecars before anything reads them (issue 12).

A result file ``X`` is trusted only when the sha256 of its bytes equals the ``sha256`` that
``X.prov.json`` recorded when the step made it. Two places check:

* the Snakefile's ``onstart:`` handler calls :func:`verify_planned_inputs`: after Snakemake has built the
  DAG and before it prepares any job (preparing deletes a job's previous outputs), every input of the jobs
  it will run that no job of this run rebuilds is hashed and compared with its sidecar. One bad file stops
  the whole run with one line, so no job starts and no valid file is deleted;
* :class:`nnspectra.pipeline.step.Step` checks its own inputs again on entry (:func:`verify_inputs`),
  which catches a file changed while the run was going on.

Every message names the file, the rule that made it and the one command that rebuilds it and everything
made from it (:func:`repair_command`: ``nnspectra audit --repair`` with the run's targets and config
options). Only full hashes are trusted: a size + mtime shortcut misses a byte flip whose mtime was restored
(``os.utime``) and bit rot on the medium, and hashing costs little next to the steps (docs/auditing.md).
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnspectra.errors import CorruptResultError
from nnspectra.pipeline.provenance import sha256_file, sidecar_path
from nnspectra.pipeline.sidecar import REPAIR_HINT, SidecarError, read_sidecar

# set by the onstart handler so that steps (child processes) can name the exact repair command of the run
REPAIR_ENV = "NNSPECTRA_REPAIR_COMMAND"
GENERIC_REPAIR = REPAIR_HINT
# top-level folders of a results tree that hold no step outputs (logs and benchmark tables)
UNTRACKED = ("logs",)


@dataclass(frozen=True)
class Verdict:
    """Why one cached file cannot be trusted."""

    path: str
    kind: str  # "corrupt" or "missing-sidecar"
    detail: str
    rule: str = ""

    def message(self, repair: str, stopped: str = "nothing was run or deleted") -> str:
        """One line: the file, what is wrong, the rule that made it and the command that rebuilds it."""
        made = f"made by rule {self.rule}" if self.rule else "rule unknown"
        return (f"cached file {self.path} ({made}) {self.detail}, so it must not be used; {stopped}; "
                f"rebuild it and everything made from it with: {repair}")


def check_file(path: str | Path, rule: str = "") -> Verdict | None:
    """None when the sha256 of ``path`` equals the one in its sidecar; else why it cannot be trusted.

    ``rule`` names the producing rule when the sidecar cannot (it is missing or unreadable).
    """
    path = Path(path)
    try:
        record = read_sidecar(path)
    except SidecarError as err:
        kind = "missing-sidecar" if err.kind == "missing" else "corrupt"
        return Verdict(str(path), kind, err.problem + (" to verify it against" if err.kind == "missing" else ""), rule)
    rule = record.step or rule
    recorded = record.sha256
    if recorded is None:
        return Verdict(str(path), "corrupt", f"has a provenance sidecar {sidecar_path(path).name} that records no "
                       "sha256", rule)
    digest = sha256_file(path)
    if digest != recorded:
        return Verdict(str(path), "corrupt", f"is corrupt: sha256 {digest[:12]} differs from {recorded[:12]} "
                       f"recorded when it was made ({path.stat().st_size} bytes now, {record.bytes} then)",
                       rule)
    return None


def _yaml_value(value: Any) -> str:
    """A ``--config`` value as ``nnspectra audit`` reads it back (YAML). Snakemake hands over every value
    it parsed from its own ``--config`` as a string ("30"), so strings go as they are and the config schema
    types them again, as it does for the run."""
    return value if isinstance(value, str) else json.dumps(value)


def _dotted(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            yield from _dotted(f"{prefix}.{key}" if prefix else str(key), sub)
    else:
        yield prefix, value


def repair_command(targets: Sequence[str] = (), configfiles: Sequence[str | Path] = (),
                   overrides: Mapping[str, Any] | None = None, cwd: str | Path | None = None) -> str:
    """The shell command that audits and repairs the DAG of ``targets`` under the run's config options.

    ``configfiles`` are the run's ``--configfile`` files (shown relative to ``cwd`` when inside it) and
    ``overrides`` its ``--config`` mapping (nested mappings are written as dotted keys).
    """
    cwd = Path(cwd or os.getcwd()).resolve()
    parts = ["nnspectra", "audit", "--repair", *[str(t) for t in targets]]
    if configfiles:
        files = []
        for f in configfiles:
            resolved = Path(f).resolve()
            files.append(str(resolved.relative_to(cwd)) if resolved.is_relative_to(cwd) else str(f))
        parts += ["--configfile", *files]
    pairs = [f"{k}={_yaml_value(v)}" for key, value in (overrides or {}).items() for k, v in _dotted(str(key), value)]
    if pairs:
        parts += ["--config", *pairs]
    return " ".join(shlex.quote(p) for p in parts)


def verify_inputs(paths: Iterable[str | Path], repair: str | None = None, require_sidecar: bool = False,
                  rules: Mapping[str, str] | None = None, stopped: str = "the step stopped before reading it") -> int:
    """Check each file against its sidecar; raise :class:`CorruptResultError` (one line) on the first bad one.

    Files without a sidecar are skipped unless ``require_sidecar`` (inputs that are not pipeline results,
    e.g. config or data files, have none). ``rules`` maps a path to the rule that makes it, for files
    whose sidecar cannot say; ``stopped`` says in the message what was (not) done. Returns the bytes hashed.
    """
    repair = repair or os.environ.get(REPAIR_ENV) or GENERIC_REPAIR
    rules = rules or {}
    hashed, bad = 0, []
    for path in paths:
        path = Path(path)
        if not path.is_file() or (not require_sidecar and not sidecar_path(path).is_file()):
            continue
        verdict = check_file(path, rules.get(str(path), ""))
        hashed += path.stat().st_size
        if verdict is not None:
            bad.append(verdict)
    if bad:
        more = f" (and {len(bad) - 1} more: {', '.join(v.path for v in bad[1:4])}{'...' if len(bad) > 4 else ''})" \
            if len(bad) > 1 else ""
        raise CorruptResultError(bad[0].message(repair, stopped) + more)
    return hashed


def _inside(path: str, root: Path, untracked: Sequence[str]) -> bool:
    try:
        rel = Path(path).resolve().relative_to(root)
    except ValueError:
        return False
    return bool(rel.parts) and rel.parts[0] not in untracked and not any(p.startswith(".") for p in rel.parts)


def planned_inputs(dag: Any) -> dict[str, str]:
    """Inputs of the jobs a Snakemake DAG will run that none of those jobs rebuilds, with the producing rule.

    ``dag`` is ``workflow.dag`` (Snakemake 9): ``needrun_jobs()`` and ``dependencies[job]`` (producer job ->
    files it provides) are the only parts used.
    """
    jobs = list(dag.needrun_jobs())
    rebuilt = {str(f) for job in jobs for f in job.output}
    found: dict[str, str] = {}
    for job in jobs:
        producers = {str(f): dep.rule.name for dep, files in dag.dependencies[job].items() for f in files}
        for f in job.input:
            name = str(f)
            if name not in rebuilt and name not in found:
                found[name] = producers.get(name, "")
    return found


def verify_planned_inputs(workflow: Any, results_dir: str | Path) -> str:
    """The ``onstart:`` check: verify every cached input the planned jobs read before any job is prepared.

    Sets :data:`REPAIR_ENV` for the jobs, checks each input under ``results_dir`` (logs excluded) that no
    planned job rebuilds, and raises :class:`CorruptResultError` with one line for a corrupt file or one
    without a sidecar. Returns a short line saying what was verified and how long it took.
    """
    if getattr(workflow, "touch", False):  # --touch runs no step and reads no input: nothing to protect
        return "nnspectra: --touch reads no cached input; nothing verified"
    start = time.perf_counter()
    targets = sorted(str(t) for t in (getattr(workflow.dag_settings, "targets", None) or ()))
    settings = workflow.config_settings
    repair = repair_command(targets, list(getattr(settings, "configfiles", None) or ()),
                            dict(getattr(settings, "config", None) or {}))
    os.environ[REPAIR_ENV] = repair
    root = Path(results_dir).resolve()
    inputs = {p: rule for p, rule in planned_inputs(workflow.dag).items() if _inside(p, root, UNTRACKED)}
    hashed = verify_inputs(sorted(inputs), repair, require_sidecar=True, rules=inputs,
                           stopped="nothing was run or deleted")
    return (f"nnspectra: verified {len(inputs)} cached inputs ({hashed / 1e6:.1f} MB) against their sidecars "
            f"in {time.perf_counter() - start:.2f} s")
