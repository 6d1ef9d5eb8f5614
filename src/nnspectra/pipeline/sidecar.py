"""The one reader of provenance sidecars (``X.prov.json``, written by :mod:`nnspectra.pipeline.provenance`).

Every reader (the audit, verify before use, ``nnspectra timings``, the scorecard's metric files, the smoke-budget
harness) goes through :func:`read_sidecar`, which returns a typed :class:`Sidecar` or raises
:class:`SidecarError`: one line naming the file, what is wrong with its sidecar and the command that rebuilds
it. ``tests/test_sidecar_reader.py`` checks that no other module parses a sidecar by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspectra.errors import CorruptResultError
from nnspectra.pipeline.provenance import SIDECAR_SUFFIX, sidecar_path

#: what rebuilds a result whose sidecar is missing or unreadable (and everything made from it)
REPAIR_HINT = "nnspectra audit --repair <targets> with the --configfile/--config options of the run"


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
