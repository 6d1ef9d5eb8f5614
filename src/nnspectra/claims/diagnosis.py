"""A failing claim's diagnosis, computed from the row's own evidence.

A claim file's ``diagnosis`` is a template: numbers come from the metrics the row was evaluated on, never
typed for one run, so a diagnosis cannot quote another run's values. Placeholders::

    {values} {median} {min} {max} {range} {n_seeds} {check}   # the claim's own metric
    {<section>.<metric>}                                      # another metric's per-seed values
    {<section>.<metric>:median}  (also :min, :max, :range, :values)
    {evidence.<key>}                                          # the own metric's recorded evidence

A reference to a metric the run did not write reads "(not measured)". A diagnosis that must quote numbers
no metric records names the run it was written for (``diagnosis_run``) and is shown only on that run's
rows; elsewhere, and where the diagnosis says only "undecided", the row gets :func:`computed_diagnosis`.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from nnspectra.claims.metric_files import Metric
from nnspectra.claims.schema import Claim

__all__ = ["computed_diagnosis", "fill_placeholders", "render_diagnosis", "run_of_scale"]

NOT_MEASURED = "(not measured)"
_AGGREGATES = ("values", "median", "min", "max", "range")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_.\-]+)?)(?::([a-z]+))?\}")


def _num(x: float) -> str:
    """Three significant digits; inf stays inf (a claim's "never reached"), NaN is nan."""
    return f"{x:.3g}"


def _aggregate(values: Sequence[float], how: str) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if how == "values":
        return ", ".join(_num(v) for v in values) if values else NOT_MEASURED
    if not finite:
        return NOT_MEASURED
    if how == "median":
        return _num(float(statistics.median(finite)))
    if how == "min":
        return _num(min(finite))
    if how == "max":
        return _num(max(finite))
    lo, hi = min(finite), max(finite)
    return _num(lo) if _num(lo) == _num(hi) else f"{_num(lo)} to {_num(hi)}"


def _fmt_evidence(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt_evidence(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fill_placeholders(text: str, claim: Claim, metric: Metric | None,
                      metrics: Mapping[str, Mapping[str, Metric]]) -> str:
    """``text`` with every placeholder (module docstring) replaced by the row's measured numbers."""
    own = list(metric.values) if metric is not None else []

    def replace(match: re.Match[str]) -> str:
        name, how = match.group(1), match.group(2) or ""
        if "." not in name:
            if name in _AGGREGATES and not how:
                return _aggregate(own, name)
            if name == "n_seeds":
                return str(len(own))
            if name == "check":
                return claim.check.describe()
            return match.group(0)
        head, rest = name.split(".", 1)
        if head == "evidence":
            value = metric.evidence_with_seeds().get(rest) if metric is not None else None
            return NOT_MEASURED if value is None else _fmt_evidence(value)
        other = metrics.get(head, {}).get(rest)
        if how and how not in _AGGREGATES:
            return match.group(0)
        return NOT_MEASURED if other is None else _aggregate(list(other.values), how or "values")

    return _PLACEHOLDER.sub(replace, text)


def computed_diagnosis(claim: Claim, metric: Metric | None, n_pass: int) -> str:
    """What the row's own numbers say when no written diagnosis applies: per-seed values against the check."""
    if metric is None or not metric.values:
        return "undecided: no measured value"
    values = list(metric.values)
    unit = f" {metric.unit}" if metric.unit else ""
    return (f"undecided: measured {_aggregate(values, 'values')}{unit} over {len(values)} seed(s) "
            f"(median {_aggregate(values, 'median')}); {n_pass}/{len(values)} meet {claim.check.describe()}, "
            f"{claim.seed_fraction:.0%} needed")


def run_of_scale(scale: str) -> str:
    """The run name of a row's scale (its first word)."""
    return scale.split(" ", 1)[0] if scale else ""


def render_diagnosis(claim: Claim, metric: Metric | None, metrics: Mapping[str, Mapping[str, Metric]],
                     scale: str, n_pass: int) -> str:
    """The diagnosis a failing row shows: the claim's template filled from this row's metrics, or, when the
    template was written for another run or says only "undecided", :func:`computed_diagnosis`."""
    written = claim.diagnosis.strip()
    if claim.diagnosis_run and run_of_scale(scale) != claim.diagnosis_run:
        return (computed_diagnosis(claim, metric, n_pass)
                + f" (the claim file's diagnosis was written for the {claim.diagnosis_run} run)")
    if not written or written.rstrip(".").lower() == "undecided":
        return computed_diagnosis(claim, metric, n_pass)
    return fill_placeholders(written, claim, metric, metrics)
