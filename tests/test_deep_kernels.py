"""Deep-MLP CK/NTK closed forms (SPEC §3.3) against torch.func Jacobian Grams and the two-layer forms, float64."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev

from nnspectra.curvature.deep_kernels import deep_ck, deep_ntk, deep_output, kernel_points
from nnspectra.curvature.kernels import conjugate_kernel, network_output, ntk
from nnspectra.errors import ConfigError
from nnspectra.experiments.wang2023.evolution import (EvoAnalysis, EvoData, EvoModel, EvoRun, build_model, run_evolution)
from nnspectra.models.linear_width import LinearWidthMLP


def _jacobian_gram(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Reference NTK: the full Jacobian over every trained parameter, J J^T."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    jac = jacrev(lambda p: functional_call(model, {**p, **buffers}, (x,)))(params)
    full = torch.cat([j.reshape(x.shape[0], -1) for j in jac.values()], dim=1)
    return (full @ full.T).numpy()


def _weights(model: LinearWidthMLP) -> list[np.ndarray]:
    return [w.detach().numpy() for w in model.hidden_weights()]


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("train_a", [False, True])
def test_deep_ntk_matches_jacobian_gram(layers: int, activation: str, train_a: bool) -> None:
    n, d, h = 7, 5, 6
    model = LinearWidthMLP(d, h, hidden_layers=layers, activation=activation, train_a=train_a, seed=4,
                           dtype=torch.float64)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    closed = deep_ntk(_weights(model), model.a.detach().numpy(), x.numpy(), activation,
                      params="both" if train_a else "W")
    np.testing.assert_allclose(closed, _jacobian_gram(model, x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(deep_output(_weights(model), model.a.detach().numpy(), x.numpy(), activation),
                               model(x).detach().numpy(), rtol=1e-12, atol=1e-14)


def test_deep_ck_is_readout_block_of_the_ntk() -> None:
    n, d, h = 6, 4, 5
    model = LinearWidthMLP(d, h, hidden_layers=3, train_a=True, seed=2)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    params = {"a": model.a.detach()}
    rest = {k: v.detach() for k, v in model.named_parameters() if k != "a"}
    jac = jacrev(lambda p: functional_call(model, {**p, **rest}, (x,)))(params)["a"]
    np.testing.assert_allclose(deep_ck(_weights(model), x.numpy()), (jac @ jac.T).numpy(), rtol=1e-10, atol=1e-12)


def _two_layer_as_it_was(d: int, h: int, activation: str, train_a: bool, init_std: float, seed: int,
                         dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """The former ``models.two_layer.TwoLayer`` written out: its init (one generator seeded with ``seed``:
    ``W = init_std * randn(h, d)`` then ``a = init_std * randn(h)``) and its forward pass
    ``sigma(x W^T / sqrt(d)) a / sqrt(h)``, statement for statement, so the replacement is held to its bits."""
    gen = torch.Generator().manual_seed(int(seed))
    weight = init_std * torch.randn(h, d, generator=gen, dtype=dtype)
    head = init_std * torch.randn(h, generator=gen, dtype=dtype)
    sigma = {"tanh": torch.tanh, "relu": torch.relu, "softplus": torch.nn.functional.softplus}[activation]

    def forward(x: torch.Tensor) -> torch.Tensor:
        return sigma(x @ weight.T / math.sqrt(d)) @ head / math.sqrt(h)

    return weight, head, forward


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus"])
@pytest.mark.parametrize("train_a", [False, True])
def test_one_hidden_layer_is_the_former_two_layer_net_bit_for_bit(train_a: bool, activation: str,
                                                                   dtype: torch.dtype) -> None:
    """``LinearWidthMLP(hidden_layers=1)`` replaced ``TwoLayer``: same seed, same parameter bytes, same output
    bytes, same trainable set (W, plus a when ``train_a``), and the two-layer closed forms."""
    n, d, h, seed, init_std = 9, 6, 8, 10_007, 0.7
    weight, head, forward = _two_layer_as_it_was(d, h, activation, train_a, init_std, seed, dtype)
    net = LinearWidthMLP(d, h, hidden_layers=1, activation=activation, train_a=train_a, init_std=init_std, seed=seed,
                         dtype=dtype)
    assert net.Ws[0].dtype == dtype and net.Ws[0].detach().numpy().tobytes() == weight.numpy().tobytes()
    assert net.a.detach().numpy().tobytes() == head.numpy().tobytes()
    assert {k for k, _ in net.named_parameters()} == ({"Ws.0", "a"} if train_a else {"Ws.0"})
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(3), dtype=dtype)
    assert net(x).detach().numpy().tobytes() == forward(x).numpy().tobytes()
    if dtype == torch.float64:
        w, a, xn = weight.numpy(), head.numpy(), x.numpy()
        params = "both" if train_a else "W"
        np.testing.assert_allclose(deep_ntk([w], a, xn, activation, params=params),
                                   ntk(w, a, xn, activation, params=params), rtol=1e-12)
        np.testing.assert_allclose(deep_ck([w], xn, activation), conjugate_kernel(w, xn, activation), rtol=1e-12)
        np.testing.assert_allclose(deep_output([w], a, xn, activation), network_output(w, a, xn, activation),
                                   rtol=1e-12)


def test_evolution_builds_the_two_layer_net_from_the_former_draws() -> None:
    """The evolution student at ``hidden_layers = 1`` (seed offset 10,000) is the former ``TwoLayer``."""
    model = build_model(5, EvoModel(width=7, activation="tanh", init_std=1.0, dtype="float64", hidden_layers=1),
                        train_a=False, seed=3)
    weight, head, forward = _two_layer_as_it_was(5, 7, "tanh", False, 1.0, 10_003, torch.float64)
    assert torch.equal(model.Ws[0], weight) and torch.equal(model.a, head) and len(model.Ws) == 1
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(model(x), forward(x))


def test_kernel_points_are_evenly_spaced_and_shapes_are_checked() -> None:
    np.testing.assert_array_equal(kernel_points(10, 5), [0, 2, 4, 6, 8])  # class-sorted -> balanced
    np.testing.assert_array_equal(kernel_points(4, None), np.arange(4))
    np.testing.assert_array_equal(kernel_points(4, 9), np.arange(4))
    with pytest.raises(ConfigError, match="layer 2"):
        deep_ck([np.ones((3, 4)), np.ones((3, 2))], np.ones((5, 4)))


DATA = EvoData(kind="teacher", n_train=40, n_test=20, dim=12)
DEEP = EvoModel(width=16, hidden_layers=2, dtype="float64", ntk_points=20)
ANALYSIS = EvoAnalysis(checkpoints=(0, 1), min_tail=5)


def test_deep_run_reports_every_layer_the_ck_and_a_subset_ntk() -> None:
    summary, arrays = run_evolution(DATA, DEEP, EvoRun("invariant", "gd", 1.0, 3), ANALYSIS, seed=0)
    assert (summary["hidden_layers"], summary["ntk_points"], summary["width"]) == (2, 20, 16)
    assert arrays["w_t0"].shape == (12,) and arrays["w2_t0"].shape == (16,)
    assert arrays["ck_t3"].shape == (40,) and arrays["ntk_t3"].shape == (20,)
    final = summary["rows"][-1]
    assert final["w2_mp_edge"] == pytest.approx(4.0) and final["w2_dW_op"] > 0
    assert "diverged" not in summary


def test_recorded_divergence_keeps_the_summary() -> None:
    huge = EvoRun("spike", "gd", 1e20, 10, divergence_steps=2, on_divergence="record")
    summary, _ = run_evolution(DATA, replace(DEEP, hidden_layers=1), huge, ANALYSIS, seed=0)
    assert summary["diverged"].startswith("training ") and "lr=1e+20" in summary["diverged"]
    assert summary["rows"][-1]["step"] < 10
