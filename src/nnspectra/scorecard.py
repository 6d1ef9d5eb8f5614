"""Replication scorecard: every claim of ``SPEC.md`` §4 evaluated against the measured metrics.

Inputs are the claim files (:mod:`nnspectra.claims`) and the metric files
``results/metrics/<section>.json`` that the experiments write::

    {"<metric>": {"values": [one per seed], "seeds": [...], "unit": "...", "description": "..."}}

Per claim (SPEC §4 tolerance conventions): the seeds are aggregated as median and interquartile
range; the claim **passes** when the median meets the claim's ``check`` *and* at least
``seed_fraction`` of the seeds do; it **fails** otherwise; it is **not_run** when its metric file or
metric key does not exist (never pass). A non-finite seed value (a diverged or failed run) counts as
a failing seed and is left out of the median.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnspectra.claims import CLAIMS_DIR, Claim, load_claims
from nnspectra.errors import NnspectraError
from nnspectra.pipeline.io import save_table

STATUSES = ("pass", "fail", "not_run")
COLUMNS = ["claim_id", "paper", "target", "statement", "paper_value", "measured_value", "spread", "tolerance",
           "status"]
EXTRA_COLUMNS = ["n_seeds", "n_seeds_pass", "q25", "q75", "unit", "note", "metric", "check", "seed_fraction_pass",
                 "seed_fraction_required", "figure", "paper_value_source"]


class MetricsError(NnspectraError):
    """A metrics file written by an experiment is malformed (one line naming file and key)."""


@dataclass(frozen=True)
class Metric:
    """Per-seed values of one metric (``values[i]`` belongs to ``seeds[i]``)."""

    values: tuple[float, ...]
    seeds: tuple[Any, ...] = ()
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class ClaimResult:
    """Verdict on one claim: median/IQR over seeds, how many seeds pass, and the status."""

    claim: Claim
    status: str
    median: float = math.nan
    q25: float = math.nan
    q75: float = math.nan
    n_seeds: int = 0
    n_pass: int = 0
    unit: str = ""
    note: str = ""

    @property
    def iqr(self) -> float:
        """Interquartile range q75 - q25 (NaN when not run)."""
        return self.q75 - self.q25

    @property
    def seed_fraction_pass(self) -> float:
        """Fraction of seeds whose value meets the check (NaN when not run)."""
        return self.n_pass / self.n_seeds if self.n_seeds else math.nan


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
        metrics[str(name)] = Metric(
            values=tuple(_as_float(v, where) for v in values), seeds=tuple(seeds or ()),
            unit=str(entry.get("unit", "") or ""), description=str(entry.get("description", "") or ""),
        )
    return metrics


def load_metrics(paths: Iterable[str | Path]) -> dict[str, dict[str, Metric]]:
    """Metrics by section from ``results/metrics/<section>.json`` files (missing files are skipped)."""
    sections: dict[str, dict[str, Metric]] = {}
    for path in map(Path, paths):
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise MetricsError(f"metrics file {path}: not valid JSON ({err.msg} at line {err.lineno})") from None
        sections[path.stem] = parse_metrics(record, str(path))
    return sections


def evaluate_claim(claim: Claim, metrics: Mapping[str, Mapping[str, Metric]]) -> ClaimResult:
    """Apply SPEC §4's rule to one claim: median meets the check and >= seed_fraction of seeds do."""
    section = metrics.get(claim.section)
    if section is None:
        return ClaimResult(claim, "not_run", note=f"no metrics file results/metrics/{claim.section}.json")
    metric = section.get(claim.metric_name)
    if metric is None:
        return ClaimResult(claim, "not_run", note=f"metric '{claim.metric_name}' not in {claim.section}.json")
    if not metric.values:
        return ClaimResult(claim, "not_run", unit=metric.unit, note="metric has no seed values")
    values = np.asarray(metric.values, dtype=float)
    finite = values[np.isfinite(values)]
    n = int(values.size)
    n_pass = int(sum(claim.check(float(v)) for v in values))
    notes: list[str] = []
    if finite.size < n:
        notes.append(f"{n - finite.size} of {n} seeds non-finite (counted as failing)")
    if finite.size == 0:
        return ClaimResult(claim, "fail", n_seeds=n, n_pass=0, unit=metric.unit,
                           note="; ".join(notes + ["no finite value"]))
    median = float(np.median(finite))
    q25, q75 = (float(q) for q in np.percentile(finite, [25, 75]))
    median_ok = claim.check(median)
    fraction_ok = n_pass / n >= claim.seed_fraction - 1e-12
    if not median_ok:
        notes.append(f"median {median:.4g} is not {claim.check.describe()}")
    if not fraction_ok:
        notes.append(f"{n_pass}/{n} seeds meet the check, fewer than {claim.seed_fraction:.0%}")
    status = "pass" if median_ok and fraction_ok else "fail"
    return ClaimResult(claim, status, median, q25, q75, n, n_pass, metric.unit, "; ".join(notes))


