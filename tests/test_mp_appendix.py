"""Appendix B: logistic-regression Hessians against closed forms and the Marchenko-Pastur law."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnspectra.experiments.sagun2018.mp import (
    MpSettings, mp_metrics, run_mp_appendix, single_blob_hessian, two_blob_data, two_blob_hessian,
)
from nnspectra.spectra.mp import ks_distance_to_mp
from nnspectra.spectra.outliers import count_far_outliers


def test_single_blob_matches_closed_form():
    n, ratio, seed = 60, 0.5, 3
    eigs = single_blob_hessian(n, ratio, seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 30, generator=gen, dtype=torch.float64)
    s = x @ torch.full((30,), 0.01, dtype=torch.float64)
    c = torch.sigmoid(s) * (1 - torch.sigmoid(s))  # logistic loss curvature, independent of the labels
    ref = torch.linalg.eigvalsh((x.T * c) @ x / n).numpy()
    assert np.allclose(eigs, ref, rtol=1e-10, atol=1e-12)


def test_two_blob_matches_kronecker_form_and_has_one_outlier():
    n, ratio, delta, seed = 80, 0.5, 2.0, 1
    eigs = two_blob_hessian(n, ratio, delta, seed)
    x, _ = two_blob_data(n, 40, delta, seed)
    a = torch.tensor([[0.25, -0.25], [-0.25, 0.25]], dtype=torch.float64)
    ref = torch.linalg.eigvalsh(torch.kron(a, x.T @ x)).numpy()
    assert np.allclose(eigs, ref, rtol=1e-9, atol=1e-9)
    assert np.sum(np.abs(eigs) < 1e-8 * eigs.max()) == 40  # d exact zeros from the softmax null direction
    count, edge = count_far_outliers(eigs, ratio, n, factor=5.0)
    assert count == 1 and eigs[-1] > 5 * edge and eigs[-2] < 5 * edge


def test_mp_fit_is_close_for_moderate_size_and_far_for_a_wrong_ratio():
    eigs = single_blob_hessian(400, 0.25, 0)
    normalised = eigs / eigs.mean()
    assert ks_distance_to_mp(normalised, 0.25) < 0.06
    assert ks_distance_to_mp(normalised, 1.0) > 0.15


def test_run_and_metrics():
    cfg = {"n_samples": 100, "ratios": [0.2, 1.0], "two_blob_ratios": [0.5, 1.0], "blob_distance": 3.0,
           "outlier_factor": 10.0}
    res = run_mp_appendix(MpSettings(**cfg), seed=0)
    m = mp_metrics(res, cfg["ratios"], cfg["two_blob_ratios"])
    assert m["outliers_min"] == m["outliers_max"] == 1
    assert m["outlier_order_ok"] == 1.0
    assert 0.0 <= m["ks_max"] < 0.2
    assert m["outlier_value_alpha1"] > m["outlier_value_alpha0.5"]
    with pytest.raises(Exception):
        run_mp_appendix(MpSettings(**{**cfg, "ratios": [0.001]}), seed=0)
