"""What the audit reads besides the sidecars (:mod:`nnspectra.pipeline.audit`): file hashes (each file once),
current code hashes, temporaries of killed writers, Snakemake's incomplete markers, the data files a step
read, and the DAG of the sidecars' inputs along which statuses propagate."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from nnspectra.pipeline.provenance import code_version, sha256_file

#: temporaries of the atomic writers (pipeline.io, provenance.write_sidecar, training checkpoints), with the pid
TEMPORARY = re.compile(r"^\.?(?P<name>.+)\.tmp(?P<pid>\d*)(?:\.[A-Za-z0-9]+)?$")


class Flaggable(Protocol):
    """An audit entry: its file, status, inputs and problems (:class:`nnspectra.pipeline.audit.AuditEntry`)."""

    file: str
    status: str
    inputs: list[str]
    details: list[str]

    def flag(self, problem: str, detail: str) -> None: ...


class Hasher:
    """sha256 of each file at most once (big arrays are read once even if many sidecars list them)."""

    def __init__(self) -> None:
        self._cache: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        key = path.resolve()
        if key not in self._cache:
            self._cache[key] = sha256_file(key)
        return self._cache[key]


class CodeHashes:
    """Current code hash per tuple of entry modules (cached)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], str | None] = {}

    def __call__(self, entry: Iterable[str]) -> str | None:
        key = tuple(sorted(entry))
        if key not in self._cache:
            try:
                self._cache[key] = code_version(*key)["hash"]
            except (ValueError, OSError, SyntaxError):
                self._cache[key] = None
        return self._cache[key]


def _pid_alive(pid: str) -> bool:
    """Whether process ``pid`` runs (an empty pid: unknown, taken as gone)."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def leftover_temporary(rel: Path) -> bool:
    """Whether ``rel`` is a temporary of an atomic write whose writer is gone (see :data:`TEMPORARY`)."""
    match = TEMPORARY.match(rel.name)
    return match is not None and not _pid_alive(match.group("pid"))


def data_changes(item: Any, data_root: Path | None, hasher: Hasher) -> list[str]:
    """How the dataset a step read (one ``data`` record of its sidecar) differs from the files now: each
    file is looked up under the current data root (``data_root``), else where it was read."""
    if not isinstance(item, Mapping) or not isinstance(item.get("files"), Mapping):
        return []
    name = f"{item.get('dataset', '?')} {item.get('split', '?')} ({item.get('n_items', '?')} items when read)"
    out = []
    for rel, digest in sorted(item["files"].items()):
        roots = [r for r in (data_root, Path(str(item.get("root", "")))) if r is not None and str(r)]
        found = next((r / rel for r in roots if (r / rel).is_file()), None)
        if found is None:
            out.append(f"{name}: data file {rel} is gone from {' and '.join(str(r) for r in roots)}")
        elif hasher(found) != digest:
            out.append(f"{name}: data file {found} changed since this file was made (truncated, relabelled or "
                       f"replaced: sha256 {hasher(found)[:12]}, was {str(digest)[:12]})")
    return out


def snakemake_incomplete(workdir: str | Path) -> list[str]:
    """Outputs Snakemake marked as being written (``.snakemake/incomplete/``, file names base64-encoded) and
    never finished: left by a killed Snakemake, which refuses to go on until they are rebuilt."""
    root = Path(workdir) / ".snakemake" / "incomplete"
    found = []
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if not path.is_file() or path.name == "migration_underway":
            continue
        encoded = "".join(part.removeprefix("@") for part in path.relative_to(root).parts)
        try:
            found.append(os.path.normpath(base64.urlsafe_b64decode(encoded).decode()))
        except (ValueError, UnicodeDecodeError):
            continue
    return found


def propagate(entries: Iterable[Flaggable]) -> None:
    """Follow the DAG of the sidecars' inputs: a file built from one that is not ``ok`` (corrupt, stale, ...,
    at any depth upstream) is ``stale-input`` itself, naming the input and its status."""
    entries = list(entries)
    by_file = {os.path.normpath(e.file): e for e in entries}
    changed = True
    while changed:
        changed = False
        for entry in entries:
            for name in entry.inputs:
                source = by_file.get(name)
                if source is None or source.status == "ok" or source is entry:
                    continue
                detail = f"built from {name}, which is {source.status}"
                if detail not in entry.details:
                    entry.flag("stale-input", detail)
                    changed = True
