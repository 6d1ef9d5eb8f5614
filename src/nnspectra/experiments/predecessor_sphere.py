"""P0 (Sagun, Bottou & LeCun 2016) Fig 6: thousands of random inits on a sphere, trained by GD a group at a
time (vmapped), final lambda_max of each; finished groups are kept, so a 5,000-init batch runs in resumable
chunks on a CPU (config ``max_hours``)."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnspectra.curvature.batched import batched_hessian_eigvalsh
from nnspectra.curvature.dense import loss_of_flat_params
from nnspectra.errors import DivergenceError, TimeBudgetReached
from nnspectra.experiments.predecessor import (
    as_tensors,
    blob_sizes,
    build_net,
    init_radius,
    isolated_eigenvalues,
    sphere_parameters,
)
from nnspectra.models.mlp import mlp_parameter_count
from nnspectra.training.batched import batched_gd
from nnspectra.training.evaluate import cross_entropy

log = logging.getLogger(__name__)
#: the clock the deadline is read from (tests replace it; logging keeps reading the real one)
_now = time.time


def sphere_lambda_max(x: np.ndarray, y: np.ndarray, width: int, n_inits: int, *, seed: int, radius: float | None = None,
                      init: str = "torch", init_scale: float = 0.1, lr: float = 0.1, grad_norm_tol: float = 1e-4,
                      max_iterations: int = 200_000, snapshot_tols: Sequence[float] = (1e-2, 1e-3),
                      hidden_layers: int = 2, chunk: int = 256, device: torch.device | str | None = None,
                      group: int | None = None, checkpoint_dir: str | Path | None = None,
                      deadline: float | None = None) -> dict[str, Any]:
    """P0 Fig 6: ``n_inits`` random inits on a sphere of fixed radius, GD to ``grad_norm_tol``, final λ_max.

    ``radius`` default: :func:`init_radius` of the ``init`` scheme. The inits are trained ``group`` at a
    time (all at once when None); with ``checkpoint_dir`` each finished group is kept there (an .npz with
    the fingerprint of its settings, inits and data), so a run stopped by ``deadline`` (epoch seconds:
    :class:`TimeBudgetReached` between groups) or killed continues where it was; the kept groups are
    removed once every group is done. Returns per-init arrays
    ``lambda_max``, ``lambda_min``, ``n_isolated`` (claim 20's reading), ``iterations``, ``converged``,
    ``diverged``, ``grad_norm``, ``loss``; ``lambda_max_at_tol`` (len(snapshot_tols), n_inits): λ_max
    where each net's gradient norm first fell to each snapshot tolerance (how λ_max depends on the
    stopping rule); and ``seconds_per_init`` (wall time of training + Hessians / n_inits).
    """
    sizes = blob_sizes(width, hidden_layers)
    p = mlp_parameter_count(sizes)
    r = init_radius(sizes, init, init_scale) if radius is None else float(radius)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    xt, yt = (t.to(dev) for t in as_tensors(x, y))
    template = build_net(sizes, seed=seed).to(dev)
    f = loss_of_flat_params(template, cross_entropy, xt, yt)
    theta_all = torch.as_tensor(sphere_parameters(n_inits, p, r, seed), device=dev)
    group = n_inits if group is None else int(group)
    settings = repr((sizes, seed, r, lr, grad_norm_tol, max_iterations, list(snapshot_tols), chunk, group))
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    starts = list(range(0, n_inits, group))
    parts: list[dict[str, np.ndarray]] = []
    t_start = time.perf_counter()
    fresh = 0
    for g, lo in enumerate(starts):
        theta0 = theta_all[lo:lo + group]
        fingerprint = _group_fingerprint(settings, theta0, xt, yt)
        path = folder / f"group{g:04d}.ckpt" if folder is not None else None
        part = _load_group(path, fingerprint)
        if part is None:
            if deadline is not None and _now() >= deadline:
                left = (time.perf_counter() - t_start) / max(fresh, 1) * (len(starts) - g) / 3600
                raise TimeBudgetReached(
                    f"P0 Fig 6 (seed {seed}) stopped after {g} of {len(starts)} groups of {group} inits (max_hours "
                    f"reached); finished groups are kept in {folder}: run the same command again to continue"
                    + (f" (~{left:.2f} h left at this rate)" if fresh else ""))
            part = _sphere_group(theta0, f, lr, grad_norm_tol, max_iterations, snapshot_tols, chunk)
            fresh += 1
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
                with open(tmp, "wb") as handle:
                    np.savez(handle, fingerprint=np.asarray(fingerprint), **part)
                tmp.replace(path)
        parts.append(part)
        if len(starts) > 1:
            rate = (time.perf_counter() - t_start) / max(fresh, 1)
            log.info("P0 Fig 6 seed %d: group %d of %d done (%d inits)%s", seed, g + 1, len(starts),
                     min(lo + group, n_inits), f"; ~{rate * (len(starts) - g - 1) / 3600:.2f} h left" if fresh else "")
    if folder is not None:  # done: the groups served their purpose (a later run, maybe of other code, starts afresh)
        for g in range(len(starts)):
            (folder / f"group{g:04d}.ckpt").unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    out = {k: np.concatenate([part[k] for part in parts], axis=-1) for k in parts[0] if k not in ("wall", "cpu")}
    wall = float(sum(float(part["wall"]) for part in parts))
    cpu = float(sum(float(part["cpu"]) for part in parts))
    log.info("sphere inits: %d nets of P=%d (%.3f s wall / %.3f s CPU per init)", n_inits, p, wall / n_inits,
             cpu / n_inits)
    return {"lambda_max": out["eig_max"], "lambda_min": out["eig_min"], "n_isolated": out["n_isolated"],
            "iterations": out["iterations"], "converged": out["converged"], "diverged": out["diverged"],
            "grad_norm": out["grad_norm"], "loss": out["loss"],
            "snapshot_tols": np.asarray(snapshot_tols, dtype=np.float64), "lambda_max_at_tol": out["at_tol"],
            "radius": r, "n_params": p, "seconds_per_init": wall / n_inits, "cpu_seconds_per_init": cpu / n_inits}


def _sphere_group(theta0: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor], lr: float, grad_norm_tol: float,
                  max_iterations: int, snapshot_tols: Sequence[float], chunk: int) -> dict[str, np.ndarray]:
    """One group of Fig 6's inits: batched GD, then every net's Hessian eigenvalues (per-init arrays)."""
    t0, c0 = time.perf_counter(), time.process_time()
    res = batched_gd(theta0, f, lr=lr, grad_norm_tol=grad_norm_tol, max_iterations=max_iterations,
                     snapshot_tols=snapshot_tols, progress_every=5000)
    b = theta0.shape[0]
    failed = int(np.sum(res.diverged))
    # one odd init among thousands is data (flagged ``diverged``, as in P0's figure); most of a group failing is the lr
    if failed > b // 2:
        raise DivergenceError(f"batched GD: {failed} of {b} nets diverged or collapsed (non-finite, exactly 0 from "
                              f"saturated units, or above 10 x the initial loss for 20 steps; lr={lr:g}); lower "
                              f"predecessor.train.lr in the config")
    t1 = time.perf_counter()
    eig = batched_hessian_eigvalsh(res.theta, f, chunk)
    at_tol = np.stack([batched_hessian_eigvalsh(res.snapshots[float(t)], f, chunk)[:, -1] for t in snapshot_tols]) \
        if snapshot_tols else np.zeros((0, b))
    log.info("group of %d nets: training %.1f s, Hessians %.1f s", b, t1 - t0, time.perf_counter() - t1)
    return {"eig_max": eig[:, -1], "eig_min": eig[:, 0],
            "n_isolated": np.array([isolated_eigenvalues(e).count if np.all(np.isfinite(e)) else -1 for e in eig]),
            "iterations": res.iterations, "converged": res.converged, "diverged": res.diverged,
            "grad_norm": res.grad_norm, "loss": res.loss, "at_tol": at_tol,
            "wall": np.asarray(time.perf_counter() - t0), "cpu": np.asarray(time.process_time() - c0)}


def _group_fingerprint(settings: str, theta0: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> str:
    digest = hashlib.sha256(settings.encode())
    for tensor in (theta0, x, y):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _load_group(path: Path | None, fingerprint: str) -> dict[str, np.ndarray] | None:
    """A finished group written by this run (same fingerprint), else None (a stale or damaged file is removed)."""
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["fingerprint"]) == fingerprint:
                log.info("reusing finished group %s", path)
                return {k: saved[k] for k in saved.files if k != "fingerprint"}
    except (OSError, ValueError, KeyError) as err:
        log.warning("ignoring unreadable group checkpoint %s (%s)", path, type(err).__name__)
    path.unlink(missing_ok=True)
    return None
