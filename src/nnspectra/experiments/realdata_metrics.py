"""Claims 8-19 of Sagun et al. (2018) on real data: the per-seed analysis records of the four sections
(MNIST width sweep, LB vs SB, CIFAR-10 LB -> SB, Appendix B) gathered into ``metrics/realdata.json``.

Each metric records its evidence, read off the analyses themselves: the widths of the MNIST sweep (keys
``lambda_max_n<w>``), the steps of each CIFAR-10 part, the alphas of Appendix B.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nnspectra.experiments.metrics import MetricsRecord

SECTIONS = ("mnist", "lbsb", "cifar", "mp")

METRIC_INFO: dict[str, tuple[str, str]] = {
    "mnist_top20_max_rel_dev": ("fraction", "claim 8: max over widths and ranks 1-20 of |lambda_r(n) - lambda_r(n_min)| / lambda_r(n_min)"),
    "mnist_lambda_max_min": ("loss/param^2", "claim 8: smallest lambda_max over the widths"),
    "mnist_lambda_max_max": ("loss/param^2", "claim 8: largest lambda_max over the widths"),
    "mnist_neg_frac_mean_pct": ("percent", "claim 9: mean over widths of the share of negative eigenvalues"),
    "mnist_neg_frac_min_pct": ("percent", "claim 9: smallest share of negative eigenvalues over the widths"),
    "mnist_neg_frac_max_pct": ("percent", "claim 9: largest share of negative eigenvalues over the widths"),
    "mnist_neg_count_minus_cm1_n_max_abs": ("count", ("structure: max over widths of |#negative eigenvalues - "
                                                      "(C - 1) n| (C = 10 classes, n hidden units)")),
    "mnist_neg_frac_spread_pp": ("percentage points", "claim 9: max - min over widths of the negative share"),
    "mnist_min_over_max_ratio": ("fraction", "claim 9: max over widths of |lambda_min| / lambda_max"),
    "mnist_outlier_count_change": ("count", "claim 10: |outliers(n_max) - outliers(n_min)|, outlier = > tau x median of top 120"),
    "lbsb_lambda_max_ratio_lb_sb": ("ratio", "claim 11: lambda_max(LB) / lambda_max(SB)"),
    "lbsb_count_diff": ("count", "claim 12: |#above threshold (LB) - #above threshold (SB)|"),
    "lbsb_count_min": ("count", "claim 12: smaller of the two counts above the heuristic threshold"),
    "lbsb_count_max": ("count", "claim 12: larger of the two counts above the heuristic threshold"),
    "lbsb_pos_neg_ratio_min": ("ratio", "claim 13: min over LB, SB of lambda_max / |lambda_min|"),
    "cifar_switch_train_loss_jump": ("nats", "claim 14: train loss at the first Part II record minus at the end of Part I"),
    "cifar_switch_test_acc_dip_pp": ("percentage points", "claim 14: test accuracy drop at the switch"),
    "cifar_test_acc_gain_pp": ("percentage points", "claim 15: final test accuracy of Part II minus Part I"),
    "cifar_final_test_acc_part2": ("fraction", "claim 15: final Part II test accuracy"),
    "cifar_barrier_train_loss": ("nats", "claim 16: max train loss on alpha in [0,1] minus the larger end point"),
    "cifar_test_acc_monotone_violation_pp": ("percentage points", "claim 16: largest departure of test accuracy from monotone on [0,1]"),
    "cifar_test_loss_monotone_violation": ("nats", "claim 16: largest departure of test loss from monotone on [0,1]"),
    "cifar_train_loss_ratio_m1_over_2": ("ratio", "claim 17: train loss at alpha=-1 / at alpha=2"),
    "cifar_steps_part1": ("steps", "steps of Part I (large batch)"),
    "cifar_steps_part2": ("steps", "steps of Part II (small batch)"),
    "mp_ks_max": ("KS distance", "claim 18: max over alpha of the KS distance to MP (single blob, mean-normalised)"),
    "mp_outliers_min": ("count", "claim 19: fewest eigenvalues > 10x the bulk edge over the two-blob alphas"),
    "mp_outliers_max": ("count", "claim 19: most eigenvalues > 10x the bulk edge over the two-blob alphas"),
    "mp_outlier_order_ok": ("bool", "claim 19: 1 if the outlier grows with alpha = d/N"),
}


def _keyed(by_seed: Mapping[int, Mapping[str, Any]], pattern: str) -> list[float]:
    """Numbers ``x`` of the keys ``pattern`` (a regex with one group) present for every seed."""
    found = [{float(m.group(1)) for key in values if (m := re.fullmatch(pattern, key))} for values in by_seed.values()]
    common = set.intersection(*found) if found else set()
    return sorted(common)


def _as_ints(xs: list[float]) -> list[float | int]:
    return [int(x) if float(x).is_integer() else x for x in xs]


def section_evidence(section: str, by_seed: Mapping[int, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Evidence per full metric name of one section, from its per-seed analyses (see the module docstring)."""
    seeds = {"seeds": len(by_seed)}
    names = {f"{section}_{key}" for values in by_seed.values() for key in values}
    if section == "mnist":
        common = {**seeds, "widths": _as_ints(_keyed(by_seed, r"lambda_max_n(\d+)"))}
        return {name: common for name in names}
    if section == "cifar":
        steps = [min(v.get("steps_part1", 0.0), v.get("steps_part2", 0.0)) for v in by_seed.values()
                 if "steps_part1" in v and "steps_part2" in v]
        common = {**seeds, **({"steps_per_part": int(min(steps))} if len(steps) == len(by_seed) else {})}
        return {name: common for name in names}
    if section == "mp":
        ks = {**seeds, "alphas": _as_ints(_keyed(by_seed, r"ks_alpha([0-9.e+-]+)"))}
        two = {**seeds, "alphas": _as_ints(_keyed(by_seed, r"outlier_value_alpha([0-9.e+-]+)"))}
        return {name: (ks if name.startswith("mp_ks") else two) for name in names}
    return {name: seeds for name in names}


def realdata_record(analyses: Mapping[str, Mapping[int, Mapping[str, float]]]) -> MetricsRecord:
    """Metrics ``<section>_<key>`` from ``{section: {seed: analysis dict}}`` (sections of :data:`SECTIONS`).

    Every value of each seed is kept (also per-width details); the claims read the names in
    :data:`METRIC_INFO`. Each metric carries its section's evidence (:func:`section_evidence`).
    """
    record = MetricsRecord()
    for section in SECTIONS:
        if analyses.get(section):
            record.add_per_seed(section, analyses[section], METRIC_INFO,
                                section_evidence(section, analyses[section]))
    return record
