"""Audit the cached intermediates under ``results/`` against their provenance sidecars.

For every result file ``X`` (everything under ``results/`` except ``logs/``, resume checkpoints ``*.ckpt``,
``README.md`` and the Snakemake report) the audit reads ``X.prov.json`` (see
:mod:`nnspectra.pipeline.provenance`) and reports one status (docs/auditing.md has the full table):

``corrupt``          the file's sha256 differs from the one recorded (or the sidecar is unreadable)
``incomplete``       Snakemake marked it as being written (``.snakemake/incomplete/``) and was killed
``missing``          the DAG of the audited targets should hold it but it is absent (when ``expected`` is given)
``missing-sidecar``  no sidecar: nobody can say which config, seed or code made it
``orphan-sidecar``   a sidecar whose file is gone
``leftover``         a temporary of an atomic write whose writer is gone (a kill or a full disk)
``stale-config``     a config value the step used (``params.cfg*``, by dotted path) differs from the current one
``stale-code``       the content hash of the step's code differs from the current source
``stale-data``       a dataset file the step read (its sidecar's ``data`` records) changed or is gone since
``stale-input``      an input recorded in the sidecar changed or, inside the results tree, is gone; or an input
                     is itself not ``ok`` (at any depth upstream: statuses follow the DAG of the sidecars)
``ok``               none of the above

When several apply, the status is the most serious (order above) and ``problems`` lists them all.
Anything but ``ok`` makes :attr:`AuditReport.fresh` false and the CLI exit 1; :attr:`AuditReport.ok` (no
corrupt, incomplete, missing or leftover file) tells whether the tree may be used as it is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nnspectra.pipeline.audit_sources import (
    CodeHashes, Hasher, data_changes, leftover_temporary, propagate, snakemake_incomplete)
from nnspectra.pipeline.config import SEED_LISTS
from nnspectra.pipeline.provenance import SIDECAR_SUFFIX
from nnspectra.pipeline.sidecar import SidecarError, output_of, read_sidecar

STATUSES = ("corrupt", "incomplete", "missing", "missing-sidecar", "orphan-sidecar", "leftover", "stale-config",
            "stale-code", "stale-data", "stale-input", "ok")
FATAL = frozenset({"corrupt", "incomplete", "missing", "missing-sidecar", "orphan-sidecar", "leftover"})
STALE = frozenset({"stale-config", "stale-code", "stale-data", "stale-input"})
# top-level entries of results/ that no pipeline step writes (so they carry no sidecar)
DEFAULT_EXCLUDES = ("logs", "README.md", "report.html", "report.zip")
_MISSING = object()


@dataclass
class AuditEntry:
    """Audit verdict for one file (or orphan sidecar) under the results directory."""

    file: str
    status: str = "ok"
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    step: str = ""
    seed: int | None = None
    code_hash: str = ""
    config_keys: list[str] = field(default_factory=list)
    config_hash: str = ""
    created: str = ""
    host: str = ""
    device: str = ""
    commit: str = ""
    inputs: list[str] = field(default_factory=list)
    detail_kinds: list[str] = field(default_factory=list)  # the problem of each detail

    def flag(self, problem: str, detail: str) -> None:
        """Record a problem; the status becomes the most serious one seen so far."""
        if problem not in self.problems:
            self.problems.append(problem)
        self.details.append(detail)
        self.detail_kinds.append(problem)
        self.status = min(self.problems, key=STATUSES.index)

    def headline(self) -> str:
        """The first detail of the entry's status (the one-line view of the audit)."""
        return next((d for d, k in zip(self.details, self.detail_kinds) if k == self.status),
                    self.details[0] if self.details else "")


