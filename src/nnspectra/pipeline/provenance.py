"""Provenance sidecars: what made each cached result, so it can be audited and trusted.

Every result file ``X`` gets ``X.prov.json`` beside it with the step, config subset, seed, a hash of
the source code the step ran (the entry modules and everything they import from ``nnspectra``), the
git commit, package versions, device, timings, sha256 of inputs and output, and the identity of every
dataset the step read (``data``: name, split, number of items, sha256 of the decoded arrays and of each
file). Volatile values (timings, free memory, host) live here, never in the result files, so the same
config and seed give the same result bytes. They are read back only through
:func:`nnspectra.pipeline.sidecar.read_sidecar`.
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
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/nnspectra
SIDECAR_SUFFIX = ".prov.json"
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


def lazy_exports(package: str) -> dict[str, str]:
    """A package's table of names it imports on first use (``LAZY_EXPORTS`` in its ``__init__.py``, PEP 562:
    name -> defining submodule), read without importing it; empty when it has none."""
    path = _module_file(package)
    if path is None or path.name != "__init__.py":
        return {}
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id == "LAZY_EXPORTS" and isinstance(node.value, ast.Dict):
            return {k.value: v.value for k, v in zip(node.value.keys, node.value.values)
                    if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
    return {}


def _imports_of(name: str, path: Path) -> set[str]:
    """Names of nnspectra modules imported by the module ``name`` stored at ``path``. A name taken from a
    package's :func:`lazy_exports` counts as its defining submodule; the package imported whole (``import
    pkg``, ``from parent import pkg``) counts as all of them, since any may then be used."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    whole: set[str] = set()  # modules bound to a name: any of their lazy exports may be used through it
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            whole.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            lazy = lazy_exports(module)
            for alias in node.names:
                if alias.name in lazy:
                    found.add(lazy[alias.name])
                else:
                    whole.add(f"{module}.{alias.name}")
    for module in whole:
        found.add(module)
        found.update(lazy_exports(module).values())
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
