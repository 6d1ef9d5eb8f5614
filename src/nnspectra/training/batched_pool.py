"""Continuous-batching full-batch GD: a pool of nets whose freed slots are refilled from the next inits.

:func:`nnspectra.training.batched.batched_gd` trains a fixed batch until its last net stops; with P0 Fig 6's
inits most nets converge in ~15,000 steps and a handful run on to the 300,000-step cap, nearly alone, at the
per-step overhead of a full batch (measured: ~75 % of the CPU). :func:`pool_gd` keeps the batch full: each net
has its own step counter, divergence streak, initial loss and snapshot flags; when nets stop their results are
recorded and their slots go to the next not-yet-started inits. Per net the semantics are exactly those of
``batched_gd`` (and so of :func:`nnspectra.training.train`). The whole pool state (:class:`PoolState`) is
plain arrays, so a run can be checkpointed between steps and continued bit-identically: the schedule (which
init enters which slot when) depends only on the state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch.func import grad_and_value, vmap

from nnspectra.errors import ConfigError, DivergenceError
from nnspectra.training.batched import BatchedGDResult, step_health

log = logging.getLogger(__name__)


@dataclass
class PoolState:
    """Where a :func:`pool_gd` run stands: every array it needs to continue (n inits of P parameters, A slots)."""

    next_init: int  # the next init to enter the pool (inits 0..next_init-1 have started)
    pool_steps: int  # pool steps taken so far (logs only)
    ids: torch.Tensor  # (A,) int64: the init in each slot, in slot order
    theta: torch.Tensor  # (A, P) current parameters of the running nets
    count: torch.Tensor  # (A,) int64: gradient evaluations so far of each running net (its step counter)
    streak: torch.Tensor  # (A,) int64: consecutive steps above divergence_factor x the initial loss
    initial: torch.Tensor  # (A,) each net's loss at its first step (NaN before it)
    taken: torch.Tensor  # (T, A) bool: snapshot tolerance already reached
    final: torch.Tensor  # (n, P) parameters where each finished net stopped (NaN while not finished)
    snapshots: torch.Tensor  # (T, n, P) parameters where the gradient norm first fell to each tolerance (else NaN)
    finished: np.ndarray  # (n,) bool
    iterations: np.ndarray  # (n,) int64: updates applied (train()'s convention)
    converged: np.ndarray  # (n,) bool
    diverged: np.ndarray  # (n,) bool: non-finite, collapsed or diverged (frozen there)
    grad_norm: np.ndarray  # (n,) at the final parameters
    loss: np.ndarray  # (n,) at the final parameters
    cpu_seconds: float = 0.0  # process CPU time spent on this run, over all sessions (timing only)
    wall_seconds: float = 0.0

    @classmethod
    def fresh(cls, theta0: torch.Tensor, n_tols: int) -> PoolState:
        n, p = theta0.shape
        dev, dt = theta0.device, theta0.dtype
        empty = torch.zeros(0, dtype=torch.int64, device=dev)
        return cls(0, 0, empty, theta0.new_zeros(0, p), empty.clone(), empty.clone(), theta0.new_zeros(0),
                   torch.zeros(n_tols, 0, dtype=torch.bool, device=dev), torch.full((n, p), float("nan"), dtype=dt,
                   device=dev), torch.full((n_tols, n, p), float("nan"), dtype=dt, device=dev),
                   np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool),
                   np.zeros(n, dtype=bool), np.full(n, np.nan), np.full(n, np.nan))

    @property
    def n(self) -> int:
        return int(self.finished.size)

    @property
    def done(self) -> int:
        return int(self.finished.sum())

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays (np.savez, loadable with allow_pickle=False)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], theta0: torch.Tensor, n_tols: int) -> PoolState:
        """Inverse of :meth:`to_arrays`; ValueError where the arrays do not fit ``theta0`` (n, P) and T tolerances."""
        ref = cls.fresh(theta0, n_tols)
        kw = {}
        for f in fields(cls):
            v, like = arrays[f.name], getattr(ref, f.name)
            if isinstance(like, torch.Tensor):
                if v.dtype != like.cpu().numpy().dtype or v.ndim != like.ndim:
                    raise ValueError(f"pool state {f.name}: {v.dtype} {v.shape}, not {like.dtype} of {like.ndim} axes")
                kw[f.name] = torch.as_tensor(v).to(theta0.device)
            elif isinstance(like, np.ndarray):
                if v.shape != like.shape or v.dtype != like.dtype:
                    raise ValueError(f"pool state {f.name}: {v.dtype} {v.shape}, not {like.dtype} {like.shape}")
                kw[f.name] = v.copy()
            else:
                kw[f.name] = type(like)(v)
        state = cls(**kw)
        a = state.ids.shape[0]
        if (state.final.shape != ref.final.shape or state.snapshots.shape != ref.snapshots.shape
                or state.theta.shape != (a, ref.final.shape[1]) or state.taken.shape != (n_tols, a)
                or any(t.shape != (a,) for t in (state.count, state.streak, state.initial))
                or not 0 <= state.next_init <= state.n):
            raise ValueError("pool state arrays of inconsistent shapes")
        return state

    def remaining_cpu_hours(self) -> float | None:
        """CPU hours left at this run's rate so far (process CPU time per finished net); None before any."""
        return self.cpu_seconds / self.done * (self.n - self.done) / 3600 if self.done else None

    def result(self, snapshot_tols: Sequence[float]) -> BatchedGDResult:
        """The finished run as :func:`batched_gd` reports it (theta = where each net stopped)."""
        snaps = {float(t): self.snapshots[i] for i, t in enumerate(sorted(snapshot_tols, reverse=True))}
        return BatchedGDResult(self.final, self.iterations, self.converged, self.diverged, self.grad_norm,
                               self.loss, snaps)


