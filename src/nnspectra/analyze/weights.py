"""Weight-matrix spectra of any model: the empirical spectral density of each weight matrix and the power-law
fit of its tail, as for Wang et al. (:func:`nnspectra.spectra.powerlaw.fit_power_law`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nnspectra.curvature.spectrum import eigvalsh_dense
from nnspectra.spectra.powerlaw import fit_power_law


def weight_esd(model: torch.nn.Module, min_tail: int = 10) -> list[dict[str, Any]]:
    """Per weight matrix (dim >= 2, reshaped to (out, rest)): the eigenvalues of W W^T / rest (or W^T W / rest,
    the smaller) and the CSN power-law fit of their tail, as for Wang et al.; alpha is NaN (with the reason)
    where the matrix has fewer than ``min_tail`` eigenvalues."""
    rows = []
    for name, p in model.named_parameters():
        if p.dim() < 2:
            continue
        w = p.detach().to(torch.float64).reshape(p.shape[0], -1).cpu()
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        eigs = np.clip(eigvalsh_dense(gram / w.shape[1]), 0.0, None)
        row: dict[str, Any] = {"parameter": name, "shape": list(p.shape), "n_eigs": int(eigs.size),
                               "lambda_max": float(eigs.max())}
        positive = int(np.sum(eigs > 0))
        if positive < max(min_tail, 2):
            row.update(alpha=float("nan"), xmin=float("nan"), n_tail=0, ks=float("nan"),
                       note=f"{positive} positive eigenvalues < min_tail {min_tail}")
        else:
            try:
                fit = fit_power_law(eigs, min_tail=min_tail)
                row.update(alpha=fit.alpha, xmin=fit.xmin, n_tail=fit.n_tail, ks=fit.ks, note="")
            except Exception as err:
                row.update(alpha=float("nan"), xmin=float("nan"), n_tail=0, ks=float("nan"), note=str(err))
        rows.append(row)
    return rows
