"""Sagun et al. (2018) §4.2, seed Figs. 9-10 (v3 Figs. 7-8): CIFAR-10 large batch, then small batch.

A bare AlexNet (no momentum, dropout or batch norm) is trained with plain SGD at a constant lr: Part I
with a large batch from init, Part II with a small batch from Part I's end point
(:func:`train_cifar_part`, full train/test loss and accuracy every ``record_every`` steps). Then the
loss and accuracy along the line between the two end points (:func:`interpolate_cifar`) and claims
14-17 (:func:`cifar_metrics`: the jump at the switch, the final gain, no barrier on [0, 1], a sharper
LB side).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from nnspectra.models.convnets import make_bare_alexnet
from nnspectra.training import TrainConfig, train
from nnspectra.training.evaluate import classification_evaluator, cross_entropy
from nnspectra.training.interpolation import barrier_height, line_scan, max_monotonicity_violation
from nnspectra.training.settings import REGIMES, BatchRegimeSettings


@dataclass(frozen=True)
class CifarData:
    """Config ``realdata.cifar.data``: class-balanced subset sizes (None = full set) and their seed."""

    n_train: int | None = None
    n_test: int | None = None
    subset_seed: int = 0
    skip_archive_md5: bool = True


@dataclass(frozen=True)
class AlexNetModel:
    """Config ``realdata.cifar.model``: channels of the two conv layers and the two hidden FC widths."""

    channels: tuple[int, int] = (64, 64)
    hidden: tuple[int, int] = (384, 192)


@dataclass(frozen=True)
class CifarTrain(BatchRegimeSettings):
    """Config ``realdata.cifar.train``: constant lr, the two batch sizes (Part I large, Part II small), steps per
    part, recording."""

    lr: float = 0.01
    batch_lb: int = 1000
    batch_sb: int = 32
    steps_per_part: int = 25_000
    record_every: int = 100
    eval_batch: int = 1000
    checkpoint_every: int | None = 1000
    memory_format: str = "channels_last"

    def part_batch_size(self, part: int) -> int:
        """Part I (``part`` 1) trains with the large batch, Part II (2) with the small one."""
        if part not in (1, 2):
            raise ValueError(f"CIFAR-10 part must be 1 or 2, got {part!r}")
        return self.batch_size(REGIMES[part - 1])


@dataclass(frozen=True)
class LineSettings:
    """Config ``realdata.cifar.interpolation``: alpha grid on [alpha_min, alpha_max] with ``points`` points."""

    alpha_min: float = -1.0
    alpha_max: float = 2.0
    points: int = 22


def build_alexnet(model: AlexNetModel, seed: int) -> nn.Sequential:
    """The bare AlexNet of SPEC §1.9 for 32x32 RGB inputs and 10 classes."""
    return make_bare_alexnet(3, 32, tuple(model.channels), tuple(model.hidden), 10, seed=seed)


def _evaluator(data: Mapping[str, torch.Tensor], batch: int):  # type: ignore[no-untyped-def]
    return classification_evaluator({"train": (data["x_train"], data["y_train"]),
                                     "test": (data["x_test"], data["y_test"])}, batch)


def train_cifar_part(data: Mapping[str, torch.Tensor], model: nn.Module, part: int, settings: CifarTrain, seed: int,
                     checkpoint_path: str | Path | None = None, device: torch.device | str = "cpu",
                     deadline: float | None = None) -> pd.DataFrame:
    """Part ``part`` (1: large batch from init; 2: small batch from Part I's end) trained in place.

    With a ``deadline`` (epoch seconds) it stops at the first checkpoint after it (TimeBudgetReached) and the
    same call continues from there: 25,000-step parts run in chunks on a CPU.
    Plain SGD at the constant lr; every ``record_every`` steps the full train and test loss/accuracy are
    recorded (SPEC §1.9). Part II's steps are numbered after Part I's. Returns the history with its
    part and batch size as the first columns.
    """
    layout = torch.channels_last if settings.memory_format == "channels_last" else torch.contiguous_format
    on_device = {k: v.to(device) for k, v in data.items()}
    on_device["x_train"] = on_device["x_train"].contiguous(memory_format=layout)  # mini-batches keep the layout
    model.to(device=device, memory_format=layout)
    batch, steps = settings.part_batch_size(part), int(settings.steps_per_part)
    cfg = TrainConfig.from_settings(settings, batch_size=batch, grad_norm_tol=None, seed=seed + 1000 * part,
                                    checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
                                    # Part II continues Part I: its divergence reference is at least the loss the
                                    # whole run started from, the chance-level cross-entropy log(10), not Part I's
                                    # small end loss
                                    divergence_floor=math.log(10) if part == 2 else 0.0,
                                    config_key="realdata.cifar.train")
    result = train(model, cross_entropy, on_device["x_train"], on_device["y_train"], cfg,
                   evaluate=_evaluator(on_device, int(settings.eval_batch)), desc=f"cifar bs={batch}",
                   deadline=deadline)
    frame = pd.DataFrame(result.history)
    frame["step"] = frame["step"] + (0 if part == 1 else steps)
    frame.insert(0, "part", part)
    frame.insert(1, "batch_size", batch)
    model.to(device="cpu", memory_format=torch.contiguous_format)  # saved and analysed in the default layout
    return frame


def interpolate_cifar(data: Mapping[str, torch.Tensor], model_a: nn.Module, model_b: nn.Module,
                      alphas: Sequence[float], eval_batch: int, device: torch.device | str = "cpu") -> pd.DataFrame:
    """Train/test loss and accuracy along theta_I + alpha (theta_II - theta_I) (SPEC §1.10)."""
    on_device = {k: v.to(device) for k, v in data.items()}
    rows = line_scan(model_a.to(device), model_b.to(device), alphas, _evaluator(on_device, eval_batch))
    return pd.DataFrame(rows)


def _endpoint_monotone_violation(alphas: np.ndarray, values: np.ndarray) -> float:
    """Departure from monotonicity on [0, 1] in the direction set by the two end points."""
    v0 = values[int(np.argmin(np.abs(alphas)))]
    v1 = values[int(np.argmin(np.abs(alphas - 1)))]
    return max_monotonicity_violation(alphas, values, increasing=bool(v1 >= v0))


def cifar_metrics(part1: pd.DataFrame, part2: pd.DataFrame, interp: pd.DataFrame) -> dict[str, float]:
    """Claims 14-17 for one seed from the two histories and the line scan."""
    end1, start2 = part1.iloc[-1], part2.iloc[0]
    # the first Part II record after the switch (step 0 of Part II equals Part I's end point)
    after = part2[part2["step"] > end1["step"]].iloc[0] if (part2["step"] > end1["step"]).any() else start2
    a = interp["alpha"].to_numpy()
    train_loss = interp["train_loss"].to_numpy()
    i_m1, i_2 = int(np.argmin(np.abs(a + 1))), int(np.argmin(np.abs(a - 2)))
    return {
        "switch_train_loss_jump": float(after["train_loss"] - end1["train_loss"]),
        "switch_test_acc_dip_pp": 100 * float(end1["test_acc"] - after["test_acc"]),
        "final_test_acc_part1": float(end1["test_acc"]),
        "final_train_acc_part1": float(end1.get("train_acc", math.nan)),
        "final_test_acc_part2": float(part2.iloc[-1]["test_acc"]),
        "test_acc_gain_pp": 100 * float(part2.iloc[-1]["test_acc"] - end1["test_acc"]),
        "barrier_train_loss": barrier_height(a, train_loss),
        "test_acc_monotone_violation_pp": 100 * _endpoint_monotone_violation(a, interp["test_acc"].to_numpy()),
        "test_loss_monotone_violation": _endpoint_monotone_violation(a, interp["test_loss"].to_numpy()),
        "train_loss_ratio_m1_over_2": float(train_loss[i_m1] / max(train_loss[i_2], 1e-12)),
        "steps_part1": float(end1["step"] - part1["step"].iloc[0]),
        "steps_part2": float(part2["step"].iloc[-1] - end1["step"]),
    }
