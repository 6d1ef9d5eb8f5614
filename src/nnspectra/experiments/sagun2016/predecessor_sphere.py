"""P0 (Sagun, Bottou & LeCun 2016) Fig 6: thousands of random inits on a sphere, trained by GD in a refilled pool
(vmapped, continuous batching), final lambda_max of each; the pool state is checkpointed, so a 5,000-init batch
runs in resumable sessions on a CPU (config ``max_hours``)."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnspectra.curvature.batched import mlp_hessians_eigvalsh
from nnspectra.models.flat import loss_of_flat_params
from nnspectra.errors import DivergenceError, TimeBudgetReached
from nnspectra.experiments.sagun2016.predecessor_training import (
    P0Model,
    P0Train,
    as_tensors,
    blob_sizes,
    build_net,
    init_radius,
    sphere_parameters,
)
from nnspectra.models.mlp import mlp_parameter_count
from nnspectra.spectra.outliers import isolated_eigenvalues
from nnspectra.training.batched_pool import PoolState, pool_gd
from nnspectra.training.evaluate import cross_entropy
from nnspectra.training.fast_mlp import pooled_mlp_step

log = logging.getLogger(__name__)
#: the clock the deadline is read from (tests replace it; logging keeps reading the real one)
_now = time.time
LR_KEY = "predecessor.train.lr"


@dataclass(frozen=True)
class P0Fig6:
    """Config ``predecessor.fig6``: width, inits per seed and seeds, sphere radius (None: the init's typical
    norm), the gradient-norm tolerances where λ_max is also read, and the vmapped chunk and pool sizes."""

    width: int = 10
    n_inits: int = 5000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    radius: float | None = None
    snapshot_tols: tuple[float, ...] = (1e-2, 3e-3, 1e-3)
    chunk: int = 256
    group: int | None = 100


def sphere_lambda_max(x: np.ndarray, y: np.ndarray, width: int, n_inits: int, train_settings: P0Train,
                      model: P0Model, seed: int, *, radius: float | None = None,
                      snapshot_tols: Sequence[float] = (1e-2, 1e-3), hidden_layers: int = 2, chunk: int = 256,
                      device: torch.device | str | None = None, group: int | None = None,
                      checkpoint_dir: str | Path | None = None, deadline: float | None = None,
                      save_seconds: float = 300.0) -> dict[str, Any]:
    """P0 Fig 6: ``n_inits`` random inits on a sphere of fixed radius, GD with ``train_settings`` (lr, step cap)
    to ``train_settings.grad_norm_tol``, final λ_max.

    The inits are drawn with the run seed ``seed`` itself (Fig 6's own draw: ``model.seed_offset`` is not
    added); ``radius`` default: :func:`init_radius` of the ``model.init`` scheme. The inits are trained by
    :func:`nnspectra.training.batched_pool.pool_gd`: a pool of ``group`` nets (all at once when None) whose
    freed slots are refilled in init order, so the few slow nets never run alone; each step is
    :func:`nnspectra.training.fast_mlp.pooled_mlp_step` (whose rows do not depend on each other, so ``group``
    changes no number). With ``checkpoint_dir`` the
    whole pool state is kept there (``pool.ckpt``: an .npz with the fingerprint of the settings, inits and data,
    written atomically every ``save_seconds`` and at the deadline), so a run stopped by ``deadline`` (epoch
    seconds: :class:`TimeBudgetReached` after the current step) or killed continues where it was, bit-identically;
    the folder is removed once every net is trained and its Hessian taken. A damaged or foreign checkpoint is
    ignored with a warning. More than half of the first ``group`` inits, or of all, diverging or collapsing is
    the lr (:class:`DivergenceError`). Returns per-init arrays
    ``lambda_max``, ``lambda_min``, ``n_isolated`` (claim 20's reading), ``iterations``, ``converged``,
    ``diverged``, ``grad_norm``, ``loss``; ``lambda_max_at_tol`` (len(snapshot_tols), n_inits): λ_max
    where each net's gradient norm first fell to each snapshot tolerance (how λ_max depends on the
    stopping rule); and ``seconds_per_init``, ``cpu_seconds_per_init`` (training + Hessians, all sessions).
    """
    sizes = blob_sizes(width, hidden_layers)
    p = mlp_parameter_count(sizes)
    lr, grad_norm_tol = float(train_settings.lr), float(train_settings.grad_norm_tol)
    max_iterations = int(train_settings.max_iterations)
    r = init_radius(sizes, model.init, float(model.init_scale)) if radius is None else float(radius)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    xt, yt = (t.to(dev) for t in as_tensors(x, y))
    template = build_net(sizes, seed=seed).to(dev)
    f = loss_of_flat_params(template, cross_entropy, xt, yt)
    theta_all = torch.as_tensor(sphere_parameters(n_inits, p, r, seed), device=dev)
    pool = n_inits if group is None else int(group)
    settings = repr(("pool", sizes, seed, r, lr, grad_norm_tol, max_iterations, list(snapshot_tols), pool))
    fingerprint = _fingerprint(settings, theta_all, xt, yt)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    path = folder / "pool.ckpt" if folder is not None else None
    state = _load_state(path, fingerprint, theta_all, len(snapshot_tols))
    save = (lambda st: _save_state(path, fingerprint, st)) if path is not None else None
    stop = (lambda: _now() >= deadline) if deadline is not None else None
    state, stopped = pool_gd(theta_all, f, lr=lr, grad_norm_tol=grad_norm_tol, max_iterations=max_iterations,
                             pool=pool, snapshot_tols=snapshot_tols, lr_key=LR_KEY, state=state, save=save,
                             save_seconds=save_seconds, should_stop=stop, label=f"P0 Fig 6 seed {seed}",
                             step=pooled_mlp_step(template, cross_entropy, xt, yt))
    if stopped:
        left = state.remaining_cpu_hours()
        raise TimeBudgetReached(
            f"P0 Fig 6 (seed {seed}) stopped with {state.done} of {n_inits} inits trained "
            f"({100 * state.done / n_inits:.1f} %, {state.ids.numel()} running; max_hours reached); the pool state "
            f"is kept in {folder}: run the same command again to continue"
            + (f" (~{left:.2f} CPU-h left at this rate)" if left is not None else ""))
    failed = int(state.diverged.sum())
    # one odd init among thousands is data (flagged ``diverged``, as in P0's figure); most of them failing is the lr
    if failed > n_inits // 2:
        raise DivergenceError(f"batched GD: {failed} of {n_inits} nets diverged or collapsed (non-finite, exactly 0 "
                              f"from saturated units, or above 10 x the initial loss for 20 steps; lr={lr:g}); lower "
                              f"{LR_KEY} in the config")
    t0, c0 = time.perf_counter(), time.process_time()
    res = state.result(snapshot_tols)

    def eigvalsh(theta: torch.Tensor) -> np.ndarray:
        return mlp_hessians_eigvalsh(theta, template, cross_entropy, xt, yt, chunk)

    eig = eigvalsh(res.theta)
    at_tol = np.stack([eigvalsh(res.snapshots[float(t)])[:, -1] for t in snapshot_tols]) \
        if snapshot_tols else np.zeros((0, n_inits))
    wall = state.wall_seconds + time.perf_counter() - t0
    cpu = state.cpu_seconds + time.process_time() - c0
    log.info("sphere inits: %d nets of P=%d (%.3f s wall / %.3f s CPU per init; Hessians %.1f s)", n_inits, p,
             wall / n_inits, cpu / n_inits, time.perf_counter() - t0)
    if path is not None:  # done: the state served its purpose (a later run, maybe of other code, starts afresh)
        path.unlink(missing_ok=True)
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()
    return {"lambda_max": eig[:, -1], "lambda_min": eig[:, 0],
            "n_isolated": np.array([isolated_eigenvalues(e).count if np.all(np.isfinite(e)) else -1 for e in eig]),
            "iterations": res.iterations, "converged": res.converged, "diverged": res.diverged,
            "grad_norm": res.grad_norm, "loss": res.loss,
            "snapshot_tols": np.asarray(snapshot_tols, dtype=np.float64), "lambda_max_at_tol": at_tol,
            "radius": r, "n_params": p, "seconds_per_init": wall / n_inits, "cpu_seconds_per_init": cpu / n_inits}


def _fingerprint(settings: str, theta0: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> str:
    digest = hashlib.sha256(settings.encode())
    for tensor in (theta0, x, y):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _save_state(path: Path, fingerprint: str, state: PoolState) -> None:
    """Atomically (tmp + replace) write the pool state with its fingerprint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as handle:
        np.savez(handle, fingerprint=np.asarray(fingerprint), **state.to_arrays())
    tmp.replace(path)
    log.info("pool state saved: %d of %d inits trained, %d running", state.done, state.n, state.ids.numel())


def _load_state(path: Path | None, fingerprint: str, theta0: torch.Tensor, n_tols: int) -> PoolState | None:
    """The pool state this run wrote (same fingerprint), else None (a foreign or damaged file: one warning)."""
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["fingerprint"]) != fingerprint:
                log.warning("ignoring pool checkpoint %s: written for other settings, inits or data", path)
                return None
            state = PoolState.from_arrays({k: saved[k] for k in saved.files}, theta0, n_tols)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("ignoring unreadable pool checkpoint %s (%s)", path, type(err).__name__)
        return None
    log.info("continuing from %s: %d of %d inits trained, %d running", path, state.done, state.n, state.ids.numel())
    return state
