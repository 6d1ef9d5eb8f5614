"""The training settings every config section shares, and the names a section gives a loop setting.

Each section that trains (``blobs.train``, ``realdata.mnist.train``, ``realdata.lbsb.train``,
``realdata.cifar.train``, ``predecessor.train``, ``analyze.studies.<name>.train``) is read into a frozen
dataclass deriving from :class:`TrainSettings` (the step size) or :class:`GuardedTrainSettings` (the step
size and the divergence check), so these keys have one home; a section adds only what is its own and
overrides a default where its schema says another. :meth:`nnspectra.training.TrainConfig.from_settings`
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
