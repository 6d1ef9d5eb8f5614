"""The training settings every config section shares, and the names a section gives a loop setting.

Each section that trains (``blobs.train``, ``realdata.mnist.train``, ``realdata.lbsb.train``,
``realdata.cifar.train``, ``predecessor.train``, ``analyze.studies.<name>.train``) is read into a frozen
dataclass deriving from :class:`TrainSettings` (the step size), :class:`GuardedTrainSettings` (the step
size and the divergence check) or :class:`BatchRegimeSettings` (those and the large-batch / small-batch pair of
Sagun et al. 2018 §4); a section that runs a fixed number of SGD steps beside its own training (``predecessor.fig8``)
takes :class:`FixedStepsSettings`. So these keys have one home; a section adds only what is its own and overrides a
default where its schema says another. :meth:`nnspectra.training.TrainConfig.from_settings`
turns any of them into the loop's :class:`~nnspectra.training.TrainConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: a section's name for a loop setting -> the :class:`~nnspectra.training.TrainConfig` field it sets
LOOP_NAMES = {"iterations": "max_iterations", "steps": "max_iterations", "steps_per_part": "max_iterations",
              "record_every": "log_every"}


@dataclass(frozen=True)
class TrainSettings:
    """The constant step size of a training section (``<section>.lr``)."""

    lr: float = 0.1


@dataclass(frozen=True)
class GuardedTrainSettings(TrainSettings):
    """A training section that also sets the divergence check: stop when the batch loss stays above
    ``divergence_factor`` x its initial value for ``divergence_steps`` steps (null: only a non-finite loss)."""

    divergence_factor: float | None = 10.0
    divergence_steps: int = 20


#: the two batch regimes of Sagun et al. (2018) §4: large batch, small batch
REGIMES = ("lb", "sb")


@dataclass(frozen=True)
class BatchRegimeSettings(GuardedTrainSettings):
    """A section that trains one lr with a large batch (``batch_lb``) and a small batch (``batch_sb``) drawn by
    ``schedule`` (``realdata.lbsb.train``: two runs from one init; ``realdata.cifar.train``: Part I then Part II)."""

    batch_lb: int = 512
    batch_sb: int = 10
    schedule: str = "shuffle"

    def batch_size(self, regime: str) -> int:
        """The batch size of ``regime`` (``lb`` or ``sb``, :data:`REGIMES`)."""
        if regime not in REGIMES:
            raise ValueError(f"batch regime must be one of {REGIMES}, got {regime!r}")
        return int(self.batch_lb if regime == "lb" else self.batch_sb)


@dataclass(frozen=True)
class FixedStepsSettings:
    """A run of exactly ``steps`` steps (no gradient-norm stop) with batches of ``batch_size``, its trajectory
    recorded every ``record_every`` steps (the loop's ``max_iterations``, ``batch_size`` and ``log_every``)."""

    batch_size: int = 10
    steps: int = 5000
    record_every: int = 1
