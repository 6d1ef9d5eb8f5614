"""Claims 24-32 of Ben Arous et al. (2024) from saved online-SGD runs (:mod:`nnspectra.experiments.benarous2024.alignment`):
alignment of the iterate with the outlier eigenspaces, their overlap with the means, emergence, the SNR
and dimension dependence, per-layer XOR alignment, readout evolution and rank deficiency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from nnspectra.experiments.metrics import MetricsRecord
from nnspectra.spectra.alignment import first_crossing, subspace_overlap


@dataclass(frozen=True)
class AlignmentClaims:
    """Config ``alignment.claims``: where and at which level the claims are read off (SPEC §4, 24-32)."""

    lam: float = 10
    align_window: tuple[float, float] = (2, 20)
    align_level: float = 0.9
    emerge_time: float = 5
    snr_time: float = 10
    xor_window: tuple[float, float] = (5, 50)
    evolve_early: tuple[float, float] = (1, 20)
    evolve_late: tuple[float, float] = (40, 50)
    suboptimal_gap: float = 0.05


def _at(run: Mapping[str, np.ndarray], t: float) -> int:
    """Index of the checkpoint closest to ell/d = t."""
    return int(np.argmin(np.abs(run["times"] - t)))


def _window(run: Mapping[str, np.ndarray], lo: float, hi: float) -> np.ndarray:
    return (run["times"] >= lo - 1e-9) & (run["times"] <= hi + 1e-9)


def _run_evidence(runs: Sequence[Mapping[str, np.ndarray]], lam: bool = True) -> dict[str, object]:
    """What a metric over ``runs`` rests on: seeds, the smallest d, the lam values and the checkpoints (ell/d)
    every run has."""
    times = [{round(float(t), 9) for t in r["times"]} for r in runs]
    out: dict[str, object] = {"seeds": len({int(r["seed"]) for r in runs}), "d": min(int(r["d"]) for r in runs),
                              "checkpoints": sorted(set.intersection(*times))}
    if lam:
        out["lam"] = sorted({float(r["lam"]) for r in runs})
    return out


def readout_evolution(run: Mapping[str, np.ndarray], t1: float, t2: float, kind: str = "hessian") -> float:
    """Overlap |Q_r(t1)^T Q_r(t2)|_F^2 / r of the top-r readout eigenvectors, r = outliers at the later time."""
    i1, i2 = _at(run, t1), _at(run, t2)
    r = max(1, int(run[f"{kind}_v_r"][i2]))
    vecs = run[f"{kind}_v_vecs"]
    return subspace_overlap(vecs[i1][:, :r], vecs[i2][:, :r])


def align_times(runs: Sequence[Mapping[str, np.ndarray]], level: float) -> np.ndarray:
    """Per run, the first ell/d at which A(x, top-r of H) reaches ``level`` (log-interpolated; inf when never):
    claim 29's t_align, also drawn in figure alignment_gmm."""
    return np.array([first_crossing(r["times"], r["hessian_align"], level) for r in runs], dtype=float)


def readout_overlap_matrix(run: Mapping[str, np.ndarray], kind: str = "hessian") -> tuple[np.ndarray, int]:
    """Overlaps |Q_r(t1)^T Q_r(t2)|_F^2 / r between every two checkpoints (T, T) of the top-r readout eigenvectors,
    r = outliers at the last checkpoint (at least 1): the readout-evolution panel of figure alignment_xor."""
    r = max(1, int(run[f"{kind}_v_r"][-1]))
    vecs = run[f"{kind}_v_vecs"][:, :, :r]
    return np.array([[subspace_overlap(a, b) for b in vecs] for a in vecs]), r


def suboptimal_runs(runs: Sequence[Mapping[str, np.ndarray]], gap: float) -> np.ndarray:
    """Claim 32's split: True where a run's final test accuracy is below its Bayes accuracy minus ``gap``."""
    return np.array([float(r["acc"][-1]) < float(r["bayes"]) - gap for r in runs], dtype=bool)


def alignment_error(run: Mapping[str, np.ndarray], t: float) -> float:
    """``1 - A(x, top-r of H)`` at the checkpoint closest to ell/d = ``t`` (claim 28)."""
    return 1.0 - float(run["hessian_align"][_at(run, t)])


