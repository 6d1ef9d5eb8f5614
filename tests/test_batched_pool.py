"""The refilled pool (training.batched_pool.pool_gd): per net exactly batched_gd / train, deterministic, resumable."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from nnspectra.models.flat import loss_of_flat_params
from nnspectra.data.p0 import two_blobs
from nnspectra.errors import DivergenceError, TimeBudgetReached
from nnspectra.experiments.sagun2016 import predecessor as p0
from nnspectra.experiments.sagun2016 import predecessor_sphere as ps
from nnspectra.experiments.sagun2016 import predecessor_training as p0t
from nnspectra.training.batched import batched_gd
from nnspectra.training.batched_pool import PoolState, pool_gd

LR = 0.5
CURV = torch.tensor([0.02, 0.3, 1.0, 3.0, 4.4], dtype=torch.float64)  # lr x 4.4 = 2.2 > 2: that direction blows up


def _quadratic(theta: torch.Tensor) -> torch.Tensor:
    return 0.5 * (CURV * theta ** 2).sum()


def _mixed_inits() -> torch.Tensor:
    """Quick, slow, capped (only the flattest direction), blowing-up and collapsed (exactly 0) nets, shuffled."""
    rng = np.random.default_rng(0)
    rows = []
    for kind in ["fast", "slow", "capped", "blowup", "zero"] * 3:
        v = np.zeros(5)
        if kind == "fast":
            v[2:4] = rng.normal(size=2)
        elif kind == "slow":
            v[1:4] = rng.normal(size=3)
        elif kind == "capped":
            v[0] = 1.0 + rng.random()
        elif kind == "blowup":
            v[:4] = rng.normal(size=4)
            v[4] = 1e-3 * rng.normal()
        rows.append(v)
    rows = [rows[i] for i in rng.permutation(len(rows))]
    return torch.as_tensor(np.stack(rows))


KW = dict(lr=LR, grad_norm_tol=1e-6, max_iterations=150, snapshot_tols=[1e-2, 1e-4])


def _same_as_alone(state: PoolState, theta0: torch.Tensor, f, kw: dict) -> None:
    for i in range(theta0.shape[0]):
        alone = batched_gd(theta0[i:i + 1], f, **kw)
        assert (alone.iterations[0], alone.converged[0], alone.diverged[0]) == \
               (state.iterations[i], state.converged[i], state.diverged[i]), i
        torch.testing.assert_close(state.final[i], alone.theta[0], rtol=0, atol=1e-10, equal_nan=True)
        for j, t in enumerate(sorted(kw["snapshot_tols"], reverse=True)):
            torch.testing.assert_close(state.snapshots[j, i], alone.snapshots[t][0], rtol=0, atol=1e-10, equal_nan=True)
        np.testing.assert_allclose(state.grad_norm[i], alone.grad_norm[0], rtol=1e-9)
        np.testing.assert_allclose(state.loss[i], alone.loss[0], rtol=1e-9)


def test_pool_follows_batched_gd_per_net_on_a_mix_of_fast_slow_capped_and_failing_nets() -> None:
    theta0 = _mixed_inits()
    state, stopped = pool_gd(theta0, _quadratic, pool=4, **KW)
    assert not stopped and state.finished.all() and state.ids.numel() == 0
    # every stop reason is exercised, by the streak rule (blow-up) and the collapse rule (exact 0)
    assert state.converged.any() and state.diverged.sum() == 6 and (state.iterations == 150).sum() == 3
    assert (state.iterations[state.diverged] == 0).sum() == 3  # the collapsed ones stop before any update
    _same_as_alone(state, theta0, _quadratic, KW)


def test_pool_follows_train_on_blob_nets() -> None:
    x, y = p0t.as_tensors(*two_blobs(20, 0.3, 0))
    sizes = p0t.blob_sizes(4)
    f = loss_of_flat_params(p0t.build_net(sizes, seed=0), p0.cross_entropy, x, y)
    theta0 = torch.as_tensor(p0t.sphere_parameters(7, p0t.blob_parameter_count(4), 1.5, seed=2))
    theta0[1] *= 30  # collapses at once
    kw = dict(lr=0.5, grad_norm_tol=2e-3, max_iterations=300, snapshot_tols=[5e-2])
    state, _ = pool_gd(theta0, f, pool=3, **kw)
    assert state.converged.any() and state.diverged[1] and (state.iterations == 300).any()
    _same_as_alone(state, theta0, f, kw)
    for i in np.flatnonzero(~state.diverged)[:3]:
        model = p0t.set_flat_parameters(p0t.build_net(sizes, seed=0), theta0[i])
        out = p0t.train_gd(model, x, y, p0t.P0Train(lr=0.5, grad_norm_tol=2e-3, max_iterations=300))
        assert out.iterations == state.iterations[i] and out.converged == state.converged[i]
        theta = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
        torch.testing.assert_close(state.final[i], theta, rtol=0, atol=1e-10)


def _bytes(state: PoolState) -> dict[str, bytes]:
    return {k: v.tobytes() for k, v in state.to_arrays().items() if k not in ("cpu_seconds", "wall_seconds")}


def test_pool_is_deterministic_and_resumes_bitwise_through_saved_arrays() -> None:
    theta0 = _mixed_inits()
    full, _ = pool_gd(theta0, _quadratic, pool=4, **KW)
    assert _bytes(full) == _bytes(pool_gd(theta0, _quadratic, pool=4, **KW)[0])
    calls = itertools.count()
    saved: list[dict[str, np.ndarray]] = []
    part, stopped = pool_gd(theta0, _quadratic, pool=4, should_stop=lambda: next(calls) >= 37,
                            save=lambda s: saved.append(s.to_arrays()), **KW)
    assert stopped and 0 < part.done < 15 and part.pool_steps == 38 and len(saved) == 1
    state = PoolState.from_arrays(saved[0], theta0, 2)
    calls = itertools.count()  # stop once more, then finish
    state, stopped = pool_gd(theta0, _quadratic, pool=4, state=state, should_stop=lambda: next(calls) == 50, **KW)
    assert stopped
    resumed, stopped = pool_gd(theta0, _quadratic, pool=4, state=state, **KW)
    assert not stopped and _bytes(resumed) == _bytes(full)


def test_most_of_the_first_fill_failing_is_the_lr() -> None:
    theta0 = _mixed_inits()
    state, _ = pool_gd(theta0, _quadratic, pool=4, lr_key="some.lr", **KW)  # 6 of 15 fail, <= 2 of the first 4: data
    assert state.diverged.sum() == 6 and state.diverged[:4].sum() <= 2
    bad, good = np.flatnonzero(state.diverged), np.flatnonzero(~state.diverged)
    with pytest.raises(DivergenceError, match=r"batched GD: 3 of 4 nets diverged or collapsed \(the first 4 inits"
                                              r".*lower some.lr in the config") as info:
        pool_gd(theta0[[bad[0], good[0], bad[1], bad[2], *good[1:]]], _quadratic, pool=4, lr_key="some.lr", **KW)
    assert "\n" not in str(info.value)


def _sphere_kw() -> dict:
    return dict(train_settings=p0t.P0Train(lr=0.1, grad_norm_tol=1e-3, max_iterations=200), model=p0t.P0Model(),
                seed=0, snapshot_tols=[1e-2], group=4)


def test_sphere_deadline_stops_at_a_checkpoint_and_resumes_bitwise(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = two_blobs(10, 0.1, 0)
    full = ps.sphere_lambda_max(x, y, 3, 12, **_sphere_kw())
    folder = tmp_path / "seed0.pool"
    calls = itertools.count()
    monkeypatch.setattr(ps, "_now", lambda: 10.0 if next(calls) in (120, 300) else 0.0)  # two planted stops
    with pytest.raises(TimeBudgetReached, match=r"P0 Fig 6 \(seed 0\) stopped with \d+ of 12 inits trained \(.* %, "
                                                r"\d+ running; max_hours reached\).*run the same command again") as info:
        ps.sphere_lambda_max(x, y, 3, 12, checkpoint_dir=folder, deadline=5.0, **_sphere_kw())
    assert "\n" not in str(info.value)
    assert [p.name for p in folder.iterdir()] == ["pool.ckpt"]
    with pytest.raises(TimeBudgetReached, match=r"CPU-h left at this rate\)$"):
        ps.sphere_lambda_max(x, y, 3, 12, checkpoint_dir=folder, deadline=5.0, **_sphere_kw())
    resumed = ps.sphere_lambda_max(x, y, 3, 12, checkpoint_dir=folder, deadline=5.0, **_sphere_kw())
    assert not folder.exists()  # done: the state is removed
    for key, value in full.items():
        if key not in ("seconds_per_init", "cpu_seconds_per_init"):
            assert np.asarray(value).tobytes() == np.asarray(resumed[key]).tobytes(), key


def test_damaged_or_foreign_checkpoint_is_ignored_with_one_warning(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    x, y = two_blobs(10, 0.1, 0)
    full = ps.sphere_lambda_max(x, y, 3, 6, **_sphere_kw())
    folder = tmp_path / "seed0.pool"
    folder.mkdir()
    (folder / "pool.ckpt").write_bytes(b"PK\x03\x04 not a zip at all")
    foreign = tmp_path / "foreign"
    kw = {**_sphere_kw(), "seed": 1}
    monkey_deadline = itertools.count()
    ps_now, ps._now = ps._now, lambda: 10.0 if next(monkey_deadline) >= 5 else 0.0
    try:
        with pytest.raises(TimeBudgetReached):
            ps.sphere_lambda_max(x, y, 3, 6, checkpoint_dir=foreign, deadline=5.0, **kw)
    finally:
        ps._now = ps_now
    for bad in (folder, foreign):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=ps.__name__):
            out = ps.sphere_lambda_max(x, y, 3, 6, checkpoint_dir=bad, **_sphere_kw())
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "ignoring" in warnings[0].getMessage(), warnings
        assert "\n" not in warnings[0].getMessage()
        assert out["lambda_max"].tobytes() == full["lambda_max"].tobytes()