def pool_gd(theta0: torch.Tensor, loss_of_theta: Callable[[torch.Tensor], torch.Tensor], *, lr: float,
            grad_norm_tol: float, max_iterations: int, pool: int, snapshot_tols: Sequence[float] = (),
            divergence_factor: float | None = 10.0, divergence_steps: int = 20, lr_key: str | None = None,
            state: PoolState | None = None, save: Callable[[PoolState], None] | None = None,
            save_seconds: float = 300.0, should_stop: Callable[[], bool] | None = None,
            progress_seconds: float = 60.0, label: str = "pool GD",
            step: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
            ) -> tuple[PoolState, bool]:
    """Full-batch GD on the n rows of ``theta0``, at most ``pool`` at a time, refilling freed slots in init order.

    Per net exactly :func:`nnspectra.training.batched.batched_gd`: at its step t the full gradient g is computed;
    ||g|| <= tol stops it before the update (iterations t - 1); a non-finite loss, an exact zero loss or gradient
    (collapse) or ``divergence_steps`` steps above ``divergence_factor`` x its initial loss stop it as diverged
    (frozen there); after ``max_iterations`` updates of its own its gradient is evaluated once more and reported
    (iterations = max_iterations, not converged). ``snapshot_tols`` (each > tol) keep its parameters where its
    gradient norm first fell to each.

    With ``lr_key`` a failing learning rate stops the run in one line naming the key: when more than half of the
    first ``min(pool, n)`` inits (the first fill: a random sample, unlike the first nets to *finish*, which are
    biased towards quick failures) have diverged or collapsed, as soon as that is decided.

    ``state`` continues a run (a :class:`PoolState` from an earlier call: bit-identical to not stopping);
    ``save(state)`` is called every ``save_seconds`` of wall time, when ``should_stop()`` (asked after every
    step) turns true, and at the end. Returns (state, stopped early). Progress is logged every
    ``progress_seconds`` (nets done, running, CPU-based time left).

    ``step(theta (A, P)) -> (gradients (A, P), losses (A,))`` replaces the vmapped autograd step of
    ``loss_of_theta`` (e.g. :func:`nnspectra.training.fast_mlp.pooled_mlp_step` for MLPs); it must treat every
    row on its own.
    """
    n = theta0.shape[0]
    tols = sorted((float(t) for t in snapshot_tols), reverse=True)
    if any(t <= grad_norm_tol for t in tols):
        raise ConfigError(f"snapshot tolerances {tols} must all exceed grad_norm_tol={grad_norm_tol}")
    if pool < 1:
        raise ConfigError(f"pool size {pool} must be >= 1")
    s = PoolState.fresh(theta0, len(tols)) if state is None else state
    step_fn = step if step is not None else vmap(grad_and_value(loss_of_theta))
    first_fill = min(pool, n)
    clock = [time.perf_counter(), time.process_time()]
    last_save = last_log = clock[0]
    done0, cpu0 = s.done, s.cpu_seconds

    def tick() -> None:
        w, c = time.perf_counter(), time.process_time()
        s.wall_seconds += w - clock[0]
        s.cpu_seconds += c - clock[1]
        clock[:] = [w, c]

    _refill(s, theta0, pool)
    need_initial = True  # (also after a resume: rows at count 0 may be waiting)
    while s.ids.numel():
        grads, losses = step_fn(s.theta)
        norms = grads.norm(dim=1)
        s.count += 1
        s.pool_steps += 1
        if need_initial:  # nets at their first step record their initial loss (the divergence rule's reference)
            s.initial = torch.where(s.count == 1, losses.detach(), s.initial)
            need_initial = False
        healthy, streak = step_health(losses, norms, s.initial, s.streak, divergence_factor, divergence_steps)
        if streak is not None:
            s.streak = streak
        capped = s.count > max_iterations  # this evaluation only reports the final gradient (as batched_gd)
        live = ~capped
        ok = healthy & live
        for i, t in enumerate(tols):
            new = (norms <= t) & ok & ~s.taken[i]
            if bool(new.any()):
                s.snapshots[i, s.ids[new]] = s.theta[new]
                s.taken[i] |= new
        done = (norms <= grad_norm_tol) & ok
        failed = ~healthy & live
        stop = done | failed | capped
        if bool(stop.any()):
            idx = s.ids[stop].cpu().numpy()
            s.final[s.ids[stop]] = s.theta[stop]
            s.finished[idx] = True
            s.iterations[idx] = (s.count[stop] - 1).cpu().numpy()
            s.converged[idx] = done[stop].cpu().numpy()
            s.diverged[idx] = failed[stop].cpu().numpy()
            s.grad_norm[idx] = norms[stop].detach().cpu().numpy()
            s.loss[idx] = losses[stop].detach().cpu().numpy()
            if lr_key is not None:
                _check_first_fill(s, first_fill, lr, lr_key, divergence_factor, divergence_steps)
            keep = ~stop
            s.theta = s.theta[keep] - lr * grads[keep]
            s.ids, s.count, s.streak, s.initial = s.ids[keep], s.count[keep], s.streak[keep], s.initial[keep]
            s.taken = s.taken[:, keep]
            need_initial = _refill(s, theta0, pool)
        else:
            s.theta = s.theta - lr * grads
        now = time.perf_counter()
        if progress_seconds and now - last_log >= progress_seconds:
            tick()
            rate = (s.cpu_seconds - cpu0) / (s.done - done0) if s.done > done0 else None
            left = f"~{rate * (n - s.done) / 3600:.2f} CPU-h left" if rate else "no estimate yet"
            log.info("%s: %d of %d nets done (%.1f %%), %d running, pool step %d; %.2f CPU-h so far, %s", label,
                     s.done, n, 100 * s.done / n, s.ids.numel(), s.pool_steps, s.cpu_seconds / 3600, left)
            last_log = now
        if should_stop is not None and s.ids.numel() and should_stop():
            tick()
            if save is not None:
                save(s)
            return s, True
        if save is not None and now - last_save >= save_seconds:
            tick()
            save(s)
            last_save = time.perf_counter()
    tick()
    if save is not None:
        save(s)
    return s, False


