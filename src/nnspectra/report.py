"""Compact tables for the landing page of ``snakemake --report``: the replication scorecard and the studies of
``snakemake analyze`` (:func:`studies_rst`).

The full scorecard (:mod:`nnspectra.scorecard`, ``scorecard.csv``) has 21 columns and long texts: as
a table on the report's landing page it is thousands of pixels wide and unreadable. This module
turns the scorecard frame into a compact table — claim id, short claim, the paper's value, our median
to 3 significant digits, the run that measured it, verdict, one-line note (a fail's diagnosis) — and writes it as a reStructuredText fragment that
the report's landing page (``workflow/report/workflow.rst``) includes. Every cell is escaped, so
claim texts such as ``|lambda|`` or ``||W||_op`` render literally instead of raising docutils'
"Undefined substitution" errors. No Snakemake and no result paths here: callers name the files.
"""

from __future__ import annotations

import math
import os
import string
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import pandas as pd

from nnspectra.scorecard import STATUSES, summary_line

COMPACT_COLUMNS = ["id", "claim", "paper", "ours", "scale", "verdict", "note"]
# Relative column widths of the rendered table (percent of the table width).
COLUMN_WIDTHS = (5, 33, 16, 8, 6, 7, 25)
PAPER_TITLES = {
    "sagun2018": "Sagun, Evci, Güney, Dauphin, Bottou (2018)",
    "sagun2016": "Sagun, Bottou, LeCun (2016)",
    "benarous2024": "Ben Arous, Gheissari, Huang, Jagannath (2024)",
    "wang2023": "Wang, Engel, Sarwate, Dumitriu, Chiang (2023)",
}
CLAIM_CHARS = 110   # a short claim fits about two lines of its column at 1,400 px
PAPER_CHARS = 48
NOTE_CHARS = 110
_RST_SPECIAL = set(string.punctuation)
EMPTY_CELL = "\\ "  # an escaped space: an empty table cell


