"""CK and NTK closed forms against autodiff Jacobians (torch.func, float64, small sizes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev

from nnspectra.errors import ConfigError
from nnspectra.curvature.kernels import (
    conjugate_kernel,
    direction_alignment,
    label_alignment,
    ntk,
    weight_gram,
)
from nnspectra.models.linear_width import LinearWidthMLP


def _autodiff_ntk(model: LinearWidthMLP, x: torch.Tensor, names: tuple[str, ...]) -> np.ndarray:
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(model, {**p, **buffers}, (x,))

    jac = jacrev(f)(params)
    blocks = [jac[name].reshape(x.shape[0], -1) for name in names]
    full = torch.cat(blocks, dim=1)
    return (full @ full.T).numpy()


@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus"])
@pytest.mark.parametrize("train_a", [False, True])
def test_ntk_matches_autodiff_jacobian(activation: str, train_a: bool) -> None:
    n, d, h = 7, 5, 6
    model = LinearWidthMLP(d, h, hidden_layers=1, activation=activation, train_a=train_a, seed=3, dtype=torch.float64)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    names = ("Ws.0", "a") if train_a else ("Ws.0",)
    reference = _autodiff_ntk(model, x, names)
    closed = ntk(model.Ws[0].detach().numpy(), model.a.detach().numpy(), x.numpy(), activation,
                 params="both" if train_a else "W")
    np.testing.assert_allclose(closed, reference, rtol=1e-10, atol=1e-12)


def test_ck_is_second_layer_ntk_block_and_model_output() -> None:
    n, d, h = 6, 4, 9
    model = LinearWidthMLP(d, h, hidden_layers=1, train_a=True, seed=0)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    reference = _autodiff_ntk(model, x, ("a",))
    ck = conjugate_kernel(model.Ws[0].detach().numpy(), x.numpy(), "tanh")
    np.testing.assert_allclose(ck, reference, rtol=1e-10, atol=1e-12)
    # the CK's features reproduce the network's output
    feats = np.tanh(x.numpy() @ model.Ws[0].detach().numpy().T / np.sqrt(d))
    np.testing.assert_allclose(feats @ model.a.detach().numpy() / np.sqrt(h), model(x).detach().numpy(), rtol=1e-12)


def test_weight_gram_and_kernels_are_symmetric_psd() -> None:
    rng = np.random.default_rng(0)
    w, x, a = rng.standard_normal((8, 5)), rng.standard_normal((10, 5)), rng.standard_normal(8)
    for mat in (weight_gram(w), conjugate_kernel(w, x), ntk(w, a, x), ntk(w, a, x, params="both")):
        np.testing.assert_allclose(mat, mat.T, atol=1e-12)
        assert np.linalg.eigvalsh(mat).min() > -1e-10
    np.testing.assert_allclose(weight_gram(w), w.T @ w / 8)


def test_alignments() -> None:
    y = np.array([1.0, -1.0, 2.0])
    assert label_alignment(3 * y, y) == pytest.approx(1.0)
    assert label_alignment(np.array([1.0, 1.0, 0.0]), y) == pytest.approx(0.0)
    assert direction_alignment(np.array([0.0, -2.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert direction_alignment(np.array([1.0, 1.0]), np.array([0.0, 1.0])) == pytest.approx(2**-0.5)


def test_bad_shapes_and_names_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="shapes"):
        conjugate_kernel(np.ones((3, 4)), np.ones((2, 5)))
    with pytest.raises(ConfigError, match="NTK"):
        ntk(np.ones((3, 4)), np.ones(3), np.ones((2, 4)), params="a")
    with pytest.raises(ConfigError, match="activation"):
        conjugate_kernel(np.ones((3, 4)), np.ones((2, 4)), activation="gelu")
