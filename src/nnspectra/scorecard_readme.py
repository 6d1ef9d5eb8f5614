"""The README's results tables, generated from one results tree's scorecard so they cannot drift.

:func:`readme_section` turns a scorecard frame (:mod:`nnspectra.scorecard`) into a Markdown block: the
pass / fail / not_run counts per paper, the claim ids of each status (with the run that measured them),
every fail with its diagnosis, and why each not_run row did not run. :func:`replace_section` puts the
block between the marker comments of a README (``nnspectra scorecard --results results/paper --readme
README.md``); running it again on the same scorecard leaves the file unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from nnspectra.claims.schema import PAPERS
from nnspectra.errors import ConfigError
from nnspectra.scorecard import STATUSES

BEGIN = "<!-- scorecard:begin (generated: nnspectra scorecard --results <tree> --readme README.md; do not edit) -->"
END = "<!-- scorecard:end -->"

__all__ = ["BEGIN", "END", "readme_section", "replace_section"]


def _cell(text: object) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def _ours(measured: float, unit: str) -> str:
    if measured is None or not math.isfinite(measured):
        return "no finite value"
    return f"{measured:.3g}" + (f" {unit}" if unit else "")


def _ids_by_scale(frame: pd.DataFrame) -> str:
    groups: dict[str, list[str]] = {}
    for cid, scale in zip(frame["claim_id"], frame["scale"].fillna("")):
        groups.setdefault(str(scale) or "no metrics", []).append(str(cid))
    return "; ".join(f"{', '.join(ids)} ({scale})" for scale, ids in groups.items())


def _reason(note: str) -> str:
    """The shortfall part of a not_run note (what is missing), without the value notes."""
    parts = [p for p in str(note).split("; ") if p.startswith("needs ") or p.startswith("no metrics")
             or p.startswith("metric ")]
    return "; ".join(parts) if parts else str(note)


def readme_section(frame: pd.DataFrame, trees: Sequence[str]) -> str:
    """The Markdown block (between :data:`BEGIN` and :data:`END`) of the scorecard ``frame`` read from ``trees``."""
    lines = [BEGIN, "", f"Generated from the scorecard of {', '.join(f'`{t}`' for t in trees)} "
             f"({len(frame)} claims; `scale` = the run whose metrics a row read).", "",
             "| paper | " + " | ".join(STATUSES) + " |", "|---|" + "---|" * len(STATUSES)]
    papers = [p for p in PAPERS if p in set(frame["paper"])]
    for paper in papers:
        sub = frame[frame["paper"] == paper]
        lines.append(f"| {paper} | " + " | ".join(str(int((sub["status"] == s).sum())) for s in STATUSES) + " |")
    lines += ["| **all** | " + " | ".join(f"**{int((frame['status'] == s).sum())}**" for s in STATUSES) + " |", ""]
    for status in STATUSES:
        sub = frame[frame["status"] == status]
        lines.append(f"* **{status}**: {_ids_by_scale(sub) if len(sub) else 'none'}")
    fails = frame[frame["status"] == "fail"]
    lines += ["", "Every fail with its diagnosis (computed from the row's own metrics):", ""]
    if len(fails):
        lines += ["| claim | ours | paper | scale | diagnosis |", "|---|---|---|---|---|"]
        for _, r in fails.iterrows():
            lines.append(f"| {r['claim_id']} | {_cell(_ours(r['measured_value'], r['unit']))} | "
                         f"{_cell(r['paper_value'])} | {_cell(r['scale'])} | {_cell(r['diagnosis'])} |")
    else:
        lines.append("(no fails)")
    not_run = frame[frame["status"] == "not_run"]
    lines += ["", "Why the `not_run` rows did not run:", ""]
    reasons: dict[tuple[str, str], list[str]] = {}
    for _, r in not_run.iterrows():
        reasons.setdefault((_reason(r["note"]), str(r["scale"] or "no metrics")), []).append(str(r["claim_id"]))
    lines += [f"* {', '.join(ids)} ({scale}): {_cell(reason)}" for (reason, scale), ids in reasons.items()]
    if not reasons:
        lines.append("(none)")
    return "\n".join(lines + ["", END]) + "\n"


def replace_section(text: str, block: str, where: str = "README.md") -> str:
    """``text`` with the part from :data:`BEGIN` to :data:`END` (both included) replaced by ``block``.

    Raises :class:`ConfigError` naming ``where`` when the markers are missing, repeated or out of order.
    """
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < 0 or end < begin or text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ConfigError(f"{where}: needs exactly one '{BEGIN}' line followed by one '{END}' line where the "
                          "scorecard tables go; add them and run again")
    after = end + len(END)
    if text[after:after + 1] == "\n":
        after += 1
    return text[:begin] + block + text[after:]