def significant(value: Any, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits as short text ('' for NaN/None).

    Plain notation for 1e-3 <= |x| < 1e5 (``0.6533333`` -> ``0.653``, ``12345`` -> ``12300``,
    ``2.0`` -> ``2``), scientific otherwise (``6.9e-18``); text is returned unchanged.
    """
    if value is None or isinstance(value, str):
        return "" if value is None else value
    if isinstance(value, bool):
        return str(value).lower()
    if not isinstance(value, Real):
        return str(value)
    x = float(value)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    mantissa, power = f"{x:.{digits - 1}e}".split("e")   # the exponent after rounding (9.999 -> 1.00e+01)
    exponent = int(power)
    if -3 <= exponent < 5:
        decimals = digits - 1 - exponent
        text = f"{x:.{decimals}f}" if decimals >= 0 else f"{round(x, decimals):.0f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def one_line(text: Any, max_chars: int) -> str:
    """``text`` on one line (whitespace collapsed), cut at a word boundary to <= ``max_chars`` with '…'."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    flat = " ".join(str(text).split())
    if len(flat) <= max_chars:
        return flat
    cut = flat[: max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-(") + "…"


def rst_escape(text: str) -> str:
    """Inline reStructuredText that renders ``text`` literally.

    Every ASCII punctuation character is backslash-escaped, so ``|x|`` (substitution), ``*``, ``_``,
    backquotes, a leading ``-`` or ``1.`` (lists) and ``word_`` (references) all stay plain text. A text of
    punctuation only starts with an escaped space (which renders as nothing), so its escaped form can never
    read as a transition or a section underline.
    """
    escaped = "".join("\\" + ch if ch in _RST_SPECIAL else ch for ch in " ".join(str(text).split()))
    plain = " ".join(str(text).split())
    return "\\ " + escaped if plain and all(ch in _RST_SPECIAL for ch in plain) else escaped


def _note(row: pd.Series) -> str:
    diagnosis = row.get("diagnosis", "")
    if row.get("status") == "fail" and isinstance(diagnosis, str) and diagnosis.strip():
        return f"why: {diagnosis}"
    note = row.get("note", "")
    if isinstance(note, str) and note.strip():
        return note
    n_seeds = row.get("n_seeds", 0)
    if row.get("status") != "not_run" and isinstance(n_seeds, Real) and n_seeds > 0:
        return f"{int(row.get('n_seeds_pass', 0))}/{int(n_seeds)} seeds meet the check"
    return ""


def compact_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The scorecard frame reduced to ``COMPACT_COLUMNS`` with short, one-line texts.

    ``ours`` is the median over seeds to 3 significant digits; ``scale`` the run (preset) that measured
    it; ``note`` is the diagnosis of a fail, the reason for a not_run, else how many seeds meet the check.
    Rows keep the frame's order (by claim id).
    """
    missing = [c for c in ("claim_id", "statement", "paper_value", "measured_value", "status") if c not in frame]
    if missing:
        raise KeyError(f"scorecard frame lacks column(s) {missing}")
    rows = [{
        "id": str(row["claim_id"]),
        "claim": one_line(row["statement"], CLAIM_CHARS),
        "paper": one_line(significant(row["paper_value"]), PAPER_CHARS),
        "ours": significant(row["measured_value"]),
        "scale": one_line(row.get("scale", ""), 16) if isinstance(row.get("scale", ""), str) else "",
        "verdict": str(row["status"]),
        "note": one_line(_note(row), NOTE_CHARS),
    } for _, row in frame.iterrows()]
    return pd.DataFrame(rows, columns=COMPACT_COLUMNS)


def _list_table(compact: pd.DataFrame, title: str) -> list[str]:
    lines = [f".. list-table:: {rst_escape(title)}", "   :header-rows: 1", "   :class: nns-claims",
             f"   :widths: {' '.join(map(str, COLUMN_WIDTHS))}", ""]
    header = ["id", "claim", "paper's value", "ours (median)", "scale", "verdict", "note"]
    for i, cell in enumerate(header):
        lines.append(f"   {'*' if i == 0 else ' '} - {cell}")
    for _, row in compact.iterrows():
        for i, column in enumerate(COMPACT_COLUMNS):
            text = str(row[column])
            if column == "verdict" and text in STATUSES:
                cell = f":verdict-{text.replace('_', '-')}:`{text}`"
            else:
                cell = rst_escape(text) if text else "\\ "   # escaped space: an empty cell
            lines.append(f"   {'*' if i == 0 else ' '} - {cell}")
    return lines + [""]


def compact_rst(frame: pd.DataFrame, setting: str = "", papers: Sequence[str] | None = None) -> str:
    """reStructuredText fragment for the report's landing page: setting, summary, one table per paper.

    The fragment defines the roles ``verdict-pass``, ``verdict-fail`` and ``verdict-not-run`` (HTML
    classes for colouring) and contains no section titles, so it can be included anywhere.
    """
    lines = [f".. role:: verdict-{s.replace('_', '-')}" for s in STATUSES] + [""]
    if setting:
        lines += [f"**Setting:** {rst_escape(setting)}", ""]
    lines += [f"**Summary:** {rst_escape(summary_line(frame))}", ""]
    if not len(frame):
        return "\n".join(lines + ["(no claims)", ""])
    order = list(papers) if papers is not None else list(dict.fromkeys([*PAPER_TITLES, *frame["paper"]]))
    for paper in order:
        part = frame[frame["paper"] == paper]
        if not len(part):
            continue
        name = PAPER_TITLES.get(paper, paper)
        ids = f"claims {part['claim_id'].iloc[0]}–{part['claim_id'].iloc[-1]}"
        lines += _list_table(compact_frame(part), f"{name}, {ids}: {summary_line(part)}")
    return "\n".join(lines)


def studies_rst(rows: Sequence[Mapping[str, Any]]) -> str:
    """reStructuredText fragment for the landing page: one row per study of ``snakemake analyze`` (the rows of
    :func:`nnspectra.analyze.summary_row`): model, P, N, C, method, lambda_max and trace of H, outlier counts
    (gap rule) of H and GN next to C, the final lambda_max against 2/lr and the study's wall time."""
    header = ["study", "model", "P", "N", "C", "method", "λmax(H)", "trace(H) ± s.e.", "outliers H / GN vs C",
              "λmax(H) end vs 2/lr", "median α", "seconds"]
    lines = [".. list-table:: Studies of ``analyze.studies`` (full table: summary.csv / summary.md)",
             "   :header-rows: 1", "   :class: nns-claims", "   :widths: 12 10 8 4 3 6 6 9 9 9 6 7", ""]

    def count(value: Any) -> str:
        return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else str(int(value))

    body = [[str(r["study"]), str(r["model"]).split(":")[-1], f"{int(r['P']):,}", str(r["N"]), str(r["C"]),
             str(r["method"]), significant(r["lambda_max_H"]),
             f"{significant(r['trace_H'])} ± {significant(r['trace_H_stderr'], 2) or '0'}",
             f"{count(r['outliers_H_gap'])} / {count(r['outliers_GN_gap'])} vs {r['C']}",
             str(r.get("lambda_max_final_vs_2_over_lr") or "–"), significant(r["median_weight_alpha"]),
             significant(r["seconds"])] for r in rows]
    for cells in [header, *body]:
        for i, text in enumerate(cells):
            lines.append(f"   {'*' if i == 0 else ' '} - {rst_escape(text) if text else EMPTY_CELL}")
    return "\n".join(lines + [""])


def write_rst(text: str, path: str | Path) -> None:
    """Write a reStructuredText fragment to ``path`` atomically (a reader never sees half of it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_compact_rst(frame: pd.DataFrame, path: str | Path, setting: str = "") -> None:
    """Write :func:`compact_rst` of the scorecard frame to ``path`` (atomically: a reader never sees half)."""
    write_rst(compact_rst(frame, setting), path)
