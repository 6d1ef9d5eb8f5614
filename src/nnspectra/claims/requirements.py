"""Sample requirements of a claim (its ``requires``) checked against the evidence its metric records.

SPEC §4 ties several tolerances to how much was measured: "≥ 3 sub-optimal runs out of ≥ 20 seeds"
(claim 32), "n ∈ {10, 30, 50, 70}" (claims 8-9), "all five k" (claims 1-5), "d = 1 000" (claim 24). A
claim states them as data::

    requires: {seeds: 20, suboptimal_runs: 3}          # a number: a minimum (of a count or a list's length)
    requires: {widths: [10, 30, 50, 70]}               # a list: every item must be present

and a metric records what it rests on (``MetricsRecord.add(..., evidence={"widths": [10, 30]})``). The
scorecard reports ``not_run`` with the shortfall (:func:`shortfalls`) instead of a verdict on too little
evidence. ``seeds`` defaults to the number of seeds of the metric when the metric does not record it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe_evidence", "shortfalls"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    return str(value)


def _is_count(key: str) -> bool:
    """``seeds``, ``configurations``, ``steps_per_part`` read as counts ("≥ 20 seeds"); ``d`` as a size ("d ≥ 1000")."""
    return key.endswith("s") or "_per_" in key


def _label(key: str) -> str:
    return key.replace("_", " ")


def shortfalls(requires: Sequence[tuple[str, Any]] | Mapping[str, Any], evidence: Mapping[str, Any]) -> list[str]:
    """One text per unmet requirement, e.g. ``"needs ≥ 20 seeds, this run has 3"``; empty when all are met.

    A number asks for ``evidence[key] >= number`` (a list counts its distinct items); a list asks for
    every listed item to be in ``evidence[key]`` (numbers compared to 1e-9 relative). Evidence that is
    not recorded at all is a shortfall too: a claim never passes on evidence nobody measured.
    """
    items = requires.items() if isinstance(requires, Mapping) else requires
    out: list[str] = []
    for key, need in items:
        have = evidence.get(key)
        if isinstance(need, (list, tuple)):
            wanted = f"needs {_label(key)} {_fmt(list(need))}"
            if have is None:
                out.append(f"{wanted}; the metric records no {_label(key)}")
                continue
            have_items = list(have) if isinstance(have, (list, tuple)) else [have]
            if any(not any(_same(n, h) for h in have_items) for n in need):
                out.append(f"{wanted}, this run has {_fmt(have_items)}")
            continue
        wanted = (f"needs ≥ {_fmt(float(need))} {_label(key)}" if _is_count(key)
                  else f"needs {_label(key)} ≥ {_fmt(float(need))}")
        if have is None:
            out.append(f"{wanted}; the metric records no {_label(key)}")
            continue
        if isinstance(have, (list, tuple)):
            count: float = float(len({str(h) for h in have}))
        elif isinstance(have, (int, float)) and not isinstance(have, bool):
            count = float(have)
        else:
            out.append(f"{wanted}; the metric records {_label(key)} = {have!r}, not a count")
            continue
        if not count >= float(need):
            out.append(f"{wanted}, this run has {_fmt(count)}")
    return out


def describe_evidence(evidence: Mapping[str, Any]) -> str:
    """Short text of the evidence, e.g. ``"seeds 3; widths [10, 30]"`` (keys in recorded order)."""
    return "; ".join(f"{_label(k)} {_fmt(v)}" for k, v in evidence.items())
