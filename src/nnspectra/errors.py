"""User-facing errors: each one is a single readable line naming the cause and the fix."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path


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


class StorageError(NnspectraError):
    """A result cannot be written: the disk is full or the results tree is read-only."""


def storage_message(err: OSError, path: str | Path, need: int | None = None) -> str:
    """One line for an OSError met writing ``path``: a full disk (with the bytes needed and free), a read-only
    tree or a permission, naming the path and the fix; any other error by its text."""
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        free = shutil.disk_usage(folder).free
        needs = f"needs {need:,} bytes, " if need is not None else ""
        return (f"no space left writing {path}: {needs}{free:,} bytes free on the file system of {folder}; free "
                f"some space (or point the results elsewhere) and run again")
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write {path}: {err.strerror} ({folder} is read-only for this user); make it writable "
                f"(e.g. chmod -R u+w {folder}) or run on a writable copy")
    return f"cannot write {path}: {err.strerror or err}"
