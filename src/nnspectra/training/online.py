"""Online (one-pass) SGD: one fresh sample per step, iterates kept at checkpoints (Ben Arous et al. 2024).

theta <- theta - delta (grad L(theta; Y_l) + beta theta) with step size delta = c/d and an optional
l2 penalty beta; the per-sample gradient comes from the model (:mod:`nnspectra.models.mixture_nets`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nnspectra.errors import ConfigError, DivergenceError

SampleFn = Callable[[int], tuple[np.ndarray, np.ndarray]]


def checkpoint_steps(times: Sequence[float], d: int) -> np.ndarray:
    """Step indices ell = round(t d) for checkpoint times t = ell/d (sorted, unique)."""
    steps = np.unique(np.round(np.asarray(times, dtype=float) * d).astype(np.int64))
    if steps.size == 0 or steps[0] < 0:
        raise ConfigError("checkpoint times ell/d must be a non-empty list of numbers >= 0")
    return steps


class SeenBuffer:
    """The last ``size`` samples consumed by SGD (for matrices on train data, SPEC §2.3)."""

    def __init__(self, size: int, d: int) -> None:
        self.Y = np.zeros((size, d))
        self.labels = np.zeros(size, dtype=np.int64)
        self.count = 0

    def push(self, Y: np.ndarray, labels: np.ndarray) -> None:
        size = self.Y.shape[0]
        Y, labels = Y[-size:], labels[-size:]
        idx = (self.count + np.arange(len(labels))) % size
        self.Y[idx], self.labels[idx] = Y, labels
        self.count += len(labels)

    def get(self) -> tuple[np.ndarray, np.ndarray]:
        n = min(self.count, self.Y.shape[0])
        return self.Y[:n].copy(), self.labels[:n].copy()


#: a gradient exactly 0 on this many consecutive fresh samples is a collapse, not chance
COLLAPSE_SAMPLES = 100


def online_sgd(theta0: np.ndarray, grad_step: Callable[[np.ndarray, np.ndarray, int], np.ndarray],
               sample: SampleFn, steps: np.ndarray, delta: float, beta: float = 0.0, chunk: int = 1000,
               on_checkpoint: Callable[[int, np.ndarray], None] | None = None,
               seen: SeenBuffer | None = None, step_key: str = "the step size c") -> list[np.ndarray]:
    """One-pass SGD theta <- theta - delta (grad L(theta; Y_l) + beta theta), one fresh sample per step.

    ``grad_step(theta, Y_l, label_l)`` returns the per-sample gradient; ``sample(n)`` draws n fresh
    (Y, labels). Returns copies of theta at each step count in ``steps`` (calling ``on_checkpoint``).
    No loss is evaluated along the way, so divergence is a non-finite theta at a checkpoint, and a collapse
    (saturated or dead units) a gradient exactly zero on every sample of a chunk of at least
    :data:`COLLAPSE_SAMPLES` fresh samples (one sample may meet only dead ReLUs); the one-line
    :class:`DivergenceError` names ``step_key``, the config key to lower (e.g. ``alignment.gmm.c``).
    """
    theta = np.array(theta0, dtype=np.float64, copy=True)
    out: list[np.ndarray] = []
    ell, t_idx, total = 0, 0, int(steps[-1])
    shrink = 1.0 - delta * beta
    while True:
        while t_idx < len(steps) and steps[t_idx] == ell:
            if not np.all(np.isfinite(theta)):
                raise DivergenceError(f"online SGD diverged before step {ell}: theta is not finite "
                                      f"(step size delta={delta:g}); lower {step_key} in the config")
            out.append(theta.copy())
            if on_checkpoint is not None:
                on_checkpoint(ell, out[-1])
            t_idx += 1
        if ell >= total:
            return out
        n = min(chunk, total - ell, int(steps[t_idx]) - ell)
        Y, labels = sample(n)
        if seen is not None:
            seen.push(Y, labels)
        moved = False
        for i in range(n):
            g = grad_step(theta, Y[i], int(labels[i]))
            moved = moved or bool(g.any())  # g.any() runs only until the first non-zero gradient of the chunk
            theta *= shrink
            theta -= delta * g
        if not moved and n >= COLLAPSE_SAMPLES:
            raise DivergenceError(f"online SGD collapsed at steps {ell}-{ell + n}: the gradient was exactly 0 on all "
                                  f"{n} fresh samples (saturated or dead units, not convergence; step size "
                                  f"delta={delta:g}); lower {step_key} in the config")
        ell += n
