"""Long runs resume from checkpoints without changing the result; same seed, same numbers."""

from __future__ import annotations

import os

from pathlib import Path

import pytest
import torch

from nnspectra.training import TrainConfig, train


class _Interrupt(Exception):
    pass


def _crash_at(stop: int):  # type: ignore[no-untyped-def]
    """An ``on_log`` callback that interrupts training when it logs step ``stop``."""
    def crash(step: int, _model: torch.nn.Module) -> None:
        if step == stop:
            raise _Interrupt
    return crash


def _problem(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=gen)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    return model, x, y


def _params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_interrupted_run_resumes_to_identical_parameters(tmp_path: Path, optimizer: str) -> None:
    loss = torch.nn.functional.cross_entropy
    ckpt = tmp_path / "train.ckpt"
    cfg = TrainConfig(lr=0.05, optimizer=optimizer, batch_size=8, schedule="shuffle", max_iterations=120,
                      grad_norm_tol=None, log_every=10, seed=3, checkpoint_every=25,
                      checkpoint_path=str(ckpt), progress=False)

    model_a, x, y = _problem()
    full = train(model_a, loss, x, y, cfg)
    assert not ckpt.exists()  # a finished run cleans up its checkpoint

    model_b, _, _ = _problem()
    with pytest.raises(_Interrupt):
        train(model_b, loss, x, y, cfg, on_log=_crash_at(60))
    assert ckpt.exists()

    seen: list[int] = []
    model_c, _, _ = _problem()
    resumed = train(model_c, loss, x, y, cfg, on_log=lambda step, _m: seen.append(step))
    assert seen[0] == 60  # continued after the step-50 checkpoint instead of starting over
    assert torch.equal(_params(model_c), _params(model_a))
    assert [row["step"] for row in resumed.history] == [row["step"] for row in full.history]
    assert resumed.history[-1]["batch_loss"] == full.history[-1]["batch_loss"]


@pytest.mark.parametrize("change", ["lr", "seed", "init", "data"])
def test_checkpoint_of_another_run_is_not_resumed(tmp_path: Path, change: str) -> None:
    """A checkpoint left by a run with other settings, weights or data is discarded, not continued."""
    loss = torch.nn.functional.cross_entropy
    ckpt = tmp_path / "train.ckpt"
    cfg = TrainConfig(lr=0.05, batch_size=8, schedule="shuffle", max_iterations=80, grad_norm_tol=None,
                      log_every=10, seed=3, checkpoint_every=20, checkpoint_path=str(ckpt), progress=False)

    model, x, y = _problem()
    with pytest.raises(_Interrupt):
        train(model, loss, x, y, cfg, on_log=_crash_at(40))
    assert ckpt.exists()

    other_cfg = TrainConfig(**{**cfg.__dict__, "lr": 0.07}) if change == "lr" else (
        TrainConfig(**{**cfg.__dict__, "seed": 4}) if change == "seed" else cfg)
    model_b, x_b, y_b = _problem(seed=5) if change == "init" else _problem()
    if change == "data":
        x_b = x_b + 1.0
    seen: list[int] = []
    train(model_b, loss, x_b, y_b, other_cfg, on_log=lambda step, _m: seen.append(step))
    assert seen[0] == 0  # started from scratch

    reference, _, _ = _problem(seed=5) if change == "init" else _problem()
    train(reference, loss, x_b, y_b, TrainConfig(**{**other_cfg.__dict__, "checkpoint_path": None}))
    assert torch.equal(_params(model_b), _params(reference))


def test_unreadable_checkpoint_starts_over(tmp_path: Path) -> None:
    ckpt = tmp_path / "train.ckpt"
    ckpt.write_bytes(b"truncated by a crash")
    cfg = TrainConfig(lr=0.05, batch_size=8, schedule="shuffle", max_iterations=30, grad_norm_tol=None,
                      log_every=10, seed=3, checkpoint_every=20, checkpoint_path=str(ckpt), progress=False)
    model, x, y = _problem()
    seen: list[int] = []
    train(model, torch.nn.functional.cross_entropy, x, y, cfg, on_log=lambda step, _m: seen.append(step))
    assert seen[0] == 0 and not ckpt.exists()


def test_same_seed_gives_bit_identical_training() -> None:
    loss = torch.nn.functional.cross_entropy
    cfg = TrainConfig(lr=0.1, batch_size=16, schedule="shuffle", max_iterations=50, grad_norm_tol=None,
                      log_every=10, seed=7, progress=False)
    runs = []
    for _ in range(2):
        model, x, y = _problem(seed=1)
        train(model, loss, x, y, cfg)
        runs.append(_params(model))
    assert torch.equal(runs[0], runs[1])
    model, x, y = _problem(seed=1)
    train(model, loss, x, y, TrainConfig(**{**cfg.__dict__, "seed": 8}))
    assert not torch.equal(runs[0], _params(model))  # the batch order depends on the seed


