"""The exact m x m reduction of a one-hidden-layer ReLU net's Hessian (curvature/reduced.py), in float64,
against independent references: torch.func.hessian (every eigenvalue), the project's dense route and
torch Lanczos edges at the paper's widest MNIST net (784-70-10, P = 55,660)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nnspectra.curvature.choose import choose_spectrum_method
from nnspectra.curvature.reduced import one_hidden_layer, reduced_hessian_eigenvalues, reduced_size
from nnspectra.curvature.spectrum import SpectrumSettings, hessian_spectrum, lanczos_edges
from nnspectra.curvature.products import HessianProducts
from nnspectra.errors import ConfigError
from nnspectra.models.mlp import make_mlp
from nnspectra.models.sizes import mlp_parameter_count, mlp_spectrum_mb
from nnspectra.training.evaluate import cross_entropy


def _case(d: int, n: int, c: int, n_samples: int, bias: bool = True, seed: int = 0, dead: int = 0):
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(d, n, bias=bias), nn.ReLU(), nn.Linear(n, c, bias=bias)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.7)
        if dead:  # units that never fire: no residual block, zero gradient on their incoming weights
            model[0].weight[:dead] = -model[0].weight[:dead].abs()
            if bias:
                model[0].bias[:dead] = -10.0
    x = torch.rand(n_samples, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, c, (n_samples,), generator=gen)
    return model, x, y


def _reference(model, x, y) -> np.ndarray:
    params = {k: v.detach() for k, v in model.named_parameters()}
    names = list(params)
    sizes = [params[k].numel() for k in names]

    def loss(flat: torch.Tensor) -> torch.Tensor:
        chunks = torch.split(flat, sizes)
        new = {k: c.reshape(params[k].shape) for k, c in zip(names, chunks)}
        return cross_entropy(torch.func.functional_call(model, new, (x,)), y)

    flat = torch.cat([params[k].reshape(-1) for k in names])
    return np.linalg.eigvalsh(torch.func.hessian(loss)(flat).numpy())


@pytest.mark.parametrize(("d", "n", "c", "n_samples", "bias", "dead"), [
    (6, 5, 4, 9, True, 0), (6, 5, 4, 9, False, 0), (3, 4, 2, 7, True, 0), (20, 8, 10, 30, True, 0),
    (12, 7, 5, 40, True, 3), (30, 3, 10, 5, True, 0)])
def test_every_eigenvalue_matches_torch_func_hessian(d, n, c, n_samples, bias, dead):
    model, x, y = _case(d, n, c, n_samples, bias, dead=dead)
    red = reduced_hessian_eigenvalues(model, x, y)
    ref = _reference(model, x, y)
    assert red.eigenvalues.shape == ref.shape == (red.n_params,)
    np.testing.assert_allclose(red.eigenvalues, ref, rtol=0, atol=1e-12 * max(1.0, np.abs(ref).max()))
    assert red.n_columns == (n_samples + 2 * n) * (c - 1) and red.rank <= min(red.n_columns, red.n_params)
    tol = 1e-10 * np.abs(ref).max()
    assert int(np.sum(red.eigenvalues < -tol)) == int(np.sum(ref < -tol))


def test_reduction_applies_only_to_one_hidden_relu_layer():
    assert one_hidden_layer(make_mlp([5, 4, 3])) is not None
    assert one_hidden_layer(make_mlp([5, 4, 3], activation="tanh")) is None
    assert one_hidden_layer(make_mlp([5, 4, 4, 3])) is None
    assert reduced_size(make_mlp([784, 70, 10]), 1000) == (1000 + 140) * 9
    with pytest.raises(ValueError, match="Sequential"):
        reduced_hessian_eigenvalues(make_mlp([5, 4, 4, 3]), torch.rand(3, 5), torch.tensor([0, 1, 2]))


def test_auto_takes_the_reduction_when_it_is_smaller_and_agrees_with_dense():
    model, x, y = _case(40, 25, 10, 50, seed=1)   # P = 1,285 > m = 900
    model = model.float()
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
    small, xs, ys = _case(5, 4, 3, 50)
    assert hessian_spectrum(small.float(), cross_entropy, xs.float(), ys, SpectrumSettings())["method"] == "dense"


def test_choice_reads_only_sizes_and_budget():
    a = choose_spectrum_method(55_660, torch.float64, "cpu", budget_gb=18.0, reduced_columns=10_260)
    b = choose_spectrum_method(55_660, torch.float64, "cpu", budget_gb=18.0, reduced_columns=10_260)
    assert a == b and a.method == "reduced"
    assert choose_spectrum_method(55_660, torch.float64, "cpu", budget_gb=1.0, reduced_columns=10_260).method == "lanczos"
    assert choose_spectrum_method(7_960, torch.float64, "cpu", budget_gb=18.0, reduced_columns=9_180).method == "dense"


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
