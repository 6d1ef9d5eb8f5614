"""Replication scorecard: every claim of ``SPEC.md`` §4 evaluated against the measured metrics.

Inputs are the claim files (:mod:`nnspectra.claims`) and the metric files
``results/<run>/metrics/<section>.json`` that the experiments write::

    {"<metric>": {"values": [one per seed], "seeds": [...], "unit": "...", "description": "...",
                  "evidence": {"seeds": 20, "widths": [10, 30], ...}}}

Per claim (SPEC §4 tolerance conventions): the seeds are aggregated as median and interquartile
range; the claim **passes** when the median meets the claim's ``check`` *and* at least
``seed_fraction`` of the seeds do; it **fails** otherwise; it is **not_run** when its metric file or
metric key does not exist, or when the metric's ``evidence`` falls short of the claim's ``requires``
(too few seeds, widths, configurations, steps: :mod:`nnspectra.claims.requirements`) — never a
verdict on too little evidence. A non-finite seed value (a diverged or failed run) counts as a failing
seed and is left out of the median.

Each row names the ``scale`` its metric was measured at (the ``run_name`` the metrics step recorded in
its provenance sidecar: paper, cpu, smoke ...; given explicitly for a hand-made file without one), and a failing row shows the claim's ``diagnosis``.
Metric files from several result trees can be merged; for a section present in several, the first
file given wins (:func:`load_metric_sources`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnspectra.claims import CLAIMS_DIR, Claim, load_claims
from nnspectra.claims.metric_files import (  # noqa: F401 (re-exported: the scorecard's inputs)
    Metric,
    MetricsError,
    Source,
    load_metric_sources,
    load_metrics,
    metric_scale,
    parse_metrics,
)
from nnspectra.claims.diagnosis import render_diagnosis
from nnspectra.claims.requirements import describe_evidence, shortfalls
from nnspectra.pipeline.io import save_table

STATUSES = ("pass", "fail", "not_run")


@dataclass(frozen=True)
class ScorecardSettings:
    """Config ``scorecard``: the label of the setting (which preset produced the metrics) printed on it."""

    setting: str = "paper scale (config/config.yaml)"

COLUMNS = ["claim_id", "paper", "target", "statement", "paper_value", "measured_value", "spread", "tolerance",
           "status", "scale", "diagnosis", "evidence"]
EXTRA_COLUMNS = ["n_seeds", "n_seeds_pass", "q25", "q75", "unit", "note", "metric", "check", "seed_fraction_pass",
                 "seed_fraction_required", "figure", "paper_value_source", "requires", "source"]


@dataclass(frozen=True)
class ClaimResult:
    """Verdict on one claim: median/IQR over seeds, how many seeds pass, the status and its scale."""

    claim: Claim
    status: str
    median: float = math.nan
    q25: float = math.nan
    q75: float = math.nan
    n_seeds: int = 0
    n_pass: int = 0
    unit: str = ""
    note: str = ""
    scale: str = ""
    evidence: str = ""
    source: str = ""
    diagnosis_text: str = ""

    @property
    def diagnosis(self) -> str:
        """The diagnosis when the claim fails (empty for pass and not_run), computed from the row's own
        metrics (:func:`nnspectra.claims.diagnosis.render_diagnosis`)."""
        return self.diagnosis_text if self.status == "fail" else ""

    @property
    def iqr(self) -> float:
        """Interquartile range q75 - q25 (NaN when not run)."""
        return self.q75 - self.q25

    @property
    def seed_fraction_pass(self) -> float:
        """Fraction of seeds whose value meets the check (NaN when not run)."""
        return self.n_pass / self.n_seeds if self.n_seeds else math.nan


def evaluate_claim(claim: Claim, metrics: Mapping[str, Mapping[str, Metric]],
                   sources: Mapping[str, Source] | None = None) -> ClaimResult:
    """Apply SPEC §4's rule to one claim: enough evidence, then the median meets the check and
    >= seed_fraction of seeds do."""
    section = metrics.get(claim.section)
    if section is None:
        return ClaimResult(claim, "not_run", note=f"no metrics file <results>/metrics/{claim.section}.json")
    source = (sources or {}).get(claim.section)
    where: dict[str, str] = {}
    if source:
        preferred = f" (preferred to {', '.join(source.also_in)})" if source.also_in else ""
        where = {"scale": source.scale, "source": source.path + preferred}
    metric = section.get(claim.metric_name)
    if metric is None:
        return ClaimResult(claim, "not_run", note=f"metric '{claim.metric_name}' not in {claim.section}.json", **where)
    if not metric.values:
        return ClaimResult(claim, "not_run", unit=metric.unit, note="metric has no seed values", **where)
    evidence = metric.evidence_with_seeds()
    where["evidence"] = describe_evidence(evidence)
    values = np.asarray(metric.values, dtype=float)
    finite = values[np.isfinite(values)]
    n = int(values.size)
    n_pass = int(sum(claim.check(float(v)) for v in values))
    notes: list[str] = []
    if finite.size < n:
        notes.append(f"{n - finite.size} of {n} seeds non-finite (counted as failing)")
    short = shortfalls(claim.requires, evidence)
    if finite.size == 0:
        status = "not_run" if short else "fail"
        diagnosis = render_diagnosis(claim, metric, metrics, where.get("scale", ""), 0) if status == "fail" else ""
        return ClaimResult(claim, status, n_seeds=n, n_pass=0, unit=metric.unit,
                           note="; ".join(short + notes + ["no finite value"]), diagnosis_text=diagnosis, **where)
    median = float(np.median(finite))
    q25, q75 = (float(q) for q in np.percentile(finite, [25, 75]))
    if short:  # the value is shown, but no verdict on too little evidence
        return ClaimResult(claim, "not_run", median, q25, q75, n, n_pass, metric.unit, "; ".join(short + notes),
                           **where)
    median_ok = claim.check(median)
    fraction_ok = n_pass / n >= claim.seed_fraction - 1e-12
    if not median_ok:
        notes.append(f"median {median:.4g} is not {claim.check.describe()}")
    if not fraction_ok:
        notes.append(f"{n_pass}/{n} seeds meet the check, fewer than {claim.seed_fraction:.0%}")
    status = "pass" if median_ok and fraction_ok else "fail"
    diagnosis = render_diagnosis(claim, metric, metrics, where.get("scale", ""), n_pass) if status == "fail" else ""
    return ClaimResult(claim, status, median, q25, q75, n, n_pass, metric.unit, "; ".join(notes),
                       diagnosis_text=diagnosis, **where)


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
            "scale": r.scale, "diagnosis": r.diagnosis, "evidence": r.evidence, "source": r.source,
            "requires": describe_evidence(dict(c.requires)),
        })
    return pd.DataFrame(rows, columns=COLUMNS + EXTRA_COLUMNS)


def summary_line(frame: pd.DataFrame) -> str:
    """``N pass / N fail / N not_run`` (out of the claims in ``frame``)."""
    counts = frame["status"].value_counts() if len(frame) else pd.Series(dtype=int)
    parts = [f"{int(counts.get(s, 0))} {s}" for s in STATUSES]
    return " / ".join(parts) + f" (of {len(frame)} claims)"


def scale_line(frame: pd.DataFrame) -> str:
    """``blobs: paper (results/paper/metrics/blobs.json); realdata: cpu (...)`` over the rows' sources."""
    if "source" not in frame or not len(frame):
        return ""
    seen: dict[str, str] = {}
    for source, scale in zip(frame["source"].fillna(""), frame["scale"].fillna("")):
        if source and source not in seen:
            seen[source] = scale
    return "; ".join(f"{Path(src.split(' ')[0]).stem}: {scale} ({src})" for src, scale in seen.items())


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
        "scale": frame["scale"].fillna("").map(_md_cell),
        "diagnosis": frame["diagnosis"].fillna("").map(_md_cell),
        "evidence": frame["evidence"].fillna("").map(_md_cell),
        "note": frame["note"].map(_md_cell),
    })
    header = ["# Replication scorecard", ""]
    if setting:
        header += [f"Setting: {setting}", ""]
    scales = scale_line(frame)
    if scales:
        header += [f"Scale per metric file: {scales}", ""]
    header += [f"Summary: {summary_line(frame)}", "",
               ("measured_value = median over seeds; spread = interquartile range [q25, q75]. A claim passes when "
               "the median meets its check and at least the required fraction of seeds does (SPEC §4); not_run = "
               "its experiment has not produced the metric, or the run has less evidence (seeds, widths, "
               "configurations, steps) than the claim's tolerance asks (the note says what is missing). scale = "
               "the run (preset) whose metrics the row read; diagnosis = why a failing claim fails."), ""]
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
                    claims_dir: str | Path = CLAIMS_DIR, setting: str = "", run_name: str | None = None) -> Scorecard:
    """Evaluate every claim (from ``claim_files`` or all of ``claims_dir``) on the given metric files.

    ``metric_files`` may come from several result trees; for a section present in more than one, the
    first file given wins and the row's ``source`` names it (and those it was preferred to). Each row's
    scale is the ``run_name`` its file's sidecar records; ``run_name`` names it for files without one.
    """
    if isinstance(metric_files, (str, Path)):
        metric_files = [metric_files]
    if isinstance(claim_files, (str, Path)):
        claim_files = [claim_files]
    claims = load_claims(claims_dir, files=claim_files)
    metrics, sources = load_metric_sources(metric_files, run_name)
    return Scorecard([evaluate_claim(c, metrics, sources) for c in claims], setting=setting)
