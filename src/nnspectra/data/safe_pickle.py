"""Loading pickled files we did not write without running code from them.

A pickle is a small program: ``pickle.load`` of a crafted file can call any importable function
(``os.system`` ...). :func:`restricted_loads` reads CIFAR-10 python batches and ``batches.meta`` with an
unpickler whose ``find_class`` resolves only what those files hold — numpy's array reconstruction
(``_reconstruct``, ``ndarray``, ``dtype``; ``_frombuffer`` for protocol-5 pickles), latin-1
``_codecs.encode`` (how Python 3 writes bytes into protocol-2 pickles) and the plain builtins
dict/list/str/bytes/int — and refuses every other global before anything is called
(the "restricting globals" recipe of the :mod:`pickle` documentation).

:func:`load_torch_file` is ``torch.load(weights_only=True)`` (tensors and plain values only) with a
one-line :class:`DataDamagedError` naming the file when it is refused or unreadable.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

import numpy as np

from nnspectra.errors import DataDamagedError

try:  # numpy >= 2 (pickles written by numpy 1.x name numpy.core, by 2.x numpy._core)
    from numpy._core.multiarray import _reconstruct
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]


class PickleRefusedError(pickle.UnpicklingError):
    """The pickle asked for a global outside the allowed set (``global_name``); nothing was called."""

    def __init__(self, global_name: str) -> None:
        self.global_name = global_name
        super().__init__(f"refused global {global_name}")


def _latin1_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: ``encode(str, 'latin1')`` only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise PickleRefusedError(f"_codecs.encode(..., {encoding!r}, {errors!r})")
    return text.encode("latin1")


_BUILTINS = {"dict": dict, "list": list, "str": str, "bytes": bytes, "int": int}
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): _reconstruct for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
    **{(module, name): obj for module in ("builtins", "__builtin__") for name, obj in _BUILTINS.items()},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS`; any other global raises :class:`PickleRefusedError`.

    No module is imported on behalf of the file: allowed names map to objects imported above.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise PickleRefusedError(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise PickleRefusedError(f"persistent id {str(pid)[:40]!r}")


def restricted_loads(raw: bytes) -> Any:
    """Unpickle ``raw`` (the whole file) with :class:`RestrictedUnpickler`, Python 2 strings as latin-1.

    Raises :class:`PickleRefusedError` for a disallowed global, ``pickle.UnpicklingError`` for bytes
    after the pickle's end, and whatever the unpickler raises for truncated or garbage data.
    """
    stream = io.BytesIO(raw)  # reading from memory: a garbage length field cannot request gigabytes
    obj = RestrictedUnpickler(stream, encoding="latin1").load()
    if stream.tell() != len(raw):
        raise pickle.UnpicklingError(f"{len(raw) - stream.tell()} bytes after the end of the pickle")
    return obj


def load_torch_file(path: str | os.PathLike[str], map_location: Any = None) -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain containers/values only.

    A file holding anything else (a pickled object whose loading could run code) or an unreadable file
    raises :class:`DataDamagedError` in one line naming the file.
    """
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means the file cannot be used
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, pickle.UnpicklingError):
            first = first.split(". ")[0]
        raise DataDamagedError(
            f"file {os.fspath(path)} is damaged or unsafe (expected a torch file of tensors and plain values, "
            f"found {type(err).__name__}: {first[:200]}); delete it and rerun the step that wrote it") from None
