"""One study end to end: build the model and data, optionally train (the project's one loop, snapshots kept),
and run the analyses of :mod:`nnspectra.analyze.analyses`. Returns plain records and arrays; knows
nothing of Snakemake or result paths."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nnspectra.analyze.analyses import (
    AnalysisSettings,
    analyze_curvature,
    lambda_max_over_snapshots,
)
from nnspectra.analyze.study import (
    build_model,
    factory_source,
    load_checkpoint,
    load_study_data,
    loss_function,
    resolve_study_device,
    set_layer_mode,
)
from nnspectra.analyze.weights import weight_esd
from nnspectra.curvature.spectrum import DTYPES
from nnspectra.errors import ConfigError
from nnspectra.training import TrainConfig, train
from nnspectra.training.settings import TrainSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyTrain(TrainSettings):
    """Optional training before the analysis (config ``analyze.studies.<name>.train``)."""

    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int | None = 32
    steps: int = 100
    snapshots: tuple[int, ...] = ()


@dataclass
class StudyResult:
    """The record (JSON), arrays (.npz), per-block rows and per-weight-matrix rows of one study."""

    record: dict[str, Any]
    arrays: dict[str, np.ndarray]
    blocks: list[dict[str, Any]] = field(default_factory=list)
    weights: list[dict[str, Any]] = field(default_factory=list)


def _gcd_all(values: list[int]) -> int:
    out = 0
    for v in values:
        out = math.gcd(out, int(v))
    return max(out, 1)


def train_with_snapshots(model: torch.nn.Module, loss_fn: Any, x: torch.Tensor, y: torch.Tensor,
                         settings: StudyTrain, seed: int, key: str = "train",
                         ) -> tuple[list[tuple[int, dict[str, torch.Tensor]]], dict[str, Any]]:
    """Train ``model`` in place with :func:`nnspectra.training.train` and keep a copy of its state at step 0,
    at every step of ``settings.snapshots`` and at the end; returns (snapshots, training summary)."""
    wanted = sorted({0, *(int(s) for s in settings.snapshots if 0 <= int(s) <= settings.steps), settings.steps})
    cfg = TrainConfig.from_settings(settings, grad_norm_tol=None, log_every=_gcd_all(wanted[1:]), seed=seed,
                                    progress=False, config_key=key)
    snapshots: list[tuple[int, dict[str, torch.Tensor]]] = []

    def keep(step: int, net: torch.nn.Module) -> None:
        if step in wanted and all(s != step for s, _ in snapshots):
            snapshots.append((step, copy.deepcopy(net.state_dict())))

    result = train(model, loss_fn, x, y, cfg, on_log=keep, desc=key)
    summary = {"steps": result.iterations, "lr": settings.lr, "two_over_lr": 2.0 / settings.lr,
               "optimizer": settings.optimizer, "batch_size": settings.batch_size, "momentum": settings.momentum,
               "weight_decay": settings.weight_decay, "final_batch_loss": result.history[-1]["batch_loss"],
               "history": result.history}
    return snapshots, summary


def run_study(name: str, study: Mapping[str, Any], *, data_dir: str | None = None, download: bool = False,
              device: torch.device | str = "cpu", memory_budget_gb: float | None = None) -> StudyResult:
    """Run the study ``name`` described by its validated config entry ``study``; ``device`` is the run's,
    which the study's own ``device`` overrides (CUDA asked for but absent: the CPU, logged and recorded)."""
    key = f"analyze.studies.{name}"
    started = time.perf_counter()
    device, device_note = resolve_study_device(study.get("device"), device, key=f"{key}.device")
    seed = int(study["seed"])
    mcfg, dcfg = study["model"], study["dataset"]
    model = build_model(mcfg["name"], mcfg.get("kwargs") or {}, seed=seed, key=f"{key}.model.name")
    checkpoint = None
    if mcfg.get("checkpoint"):
        sha = load_checkpoint(model, mcfg["checkpoint"], key=f"{key}.model.checkpoint")
        checkpoint = {"path": str(mcfg["checkpoint"]), "sha256": sha}
    dtype = DTYPES[study["dtype"]]
    model = model.to(dtype)
    data = load_study_data(dcfg["name"], int(dcfg["n_samples"]), int(dcfg["seed"]), data_dir=data_dir,
                           download=download, flatten=bool(dcfg["flatten"]), image_size=dcfg.get("image_size"),
                           key=f"{key}.dataset", path=dcfg.get("path"))
    x, y = data.x.to(dtype), data.y
    loss_fn = loss_function(study["loss"])
    was_training = model.training
    model.eval()  # a look at the output shape must not move batch norm's running statistics
    with torch.no_grad():
        out = model(x[:2])
    model.train(was_training)
    if out.ndim != 2 or out.shape[1] != data.n_classes:
        raise ConfigError(f"config key '{key}.model': the model gives outputs of shape {tuple(out.shape)} on the data "
                          f"but the dataset has {data.n_classes} classes; set its output size (e.g. num_classes: "
                          f"{data.n_classes})")
    record: dict[str, Any] = {
        "study": name,
        "model": {"name": mcfg["name"], "kwargs": dict(mcfg.get("kwargs") or {}), "checkpoint": checkpoint,
                  "factory_source": factory_source(mcfg["name"]), "n_params": int(sum(p.numel() for p in model.parameters())), "class": type(model).__name__},
        "dataset": {"name": dcfg["name"], "n_samples": int(len(x)), "n_classes": data.n_classes,
                    "seed": int(dcfg["seed"]), "input_shape": list(x.shape[1:]), "source": data.source},
        "loss": study["loss"], "dtype": study["dtype"], "seed": seed, "device": device_note,
    }
    arrays: dict[str, np.ndarray] = {}
    snapshots: list[tuple[int, dict[str, torch.Tensor]]] = []
    t0 = time.perf_counter()
    if study.get("train"):
        tcfg = dict(study["train"])
        tcfg["snapshots"] = tuple(tcfg.get("snapshots") or ())
        tsettings = StudyTrain(**tcfg)
        snapshots, record["train"] = train_with_snapshots(model, loss_fn, x, y, tsettings, seed, key=f"{key}.train")
    record["train_seconds"] = time.perf_counter() - t0
    record["layer_mode"] = set_layer_mode(model, study["bn_dropout"])
    settings = AnalysisSettings(**study["analysis"])
    curvature, curv_arrays, blocks = analyze_curvature(model, loss_fn, x, y, data.n_classes, settings,
                                                       dtype=study["dtype"], seed=seed, budget_gb=memory_budget_gb,
                                                       device=device)
    record["curvature"] = curvature
    arrays.update(curv_arrays)
    weights = weight_esd(model, settings.powerlaw_min_tail)
    record["weights"] = {"n_matrices": len(weights),
                         "median_alpha": float(np.nanmedian([w["alpha"] for w in weights])) if weights else float("nan")}
    if len(snapshots) > 1:
        t1 = time.perf_counter()
        final = copy.deepcopy(model.state_dict())
        steps, lam = lambda_max_over_snapshots(snapshots, model, loss_fn, x, y, dtype=study["dtype"],
                                               tol=settings.snapshot_tol, seed=seed, device=device)
        model.load_state_dict(final)
        arrays["snapshot_steps"], arrays["snapshot_lambda_max"] = steps, lam
        record["snapshots"] = {"steps": steps.tolist(), "lambda_max": lam.tolist(), "two_over_lr": 2.0 / record["train"]["lr"],
                               "above_two_over_lr": int(np.sum(lam > 2.0 / record["train"]["lr"])),
                               "seconds": time.perf_counter() - t1}
    record["seconds"] = time.perf_counter() - started
    return StudyResult(record=record, arrays=arrays, blocks=blocks, weights=weights)


def summary_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the across-studies table from a study record."""
    curv = record["curvature"]
    h, gn = curv["H"], curv["GN"]
    snap = record.get("snapshots") or {}
    return {
        "study": record["study"], "model": record["model"]["name"], "dataset": record["dataset"]["name"],
        "P": record["model"]["n_params"], "N": record["dataset"]["n_samples"], "C": record["dataset"]["n_classes"],
        "trained_steps": (record.get("train") or {}).get("steps", 0), "method": curv["method"],
        "lambda_max_H": h["lambda_max"], "lambda_max_GN": gn["lambda_max"],
        "trace_H": h["trace"], "trace_H_stderr": h["trace_stderr"],
        "outliers_H_gap": h["outliers"]["rules"]["gap"]["count"],
        "outliers_GN_gap": gn["outliers"]["rules"]["gap"]["count"],
        "median_weight_alpha": record["weights"]["median_alpha"],
        "lambda_max_final_vs_2_over_lr": (f"{snap['lambda_max'][-1]:.4g} / {snap['two_over_lr']:.4g}" if snap else ""),
        "seconds": round(float(record["seconds"]), 1),
    }
