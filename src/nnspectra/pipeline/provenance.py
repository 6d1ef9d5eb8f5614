"""Provenance sidecars: what made each cached result, so it can be audited and trusted.

Every result file ``X`` gets ``X.prov.json`` beside it with the step, config subset, seed, a hash of
the source code the step ran (the entry modules and everything they import from ``nnspectra``), the
git commit, package versions, device, timings, sha256 of inputs and output, and the identity of every
dataset the step read (``data``: name, split, number of items, sha256 of the decoded arrays and of each
file). Volatile values (timings, free memory, host) live here, never in the result files, so the same
config and seed give the same result bytes.
"""

from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import json
import platform
import socket
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from nnspectra.errors import CorruptResultError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/nnspectra
SIDECAR_SUFFIX = ".prov.json"
#: what rebuilds a result whose sidecar is missing or unreadable (and everything made from it)
REPAIR_HINT = "nnspectra audit --repair <targets> with the --configfile/--config options of the run"
TRACKED_PACKAGES = ("nnspectra", "torch", "numpy", "scipy", "pandas", "matplotlib", "seaborn", "snakemake")


def sidecar_path(path: str | Path) -> Path:
    """Path of the provenance sidecar of ``path``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _module_file(name: str) -> Path | None:
    """Source file of an ``nnspectra`` module name, without importing it."""
    if name != "nnspectra" and not name.startswith("nnspectra."):
        return None
    if name == "nnspectra":
        candidates = [PACKAGE_DIR / "__init__.py"]
    else:
        rel = Path(*name.split(".")[1:])
        candidates = [PACKAGE_DIR / rel / "__init__.py", PACKAGE_DIR / rel.with_suffix(".py")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def _imports_of(name: str, path: Path) -> set[str]:
    """Names of nnspectra modules imported by the module ``name`` stored at ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if _module_file(m) is not None}


def module_closure(entry_modules: Iterable[str]) -> list[str]:
    """All nnspectra modules reachable by imports from ``entry_modules`` (sorted)."""
    seen: set[str] = set()
    stack = list(entry_modules)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise ValueError(f"'{name}' is not a module of the nnspectra package")
        seen.add(name)
        # parent packages run their __init__ on import
        parent = name.rpartition(".")[0]
        if parent and parent not in seen:
            stack.append(parent)
        stack.extend(_imports_of(name, path) - seen)
    return sorted(seen)


def _script_file(entry: str) -> Path:
    """A workflow script named by its path relative to the checkout (``workflow/scripts/x.py``)."""
    for root in (Path.cwd(), PACKAGE_DIR.parents[1]):
        if (root / entry).is_file():
            return root / entry
    raise ValueError(f"script '{entry}' not found in {Path.cwd()} or {PACKAGE_DIR.parents[1]}")


def code_version(*entries: str) -> dict[str, Any]:
    """Content hash of the source a pipeline step runs, for Snakemake ``params:`` and sidecars.

    An entry is a workflow script (``workflow/scripts/x.py``: the script itself and every nnspectra module
    it imports, found from its own import statements, so no list is written by hand) or an nnspectra module
    name. Putting the result in a rule's ``params`` makes an edit to any of that code rerun the rule. A
    script's own imports of the pipeline's bookkeeping (:mod:`nnspectra.pipeline`: the step wrapper, file
    I/O, provenance) are not hashed: they decide where and how results are recorded, not their numbers,
    and the git commit in every sidecar versions them.
    """
    scripts = sorted(e for e in entries if e.endswith(".py"))
    modules_in = [e for e in entries if not e.endswith(".py")]
    digest = hashlib.sha256()
    for entry in scripts:
        path = _script_file(entry)
        modules_in.extend(m for m in _imports_of("__script__", path)
                          if m != "nnspectra.pipeline" and not m.startswith("nnspectra.pipeline."))
        digest.update(entry.encode())
        digest.update(path.read_bytes())
    modules = module_closure(modules_in)
    for name in modules:
        path = _module_file(name)
        assert path is not None
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return {"hash": digest.hexdigest()[:16], "entry": sorted(entries), "modules": modules}


@lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """Commit and dirtiness of the checkout holding the package, if it is a git checkout."""
    root = PACKAGE_DIR.parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "src", "workflow", "Snakefile"],
                                    cwd=root, capture_output=True, text=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that shape the numbers."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def build_record(
    *,
    step: str,
    output: str | Path,
    inputs: Mapping[str, str | Path] | None = None,
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
    code: Mapping[str, Any] | None = None,
    device: str | None = None,
    threads: int | None = None,
    wall_time_s: float | None = None,
    cpu_time_s: float | None = None,
    extra: Mapping[str, Any] | None = None,
    data: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Provenance record of one output file (see module docstring for the fields); ``data``: the identity of
    each dataset the step read (:func:`nnspectra.data.vision_files.datasets_read`)."""
    output = Path(output)
    return {
        "file": output.name,
        "sha256": sha256_file(output),
        "bytes": output.stat().st_size,
        "step": step,
        "seed": seed,
        "params": _jsonable(params or {}),
        "inputs": {key: {"path": str(p), "sha256": sha256_file(p)} for key, p in (inputs or {}).items()
                   if Path(p).is_file()},
        "code": _jsonable(code or {}),
        "git": git_state(),
        "versions": package_versions(),
        "device": device,
        "threads": threads,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": wall_time_s,
        "cpu_time_s": cpu_time_s,
        "extra": _jsonable(extra or {}),
        "data": _jsonable(list(data or [])),
    }


def write_sidecar(record: Mapping[str, Any], output: str | Path) -> Path:
    """Write ``record`` next to ``output`` atomically and return the sidecar path."""
    from nnspectra.pipeline.io import write_bytes_atomic

    target = sidecar_path(output)
    write_bytes_atomic(target, json.dumps(record, indent=2, sort_keys=True).encode())
    return target


def output_of(sidecar: str | Path) -> Path:
    """The result file a sidecar describes (``X.prov.json`` -> ``X``)."""
    sidecar = Path(sidecar)
    if not sidecar.name.endswith(SIDECAR_SUFFIX):
        raise ValueError(f"{sidecar} is not a provenance sidecar (no {SIDECAR_SUFFIX} suffix)")
    return sidecar.with_name(sidecar.name[: -len(SIDECAR_SUFFIX)])


class SidecarError(CorruptResultError):
    """The provenance sidecar of a result is missing (``kind`` "missing") or unreadable ("corrupt").

    ``str(err)`` is the one line every reader shows: the result, the sidecar, why that matters and the fix;
    ``detail`` is the same line without the result's path, for tables whose row already names the file.
    """

    def __init__(self, output: str | Path, kind: str, reason: str = "", fix: str = REPAIR_HINT) -> None:
        self.output, self.kind, self.fix = Path(output), kind, fix
        name = sidecar_path(output).name
        self.problem = (f"has no provenance sidecar {name}" if kind == "missing"
                        else f"has an unreadable provenance sidecar {name} ({reason})")
        self.detail = f"{self.problem}, so nobody can say which config, seed or code made it; rebuild it with: {fix}"
        super().__init__(f"{self.output} {self.detail}")


def recorded_config(params: Mapping[str, Any]) -> dict[str, Any]:
    """The config entries a step recorded: every ``params.cfg*`` mapping, keyed by dotted path."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name.startswith("cfg") and isinstance(value, Mapping):
            out.update({str(k): v for k, v in value.items()})
    return out


def _mapping(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f"'{key}' is a {type(value).__name__}, not an object")
    return dict(value or {})


@dataclass(frozen=True)
class Sidecar:
    """The provenance record of one result file, as :func:`build_record` wrote it (typed view).

    Fields a step did not record are empty (``""``, ``None``, ``{}``); ``record`` is the whole parsed JSON.
    """

    output: Path
    record: dict[str, Any] = field(repr=False)
    step: str = ""
    sha256: str | None = None
    bytes: int | None = None
    seed: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    code: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    host: str = ""
    created: str = ""
    wall_time_s: float | None = None
    cpu_time_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    data: list[Any] = field(default_factory=list)

    @property
    def config(self) -> dict[str, Any]:
        """The config entries the step used (:func:`recorded_config` of ``params``), by dotted path."""
        return recorded_config(self.params)

    @property
    def run_name(self) -> str | None:
        """The config ``run_name`` (the preset: paper, cpu, smoke ...) the step recorded, if it did."""
        name = self.config.get("run_name")
        return str(name) if name not in (None, "") else None


def read_sidecar(output: str | Path, fix: str = REPAIR_HINT) -> Sidecar:
    """The provenance record of the result ``output`` (the one reader of ``*.prov.json`` files).

    Raises :class:`SidecarError` (one line naming the file and ``fix``) when the sidecar is missing, is not
    a JSON object, or holds a field of the wrong type (``sha256`` not a string, ``params`` not an object ...).
    """
    path = sidecar_path(output)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SidecarError(output, "missing", fix=fix) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SidecarError(output, "corrupt", f"{type(err).__name__}: {err}", fix) from None
    try:
        record = json.loads(text)
        if not isinstance(record, dict):
            raise TypeError(f"a JSON {type(record).__name__}, not an object")
        sha = record.get("sha256")
        if sha is not None and not isinstance(sha, str):
            raise TypeError("'sha256' is not a string")
        data = record.get("data") or []
        if not isinstance(data, list):
            raise TypeError("'data' is not a list")

        def text_of(key: str) -> str:
            return str(record.get(key) or "")

        def number(key: str) -> float | None:
            value = record.get(key)
            return None if value is None else float(value)

        return Sidecar(
            output=Path(output), record=record, step=text_of("step"), sha256=sha, bytes=record.get("bytes"),
            seed=record.get("seed"), params=_mapping(record, "params"), inputs=_mapping(record, "inputs"),
            code=_mapping(record, "code"), git=_mapping(record, "git"), device=text_of("device"),
            host=text_of("host"), created=text_of("created"), wall_time_s=number("wall_time_s"),
            cpu_time_s=number("cpu_time_s"), extra=_mapping(record, "extra"), data=list(data))
    except json.JSONDecodeError as err:
        raise SidecarError(output, "corrupt", f"not valid JSON: {err.msg} at line {err.lineno}", fix) from None
    except (ValueError, TypeError) as err:
        raise SidecarError(output, "corrupt", str(err), fix) from None
