"""User-facing errors: each one is a single readable line naming the cause and the fix."""

from __future__ import annotations


class NnspectraError(Exception):
    """An error the user can fix (bad config, missing data, memory, divergence).

    Pipeline steps catch it and print ``str(err)`` as one line instead of a traceback.
    """


class ConfigError(NnspectraError):
    """The configuration is invalid: unknown key, wrong type or impossible value."""


class DataNotFoundError(NnspectraError):
    """A dataset is neither on disk nor downloadable."""


class DataDamagedError(DataNotFoundError):
    """A data file is present but damaged, unsafe to read or not what it claims to be."""


class MemoryBudgetError(NnspectraError):
    """A dense matrix would not fit in the memory available."""


class DivergenceError(NnspectraError):
    """Training produced a NaN or infinite loss."""


class CorruptResultError(NnspectraError):
    """A cached result differs from its provenance sidecar (or has none), so it must not be used."""


class TimeBudgetReached(NnspectraError):
    """A long job stopped cleanly at a checkpoint because the run's ``max_hours`` ran out; rerun to continue."""
