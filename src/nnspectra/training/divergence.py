"""Divergence of a training run: a non-finite loss, or one that stays above a multiple of its start.

lr 1e8 on the blobs or MNIST nets drives the loss to 1e7 and the accuracy to chance without ever
overflowing, so a NaN check alone lets such a run end "normally" and its outputs flow downstream. The
monitor stops it in one line naming the config keys (``TrainConfig.config_key``) to change (issue 12).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nnspectra.errors import DivergenceError

if TYPE_CHECKING:
    from nnspectra.training.loop import TrainConfig


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
