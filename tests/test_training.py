"""Training: the one loop, its fast gradient path for plain MLPs (bit-for-bit autograd), stop rules."""

from __future__ import annotations

import math
from unittest import mock

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnspectra.errors import DivergenceError
from nnspectra.models.mlp import make_mlp
from nnspectra.training import BatchSampler, TrainConfig, train
from nnspectra.training import loop as training_loop
from nnspectra.training.fast_mlp import fast_gradient_for


def _problem(seed: int = 0, n: int = 20, d: int = 6, k: int = 3, dtype: torch.dtype = torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=dtype)
    y = torch.randint(0, k, (n,), generator=gen)
    return x, y


def _train_both(model_fn, x, y, cfg):
    """The same run twice: with the fast gradient path (chosen by the loop) and forced through autograd."""
    fast_model, slow_model = model_fn(), model_fn()
    assert fast_gradient_for(fast_model, torch.nn.functional.cross_entropy, y) is not None
    fast = train(fast_model, torch.nn.functional.cross_entropy, x, y, cfg)
    with mock.patch.object(training_loop, "fast_gradient_for", lambda *args: None):
        slow = train(slow_model, torch.nn.functional.cross_entropy, x, y, cfg)
    return (fast_model, fast), (slow_model, slow)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@settings(max_examples=12, deadline=None)
@given(act=st.sampled_from(["relu", "tanh"]), dtype=st.sampled_from([torch.float32, torch.float64]),
       widths=st.lists(st.integers(2, 9), min_size=1, max_size=3), n=st.integers(3, 40),
       batch=st.sampled_from([None, 1, 4, 7]), schedule=st.sampled_from(["cyclic", "shuffle", "replacement"]),
       seed=st.integers(0, 1000))
def test_fast_path_is_bit_for_bit_autograd(act, dtype, widths, n, batch, schedule, seed) -> None:
    """The loop's fast gradients give exactly autograd's trajectory: parameters, losses and gradient norms."""
    x, y = _problem(seed, n=n, d=5, k=4, dtype=dtype)
    cfg = TrainConfig(lr=0.3, batch_size=batch, schedule=schedule, max_iterations=40, grad_norm_tol=None,
                      log_every=7, seed=seed, progress=False)
    (fast_model, fast), (slow_model, slow) = _train_both(
        lambda: make_mlp([5, *widths, 4], act, seed=seed, init_scale=0.7, dtype=dtype), x, y, cfg)
    for p, q in zip(fast_model.parameters(), slow_model.parameters()):
        assert torch.equal(p, q)
    assert len(fast.history) == len(slow.history)
    for a, b in zip(fast.history, slow.history):
        assert a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)


def test_fast_path_at_paper_size_is_bit_for_bit_autograd() -> None:
    """The blob net of Sagun et al. (100-30-30-50, N = 100), GD and cyclic SGD, 200 steps."""
    x, y = _problem(5, n=100, d=100, k=50)
    for batch in (None, 10):
        cfg = TrainConfig(lr=0.1, batch_size=batch, max_iterations=200, grad_norm_tol=None, log_every=50,
                          progress=False)
        (fm, _), (sm, _) = _train_both(lambda: make_mlp([100, 30, 30, 50], "relu", seed=1, dtype=torch.float64),
                                       x, y, cfg)
        assert all(torch.equal(p, q) for p, q in zip(fm.parameters(), sm.parameters()))


def test_fast_path_is_chosen_only_where_it_applies() -> None:
    x, y = _problem()
    mlp = make_mlp([6, 5, 3], "relu", seed=0, dtype=torch.float64)
    ce = torch.nn.functional.cross_entropy
    assert fast_gradient_for(mlp, ce, y) is not None
    # a 1-wide hidden layer goes to autograd (its kernels differ by an ulp there, found by the property test)
    assert fast_gradient_for(make_mlp([5, 1, 4], "relu", seed=0), ce, y) is None
    assert fast_gradient_for(mlp, lambda out, t: ce(out, t), y) is None                  # another loss
    assert fast_gradient_for(mlp, ce, y.double()) is None                              # soft targets
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(8, 3))
    assert fast_gradient_for(conv, ce, y) is None
    assert fast_gradient_for(torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.GELU(), torch.nn.Linear(4, 3)),
                             ce, y) is None


