"""Result files: arrays (.npz), records (.json), tables (.csv + .md) and model parameters (.pt), written
atomically; models are read back with ``weights_only=True`` only.

Every file is serialised in memory first, then written to a temporary ``.name.tmpPID`` beside it and
renamed over it: a full disk or a read-only tree then stops in one line naming the path, the bytes needed
and the space free (:class:`nnspectra.errors.StorageError`), and the temporary is removed (one left by a
killed process is listed by the audit as ``leftover``)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnspectra.errors import StorageError, storage_message

if TYPE_CHECKING:
    import pandas as pd
    import torch


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary beside it and a rename; an OSError (full disk, read-only
    tree) removes the temporary and raises :class:`StorageError` with one line (:func:`storage_message`)."""
    path = Path(path)
    tmp = _tmp(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as err:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise StorageError(storage_message(err, path, len(data))) from None


def save_arrays(path: str | Path, **arrays: Any) -> None:
    """Save named numpy arrays to ``path`` (.npz, uncompressed for speed)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    write_bytes_atomic(path, buffer.getvalue())


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Load every array of an .npz file into a dict."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def save_json(path: str | Path, record: Mapping[str, Any] | list[Any]) -> None:
    """Write a JSON record (numpy scalars and arrays allowed)."""
    write_bytes_atomic(path, json.dumps(record, indent=2, default=_json_default, allow_nan=True).encode())


def load_json(path: str | Path) -> Any:
    """Read a JSON record."""
    return json.loads(Path(path).read_text())


def save_table(df: "pd.DataFrame", csv_path: str | Path, md_path: str | Path | None = None,
               caption: str | None = None) -> None:
    """Write a DataFrame as CSV and, optionally, as a Markdown table with a caption line."""
    write_bytes_atomic(csv_path, df.to_csv(index=False).encode())
    if md_path is not None:
        text = (f"{caption}\n\n" if caption else "") + df.to_markdown(index=False) + "\n"
        write_bytes_atomic(md_path, text.encode())


def save_model(model: "torch.nn.Module", path: str | Path, **meta: Any) -> None:
    """Save ``{"state_dict": ..., **meta}`` (tensors and plain numbers/strings only), atomically."""
    import torch

    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), **meta}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """The parameters saved in ``path`` by :func:`save_model` (or a bare state dict), loaded with
    ``weights_only=True`` so a file holding anything but tensors and plain values is refused in one line."""
    from nnspectra.data.safe_pickle import load_torch_file

    state = load_torch_file(path, map_location="cpu")
    return state["state_dict"] if isinstance(state, dict) and "state_dict" in state else state


def load_model(model: "torch.nn.Module", path: str | Path) -> "torch.nn.Module":
    """Load the parameters saved in ``path`` into ``model`` (same architecture) and return it."""
    model.load_state_dict(load_state_dict(path))
    return model