def _fmt(x: float) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.4g}"


def results_frame(results: Sequence[ClaimResult]) -> pd.DataFrame:
    """The scorecard as a DataFrame (``COLUMNS`` then ``EXTRA_COLUMNS``), sorted by claim id.

    ``measured_value`` is the median over seeds and ``spread`` the interquartile range.
    """
    rows = []
    for r in sorted(results, key=lambda r: r.claim.sort_key):
        c = r.claim
        rows.append({
            "claim_id": c.id, "paper": c.paper, "target": c.target, "statement": c.statement,
            "paper_value": c.paper_value if c.paper_value is not None else "",
            "measured_value": r.median, "spread": r.iqr, "tolerance": c.tolerance, "status": r.status,
            "figure": c.figure, "metric": c.metric, "unit": r.unit, "check": c.check.describe(), "q25": r.q25,
            "q75": r.q75, "n_seeds": r.n_seeds, "n_seeds_pass": r.n_pass, "seed_fraction_pass": r.seed_fraction_pass,
            "seed_fraction_required": c.seed_fraction, "paper_value_source": c.paper_value_source, "note": r.note,
        })
    return pd.DataFrame(rows, columns=COLUMNS + EXTRA_COLUMNS)


def summary_line(frame: pd.DataFrame) -> str:
    """``N pass / N fail / N not_run`` (out of the claims in ``frame``)."""
    counts = frame["status"].value_counts() if len(frame) else pd.Series(dtype=int)
    parts = [f"{int(counts.get(s, 0))} {s}" for s in STATUSES]
    return " / ".join(parts) + f" (of {len(frame)} claims)"


def _md_cell(text: Any) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def markdown(frame: pd.DataFrame, setting: str = "") -> str:
    """Human-readable scorecard: title, setting, summary line, one row per claim."""
    shown = pd.DataFrame({
        "claim_id": frame["claim_id"], "paper": frame["paper"], "target": frame["target"],
        "statement": frame["statement"].map(_md_cell), "paper_value": frame["paper_value"].map(_md_cell),
        "measured_value": [(_fmt(m) + (f" {u}" if u and _fmt(m) else "")) for m, u in zip(frame["measured_value"],
                                                                                          frame["unit"])],
        "spread": [f"IQR {_fmt(s)} [{_fmt(a)}, {_fmt(b)}], {k}/{n} seeds pass" if n else ""
                   for s, a, b, k, n in zip(frame["spread"], frame["q25"], frame["q75"], frame["n_seeds_pass"],
                                            frame["n_seeds"])],
        "tolerance": [f"{_md_cell(t)} (check: median {c}, >= {f:.0%} of seeds)"
                      for t, c, f in zip(frame["tolerance"], frame["check"], frame["seed_fraction_required"])],
        "status": [f"**{s}**" if s == "fail" else s for s in frame["status"]],
        "note": frame["note"].map(_md_cell),
    })
    header = ["# Replication scorecard", ""]
    if setting:
        header += [f"Setting: {setting}", ""]
    header += [f"Summary: {summary_line(frame)}", "",
               "measured_value = median over seeds; spread = interquartile range [q25, q75]. A claim passes when "
               "the median meets its check and at least the required fraction of seeds does (SPEC §4); not_run = "
               "its experiment has not produced the metric.", ""]
    table = shown.to_markdown(index=False) if len(shown) else "(no claims)"
    return "\n".join(header) + "\n" + table + "\n"


@dataclass
class Scorecard:
    """Evaluated claims plus the setting they were measured in."""

    results: list[ClaimResult]
    setting: str = ""
    frame: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.frame = results_frame(self.results)

    def write(self, csv_path: str | Path, md_path: str | Path) -> None:
        """Write ``results/scorecard.csv`` (all columns) and ``results/scorecard.md`` (readable)."""
        save_table(self.frame, csv_path)
        md_path = Path(md_path)
        md_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.write_text(markdown(self.frame, self.setting))


def build_scorecard(metric_files: Iterable[str | Path], claim_files: Iterable[str | Path] | None = None,
                    claims_dir: str | Path = CLAIMS_DIR, setting: str = "") -> Scorecard:
    """Evaluate every claim (from ``claim_files`` or all of ``claims_dir``) on the given metric files."""
    if isinstance(metric_files, (str, Path)):
        metric_files = [metric_files]
    if isinstance(claim_files, (str, Path)):
        claim_files = [claim_files]
    claims = load_claims(claims_dir, files=claim_files)
    metrics = load_metrics(metric_files)
    return Scorecard([evaluate_claim(c, metrics) for c in claims], setting=setting)
