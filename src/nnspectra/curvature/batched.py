"""Exact Hessian spectra of many tiny models at once: vmapped ``torch.func.hessian`` + batched ``eigvalsh``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.func import vmap


def batched_hessian_eigvalsh(theta: torch.Tensor, loss_of_theta: Callable[[torch.Tensor], torch.Tensor],
                             chunk: int = 256) -> np.ndarray:
    """Eigenvalues (B, P), ascending, of the exact Hessians of ``loss_of_theta`` at B parameter vectors.

    ``vmap(torch.func.hessian)`` in chunks of ``chunk`` nets (memory chunk·P²·8 bytes), then batched
    ``torch.linalg.eigvalsh``. Rows of NaN parameters give NaN eigenvalues.
    """
    hess_fn = vmap(torch.func.hessian(loss_of_theta))
    out = np.full(tuple(theta.shape), np.nan)
    ok = torch.isfinite(theta).all(dim=1).cpu().numpy()
    rows = np.flatnonzero(ok)
    for s in range(0, rows.size, chunk):
        idx = rows[s:s + chunk]
        h = hess_fn(theta[torch.as_tensor(idx, device=theta.device)])
        h = 0.5 * (h + h.transpose(1, 2))
        out[idx] = torch.linalg.eigvalsh(h).cpu().numpy()
    return out
