"""The protocol every curvature operator follows, and its adaptors (the operators themselves, Hessian,
Gauss-Newton and G-matrix products, are in :mod:`nnspectra.curvature.products`).

Protocol (:class:`TorchOperator`): ``size``, ``dtype``, ``device`` and ``matmat(vecs)`` taking a block of
vectors as ROWS, shape (k, P), returning (k, P) on the operator's device; ``.dense(strategy)`` and
``.to_scipy()`` (a :class:`ScipyView`: scipy ``LinearOperator``, numpy float64 in and out, for ARPACK or any
scipy solver). :class:`DenseOperator` wraps a matrix, :class:`ScipyOperator` any scipy LinearOperator
(e.g. the closed-form mixture operators), :func:`as_torch_operator` picks.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

PROGRESS_EVERY_S = 60.0  # how often a scipy view logs how many products it has done (ARPACK has no hook)
log = logging.getLogger(__name__)


class TorchOperator(ABC):
    """A symmetric P x P operator applied to blocks of row vectors (k, P) -> (k, P) on ``device``."""

    size: int
    dtype: torch.dtype
    device: torch.device
    n_products: int = 0

    @abstractmethod
    def _matmat(self, vecs: torch.Tensor) -> torch.Tensor:
        """The operator on a block of rows (k, P) already in ``dtype`` on ``device``."""

    def matmat(self, vecs: torch.Tensor) -> torch.Tensor:
        """Apply to the rows of ``vecs`` (k, P) or to one vector (P,); result in ``self.dtype``."""
        one = vecs.ndim == 1
        block = vecs.reshape(1, -1) if one else vecs
        if block.shape[-1] != self.size:
            raise ValueError(f"operator of size {self.size} applied to vectors of length {block.shape[-1]}")
        out = self._matmat(block.to(device=self.device, dtype=self.dtype))
        self.n_products += block.shape[0]
        return out.reshape(-1) if one else out

    def matvec(self, vec: torch.Tensor) -> torch.Tensor:
        """Apply to one vector (P,)."""
        return self.matmat(vec.reshape(-1))

    def dense(self, strategy: str = "products", *, block: int = 64) -> torch.Tensor:
        """The represented P x P matrix; ``"products"``: from products with the identity, ``block`` columns at a
        time (model operators also take the dense builders, see :meth:`_ModelProducts.dense`)."""
        if strategy != "products":
            raise ValueError(f"{type(self).__name__}.dense takes strategy 'products', got {strategy!r}")
        out = torch.empty(self.size, self.size, dtype=self.dtype, device=self.device)
        for start in range(0, self.size, block):
            stop = min(self.size, start + block)
            eye = torch.zeros(stop - start, self.size, dtype=self.dtype, device=self.device)
            eye[torch.arange(stop - start), torch.arange(start, stop)] = 1
            out[start:stop] = self.matmat(eye)
        return out

    def to_scipy(self) -> "ScipyView":
        """This operator as a scipy ``LinearOperator`` (numpy float64 in and out; products stay on ``device``)."""
        return ScipyView(self)


class ScipyView(LinearOperator):
    """A :class:`TorchOperator` seen by scipy (:meth:`TorchOperator.to_scipy`): blocks of numpy columns in,
    one block product, float64 columns out; logs how many products it has done every
    :data:`PROGRESS_EVERY_S` seconds (ARPACK reports no progress)."""

    def __init__(self, op: TorchOperator):
        self.op = op
        self._t_start = self._t_logged = time.perf_counter()
        super().__init__(dtype=np.dtype(np.float64), shape=(op.size, op.size))

    @property
    def n_matvec(self) -> int:
        """Products done so far (the operator's count)."""
        return self.op.n_products

    def _matmat(self, mat: np.ndarray) -> np.ndarray:
        rows = torch.as_tensor(np.ascontiguousarray(np.asarray(mat, dtype=np.float64).T))
        out = self.op.matmat(rows).to(torch.float64).cpu().numpy().T
        now = time.perf_counter()
        if now - self._t_logged >= PROGRESS_EVERY_S:
            self._t_logged = now
            log.info("%s: %d products with a %d x %d operator so far, %.0f s", type(self.op).__name__,
                     self.op.n_products, self.shape[0], self.shape[1], now - self._t_start)
        return out

    def _matvec(self, vec: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(vec).reshape(-1, 1)).reshape(-1)

    def _adjoint(self) -> "ScipyView":
        return self  # symmetric


class DenseOperator(TorchOperator):
    """A dense symmetric matrix as an operator (reference cases in tests and benchmarks)."""

    def __init__(self, mat: torch.Tensor | np.ndarray):
        self.mat = torch.as_tensor(mat)
        self.size, self.dtype, self.device = self.mat.shape[0], self.mat.dtype, self.mat.device
        self.n_products = 0

    def _matmat(self, vecs: torch.Tensor) -> torch.Tensor:
        return vecs @ self.mat  # rows: (A v)^T = v^T A for symmetric A


class ScipyOperator(TorchOperator):
    """Any scipy ``LinearOperator`` (e.g. a closed-form mixture operator) as a torch operator: a numpy round
    trip per block; a :class:`ScipyView` unwraps to its torch operator instead (:func:`as_torch_operator`)."""

    def __init__(self, op, dtype: torch.dtype = torch.float64):  # type: ignore[no-untyped-def]
        self.op = op
        self.size = int(op.shape[0])
        self.dtype = dtype
        self.device = torch.device("cpu")
        self.n_products = 0

    def _matmat(self, vecs: torch.Tensor) -> torch.Tensor:
        out = self.op.matmat(vecs.detach().cpu().numpy().T)
        return torch.as_tensor(np.ascontiguousarray(out.T), dtype=self.dtype)


def as_torch_operator(op: TorchOperator | torch.Tensor | np.ndarray | object) -> TorchOperator:
    """``op`` as a :class:`TorchOperator`: unchanged, a dense matrix wrapped, or a scipy LinearOperator."""
    if isinstance(op, TorchOperator):
        return op
    if isinstance(op, ScipyView):
        return op.op
    if isinstance(op, (torch.Tensor, np.ndarray)):
        return DenseOperator(op)
    if hasattr(op, "matmat") and hasattr(op, "shape"):
        return ScipyOperator(op)
    raise TypeError(f"cannot use {type(op).__name__} as an operator: give a TorchOperator, a matrix or a "
                    "scipy LinearOperator")