def test_max_hours_ends_at_a_checkpoint_and_the_same_call_continues(tmp_path: Path) -> None:
    """A deadline (config max_hours) stops training at its next checkpoint, in one line; calling again finishes
    with the parameters of an uninterrupted run."""
    from nnspectra.errors import TimeBudgetReached

    loss = torch.nn.functional.cross_entropy
    ckpt = tmp_path / "train.ckpt"
    cfg = TrainConfig(lr=0.05, batch_size=8, schedule="shuffle", max_iterations=100, grad_norm_tol=None,
                      log_every=10, seed=1, checkpoint_every=30, checkpoint_path=str(ckpt), progress=False)
    model_a, x, y = _problem()
    train(model_a, loss, x, y, cfg)
    model_b, _, _ = _problem()
    with pytest.raises(TimeBudgetReached, match=r"stopped at step 30 of 100 \(max_hours reached\).*run the same "
                                                r"command again to continue"):
        train(model_b, loss, x, y, cfg, deadline=0.0)
    assert ckpt.exists()
    model_c, _, _ = _problem()
    train(model_c, loss, x, y, cfg, deadline=None)
    assert torch.equal(_params(model_c), _params(model_a)) and not ckpt.exists()


def test_p0_fig6_pool_resumes_after_max_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """P0 Fig 6 trains its inits in a refilled pool; a deadline stops it at a checkpoint of the whole pool state,
    and the same call continues, without retraining finished nets, to the bytes of an uninterrupted run
    (more cases: tests/test_batched_pool.py)."""
    import numpy as np

    from nnspectra.data.p0 import two_blobs
    from nnspectra.errors import TimeBudgetReached
    from nnspectra.experiments.sagun2016 import predecessor_sphere as ps
    from nnspectra.experiments.sagun2016.predecessor_training import P0Model, P0Train

    x, y = two_blobs(10, 0.5, 0)
    kw = dict(train_settings=P0Train(lr=0.1, grad_norm_tol=1e-3, max_iterations=200), model=P0Model(), seed=0,
              snapshot_tols=[1e-2], group=4)
    full = ps.sphere_lambda_max(x, y, 3, 12, **kw)
    folder = tmp_path / "seed0.pool"
    clock = iter([0.0] * 150 + [10.0])  # the deadline check after pool step 151 stops it
    monkeypatch.setattr(ps, "_now", lambda: next(clock))
    with pytest.raises(TimeBudgetReached, match=r"stopped with \d+ of 12 inits trained .*max_hours reached"):
        ps.sphere_lambda_max(x, y, 3, 12, checkpoint_dir=folder, deadline=5.0, **kw)
    monkeypatch.undo()
    assert sorted(p.name for p in folder.iterdir()) == ["pool.ckpt"]
    with np.load(folder / "pool.ckpt", allow_pickle=False) as saved:
        assert int(saved["pool_steps"]) == 151 and saved["finished"].any()
    resumed = ps.sphere_lambda_max(x, y, 3, 12, checkpoint_dir=folder, deadline=None, **kw)
    for key in ("lambda_max", "lambda_min", "iterations", "converged", "lambda_max_at_tol"):
        np.testing.assert_array_equal(resumed[key], full[key])
    assert not folder.exists()  # done: the kept state is removed


def test_run_deadline_comes_from_max_hours_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from nnspectra.errors import NnspectraError
    from nnspectra.pipeline.runtime import DEADLINE_ENV, run_deadline, set_run_deadline

    monkeypatch.setenv(DEADLINE_ENV, "")  # recorded first, so the test's own deadline is undone afterwards
    monkeypatch.delenv(DEADLINE_ENV)
    set_run_deadline(None)
    assert run_deadline() is None
    set_run_deadline(0.5)
    assert abs(run_deadline() - (time.time() + 1800)) < 60
    first = run_deadline()
    set_run_deadline(2.0)  # a job of the same run (e.g. on a cluster node) keeps the run's deadline
    assert run_deadline() == first
    monkeypatch.setenv(DEADLINE_ENV, "soon")
    with pytest.raises(NnspectraError, match="NNSPECTRA_DEADLINE='soon' is not a time"):
        run_deadline()


def test_the_deadline_test_leaves_no_deadline_behind() -> None:
    """The test above sets the run deadline in this process; it must not leak into later Snakemake runs (a
    stale 30-minute deadline stopped a CIFAR-10 job in a later workflow test on a slow CI machine)."""
    from nnspectra.pipeline.runtime import DEADLINE_ENV

    assert DEADLINE_ENV not in os.environ
