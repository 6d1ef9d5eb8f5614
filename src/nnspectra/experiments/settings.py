"""The seed settings every paper's sections share: a seed offset added to a run's seed.

A section that draws something (a data set, an initialisation) from the run seed of its wildcards reads a
``seed_offset`` key, so two draws of one run seed (data and init) stay independent and a run seed means the
same thing in every figure. Its dataclass derives from :class:`SeededSettings` and draws with
:meth:`SeededSettings.seed_for`; a section whose offset has another name (``predecessor.mnist.random_seed_offset``,
``predecessor.fig8.second_seed_offset``) adds it through :func:`offset_seed`, so the rule has one home.

Plain Python (no numpy/torch): the workflow reads settings built on it while it plans the jobs.
"""

from __future__ import annotations

from dataclasses import dataclass


def offset_seed(offset: int, seed: int) -> int:
    """The seed of one draw: the section's ``offset`` plus the run's ``seed``."""
    return int(offset) + int(seed)


@dataclass(frozen=True)
class SeededSettings:
    """A section that draws from ``seed_offset`` + run seed (``blobs.data``, ``blobs.model``,
    ``predecessor.blobs``, ``predecessor.model``); a section overrides the default where its schema says another."""

    seed_offset: int = 0

    def seed_for(self, seed: int) -> int:
        """The seed this section draws with for run seed ``seed``."""
        return offset_seed(self.seed_offset, seed)
