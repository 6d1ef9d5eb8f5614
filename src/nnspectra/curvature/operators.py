"""Matrix-free curvature operators (scipy LinearOperators) and Lanczos spectral edges.

For models whose dense P x P matrix does not fit (the widest MNIST net of Sagun et al. 2018,
P = 55,660, is a 24.8 GB float64 Hessian), the spectral edges come from ``scipy.sparse.linalg.eigsh``
(implicitly restarted Lanczos, ARPACK) on these operators. Each matvec costs about two passes over the
data; ``matmat`` vmaps blocks of vectors. Numpy float64 in and out, torch (any device) inside.
"""

from __future__ import annotations

import logging
import time
from abc import ABCMeta, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

from nnspectra.curvature.dense import flat_parameters, loss_of_flat_params, outputs_of_flat_params, prepare
from nnspectra.curvature.mlp import output_hessian_blocks

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
PROGRESS_EVERY_S = 60.0  # how often a long Lanczos run logs how many operator products it has done
log = logging.getLogger(__name__)


class _CurvatureOperator(LinearOperator, metaclass=ABCMeta):
    """Shared plumbing: numpy <-> torch, blocks of vectors through vmap; subclasses define ``_apply``."""

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None, block: int = 32):
        self.model, self.inputs, self.targets = prepare(model, inputs, targets, dtype, device)
        self.loss_fn = loss_fn
        self.theta = flat_parameters(self.model)
        self.torch_dtype = dtype
        self.device = self.theta.device
        self.block = int(block)
        self.n_matvec = 0
        self._t_start = time.perf_counter()
        self._t_logged = self._t_start
        size = self.theta.numel()
        super().__init__(dtype=np.dtype(str(dtype).replace("torch.", "")), shape=(size, size))

    @abstractmethod
    def _apply(self, vecs: torch.Tensor) -> torch.Tensor:
        """The operator applied to a block of vectors, (k, P) -> (k, P)."""

    def _matmat(self, mat: np.ndarray) -> np.ndarray:
        cols = torch.as_tensor(np.ascontiguousarray(np.asarray(mat).T), dtype=self.torch_dtype, device=self.device)
        out = torch.empty_like(cols)
        for start in range(0, cols.shape[0], self.block):
            out[start : start + self.block] = self._apply(cols[start : start + self.block])
        self.n_matvec += cols.shape[0]
        now = time.perf_counter()
        if now - self._t_logged >= PROGRESS_EVERY_S:  # eigsh has no progress hook: report from here
            self._t_logged = now
            log.info("%s: %d products with a %d x %d operator so far, %.0f s", type(self).__name__,
                     self.n_matvec, self.shape[0], self.shape[1], now - self._t_start)
        return out.T.cpu().numpy()

    def _matvec(self, vec: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(vec).reshape(-1, 1)).reshape(-1)

    def _adjoint(self) -> "LinearOperator":
        return self  # symmetric

    def dense(self) -> np.ndarray:
        """The represented matrix, column by column (for tests on tiny models)."""
        return self._matmat(np.eye(self.shape[0]))


class HessianOperator(_CurvatureOperator):
    """v -> H v, the Hessian of the mean loss (Pearlmutter HVP as forward-over-reverse autodiff)."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        grad_f = torch.func.grad(loss_of_flat_params(self.model, self.loss_fn, self.inputs, self.targets))
        theta = self.theta

        def hvp(v: torch.Tensor) -> torch.Tensor:
            return torch.func.jvp(grad_f, (theta,), (v,))[1]

        self._hvp = torch.func.vmap(hvp)

    def _apply(self, vecs: torch.Tensor) -> torch.Tensor:
        return self._hvp(vecs)


class _OuterOperator(_CurvatureOperator):
    """v -> J^T B J v with per-sample output blocks B_i (N, C, C): one JVP and one VJP per vector."""

    def _set_blocks(self, blocks: torch.Tensor) -> None:
        self.blocks = blocks
        out_fn = outputs_of_flat_params(self.model, self.inputs)
        theta = self.theta
        _, vjp_fn = torch.func.vjp(out_fn, theta)
        blocks_ = blocks

        def apply_one(v: torch.Tensor) -> torch.Tensor:
            jv = torch.func.jvp(out_fn, (theta,), (v,))[1]  # (N, C)
            return vjp_fn(torch.einsum("icd,id->ic", blocks_, jv))[0]

        self._fn = torch.func.vmap(apply_one)

    def _apply(self, vecs: torch.Tensor) -> torch.Tensor:
        return self._fn(vecs)

    def _outputs(self) -> torch.Tensor:
        return outputs_of_flat_params(self.model, self.inputs)(self.theta).detach()


class GaussNewtonOperator(_OuterOperator):
    """v -> G v with G = sum_i J_i^T (d^2 L / d f_i^2) J_i, the Gauss-Newton part of the Hessian."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        _, blocks = output_hessian_blocks(self.loss_fn, self._outputs(), self.targets)
        self._set_blocks(blocks)


class GradientMomentOperator(_OuterOperator):
    """v -> (1/N) sum_i g_i g_i^T v, the second moment of the per-sample gradients g_i (G-matrix)."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        grad, _ = output_hessian_blocks(self.loss_fn, self._outputs(), self.targets, check=False)
        n = grad.shape[0]
        self._set_blocks(n * grad[:, :, None] * grad[:, None, :])
