"""The one metrics record every experiment writes for the scorecard: ``results/<run>/metrics/<section>.json``.

Format (read by :mod:`nnspectra.scorecard`)::

    {"<metric>": {"values": [one per seed], "seeds": [...], "unit": "...", "description": "...",
                  "evidence": {"seeds": 3, "widths": [10, 30], ...}}}

``evidence`` (optional) says what the value rests on: how many seeds, which widths, configurations, steps
... The scorecard checks it against a claim's ``requires`` (:mod:`nnspectra.claims.requirements`) and
reports ``not_run`` when a run falls short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _plain(value: Any) -> Any:
    """JSON-ready evidence value: numpy scalars to Python, tuples and arrays to lists."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


class MetricsRecord:
    """Per-seed values of named metrics, with their unit and a description of how they are measured."""

    def __init__(self) -> None:
        self._metrics: dict[str, dict[str, Any]] = {}

    def add(self, name: str, values: Sequence[float], seeds: Sequence[int], unit: str, description: str,
            evidence: Mapping[str, Any] | None = None) -> None:
        """Set metric ``name`` to one value per seed (``values[i]`` belongs to ``seeds[i]``).

        ``evidence``: what the value rests on, e.g. ``{"seeds": 20, "widths": [10, 30]}`` (numbers, strings
        or lists of them); the scorecard compares it with the claim's ``requires``.
        """
        if len(values) != len(seeds):
            raise ValueError(f"metric {name}: {len(values)} values for {len(seeds)} seeds")
        entry: dict[str, Any] = {"values": [float(v) for v in values], "seeds": [int(s) for s in seeds],
                                 "unit": unit, "description": description}
        if evidence:
            entry["evidence"] = {str(k): _plain(v) for k, v in evidence.items()}
        self._metrics[name] = entry

    def add_per_seed(self, prefix: str, by_seed: Mapping[int, Mapping[str, float]],
                     info: Mapping[str, tuple[str, str]], evidence: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> None:
        """Add every key of the per-seed dicts ``{seed: {key: value}}`` as metric ``<prefix>_<key>``.

        ``info`` maps a full metric name to its (unit, description); keys not in it are kept as details.
        ``evidence`` maps a full metric name to its evidence dict (see :meth:`add`).
        """
        keys: list[str] = []
        for values in by_seed.values():
            keys += [k for k in values if k not in keys]
        for key in keys:
            seeds = [s for s in sorted(by_seed) if key in by_seed[s]]
            name = f"{prefix}_{key}"
            unit, description = info.get(name, ("", "detail (not read by a claim)"))
            self.add(name, [by_seed[s][key] for s in seeds], seeds, unit, description,
                     (evidence or {}).get(name))

    def add_evidence(self, common: Mapping[str, Any] | None) -> None:
        """Record ``common`` evidence (e.g. the run's sizes, steps, architecture) on every metric; a key a
        metric already records keeps the metric's own value."""
        if not common:
            return
        for entry in self._metrics.values():
            entry["evidence"] = {**{str(k): _plain(v) for k, v in common.items()}, **entry.get("evidence", {})}

    def names(self) -> Iterable[str]:
        return self._metrics.keys()

    def as_dict(self, sort: bool = False) -> dict[str, dict[str, Any]]:
        """The JSON-ready record (optionally sorted by name)."""
        return dict(sorted(self._metrics.items())) if sort else dict(self._metrics)
