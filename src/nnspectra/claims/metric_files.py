"""Metric files of the results trees, read and checked for the scorecard, with the scale that wrote them.

A metric file ``results/<run>/metrics/<section>.json`` (written through
:class:`nnspectra.experiments.metrics.MetricsRecord`) maps each metric name to
``{"values": [...], "seeds": [...], "unit", "description", "evidence": {...}}``; its provenance sidecar
``<file>.prov.json`` records the config subset of the step, whose ``run_name`` names the preset (scale); a
hand-made file without a sidecar needs the run name given explicitly. Several trees can be merged: for a
section present in several, the first file given wins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspectra.errors import NnspectraError
from nnspectra.pipeline.sidecar import REPAIR_HINT, SidecarError, read_sidecar

__all__ = ["Metric", "MetricsError", "Source", "load_metric_sources", "load_metrics", "metric_scale", "parse_metrics"]


class MetricsError(NnspectraError):
    """A metrics file written by an experiment is malformed (one line naming file and key)."""


@dataclass(frozen=True)
class Metric:
    """Per-seed values of one metric (``values[i]`` belongs to ``seeds[i]``)."""

    values: tuple[float, ...]
    seeds: tuple[Any, ...] = ()
    unit: str = ""
    description: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def evidence_with_seeds(self) -> dict[str, Any]:
        """The recorded evidence, with ``seeds`` = the number of distinct seeds unless it is recorded."""
        out = dict(self.evidence)
        out.setdefault("seeds", len({str(s) for s in self.seeds}) if self.seeds else len(self.values))
        return out


@dataclass(frozen=True)
class Source:
    """Where a section's metrics come from: the file and the scale (run name) that produced it."""

    path: str
    scale: str
    also_in: tuple[str, ...] = ()


def _as_float(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return float(value)
    raise MetricsError(f"{where}: seed value {value!r} is not a number, bool or null")


def parse_metrics(record: Any, source: str) -> dict[str, Metric]:
    """Validate the parsed JSON of one metrics file and return its metrics by name."""
    if not isinstance(record, Mapping):
        raise MetricsError(f"metrics file {source}: must be a JSON object of metrics, not {type(record).__name__}")
    metrics: dict[str, Metric] = {}
    for name, entry in record.items():
        where = f"metrics file {source}, metric '{name}'"
        if not isinstance(entry, Mapping) or "values" not in entry:
            raise MetricsError(f"{where}: must be an object with a 'values' list (one value per seed)")
        values = entry["values"]
        if not isinstance(values, list):
            raise MetricsError(f"{where}: 'values' must be a list (one value per seed), not {type(values).__name__}")
        seeds = entry.get("seeds", [])
        if seeds and len(seeds) != len(values):
            raise MetricsError(f"{where}: {len(values)} values but {len(seeds)} seeds; they must pair up")
        evidence = entry.get("evidence", {}) or {}
        if not isinstance(evidence, Mapping):
            raise MetricsError(f"{where}: 'evidence' must be an object such as {{\"seeds\": 3}}, "
                               f"not {type(evidence).__name__}")
        metrics[str(name)] = Metric(
            values=tuple(_as_float(v, where) for v in values), seeds=tuple(seeds or ()),
            unit=str(entry.get("unit", "") or ""), description=str(entry.get("description", "") or ""),
            evidence={str(k): v for k, v in evidence.items()},
        )
    return metrics


def _read_metrics_file(path: Path) -> dict[str, Metric]:
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise MetricsError(f"metrics file {path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    return parse_metrics(record, str(path))


def metric_scale(path: str | Path, run_name: str | None = None) -> str:
    """The run (preset) that wrote a metrics file: the config ``run_name`` its provenance sidecar records.

    ``run_name`` names the run of a file that has no sidecar (or whose sidecar records none), e.g. a
    hand-made one; without it such a file raises :class:`SidecarError` / :class:`MetricsError` (one line
    naming the file and the fix). An unreadable sidecar always raises.
    """
    fix = f"{REPAIR_HINT}, or name the run of a hand-made file explicitly (nnspectra scorecard --run-name NAME)"
    try:
        recorded = read_sidecar(path, fix=fix).run_name
    except SidecarError as err:
        if err.kind == "missing" and run_name:
            return run_name
        raise
    if recorded or run_name:
        return recorded or str(run_name)
    raise MetricsError(f"metrics file {path}: its provenance sidecar records no run_name, so its scale is unknown; "
                       f"rebuild it with {fix}")


def load_metric_sources(paths: Iterable[str | Path], run_name: str | None = None
                        ) -> tuple[dict[str, dict[str, Metric]], dict[str, Source]]:
    """Metrics and their :class:`Source` by section from metric files, in priority order.

    When two files hold the same section (``results/paper/metrics/blobs.json`` and
    ``results/cpu/metrics/blobs.json``) the first one given is used and the others are listed in
    ``Source.also_in``. Missing files are skipped. Each file's scale is :func:`metric_scale` (``run_name``
    for files without a sidecar).
    """
    sections: dict[str, dict[str, Metric]] = {}
    sources: dict[str, Source] = {}
    for path in map(Path, paths):
        if not path.is_file():
            continue
        section = path.stem
        if section in sources:
            first = sources[section]
            sources[section] = Source(first.path, first.scale, first.also_in + (str(path),))
            continue
        sections[section] = _read_metrics_file(path)
        sources[section] = Source(str(path), metric_scale(path, run_name))
    return sections, sources


def load_metrics(paths: Iterable[str | Path]) -> dict[str, dict[str, Metric]]:
    """Metrics by section from ``results/<run>/metrics/<section>.json`` files (first file of a section wins;
    their scales are not read: :func:`load_metric_sources` gives both)."""
    sections: dict[str, dict[str, Metric]] = {}
    for path in map(Path, paths):
        if path.is_file() and path.stem not in sections:
            sections[path.stem] = _read_metrics_file(path)
    return sections


