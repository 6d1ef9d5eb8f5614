"""Training: the shared torch trainer and the blobs numpy trainer follow the same trajectory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnspectra.errors import DivergenceError
from nnspectra.training.fast_mlp import train_numpy
from nnspectra.models.mlp import make_mlp
from nnspectra.training.fast_mlp import NumpyMLP
from nnspectra.training import BatchSampler, TrainConfig, train


def _problem(seed: int = 0, n: int = 20, d: int = 6, k: int = 3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=gen)
    return x, y


@pytest.mark.parametrize("batch,schedule", [(None, "cyclic"), (5, "cyclic"), (5, "shuffle")])
def test_numpy_trainer_matches_shared_torch_trainer(batch: int | None, schedule: str) -> None:
    x, y = _problem()
    cfg = TrainConfig(lr=0.5, batch_size=batch, schedule=schedule, max_iterations=60, grad_norm_tol=None,
                      log_every=10, seed=3, progress=False)
    model = make_mlp([6, 5, 4, 3], "relu", seed=1, init_scale=0.5, dtype=torch.float64)
    net = NumpyMLP.from_torch(model, "relu")
    ref = train(model, torch.nn.functional.cross_entropy, x, y, cfg)
    got = train_numpy(net, x.numpy(), y.numpy(), cfg)
    for p, q in zip(model.parameters(), net.params):
        np.testing.assert_allclose(q, p.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert [r["step"] for r in got.history] == [r["step"] for r in ref.history]
    for a, b in zip(got.history[1:], ref.history[1:]):
        assert a["batch_loss"] == pytest.approx(b["batch_loss"], rel=1e-9)
        assert a["batch_grad_norm"] == pytest.approx(b["batch_grad_norm"], rel=1e-9)


def test_stops_at_gradient_tolerance_like_the_shared_trainer() -> None:
    x, y = _problem(1)
    cfg = TrainConfig(lr=0.5, max_iterations=5000, grad_norm_tol=1e-2, log_every=100, progress=False)
    model = make_mlp([6, 8, 3], "tanh", seed=0, init_scale=0.5, dtype=torch.float64)
    net = NumpyMLP.from_torch(model, "tanh")
    ref = train(model, torch.nn.functional.cross_entropy, x, y, cfg)
    got = train_numpy(net, x.numpy(), y.numpy(), cfg)
    assert ref.converged and got.converged and got.iterations == ref.iterations < 5000
    assert got.final_grad_norm <= 1e-2 < got.history[-2]["batch_grad_norm"]


def test_divergence_raises_one_line() -> None:
    x, y = _problem(2)
    net = NumpyMLP.from_torch(make_mlp([6, 5, 3], seed=0, init_scale=1.0, dtype=torch.float64), "relu")
    with pytest.raises(DivergenceError) as info:
        train_numpy(net, 1e3 * x.numpy(), y.numpy(), TrainConfig(lr=1e6, max_iterations=200, progress=False))
    assert "diverged" in str(info.value) and "\n" not in str(info.value)


def test_cyclic_batches_are_unshuffled_and_wrap() -> None:
    s = BatchSampler(10, 4, "cyclic", torch.Generator().manual_seed(0))
    batches = [s.next().tolist() for _ in range(3)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 2, 3]]


def test_history_records_evaluation() -> None:
    x, y = _problem(3)
    net = NumpyMLP.from_torch(make_mlp([6, 5, 3], seed=0, dtype=torch.float64), "relu")
    res = train_numpy(net, x.numpy(), y.numpy(), TrainConfig(lr=0.1, max_iterations=30, log_every=10, progress=False),
                      evaluate=lambda m: {"n_out": float(m.logits(x.numpy()).shape[1])})
    assert [r["step"] for r in res.history] == [0, 10, 20, 30]
    assert all(r["n_out"] == 3.0 for r in res.history) and math.isnan(res.history[0]["batch_grad_norm"])
