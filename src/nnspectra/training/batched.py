"""Full-batch GD on many independent parameter vectors at once (vmapped): thousands of tiny nets.

Used by the predecessor paper's Fig 6 (5,000 random initialisations); single runs use
:func:`nnspectra.training.train`, whose stop rule and update this loop follows exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import grad_and_value, vmap

from nnspectra.errors import ConfigError, DivergenceError

log = logging.getLogger(__name__)


@dataclass
class BatchedGDResult:
    """Outcome of :func:`batched_gd` for B independent nets (arrays of length B unless stated)."""

    theta: torch.Tensor  # (B, P) final parameters
    iterations: np.ndarray  # updates applied (train()'s convention)
    converged: np.ndarray  # bool: grad norm <= tol reached
    diverged: np.ndarray  # bool: non-finite loss met (frozen there)
    grad_norm: np.ndarray  # gradient norm at the final parameters
    loss: np.ndarray  # loss at the final parameters
    snapshots: dict[float, torch.Tensor] = field(default_factory=dict)  # tol -> (B, P), NaN where never reached


def step_health(losses: torch.Tensor, norms: torch.Tensor, initial: torch.Tensor | None, streak: torch.Tensor,
                divergence_factor: float | None, divergence_steps: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per net of one GD step: (still healthy, updated divergence streak or None without the rule).

    Unhealthy: a non-finite loss, an exact zero loss or gradient (a collapse), or a loss above
    ``divergence_factor`` x its ``initial`` loss for ``divergence_steps`` consecutive steps (``train``'s rules).
    Shared by :func:`batched_gd` and :func:`nnspectra.training.batched_pool.pool_gd`.
    """
    finite = torch.isfinite(losses) & ~((losses == 0) | (norms == 0))  # an exact zero is a collapse
    if divergence_factor is None or initial is None:
        return finite, None
    streak = torch.where(losses > divergence_factor * initial, streak + 1, 0)
    return finite & (streak < divergence_steps), streak


def batched_gd(theta0: torch.Tensor, loss_of_theta: Callable[[torch.Tensor], torch.Tensor], *, lr: float,
               grad_norm_tol: float, max_iterations: int, snapshot_tols: Sequence[float] = (),
               progress_every: int = 0, progress_seconds: float = 60.0, lr_key: str | None = None,
               divergence_factor: float | None = 10.0, divergence_steps: int = 20) -> BatchedGDResult:
    """Full-batch GD on B independent parameter vectors at once (P0 Fig 6's thousands of inits).

    Why a second loop: :func:`nnspectra.training.train` trains one ``nn.Module``; Fig 6 needs thousands
    of tiny nets (P <= 434, 200 points), where one net per call is dominated by per-step overhead:
    measured (benchmarks/bench_p0_batched_gd.py, one core) 170-185 us CPU per net-step with ``train``
    vs 35-55 us here with >= 256 nets (a lone net costs ~1 ms here: use ``train`` for single runs).
    Here the gradient is ``vmap(grad(loss_of_theta))`` over the stacked (B, P) parameters, only on the
    nets still running. The semantics are exactly those of ``train`` with ``batch_size=None``: at step t
    the full gradient g is computed; if ||g|| <= tol the net stops *before* updating (iterations = t - 1),
    else theta <- theta - lr g; a non-finite loss freezes the net as diverged. ``snapshot_tols`` (each
    > ``grad_norm_tol``) keep each net's parameters where its gradient norm first fell to that level.
    The tests check it against ``train`` (same trajectory to 1e-10). Progress is logged every
    ``progress_every`` steps and at least every ``progress_seconds`` of wall time (0: never).

    As in ``train``, a net whose loss stays above ``divergence_factor`` x its initial loss for
    ``divergence_steps`` steps has diverged, and a net whose loss or gradient is exactly zero has collapsed
    (saturated units, not convergence: :mod:`nnspectra.training.divergence`); it is frozen and flagged
    ``diverged`` like a non-finite one.
    With ``lr_key`` (the config key of ``lr``) any diverged or collapsed net stops the run instead, in one
    line naming the key and how many nets failed.
    """
    theta = theta0.detach().clone()
    b = theta.shape[0]
    step_fn = vmap(grad_and_value(loss_of_theta))
    iterations = np.zeros(b, dtype=np.int64)
    converged = np.zeros(b, dtype=bool)
    diverged = np.zeros(b, dtype=bool)
    gnorm_out = np.full(b, np.nan)
    loss_out = np.full(b, np.nan)
    tols = sorted((float(t) for t in snapshot_tols), reverse=True)
    if any(t <= grad_norm_tol for t in tols):
        raise ConfigError(f"snapshot tolerances {tols} must all exceed grad_norm_tol={grad_norm_tol}")
    snaps = {t: torch.full_like(theta, float("nan")) for t in tols}
    taken = {t: torch.zeros(b, dtype=torch.bool, device=theta.device) for t in tols}
    active = torch.arange(b, device=theta.device)
    initial: torch.Tensor | None = None  # each net's loss at its start
    streak = torch.zeros(b, dtype=torch.int64, device=theta.device)  # consecutive steps above the multiple
    t0 = last_log = time.perf_counter()
    for step in range(1, int(max_iterations) + 1):
        th = theta[active]
        grads, losses = step_fn(th)
        norms = grads.norm(dim=1)
        if divergence_factor is not None and initial is None:
            initial = losses.detach().clone()
        finite, new_streak = step_health(losses, norms, initial[active] if initial is not None else None,
                                         streak[active], divergence_factor, divergence_steps)
        if new_streak is not None:
            streak[active] = new_streak
        for t in tols:
            new = (norms <= t) & finite & ~taken[t][active]
            if bool(new.any()):
                idx = active[new]
                snaps[t][idx] = th[new]
                taken[t][idx] = True
        done = (norms <= grad_norm_tol) & finite
        stop = done | ~finite
        if bool(stop.any()):
            idx = active[stop].cpu().numpy()
            converged[idx] = done[stop].cpu().numpy()
            diverged[idx] = (~finite[stop]).cpu().numpy()
            iterations[idx] = step - 1
            gnorm_out[idx] = norms[stop].cpu().numpy()
            loss_out[idx] = losses[stop].cpu().numpy()
        if lr_key is not None and not bool(finite.all()):
            bad = ~finite
            raise DivergenceError(f"batched GD: {int(bad.sum())} of {b} nets diverged or collapsed at step {step} "
                                  f"(loss {float(losses[bad][0]):.3g}, gradient norm {float(norms[bad][0]):.3g}: "
                                  f"non-finite, exactly 0 from saturated units, or above {divergence_factor} x the "
                                  f"initial loss for {divergence_steps} steps; lr={lr:g}); lower {lr_key} "
                                  f"in the config")
        keep = ~stop
        theta[active[keep]] = th[keep] - lr * grads[keep]
        active = active[keep]
        if active.numel() == 0:
            break
        now = time.perf_counter()
        if (progress_every and step % progress_every == 0) or (progress_seconds and now - last_log >= progress_seconds):
            log.info("batched GD step %d of at most %d: %d of %d nets running (%.0f s)", step, int(max_iterations),
                     active.numel(), b, now - t0)
            last_log = now
    if active.numel():  # hit max_iterations: report the gradient at the final point, as train() does
        idx = active.cpu().numpy()
        iterations[idx] = int(max_iterations)
        grads, losses = step_fn(theta[active])
        gnorm_out[idx] = grads.norm(dim=1).cpu().numpy()
        loss_out[idx] = losses.detach().cpu().numpy()
    return BatchedGDResult(theta, iterations, converged, diverged, gnorm_out, loss_out, snaps)