@dataclass
class AuditReport:
    """All audit entries of one results directory."""

    results_dir: Path
    entries: list[AuditEntry]
    config_checked: bool = False
    expected_checked: bool = False

    def counts(self) -> dict[str, int]:
        """Number of entries per status (every status listed, zeros included)."""
        return {s: sum(e.status == s for e in self.entries) for s in STATUSES}

    @property
    def ok(self) -> bool:
        """True when nothing is corrupt or missing (stale files are allowed)."""
        return not any(e.status in FATAL for e in self.entries)

    @property
    def fresh(self) -> bool:
        """True when every entry is ``ok`` (nothing corrupt, missing or stale)."""
        return all(e.status == "ok" for e in self.entries)

    def by_status(self, status: str) -> list[AuditEntry]:
        """Entries whose (primary) status is ``status``."""
        return [e for e in self.entries if e.status == status]

    def frame(self) -> pd.DataFrame:
        """One row per file: file, step, seed, code hash, config, created, host/device, status, detail."""
        rows = [{
            "file": e.file, "step": e.step, "seed": "" if e.seed is None else e.seed, "code": e.code_hash,
            "config": (f"{e.config_hash} ({', '.join(e.config_keys)})" if e.config_keys else ""),
            "created": e.created, "where": " / ".join(x for x in (e.host, e.device) if x), "status": e.status,
            "detail": "; ".join(e.details),
        } for e in self.entries]
        return pd.DataFrame(rows, columns=["file", "step", "seed", "code", "config", "created", "where", "status",
                                           "detail"])

    def summary(self) -> str:
        """One line: counts per status and the verdict."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        verdict = "OK" if self.fresh else ("STALE (rebuild: nnspectra audit --repair)" if self.ok else
                                           "FAIL (corrupt, incomplete, missing or leftover files)")
        checked = "" if self.config_checked else " [config not checked]"
        checked += "" if self.expected_checked else " [expected files not checked]"
        return f"audit of {self.results_dir}: {len(self.entries)} entries: {counts or 'nothing cached'}; {verdict}{checked}"

    def to_text(self, only_problems: bool = False, verbose: bool = False, width: int | None = None) -> str:
        """Problems first, then the summary line. By default one line per file that fits the terminal
        (file, status, the first problem cut to the width); ``verbose``: the full table (step, seed, code,
        config, created, where, every problem)."""
        frame = self.frame()
        if only_problems:
            frame = frame[frame["status"] != "ok"]
        frame = frame.assign(_order=frame["status"].map(STATUSES.index)).sort_values(["_order", "file"]).drop(
            columns="_order")
        if verbose:
            table = frame.to_markdown(index=False, tablefmt="simple") if len(frame) else "(no entries)"
            return f"{table}\n\n{self.summary()}\n"
        width = width or shutil.get_terminal_size((120, 24)).columns
        details = {e.file: e.headline() for e in self.entries}
        lines = []
        name_w = min(max((len(f) for f in frame["file"]), default=4), max(20, width // 2))
        status_w = max((len(s) for s in frame["status"]), default=6)
        for file, status in zip(frame["file"], frame["status"]):
            line = f"{file:<{name_w}}  {status:<{status_w}}  {details[file]}".rstrip()
            lines.append(line if len(line) <= width else line[: max(width - 1, name_w + status_w + 4)] + "…")
        body = "\n".join(lines) if lines else "(no entries)"
        hint = "" if self.fresh or not lines else "\n(details: nnspectra audit --verbose)"
        return f"{body}{hint}\n\n{self.summary()}\n"

    def to_json(self) -> dict[str, Any]:
        """Machine-readable report (``nnspectra audit --json``)."""
        return {"results_dir": str(self.results_dir), "ok": self.ok, "config_checked": self.config_checked,
                "expected_checked": self.expected_checked, "counts": self.counts(),
                "entries": [asdict(e) for e in self.entries]}


def _canonical(value: Any) -> Any:
    """JSON round trip, so recorded and current values compare alike (tuples -> lists, numpy -> python)."""
    return json.loads(json.dumps(value, sort_keys=True, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _lookup(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _first_difference(old: Any, new: Any, path: str) -> str:
    """``path: old -> new`` for the first leaf where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                return _first_difference(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{path}.{key}")
    return f"{path}: {old!r} -> {new!r}"


def config_differences(recorded: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Where the recorded config entries differ from ``config`` (empty when all match). A section recorded
    without its seed list (a job of one seed: :data:`~nnspectra.pipeline.config.SEED_LISTS`) is compared
    without it."""
    diffs = []
    for dotted, old in sorted(recorded.items()):
        new = _lookup(config, dotted)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            new = {key: value for key, value in new.items() if key in old or key not in SEED_LISTS}
        if new is _MISSING:
            diffs.append(f"{dotted}: no longer in the config")
        elif _canonical(old) != _canonical(new):
            diffs.append(_first_difference(_canonical(old), _canonical(new), dotted))
    return diffs


def _is_excluded(rel: Path, excludes: Iterable[str]) -> bool:
    if any(part.startswith(".") for part in rel.parts):
        return True  # hidden files (atomic-write temporaries are found by leftover_temporary first)
    if rel.suffix == ".ckpt":
        return True  # resume state of an interrupted training step (it resumes from it or removes it)
    return rel.parts[0] in set(excludes)


def _audit_file(path: Path, rel: str, workdir: Path, config: Mapping[str, Any] | None, hasher: Hasher,
                code_hashes: CodeHashes, results_dir: Path, data_root: Path | None = None) -> AuditEntry:
    entry = AuditEntry(file=rel)
    try:
        record = read_sidecar(path)
    except SidecarError as err:
        entry.flag("missing-sidecar" if err.kind == "missing" else "corrupt", err.detail)
        return entry
    cfg = record.config
    code = record.code
    entry.step = record.step
    entry.seed = record.seed
    entry.code_hash = str(code.get("hash", ""))
    entry.config_keys = sorted(cfg)
    entry.config_hash = hashlib.sha256(json.dumps(_canonical(cfg), sort_keys=True).encode()).hexdigest()[:8] if cfg else ""
    entry.created = record.created
    entry.host = record.host
    entry.device = record.device
    if record.git.get("commit"):
        entry.commit = str(record.git["commit"])[:12] + ("+dirty" if record.git.get("dirty") else "")

    digest = hasher(path)
    if digest != record.sha256:
        entry.flag("corrupt", f"sha256 {digest[:12]} differs from recorded {str(record.sha256)[:12]} "
                              f"({path.stat().st_size} bytes now, {record.bytes} recorded)")
    if config is not None:
        for diff in config_differences(cfg, config):
            entry.flag("stale-config", f"config changed: {diff}")
    if not code.get("entry"):
        entry.flag("stale-code", "no code version recorded; cannot tell which code made it")
    else:
        current = code_hashes(code["entry"])
        if current is None:
            entry.flag("stale-code", f"entry modules {code['entry']} no longer importable")
        elif current != code.get("hash"):
            entry.flag("stale-code", f"code of {', '.join(code['entry'])} changed: hash {code.get('hash')} -> {current}")
    for item in record.data:
        for detail in data_changes(item, data_root, hasher):
            entry.flag("stale-data", detail)
    for name, info in record.inputs.items():
        if not isinstance(info, Mapping) or "path" not in info:
            continue
        source = Path(info["path"])
        source = source if source.is_absolute() else workdir / source
        resolved, root = source.resolve(), workdir.resolve()
        entry.inputs.append(str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved))
        if source.is_file() and hasher(source) != info.get("sha256"):
            entry.flag("stale-input", f"input '{name}' ({info['path']}) changed since this file was made")
        elif not source.exists() and source.resolve().is_relative_to(results_dir.resolve()):
            entry.flag("stale-input", f"input '{name}' ({info['path']}) is gone")
    return entry


def audit(results_dir: str | Path = "results", config: Mapping[str, Any] | None = None,
          excludes: Iterable[str] = DEFAULT_EXCLUDES, workdir: str | Path | None = None,
          expected: Mapping[str, str] | None = None, data_root: str | Path | None = None) -> AuditReport:
    """Audit every cached file under ``results_dir`` (see module docstring for the statuses).

    ``config`` is the validated current config (``None`` skips the stale-config check). ``expected`` maps
    each file the workflow should have made (relative to ``workdir``, as Snakemake names them; from
    :func:`nnspectra.pipeline.repair.expected_outputs`) to its rule; those under ``results_dir`` that are
    absent become ``missing`` entries (``None`` skips the check). Relative
    input paths in the sidecars are resolved against ``workdir``, the Snakemake working directory (default:
    the folder holding ``results/``: ``results/<run_name>`` lies two levels below it, a bare ``results`` one).
    Files are reported relative to it (``results/<run_name>/...``). ``data_root``: where the datasets are now
    (config ``data_dir`` / ``NNSPECTRA_DATA``); the data files a step read are checked there (else where
    they were read). Outputs Snakemake left incomplete (``.snakemake/incomplete`` of ``workdir``) and
    temporaries of killed writers are listed; statuses then follow the DAG of the sidecars' inputs.
    """
    results_dir = Path(results_dir)
    if workdir is None:
        resolved = results_dir.resolve()
        workdir = resolved.parents[1] if resolved.parent.name == "results" else resolved.parent
    workdir = Path(workdir)
    prefix = Path(results_dir.resolve().relative_to(workdir.resolve()))
    excludes = tuple(excludes)
    hasher, code_hashes = Hasher(), CodeHashes()
    entries: list[AuditEntry] = []
    paths = sorted(p for p in results_dir.rglob("*") if p.is_file()) if results_dir.is_dir() else []
    for path in paths:
        rel_path = path.relative_to(results_dir)
        if leftover_temporary(rel_path) and rel_path.parts[0] not in set(excludes):
            entry = AuditEntry(file=str(prefix / rel_path))
            entry.flag("leftover", f"temporary file of a killed writer or a full disk ({path.stat().st_size:,} "
                                   f"bytes); the repair deletes it")
            entries.append(entry)
            continue
        if _is_excluded(rel_path, excludes):
            continue
        if path.name.endswith(SIDECAR_SUFFIX):
            data = output_of(path)
            if not data.exists():
                orphan = AuditEntry(file=str(prefix / data.relative_to(results_dir)))
                try:
                    record = read_sidecar(data)
                    orphan.step, orphan.seed, orphan.created, orphan.host = (record.step, record.seed, record.created,
                                                                             record.host)
                except SidecarError:
                    pass  # flagged as an orphan below either way; the repair moves it aside
                orphan.flag("orphan-sidecar", f"{path.name} has no file: it was deleted or never finished")
                entries.append(orphan)
            continue
        entries.append(_audit_file(path, str(prefix / rel_path), workdir, config, hasher, code_hashes, results_dir,
                                   Path(data_root) if data_root is not None else None))
    by_file = {e.file: e for e in entries}
    for name in snakemake_incomplete(workdir):
        target = workdir / name
        if not target.resolve().is_relative_to(results_dir.resolve()):
            continue
        rel = str(prefix / target.resolve().relative_to(results_dir.resolve()))
        entry = by_file.get(rel) or AuditEntry(file=rel)
        entry.flag("incomplete", "Snakemake was stopped while making it (.snakemake/incomplete); the repair "
                                 "rebuilds it")
        if rel not in by_file:
            entries.append(entry)
            by_file[rel] = entry
    for name, rule in sorted((expected or {}).items()):
        target = Path(name) if Path(name).is_absolute() else workdir / name
        if target.exists() or not target.resolve().is_relative_to(results_dir.resolve()):
            continue
        rel = str(prefix / target.resolve().relative_to(results_dir.resolve()))
        entry = by_file.get(rel) or AuditEntry(file=rel, step=rule)
        entry.flag("missing", f"absent, but rule {rule} makes it for the audited targets")
        if rel not in by_file:
            entries.append(entry)
    propagate(entries)
    entries.sort(key=lambda e: e.file)
    return AuditReport(results_dir, entries, config_checked=config is not None, expected_checked=expected is not None)
