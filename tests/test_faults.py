"""Fault injection (issue 12): every planted fault is caught before use in one line, no valid file is lost,
and ``nnspectra audit --repair`` restores a tree bit-identical to an undisturbed run.

Fast part: divergence of each training path (blobs numpy fast path, the torch loop on the MNIST MLP, the
Wang et al. evolution runs, online SGD). Workflow part (``-m workflow``): faults planted in copies of one
undisturbed smoke-preset ``table1`` run (one row, one seed: 5 jobs), plus damaged data files and a
diverging run through the pipeline. docs/auditing.md has the table fault -> message -> fix.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nnspectra.errors import DivergenceError
from nnspectra.training.loop import DivergenceMonitor, TrainConfig

from conftest import workflow_env


def _one_line(err: BaseException) -> str:
    message = str(err)
    assert "\n" not in message, message
    return message


# ----------------------------------------------------------------------------------------- divergence
def test_blobs_lr_1e8_stops_in_one_line_naming_the_key() -> None:
    from nnspectra.data.blobs import blob_dataset
    from nnspectra.experiments.blobs import BlobModel, BlobTrain, train_run

    data = blob_dataset(12, 5, 3, 1.0, 0).as_arrays()
    model = BlobModel(hidden=(4, 3), init="normal", init_scale=0.5, seed_offset=0)
    for alg in ("gd", "sgd"):
        settings = BlobTrain(lr=1e8, sgd_batch_size=4, max_iterations=2000, grad_norm_tol=1e-4, log_every=50)
        with pytest.raises(DivergenceError) as info:
            train_run(data, model, settings, alg, "relu", seed=0, progress=False)
        message = _one_line(info.value)
        assert "training diverged" in message and "lower blobs.train.lr in the config" in message, message
        assert "blobs.train.divergence_factor" in message
    # control: without the multiple-of-initial rule the same run ends "normally" at a huge finite loss
    quiet = BlobTrain(lr=1e8, max_iterations=300, grad_norm_tol=1e-4, log_every=50, divergence_factor=None)
    _, _, history, summary = train_run(data, model, quiet, "gd", "relu", seed=0, progress=False)
    assert math.isfinite(history["batch_loss"].iloc[-1])
    assert history["batch_loss"].iloc[-1] > 1e3 * history["batch_loss"].iloc[0]


def test_mnist_mlp_lr_1e8_stops_in_one_line_naming_the_key() -> None:
    from nnspectra.experiments.mnist_width import GDTrain, MlpModel, train_mnist_mlp

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 14, 14, generator=gen)
    y = torch.arange(40) % 10
    settings = GDTrain(lr=1e8, iterations=500, log_every=100)
    with pytest.raises(DivergenceError) as info:
        train_mnist_mlp(x, y, 5, MlpModel(), settings, seed=0)
    message = _one_line(info.value)
    assert "lower realdata.mnist.train.lr in the config" in message, message
    ok, history = train_mnist_mlp(x, y, 5, MlpModel(), GDTrain(lr=0.1, iterations=50, log_every=10), seed=0)
    assert history["batch_loss"].iloc[-1] < history["batch_loss"].iloc[0]


def test_diverging_evolution_run_is_reported_as_divergence() -> None:
    from nnspectra.experiments.evolution import EvoAnalysis, EvoData, EvoModel, EvoRun, run_evolution

    data = EvoData(kind="teacher", n_train=40, n_test=30, dim=20, noise_std=0.3)
    model = EvoModel(width=30, activation="tanh", init_std=1.0, dtype="float64")
    analysis = EvoAnalysis(checkpoints=(0, 1, 10), outlier_factor=1.2, min_tail=5)
    run = EvoRun(regime="spike", optimizer="gd", lr=1e20, steps=10, batch_size=None, train_a=False)
    with pytest.raises(DivergenceError) as info:
        run_evolution(data, model, run, analysis, 0, run_key="evolution.runs.gd_huge")
    message = _one_line(info.value)
    assert "lower evolution.runs.gd_huge.lr in the config" in message and "power-law" not in message, message
    # the GD loss saturates (tanh, W only) finite at 12x its start; Adam at lr 1e20 reaches 1e40, still finite
    adam = EvoRun(regime="heavy_tail", optimizer="adam", lr=1e20, steps=10, batch_size=None, train_a=True)
    with pytest.raises(DivergenceError, match="stayed above 10 x its initial.*lower evolution.runs.adam_huge.lr"):
        run_evolution(data, model, adam, analysis, 0, run_key="evolution.runs.adam_huge")


def test_monitor_reference_streak_floor_and_nonfinite() -> None:
    cfg = TrainConfig(lr=1.0, divergence_factor=10.0, divergence_steps=3, config_key="x.train")
    monitor = DivergenceMonitor(cfg)
    for step, loss in enumerate([1.0, 11.0, 12.0, 0.5, 11.0, 11.0], start=1):  # a streak is broken by 0.5
        monitor.update(step, loss)
    with pytest.raises(DivergenceError, match=r"stayed above 10 x its initial 1 for 3 steps \(lr=1\); lower x.train.lr"):
        monitor.update(7, 50.0)
    with pytest.raises(DivergenceError, match="loss is nan"):
        DivergenceMonitor(cfg).update(1, math.nan)
    floored = DivergenceMonitor(TrainConfig(lr=1.0, divergence_steps=1, divergence_floor=math.log(10)))
    floored.update(1, 0.01)  # a run continued from a trained model: 10 x 0.01 is no divergence ...
    floored.update(2, 0.5)
    assert floored.reference == pytest.approx(math.log(10))
    with pytest.raises(DivergenceError):  # ... 10 x the chance-level loss is
        floored.update(3, 30.0)
    DivergenceMonitor(TrainConfig(lr=1.0, divergence_factor=None)).update(1, 1e30)  # switched off
    with pytest.raises(Exception, match="x.train.divergence_factor must be > 1"):
        TrainConfig(lr=1.0, divergence_factor=0.5, config_key="x.train")


def test_torch_loop_nan_names_the_key() -> None:
    from nnspectra.training import train

    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    x, y = torch.ones(4, 3, dtype=torch.float64), torch.full((4, 1), math.inf, dtype=torch.float64)
    cfg = TrainConfig(lr=0.1, max_iterations=5, progress=False, config_key="realdata.lbsb.train")
    with pytest.raises(DivergenceError, match="loss is (nan|inf).*lower realdata.lbsb.train.lr in the config"):
        train(model, lambda out, t: ((out - t) ** 2).mean(), x, y, cfg)


def test_online_sgd_divergence_names_the_key() -> None:
    from nnspectra.training.online import online_sgd

    with pytest.raises(DivergenceError, match=r"theta is not finite \(step size delta=0.5\); lower alignment.xor.c"):
        online_sgd(np.zeros(3), lambda theta, y, label: np.full(3, np.inf), lambda n: (np.zeros((n, 3)), np.zeros(n)),
                   np.array([0, 5]), delta=0.5, step_key="alignment.xor.c")