def _refill(s: PoolState, theta0: torch.Tensor, pool: int) -> bool:
    """Move the next inits into the free slots (appended in init order); True if any entered."""
    k = min(pool - s.ids.numel(), s.n - s.next_init)
    if k <= 0:
        return False
    lo, dev = s.next_init, theta0.device
    s.theta = torch.cat([s.theta, theta0[lo:lo + k]])
    s.ids = torch.cat([s.ids, torch.arange(lo, lo + k, device=dev)])
    zeros = torch.zeros(k, dtype=torch.int64, device=dev)
    s.count, s.streak = torch.cat([s.count, zeros]), torch.cat([s.streak, zeros])
    s.initial = torch.cat([s.initial, torch.full((k,), float("nan"), dtype=theta0.dtype, device=dev)])
    s.taken = torch.cat([s.taken, torch.zeros(s.taken.shape[0], k, dtype=torch.bool, device=dev)], dim=1)
    s.next_init = lo + k
    return True


def _check_first_fill(s: PoolState, first: int, lr: float, lr_key: str, factor: float | None, steps: int) -> None:
    factor = float("inf") if factor is None else factor
    failed = int(s.diverged[:first].sum())
    if failed > first // 2:
        raise DivergenceError(f"batched GD: {failed} of {first} nets diverged or collapsed (the first {first} inits; "
                              f"non-finite, exactly 0 from saturated units, or above {factor:g} x the initial loss for "
                              f"{steps} steps; lr={lr:g}); lower {lr_key} in the config")
