"""Every nonzero Hessian eigenvalue of a one-hidden-layer ReLU net under mean cross-entropy, exactly, from an
m x m matrix with m = (N + 2n)(C - 1) instead of the P x P Hessian (P = (d + 1) n + (n + 1) C).

For f(x) = W2 relu(W1 x + b1) + b2 the Hessian of the mean loss splits (Sagun et al. 2018, eqs. 4-5) into

* the Gauss-Newton part G = (1/N) sum_i J_i^T A_i J_i, A_i = diag(p_i) - p_i p_i^T, of rank <= N(C - 1):
  with A_i = sum_a lam_ia u_ia u_ia^T (its C - 1 nonzero eigenpairs), G = sum_ia (lam_ia / N) g_ia g_ia^T,
  g_ia = J_i^T u_ia;
* the residual R, which for ReLU (relu'' = 0) only couples unit j's incoming weights (W1[j], b1[j]) with
  its outgoing ones W2[:, j] through B_j = (1/N) sum_i relu'(z_ij) [x_i; 1] (p_i - y_i)^T. The residuals
  sum to zero over the classes, so rank B_j <= C - 1; with B_j = U S V^T the block [[0, B_j], [B_j^T, 0]]
  is sum_t (s_t / 2) (w+ w+^T - w- w-^T), w+- = [U_t; +-V_t].

So H = K W K^T with m columns K and a diagonal W of signed weights, and the nonzero eigenvalues of H are
those of L^T W L for any factor K^T K = L L^T. The Gram K^T K comes in closed form from the forward pass
(no P-long vector is formed); its pivoted Cholesky factor (LAPACK ``pstrf``) handles dependent columns.
Cost O(m^3) instead of O(P^3) and m^2 memory instead of P^2: at N = 1,000 MNIST images, C = 10 and n = 70,
m = 10,260 against P = 55,660 (a 24.8 GB dense Hessian). The remaining P - rank eigenvalues are exactly 0.

Checked in float64 against ``torch.func.hessian`` and against Lanczos edges (tests/curvature/test_reduced.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from torch import nn

from nnspectra.curvature.eigen import eigvalsh_dense
from nnspectra.curvature.memory import check_dense_fits

#: m x m float64 buffers at the peak (the Gram, its factor, and L^T W L)
REDUCED_COPIES = 3.0


@dataclass(frozen=True)
class ReducedSpectrum:
    """``eigenvalues``: all P eigenvalues of the Hessian, ascending (the P - ``rank`` not in the reduction
    are exactly 0); ``n_columns`` m of the factor K and ``rank`` of K^T K (numerical, from pivoted Cholesky)."""

    eigenvalues: np.ndarray
    n_params: int
    n_columns: int
    rank: int


def one_hidden_layer(model: nn.Module) -> tuple[nn.Linear, nn.Linear] | None:
    """(first, second) Linear layers when ``model`` is exactly ``Sequential(Linear, ReLU, Linear)``, else None."""
    if not isinstance(model, nn.Sequential) or len(model) != 3:
        return None
    first, act, second = model
    if isinstance(first, nn.Linear) and type(act) is nn.ReLU and isinstance(second, nn.Linear):
        return first, second
    return None


def reduced_size(model: nn.Module, n_samples: int) -> int | None:
    """m = (N + 2n)(C - 1), the side of the reduced matrix, or None when the reduction does not apply."""
    layers = one_hidden_layer(model)
    if layers is None:
        return None
    width, classes = layers[1].in_features, layers[1].out_features
    return (int(n_samples) + 2 * width) * (classes - 1)


def _gram_and_weights(first: nn.Linear, second: nn.Linear, x: torch.Tensor, y: torch.Tensor,
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """(K^T K, w): the Gram of the m columns of K and their signed weights, with H = K diag(w) K^T."""
    dt = x.dtype
    w1, w2 = first.weight.detach().to(dt), second.weight.detach().to(dt)
    b1 = first.bias.detach().to(dt) if first.bias is not None else None
    b2 = second.bias.detach().to(dt) if second.bias is not None else None
    n_samples, classes = len(x), w2.shape[0]
    z = x @ w1.T + (b1 if b1 is not None else 0.0)
    active = (z > 0).to(dt)                                            # relu'(z): (N, n)
    hidden = z.clamp_min(0.0)                                          # relu(z):  (N, n)
    logits = hidden @ w2.T + (b2 if b2 is not None else 0.0)
    prob = torch.softmax(logits, dim=1)
    xt = torch.cat([x, torch.ones(n_samples, 1, dtype=dt)], dim=1) if b1 is not None else x
    # Gauss-Newton columns g_ia = J_i^T u_ia: the C - 1 nonzero eigenpairs of A_i (the zero one is along 1)
    lam, u = torch.linalg.eigh(torch.diag_embed(prob) - prob[:, :, None] * prob[:, None, :])
    lam, u = lam[:, 1:].clamp_min(0.0), u[:, :, 1:]                    # (N, C-1), (N, C, C-1)
    uw = torch.einsum("ica,cj->iaj", u, w2)                             # u_ia . W2[:, j]: (N, C-1, n)
    phi = (active[:, None, :] * uw).reshape(-1, w2.shape[1])
    flat_u = u.transpose(1, 2).reshape(-1, classes)
    rows = lam.numel()
    xx = xt @ xt.T
    hh = hidden @ hidden.T + (1.0 if b2 is not None else 0.0)
    k = classes - 1
    gn_gn = ((phi @ phi.T).view(n_samples, k, n_samples, k) * xx[:, None, :, None]
             + (flat_u @ flat_u.T).view(n_samples, k, n_samples, k) * hh[:, None, :, None]).reshape(rows, rows)
    # residual columns w+-_jt = [U_jt; +-V_jt] on unit j's (incoming, outgoing) weights, weight +-s_jt / 2
    resid = prob - nn.functional.one_hot(y, classes).to(dt)
    coupling = (xt.T @ (active[:, :, None] * resid[:, None, :]).reshape(n_samples, -1)) / n_samples
    coupling = coupling.reshape(xt.shape[1], -1, classes).permute(1, 0, 2)    # B_j: (n, d+1, C)
    bu, bs, bvh = torch.linalg.svd(coupling, full_matrices=False)
    t = min(k, bs.shape[1])                                            # rank B_j <= C - 1
    bu, bs, bv = bu[:, :, :t], bs[:, :t], bvh[:, :t, :].transpose(1, 2)       # (n,d+1,t), (n,t), (n,C,t)
    # g_ia . w+-_jt = relu'(z_ij) (x_i . U_jt)(u_ia . W2[:, j]) +- relu(z_ij)(u_ia . V_jt)
    via_in = active[:, None, :, None] * uw[..., None] * torch.einsum("ik,jkt->ijt", xt, bu)[:, None]
    via_out = hidden[:, None, :, None] * torch.einsum("ica,jct->iajt", u, bv)
    gn_res = torch.cat([(via_in + via_out).reshape(rows, -1), (via_in - via_out).reshape(rows, -1)], dim=1)
    n_res = gn_res.shape[1]
    gram = torch.empty(rows + n_res, rows + n_res, dtype=dt)
    gram[:rows, :rows] = gn_gn
    gram[:rows, rows:] = gn_res
    gram[rows:, :rows] = gn_res.T
    # ||w+-||^2 = 2 and w+_jt . w-_jt = |U_jt|^2 - |V_jt|^2 = 0; different (j, t) have disjoint or orthogonal parts
    gram[rows:, rows:] = 2.0 * torch.eye(n_res, dtype=dt)
    weights = torch.cat([(lam / n_samples).reshape(-1), bs.reshape(-1) / 2, -bs.reshape(-1) / 2])
    return gram, weights


def reduced_hessian_eigenvalues(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                                memory_budget_gb: float | None = None) -> ReducedSpectrum:
    """All eigenvalues (ascending, float64) of the Hessian of the mean cross-entropy of a
    ``Sequential(Linear, ReLU, Linear)`` at its parameters, through the m x m reduction (module docstring).

    ``x``: (N, d) inputs (flattened if needed), ``y``: (N,) class indices. Raises ValueError for another
    architecture and MemoryBudgetError (one line) when the m x m buffers do not fit.
    """
    layers = one_hidden_layer(model)
    if layers is None:
        raise ValueError("the Hessian reduction needs a Sequential(Linear, ReLU, Linear); use method dense or lanczos")
    n_params = sum(p.numel() for p in model.parameters())
    x = x.reshape(len(x), -1).to(torch.float64)
    m = reduced_size(model, len(x))
    assert m is not None
    check_dense_fits(m, m, torch.float64, memory_budget_gb, what="reduced Hessian Gram", copies=REDUCED_COPIES)
    with torch.no_grad():
        gram, weights = _gram_and_weights(*layers, x, y.to(x.device))
    scale = torch.sqrt(torch.diagonal(gram))
    keep = (weights != 0) & (scale > 0)         # dead units, saturated classes, samples with no active path
    gram, weights, scale = gram[keep][:, keep], weights[keep], scale[keep]
    gram = (gram / scale[:, None] / scale[None, :]).numpy()
    weights = (weights * scale**2).numpy()
    factor, piv, rank, info = scipy.linalg.lapack.dpstrf(gram, lower=1, tol=-1.0, overwrite_a=1)
    if info < 0:
        raise RuntimeError(f"LAPACK dpstrf rejected argument {-info}")
    del gram
    lower = np.tril(factor[:, :rank])
    del factor
    lower_full = np.empty_like(lower)
    lower_full[piv[: len(piv)] - 1] = lower                           # K^T K = L L^T in the original order
    core = lower_full.T @ (weights[:, None] * lower_full)
    nonzero = eigvalsh_dense(torch.from_numpy((core + core.T) / 2))
    eigenvalues = np.sort(np.concatenate([nonzero, np.zeros(n_params - rank)]))
    return ReducedSpectrum(eigenvalues=eigenvalues, n_params=n_params, n_columns=m, rank=int(rank))