def gmm_figure_numbers(gmm_runs: Sequence[Mapping[str, np.ndarray]], dscan_runs: Sequence[Mapping[str, np.ndarray]],
                       claims: AlignmentClaims) -> dict[str, dict[float, np.ndarray]]:
    """What figure alignment_gmm draws besides the saved curves: ``snr_error`` maps lam to each run's
    :func:`alignment_error` at ``snr_time`` (claim 28), ``align_time`` maps d to each run's t_align (claim 29)."""
    by_lam: dict[float, list[Mapping[str, np.ndarray]]] = {}
    by_d: dict[float, list[Mapping[str, np.ndarray]]] = {}
    for r in gmm_runs:
        by_lam.setdefault(float(r["lam"]), []).append(r)
    for r in dscan_runs:
        by_d.setdefault(float(r["d"]), []).append(r)
    t_snr, level = float(claims.snr_time), float(claims.align_level)
    return {"snr_error": {lam: np.array([alignment_error(r, t_snr) for r in runs]) for lam, runs in sorted(by_lam.items())},
            "align_time": {d: align_times(runs, level) for d, runs in sorted(by_d.items())}}


def xor_figure_numbers(xor_runs: Sequence[Mapping[str, np.ndarray]], claims: AlignmentClaims) -> dict[str, Any]:
    """What figure alignment_xor draws besides the saved curves, one entry per run in input order:
    ``readout_overlap`` (:func:`readout_overlap_matrix`, with its r) and the claim-32 ``suboptimal`` split."""
    return {"readout_overlap": [readout_overlap_matrix(r) for r in xor_runs],
            "suboptimal": suboptimal_runs(xor_runs, float(claims.suboptimal_gap))}