def test_stops_at_gradient_tolerance_like_autograd() -> None:
    x, y = _problem(1)
    cfg = TrainConfig(lr=0.5, max_iterations=5000, grad_norm_tol=1e-2, log_every=100, progress=False)
    (_, got), (_, ref) = _train_both(lambda: make_mlp([6, 8, 3], "tanh", seed=0, init_scale=0.5,
                                                                   dtype=torch.float64), x, y, cfg)
    assert ref.converged and got.converged and got.iterations == ref.iterations < 5000
    assert got.final_grad_norm <= 1e-2 < got.history[-2]["batch_grad_norm"]


def test_divergence_raises_one_line() -> None:
    x, y = _problem(2)
    model = make_mlp([6, 5, 3], seed=0, init_scale=1.0, dtype=torch.float64)
    with pytest.raises(DivergenceError) as info:
        train(model, torch.nn.functional.cross_entropy, 1e3 * x, y,
              TrainConfig(lr=1e6, max_iterations=200, progress=False))
    assert "diverged" in str(info.value) and "\n" not in str(info.value)


def test_cyclic_batches_are_unshuffled_and_wrap() -> None:
    s = BatchSampler(10, 4, "cyclic", torch.Generator().manual_seed(0))
    batches = [s.next().tolist() for _ in range(3)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 2, 3]]


def test_history_records_evaluation() -> None:
    x, y = _problem(3)
    model = make_mlp([6, 5, 3], seed=0, dtype=torch.float64)
    res = train(model, torch.nn.functional.cross_entropy, x, y,
                TrainConfig(lr=0.1, max_iterations=30, log_every=10, progress=False),
                evaluate=lambda m: {"n_out": float(m(x).shape[1])})
    assert [r["step"] for r in res.history] == [0, 10, 20, 30]
    assert all(r["n_out"] == 3.0 for r in res.history) and math.isnan(res.history[0]["batch_grad_norm"])


def test_train_config_from_settings_maps_a_sections_names_and_keeps_the_calls_choices() -> None:
    from nnspectra.experiments.sagun2018.cifar import CifarTrain
    from nnspectra.experiments.sagun2018.mnist_training import GDTrain

    gd = TrainConfig.from_settings(GDTrain(lr=1, iterations=7, log_every=3, divergence_steps=4), seed=5,
                                   config_key="realdata.mnist.train")
    assert (gd.lr, gd.max_iterations, gd.log_every, gd.divergence_steps, gd.seed) == (1.0, 7, 3, 4, 5)
    assert isinstance(gd.lr, float) and gd.batch_size is None and gd.config_key == "realdata.mnist.train"
    cifar = TrainConfig.from_settings(CifarTrain(steps_per_part=9, record_every=2, checkpoint_every=None),
                                      batch_size=CifarTrain().part_batch_size(2), grad_norm_tol=None)
    assert (cifar.max_iterations, cifar.log_every, cifar.batch_size, cifar.schedule) == (9, 2, 32, "shuffle")
    assert cifar.grad_norm_tol is None and cifar.checkpoint_every is None
    assert TrainConfig.from_settings(GDTrain(log_every=3), log_every=8).log_every == 8  # the call's choice wins
    with pytest.raises(TypeError):
        TrainConfig.from_settings(GDTrain(), no_such_setting=1)


def test_the_lbsb_and_cifar_sections_share_one_batch_regime_fragment() -> None:
    from nnspectra.experiments.sagun2018.cifar import CifarTrain
    from nnspectra.experiments.sagun2018.lbsb_training import LbsbTrain
    from nnspectra.training.settings import BatchRegimeSettings

    lbsb, cifar = LbsbTrain(batch_lb=64, batch_sb=8), CifarTrain(batch_lb=100, batch_sb=4)
    assert isinstance(lbsb, BatchRegimeSettings) and isinstance(cifar, BatchRegimeSettings)
    assert (lbsb.batch_size("lb"), lbsb.batch_size("sb")) == (64, 8)
    assert (cifar.part_batch_size(1), cifar.part_batch_size(2)) == (100, 4)  # Part I large, Part II small
    with pytest.raises(ValueError, match="regime"):
        lbsb.batch_size("mb")
    with pytest.raises(ValueError, match="part"):
        cifar.part_batch_size(3)
