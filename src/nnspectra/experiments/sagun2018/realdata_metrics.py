"""Claims 8-19 of Sagun et al. (2018) on real data: the per-seed analysis records of the four sections
(MNIST width sweep, LB vs SB, CIFAR-10 LB -> SB, Appendix B) gathered into ``metrics/realdata.json``.

Each metric records its evidence, read off the analyses themselves: the widths of the MNIST sweep (keys
``lambda_max_n<w>``), the steps of each CIFAR-10 part, the alphas of Appendix B; and the scale of the
section's runs (:func:`scale_evidence`: training-set size, input size, steps, batch sizes, architecture).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nnspectra.experiments.metrics import MetricsRecord

SECTIONS = ("mnist", "lbsb", "cifar", "mp")

METRIC_INFO: dict[str, tuple[str, str]] = {
    "mnist_top20_max_rel_dev": ("fraction", ("claim 8: max over every pair of widths a < b and ranks 1-20 of "
                                             "|lambda_r(b) - lambda_r(a)| / lambda_r(a)")),
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


CIFAR10_TRAIN = 50_000  # ``realdata.cifar.data.n_train: null`` = the full training set
# the config entries :func:`scale_evidence` reads
SCALE_KEYS = tuple(f"realdata.{s}.{k}" for s in ("mnist", "lbsb", "cifar") for k in ("data", "model", "train")
                   if (s, k) != ("mnist", "model")) + ("realdata.mp",)


def scale_evidence(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The scale of each section's runs from the step's config subset (``SCALE_KEYS``; absent sections skipped):
    MNIST sweep n_train, input_dim, steps; LB/SB also the batch sizes and the convnet; CIFAR-10 the batch
    sizes, n_train and the AlexNet; Appendix B the sample size N of alpha = M/N."""
    out: dict[str, dict[str, Any]] = {}
    if "realdata.mnist.data" in cfg:
        data = cfg["realdata.mnist.data"]
        out["mnist"] = {"n_train": 10 * int(data["per_class"]), "input_dim": [int(data["image_size"]) ** 2],
                        "steps": int(cfg["realdata.mnist.train"]["iterations"])}
    if "realdata.lbsb.data" in cfg:
        data, model, train = cfg["realdata.lbsb.data"], cfg["realdata.lbsb.model"], cfg["realdata.lbsb.train"]
        c1, c2 = (int(c) for c in model["channels"])
        out["lbsb"] = {"n_train": 10 * int(data["per_class"]), "input_dim": [int(data["image_size"]) ** 2],
                       "steps": int(train["iterations"]), "batch_lb": [int(train["batch_lb"])],
                       "batch_sb": [int(train["batch_sb"])],
                       "architecture": [f"conv{c1}-conv{c2}-fc{int(model['hidden'])} ({int(model['kernel'])}x"
                                        f"{int(model['kernel'])})"]}
    if "realdata.cifar.data" in cfg:
        data, model, train = cfg["realdata.cifar.data"], cfg["realdata.cifar.model"], cfg["realdata.cifar.train"]
        convs = "-".join(f"conv{int(c)}" for c in model["channels"])
        fcs = "-".join(f"fc{int(h)}" for h in model["hidden"])
        out["cifar"] = {"n_train": int(data["n_train"] or CIFAR10_TRAIN), "batch_lb": [int(train["batch_lb"])],
                        "batch_sb": [int(train["batch_sb"])], "architecture": [f"AlexNet {convs}-{fcs}"]}
    if "realdata.mp" in cfg:
        out["mp"] = {"n_samples": int(cfg["realdata.mp"]["n_samples"])}
    return out


def realdata_record(analyses: Mapping[str, Mapping[int, Mapping[str, float]]],
                    scale: Mapping[str, Mapping[str, Any]] | None = None) -> MetricsRecord:
    """Metrics ``<section>_<key>`` from ``{section: {seed: analysis dict}}`` (sections of :data:`SECTIONS`).

    Every value of each seed is kept (also per-width details); the claims read the names in
    :data:`METRIC_INFO`. Each metric carries its section's evidence (:func:`section_evidence`) and the
    section's ``scale`` (:func:`scale_evidence`).
    """
    record = MetricsRecord()
    for section in SECTIONS:
        if analyses.get(section):
            evidence = section_evidence(section, analyses[section])
            extra = (scale or {}).get(section, {})
            record.add_per_seed(section, analyses[section], METRIC_INFO,
                                {name: {**extra, **ev} for name, ev in evidence.items()})
    return record