def alignment_metrics(gmm_runs: Sequence[Mapping[str, np.ndarray]], dscan_runs: Sequence[Mapping[str, np.ndarray]],
                      xor_runs: Sequence[Mapping[str, np.ndarray]], claims: AlignmentClaims) -> MetricsRecord:
    """Per-seed metrics for SPEC §4 claims 24-32 (see ``src/nnspectra/claims/alignment.yaml``)."""
    out = MetricsRecord()
    lam_ref, (lo, hi) = float(claims.lam), claims.align_window
    ref = sorted((r for r in gmm_runs if np.isclose(float(r["lam"]), lam_ref)), key=lambda r: int(r["seed"]))
    if ref:
        seeds = [int(r["seed"]) for r in ref]
        base = _run_evidence(ref)
        for kind, cid in (("hessian", 24), ("gmatrix", 25)):
            out.add(f"gmm_min_align_{kind}",
                [r[f"{kind}_align"][_window(r, lo, hi)].min() for r in ref], seeds, "fraction",
                f"claim {cid}: min over ell/d in [{lo}, {hi}] of A(x_ell, top-r eigenspace of the test {kind}), "
                f"r from the null-run edge, lam={lam_ref:g}", {**base, "window": [lo, hi]})
        if "hessian_block_mean_overlap" in ref[0]:
            out.add("gmm_min_block_mean_overlap",
                [r["hessian_block_mean_overlap"][r["times"] >= lo - 1e-9].min() for r in ref], seeds, "fraction",
                f"claim 26: min over ell/d >= {lo} and classes c of the overlap of the top-k eigenvectors of H_cc "
                f"with span(mu_1..mu_k), lam={lam_ref:g}", {**base, "window_from": [lo]})
        t_em = float(claims.emerge_time)
        out.add("gmm_outlier_growth",
            [r["hessian_r"][_at(r, t_em)] - r["hessian_r"][_at(r, 0.0)] for r in ref], seeds, "count",
            f"claim 27: outliers of the full test Hessian at ell = {t_em:g} d minus at ell = 0, lam={lam_ref:g}",
            {**base, "compared_at": [0.0, t_em]})
        for t, label in ((0.0, "init"), (t_em, "emerge_time")):
            out.add(f"gmm_outliers_at_{label}", [r["hessian_r"][_at(r, t)] for r in ref], seeds, "count",
                    f"detail: outliers of the full test Hessian at ell = {t:g} d, lam={lam_ref:g}",
                    {**base, "compared_at": [t]})
    by_seed: dict[int, list[Mapping[str, np.ndarray]]] = {}
    for r in gmm_runs:
        by_seed.setdefault(int(r["seed"]), []).append(r)
    t_snr = float(claims.snr_time)
    rhos, rho_seeds = [], []
    for s, runs in sorted(by_seed.items()):
        if len({float(r["lam"]) for r in runs}) >= 3:
            lams = [float(r["lam"]) for r in runs]
            errs = [alignment_error(r, t_snr) for r in runs]
            rhos.append(stats.spearmanr(lams, errs)[0])
            rho_seeds.append(s)
    if rhos:
        out.add("gmm_snr_spearman",
            rhos, rho_seeds, "Spearman rho",
            f"claim 28: Spearman correlation between lam and 1 - A(x_ell, top-r of H) at ell = {t_snr:g} d",
            {**_run_evidence(gmm_runs, lam=False), "lams": sorted({float(r["lam"]) for r in gmm_runs}),
             "compared_at": [t_snr]})
    dseeds: dict[int, list[Mapping[str, np.ndarray]]] = {}
    for r in dscan_runs:
        dseeds.setdefault(int(r["seed"]), []).append(r)
    level = float(claims.align_level)
    spreads, spread_seeds = [], []
    for s, runs in sorted(dseeds.items()):
        t_align = align_times(runs, level)
        spreads.append(float(np.max(np.abs(t_align / np.median(t_align) - 1.0))) if np.all(np.isfinite(t_align))
                       else float("inf"))
        spread_seeds.append(s)
    if spreads:
        dims = sorted({int(r["d"]) for r in dscan_runs})
        out.add("gmm_align_time_spread",
            spreads, spread_seeds, "relative deviation",
            f"claim 29: max over d in {dims} of |t_align(d)/median - 1|, t_align = first ell/d with "
            f"A >= {level} (log-interpolated; inf when never reached)",
            {"seeds": len(spread_seeds), "dims": dims})
    if xor_runs:
        xs = sorted(xor_runs, key=lambda r: int(r["seed"]))
        seeds = [int(r["seed"]) for r in xs]
        xbase = {**_run_evidence(xs, lam=False), "K": sorted({int(r["K"]) for r in xs})}
        xlo, xhi = claims.xor_window
        a2, ov = [], []
        for r in xs:
            win = _window(r, xlo, xhi)
            norms = r["W_norm"][win]
            active = norms >= np.median(norms, axis=1, keepdims=True)
            a2.append(r["hessian_unit_align2"][win][active].min())
            ov.append(r["hessian_unit_mean_overlap"][win][active].min())
        out.add("xor_min_unit_align",
            a2, seeds, "fraction", f"claim 30: min over ell/d in [{xlo}, {xhi}] and active units (|W_i| >= median) "
            "of A(W_i, top-2 eigenspace of the unit Hessian block)", {**xbase, "window": [xlo, xhi]})
        out.add("xor_min_unit_mean_overlap",
            ov, seeds, "fraction", f"claim 30: min over ell/d in [{xlo}, {xhi}] and active units of the overlap of "
            "the top-2 eigenvectors of the unit Hessian block with span(mu, nu)", {**xbase, "window": [xlo, xhi]})
        (e1, e2), (l1, l2) = claims.evolve_early, claims.evolve_late
        out.add("xor_readout_overlap_early",
            [readout_evolution(r, e1, e2) for r in xs], seeds, "fraction",
            f"claim 31: overlap of the top-r readout Hessian eigenvectors at ell = {e1:g} d and {e2:g} d",
            {**xbase, "compared_at": [e1, e2]})
        out.add("xor_readout_overlap_late",
            [readout_evolution(r, l1, l2) for r in xs], seeds, "fraction",
            f"claim 31: overlap of the top-r readout Hessian eigenvectors at ell = {l1:g} d and {l2:g} d",
            {**xbase, "compared_at": [l1, l2]})
        gap_pp = float(claims.suboptimal_gap)
        final_acc = np.array([r["acc"][-1] for r in xs])
        sub = suboptimal_runs(xs, gap_pp)
        counts = np.array([r["hessian_v_r"][-1] for r in xs], dtype=float)
        diff = (float(np.median(counts[~sub]) - np.median(counts[sub])) if sub.any() and (~sub).any() else 0.0)
        out.add("xor_rank_deficit",
            [diff], [seeds[0]], "count",
            f"claim 32: median readout-Hessian outlier count of optimal runs ({int((~sub).sum())}) minus that of "
            f"sub-optimal runs ({int(sub.sum())}; test accuracy < Bayes - {gap_pp:g}); 0 when a group is empty",
            {**xbase, "suboptimal_runs": int(sub.sum()), "optimal_runs": int((~sub).sum())})
        out.add("xor_n_suboptimal",
            [float(sub.sum())], [seeds[0]], "runs", f"claim 32: number of sub-optimal runs among {len(xs)} seeds")
        out.add("xor_readout_outliers",
            counts, seeds, "count", "claim 32: readout-Hessian outliers at the last checkpoint, per seed")
        out.add("xor_final_accuracy", final_acc, seeds, "fraction", "XOR test accuracy at the last checkpoint")
    return out
