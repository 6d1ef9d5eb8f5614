"""curvature/reduced.py: the exact m x m reduction of a one-hidden-layer ReLU net's Hessian, in float64, on every
shared one-hidden-layer ReLU case against the reference Hessian's eigenvalues (torch.func.hessian); then the
route choice and the paper's widest MNIST net against torch Lanczos edges (784-70-10, P = 55,660)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from curvature_cases import RELU1_CASES, case_id, relu1, relu1_data
from curvature_reference import references
from nnspectra.curvature.reduced import one_hidden_layer, reduced_hessian_eigenvalues, reduced_size
from nnspectra.curvature.spectrum import SpectrumSettings, hessian_spectrum, lanczos_edges
from nnspectra.curvature.products import HessianProducts
from nnspectra.errors import ConfigError
from nnspectra.models.mlp import make_mlp
from nnspectra.models.sizes import mlp_parameter_count, mlp_spectrum_mb
from nnspectra.training.evaluate import cross_entropy


@pytest.mark.parametrize("case", RELU1_CASES, ids=case_id)
def test_every_eigenvalue_matches_reference_hessian(case):
    model, x, y = case.build()
    n, c = model[0].out_features, model[2].out_features
    red = reduced_hessian_eigenvalues(model, x, y)
    ref = references(case).eigenvalues
    assert red.eigenvalues.shape == ref.shape == (red.n_params,) == (case.n_params,)
    np.testing.assert_allclose(red.eigenvalues, ref, rtol=0, atol=1e-12 * max(1.0, np.abs(ref).max()))
    assert red.n_columns == (len(x) + 2 * n) * (c - 1) == reduced_size(model, len(x))
    assert red.rank <= min(red.n_columns, red.n_params)
    tol = 1e-10 * np.abs(ref).max()
    assert int(np.sum(red.eigenvalues < -tol)) == int(np.sum(ref < -tol))


def test_reduction_applies_only_to_one_hidden_relu_layer():
    """(The case list's flags are checked against one_hidden_layer in test_dense.py; these are make_mlp nets.)"""
    assert one_hidden_layer(make_mlp([5, 4, 3])) is not None
    assert one_hidden_layer(make_mlp([5, 4, 3], activation="tanh")) is None
    assert one_hidden_layer(make_mlp([5, 4, 4, 3])) is None
    assert reduced_size(make_mlp([784, 70, 10]), 1000) == (1000 + 140) * 9
    with pytest.raises(ValueError, match="Sequential"):
        reduced_hessian_eigenvalues(make_mlp([5, 4, 4, 3]), torch.rand(3, 5), torch.tensor([0, 1, 2]))


def test_auto_takes_the_reduction_when_it_is_smaller_and_agrees_with_dense():
    """Kept apart: needs m < P (P = 1,285 > m = 900), larger than the shared cases, in float32 through the
    spectrum front-end."""
    model = relu1(40, 25, 10, seed=1).float()
    x, y = relu1_data(40, 25, 10, 50, seed=1)
    auto = hessian_spectrum(model, cross_entropy, x.float(), y, SpectrumSettings(method="auto", top_k=30, bottom_k=60))
    dense = hessian_spectrum(model, cross_entropy, x.float(), y, SpectrumSettings(method="dense", top_k=30, bottom_k=60))
    assert auto["method"] == "reduced" and "exact m x m reduction" in auto["method_reason"]
    assert auto["dtype"] == "float64" and auto["hvps"] == 0
    scale = np.abs(dense["eigenvalues"]).max()
    np.testing.assert_allclose(auto["eigenvalues"], dense["eigenvalues"], rtol=0, atol=1e-11 * scale)
    assert auto["n_negative"] == dense["n_negative"] > 0
    # the count comes with its threshold and the eigenvalues on either side of it
    assert auto["negative_closest"] < -auto["negative_tolerance"] <= auto["above_negatives"]
    # wider input, fewer samples: m >= P, so auto stays with the dense route
    small, (xs, ys) = relu1(5, 4, 3), relu1_data(5, 4, 3, 50)
    assert hessian_spectrum(small.float(), cross_entropy, xs.float(), ys, SpectrumSettings())["method"] == "dense"


def test_reduced_method_on_another_model_is_one_line():
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with pytest.raises(ConfigError, match="needs a Sequential\\(Linear, ReLU, Linear\\)"):
        hessian_spectrum(model, cross_entropy, torch.rand(5, 4), torch.tensor([0, 1, 0, 1, 0]),
                         SpectrumSettings(method="reduced"))


def test_job_memory_follows_the_method():
    sizes = [784, 70, 10]
    assert mlp_spectrum_mb(sizes, 1000, "auto") < 5_000 < mlp_spectrum_mb(sizes, 1000, "dense")
    assert mlp_spectrum_mb([784, 10, 10], 1000, "auto") == mlp_spectrum_mb([784, 10, 10], 1000, "dense")
    assert mlp_parameter_count(sizes) == 55_660


@pytest.mark.slow
def test_edges_match_lanczos_at_the_widest_mnist_net():
    """784-70-10 (P = 55,660) on 100 samples: top-8 and bottom-8 eigenvalues equal torch Lanczos's to 1e-8."""
    torch.manual_seed(0)
    model = make_mlp([784, 70, 10], seed=3, dtype=torch.float64)
    x = torch.rand(100, 784, dtype=torch.float64)
    y = torch.arange(100) % 10
    red = reduced_hessian_eigenvalues(model, x, y)
    op = HessianProducts(model, cross_entropy, x, y, dtype=torch.float64)
    top, bottom = lanczos_edges(op, 8, 8, tol=1e-12, seed=0)
    np.testing.assert_allclose(top, red.eigenvalues[::-1][:8], rtol=1e-8)
    np.testing.assert_allclose(bottom, red.eigenvalues[:8], rtol=1e-8)
