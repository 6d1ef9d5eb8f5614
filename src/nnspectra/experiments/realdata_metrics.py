"""Claims 8-19 of Sagun et al. (2018) on real data: the per-seed analysis records of the four sections
(MNIST width sweep, LB vs SB, CIFAR-10 LB -> SB, Appendix B) gathered into ``metrics/realdata.json``."""

from __future__ import annotations

from collections.abc import Mapping

from nnspectra.experiments.metrics import MetricsRecord

SECTIONS = ("mnist", "lbsb", "cifar", "mp")

METRIC_INFO: dict[str, tuple[str, str]] = {
    "mnist_top20_max_rel_dev": ("fraction", "claim 8: max over widths and ranks 1-20 of |lambda_r(n) - lambda_r(n_min)| / lambda_r(n_min)"),
    "mnist_lambda_max_min": ("loss/param^2", "claim 8: smallest lambda_max over the widths"),
    "mnist_lambda_max_max": ("loss/param^2", "claim 8: largest lambda_max over the widths"),
    "mnist_neg_frac_mean_pct": ("percent", "claim 9: mean over widths of the share of negative eigenvalues"),
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
    "mp_ks_max": ("KS distance", "claim 18: max over alpha of the KS distance to MP (single blob, mean-normalised)"),
    "mp_outliers_min": ("count", "claim 19: fewest eigenvalues > 10x the bulk edge over the two-blob alphas"),
    "mp_outliers_max": ("count", "claim 19: most eigenvalues > 10x the bulk edge over the two-blob alphas"),
    "mp_outlier_order_ok": ("bool", "claim 19: 1 if the outlier grows with alpha = d/N"),
}


def realdata_record(analyses: Mapping[str, Mapping[int, Mapping[str, float]]]) -> MetricsRecord:
    """Metrics ``<section>_<key>`` from ``{section: {seed: analysis dict}}`` (sections of :data:`SECTIONS`).

    Every value of each seed is kept (also per-width details); the claims read the names in
    :data:`METRIC_INFO`.
    """
    record = MetricsRecord()
    for section in SECTIONS:
        if section in analyses:
            record.add_per_seed(section, analyses[section], METRIC_INFO)
    return record
