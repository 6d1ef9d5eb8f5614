"""Sagun et al. (2018) synthetic experiments: Gaussian blobs, 100-30-30-k MLP, exact Hessian spectra.

Stages (one workflow rule each): data (:func:`nnspectra.data.blobs.blob_dataset`) -> training
(:func:`nnspectra.experiments.sagun2018.blobs_training.train_run`)
-> spectra (:func:`nnspectra.curvature.spectrum.dense_spectra`) -> counts
(:func:`nnspectra.spectra.outliers.spectrum_counts`) -> aggregation (:func:`table1`; claims 1-7 in
:mod:`nnspectra.experiments.sagun2018.blobs_metrics`). The paper's Table 1
(Appendix A) is kept here as data (:data:`PAPER_TABLE1`) so the table can print our counts beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nnspectra.errors import ConfigError
from nnspectra.experiments.sagun2018.blobs_runs import PAPER_COLUMNS, PAPER_TABLE1, run_name
from nnspectra.spectra.outliers import RULES

log = logging.getLogger(__name__)


# -- aggregation ------------------------------------------------------------------------------------
def collect_counts(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Long table, one row per (run, seed): run identity, counts and cutoffs per rule, lambda_max."""
    rows = []
    for rec in records:
        row = {key: rec[key] for key in ("row", "alg", "act", "k", "cov", "seed")}
        row.update({"lambda_max": rec["counts"]["lambda_max"], "lambda_min": rec["counts"]["lambda_min"],
                    "iterations": rec["train"]["iterations"], "converged": rec["train"]["converged"],
                    "train_acc": rec["train"]["train_acc"], "size": rec["counts"]["n_params"]})
        for rule, c in rec["counts"]["rules"].items():
            row[rule] = c["count"]
            row[f"{rule}_cutoff"] = c["cutoff"]
        rows.append(row)
    return pd.DataFrame(rows)


def _median_spread(values: pd.Series, fmt: str = "{:g}") -> str:
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return fmt.format(v[0])
    return f"{fmt.format(np.median(v))} [{fmt.format(v.min())}-{fmt.format(v.max())}]"


def table1(long: pd.DataFrame) -> pd.DataFrame:
    """Table 1 replica: per configuration our counts (median [min-max] over seeds) beside the paper's."""
    paper = paper_table1().set_index("row")
    out = []
    for row, grp in long.groupby("row", sort=True):
        p = paper.loc[row]
        rec: dict[str, Any] = {"alg": p.alg.upper(), "act": "ReLU" if p.act == "relu" else "tanh",
                               "size": int(grp["size"].iloc[0]), "paper_size": int(p["size"]), "cov": p["cov"],
                               "nc": int(p.nc), "seeds": len(grp)}
        for rule in RULES:
            rec[rule] = _median_spread(grp[rule])
        rec["elbow_cutoff"] = _median_spread(grp["elbow_cutoff"], "{:.2g}")
        rec["edge_cutoff"] = _median_spread(grp["edge_cutoff"], "{:.2g}")
        rec["lambda_max"] = _median_spread(grp["lambda_max"], "{:.2g}")
        rec["converged"] = f"{int(grp['converged'].sum())}/{len(grp)}"
        rec["iterations"] = _median_spread(grp["iterations"], "{:.0f}")
        rec["paper_gap"], rec["paper_ratio"] = int(p.gap), int(p.ratio)
        rec["paper_heur"] = "N/A" if pd.isna(p.heur) else str(int(p.heur))
        rec["paper_cutoff"] = "N/A" if pd.isna(p.cutoff) else f"{p.cutoff:g}"
        out.append(rec)
    return pd.DataFrame(out)


def paper_table1() -> pd.DataFrame:
    """The published Table 1 as a DataFrame (``row`` = 0-based row number, used as a run id)."""
    df = pd.DataFrame(PAPER_TABLE1, columns=PAPER_COLUMNS)
    df.insert(0, "row", range(len(df)))
    return df


def attach_rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Add the Table 1 row number to each counts record (identified by alg, act, k, cov)."""
    paper = paper_table1()
    index = {run_name(r.alg, r.act, int(r.nc), float(r["cov"])): int(r.row) for _, r in paper.iterrows()}
    out = []
    for rec in records:
        name = run_name(rec["alg"], rec["act"], int(rec["k"]), float(rec["cov"]))
        if name not in index:
            raise ConfigError(f"run {name} is not a configuration of the paper's Table 1")
        out.append({**rec, "row": index[name]})
    return out
