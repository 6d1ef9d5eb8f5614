"""Divergence of a training run: a non-finite loss, or one that stays above a multiple of its start.

lr 1e8 on the blobs or MNIST nets drives the loss to 1e7 and the accuracy to chance without ever
overflowing, so a NaN check alone lets such a run end "normally" and its outputs flow downstream. The
monitor stops it in one line naming the config keys (``TrainConfig.config_key``) to change (issue 12).

The opposite failure is a collapse: lr 1e8 on the tanh blobs net saturates every unit after one step,
the logits' margins exceed what the float type resolves, and the loss and gradient become EXACTLY zero,
which a gradient-norm stop rule would take for convergence (and an all-zero Hessian would be cached).
A cross-entropy loss reaches exactly 0 only at margins of ~37 (float64; ~17 in float32), far beyond any
run that stops by the gradient-norm rule, so an exact zero (or non-finite parameters) is a failure
(:func:`check_collapse`), named like a divergence.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nnspectra.errors import DivergenceError

if TYPE_CHECKING:
    from nnspectra.training.loop import TrainConfig


def collapse_message(what: str, step: int, where: str, fix: str) -> str:
    """The one line for a collapsed run (``what``: e.g. "the loss is exactly 0")."""
    return (f"training collapsed at step {step}: {what} (saturated units or overflow, not convergence; {where}); "
            + fix)


def check_collapse(step: int, loss: float, gnorm: float, where: str, fix: str,
                   params_finite: bool = True) -> None:
    """Raise :class:`DivergenceError` when the loss or gradient norm is exactly zero, or the parameters
    are not finite (module docstring): ``where`` (e.g. "lr=1e+08") and ``fix`` (the config key) are named."""
    if not params_finite:
        raise DivergenceError(collapse_message("the parameters are not finite", step, where, fix))
    if loss == 0.0:
        raise DivergenceError(collapse_message("the loss is exactly 0", step, where, fix))
    if gnorm == 0.0:
        raise DivergenceError(collapse_message(f"the gradient is exactly 0 at loss {loss:.3g}", step, where, fix))


class DivergenceMonitor:
    """Stops training whose loss is not finite or stays above ``divergence_factor`` x its initial value.

    ``update(step, loss)`` raises :class:`DivergenceError` with one line naming the config keys to change;
    ``check_end(step, loss)`` does the same when training stops (by the gradient-norm rule on a lucky batch,
    or at the step limit) with the loss still above the multiple. The initial value is the full training
    loss at the start (:meth:`start`; else the first batch loss), at least ``divergence_floor`` (a run that
    continues another one passes the loss its whole run started from, e.g. the chance-level cross-entropy);
    ``reference`` carries it over a resumed run.
    """

    def __init__(self, cfg: TrainConfig, batch: int | None = None, reference: float | None = None) -> None:
        self.cfg, self.batch, self.reference, self.streak = cfg, batch, reference, 0

    def start(self, loss: float) -> None:
        """Take the full training loss before the first update as the initial value."""
        if math.isfinite(loss):
            self.reference = max(float(loss), float(self.cfg.divergence_floor))

    def _where(self) -> str:
        return f"lr={self.cfg.lr:g}" + (f", batch={self.batch}" if self.batch is not None else "")

    def _fix(self) -> str:
        cfg = self.cfg
        return (f"lower {cfg.key('lr')} in the config (or raise {cfg.key('divergence_factor')} / "
                f"{cfg.key('divergence_steps')} if this is intended)")

    def check_collapse(self, step: int, loss: float, gnorm: float, params_finite: bool = True) -> None:
        """Raise when the loss or gradient norm is exactly zero or the parameters are not finite
        (:func:`check_collapse`), unless the run started at a zero loss (nothing to learn)."""
        if self.reference is not None and self.reference == 0.0 and params_finite:
            return
        check_collapse(step, loss, gnorm, self._where(), f"lower {self.cfg.key('lr')} in the config")

    def check_end(self, step: int, loss: float) -> None:
        """Raise when the run ends (``loss``: the full training loss if known) above the multiple."""
        factor = self.cfg.divergence_factor
        if not math.isfinite(loss) or (factor is not None and self.reference is not None and self.reference > 0
                                       and loss > factor * self.reference):
            raise DivergenceError(f"training diverged: it ended at step {step} with the training loss {loss:.3g}, "
                                  f"above {factor:g} x its initial {self.reference:.3g} ({self._where()}); "
                                  + self._fix())

    def update(self, step: int, loss: float) -> None:
        cfg = self.cfg
        where = self._where()
        if not math.isfinite(loss):
            raise DivergenceError(f"training diverged at step {step}: loss is {loss} ({where}); lower "
                                  f"{cfg.key('lr')} in the config")
        if self.reference is None:
            self.reference = max(loss, float(cfg.divergence_floor))
        factor = cfg.divergence_factor
        if factor is None or self.reference <= 0:
            return
        self.streak = self.streak + 1 if loss > factor * self.reference else 0
        if self.streak >= cfg.divergence_steps:
            raise DivergenceError(
                f"training diverged at step {step}: the loss {loss:.3g} stayed above {factor:g} x its initial "
                f"{self.reference:.3g} for {self.streak} steps ({where}); " + self._fix())
