"""MLP of Sagun et al.: parameter counts, N(0, 0.1^2) init, and the numpy backward vs torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnspectra.errors import ConfigError
from nnspectra.models.mlp import make_mlp, mlp_parameter_count
from reference_mlp import NumpyMLP


@pytest.mark.parametrize("k,size", [(2, 4022), (5, 4115), (10, 4270), (20, 4580), (50, 5510)])
def test_parameter_counts_match_table1_size_column(k: int, size: int) -> None:
    model = make_mlp([100, 30, 30, k])
    assert mlp_parameter_count([100, 30, 30, k]) == size == sum(p.numel() for p in model.parameters())


def test_normal_init_scale_and_seed() -> None:
    flat = torch.cat([p.detach().ravel() for p in make_mlp([100, 30, 30, 50], init_scale=0.1, seed=4).parameters()])
    assert abs(float(flat.std()) - 0.1) < 0.005 and abs(float(flat.mean())) < 0.005
    again = torch.cat([p.detach().ravel() for p in make_mlp([100, 30, 30, 50], seed=4).parameters()])
    other = torch.cat([p.detach().ravel() for p in make_mlp([100, 30, 30, 50], seed=5).parameters()])
    assert torch.equal(flat, again) and not torch.equal(flat, other)


def test_biases_and_activation_layout() -> None:
    model = make_mlp([4, 3, 2], activation="tanh")
    assert isinstance(model[1], torch.nn.Tanh) and model[0].bias is not None and len(model) == 3


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_numpy_reference_and_fast_gradient_match_torch_autograd(act: str) -> None:
    """The test-only numpy reference (independent of torch) agrees with autograd; the library's fast
    gradient path (nnspectra.training.fast_mlp) equals autograd bit for bit."""
    from nnspectra.training.fast_mlp import fast_gradient_for

    gen = torch.Generator().manual_seed(0)
    model = make_mlp([6, 5, 4, 3], act, seed=2, init_scale=0.7, dtype=torch.float64)
    x = torch.randn(11, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (11,), generator=gen)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    autograd = [p.grad.clone() for p in model.parameters()]
    fast = fast_gradient_for(model, torch.nn.functional.cross_entropy, y)(x, y)
    assert torch.equal(fast, loss.detach())
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), autograd))
    _check_numpy_reference(model, act, x, y, loss, autograd)


def _check_numpy_reference(model, act, x, y, loss, autograd) -> None:
    net = NumpyMLP.from_torch(model, act)
    value, grads = net.loss_and_grad(x.numpy(), y.numpy())
    assert value == pytest.approx(loss.item(), rel=1e-13)
    for g, ref in zip(grads, autograd):
        np.testing.assert_allclose(g, ref.numpy(), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(net.logits(x.numpy()), model(x).detach().numpy(), rtol=1e-12)


def test_to_torch_round_trip() -> None:
    model = make_mlp([3, 4, 2], seed=0, dtype=torch.float64)
    net = NumpyMLP.from_torch(model, "relu")
    net.params[0][0, 0] = 42.0
    back = net.to_torch(make_mlp([3, 4, 2], seed=9, dtype=torch.float64))
    assert float(back[0].weight[0, 0]) == 42.0 and torch.equal(back[2].bias, model[2].bias)


@pytest.mark.parametrize("kw", [dict(activation="gelu"), dict(init="xavier"), dict(sizes=[3])])
def test_bad_settings_raise(kw: dict) -> None:
    args = dict(sizes=[3, 2]) | kw
    with pytest.raises(ConfigError):
        make_mlp(**args)
