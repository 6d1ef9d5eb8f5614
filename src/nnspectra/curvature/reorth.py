"""Partial reorthogonalisation with intervals for the lockstep Lanczos runs of SLQ
(:func:`nnspectra.curvature.lanczos.lanczos_tridiagonal`, ``reorth="partial"``).

Simon's omega recurrence (Math. Comp. 42, 1984) estimates each run's q_{j+1} . q_k (k <= j) from the
tridiagonal entries alone. Where an estimate exceeds delta = sqrt(eps), the run's new vector is
orthogonalised against the basis vectors in the intervals around the large estimates (each extended
while |omega_k| > eta = eps^(3/4)), and the next vector against the same intervals (Simon's pairs); the
estimates inside the intervals go back to rounding, the others keep evolving. This is "PRO with
intervals" of Larsen's PROPACK (1998; ``compute_int`` / ``set_mu``); ``eta = 0`` takes the whole basis
every time (as PROPACK does for eta = 0). Semi-orthogonality (every |q_i . q_k| <= sqrt(eps)) is what the
tridiagonal needs to be, to working precision, the projection of the operator on an orthonormal basis.

eps is the unit roundoff of the PRODUCTS (:func:`nnspectra.curvature.precision.unit_roundoff`), not of the
float64 basis: each product's rounding error is what drives the loss of orthogonality, so an operator that
computes in float32 loses it ~1e9 times faster than float64's eps predicts (with float64's eps here, a float32
operator's basis lost orthogonality completely within 120 steps and the nodes left the spectrum).
"""

from __future__ import annotations

import math

import torch

EPS = float(torch.finfo(torch.float64).eps)
DELTA = math.sqrt(EPS)  # an estimate above this triggers a reorthogonalisation (float64 products)
ETA = EPS**0.75  # intervals extend over the neighbours whose estimate is above this (float64 products)
DGKS = 1.0 / math.sqrt(2.0)  # a second Gram-Schmidt pass when the first kept less than this of the norm


def omega_step(omega: torch.Tensor, omega_prev: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor,
               a_j: torch.Tensor, b_prev: torch.Tensor, b_j: torch.Tensor, j: int, eps1: torch.Tensor) -> torch.Tensor:
    """Simon's (1984) omega recurrence: estimates of q_{j+1} . q_k (k <= j) from those of q_j and q_{j-1}
    and the tridiagonal entries only (no vector work). All (b, .) CPU float64; ``alpha`` / ``beta`` hold
    steps 0..j-1, ``a_j`` / ``b_j`` step j, ``b_prev`` beta_{j-1}; ``eps1`` (b,) the rounding term of one
    step, sqrt(P) eps / 2 x ||A||_est (PROPACK's choice, Larsen 1998)."""
    new = torch.zeros_like(omega)
    if j > 0:
        k = torch.arange(j)
        up = beta[:, :j] * omega[:, 1 : j + 1]  # beta_k omega_{j,k+1}
        down = torch.zeros_like(up)
        down[:, 1:] = beta[:, : j - 1] * omega[:, : j - 1]  # beta_{k-1} omega_{j,k-1}
        t = up + (alpha[:, k] - a_j[:, None]) * omega[:, :j] + down - b_prev[:, None] * omega_prev[:, :j]
        new[:, :j] = (t + torch.sign(t) * eps1[:, None]) / b_j[:, None]
    new[:, j] = eps1 / b_j  # local orthogonality to q_j (the recurrence enforces it up to rounding)
    new[:, j + 1] = 1.0
    return new


def intervals(omega: torch.Tensor, delta: float = DELTA, eta: float = ETA) -> list[tuple[int, int]]:
    """Half-open index intervals [lo, hi) of the estimates ``omega`` (n,) to orthogonalise against: each
    maximal run of |omega_k| > eta that holds an |omega_k| > delta (PROPACK's ``compute_int``); the whole
    range when ``eta`` <= 0."""
    n = int(omega.shape[0])
    if eta <= 0:
        return [(0, n)]
    size = omega.abs()
    near = torch.cat([torch.zeros(1, dtype=torch.int8), (size > eta).to(torch.int8), torch.zeros(1, dtype=torch.int8)])
    edges = torch.nonzero(torch.diff(near)).flatten()
    lows, highs = edges[0::2], edges[1::2]
    big = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum((size > delta).long(), 0)])
    keep = big[highs] > big[lows]
    return list(zip(lows[keep].tolist(), highs[keep].tolist()))


def project_out_(w: torch.Tensor, basis: torch.Tensor, spans: list[tuple[int, int]] | None = None,
                 ) -> tuple[torch.Tensor, int]:
    """In place: one run's w (P,) minus its projection on the rows ``spans`` (default: all) of its
    (orthonormal) ``basis`` (n, P): classical Gram-Schmidt over all spans at once, a second pass when the first
    removed more than 1 - 1/sqrt(2) of the norm (DGKS). Returns the summed coefficients (n,) (zero outside the
    spans) and the number of basis rows read. The one Gram-Schmidt routine of every Lanczos mode."""
    if spans is None:
        spans = [(0, basis.shape[0])]
    coef = torch.zeros(basis.shape[0], dtype=w.dtype, device=w.device)
    before = torch.linalg.vector_norm(w)
    rows = 0
    for sweep in range(2):
        parts = [torch.mv(basis[lo:hi], w) for lo, hi in spans]  # all from the same w: classical GS
        for (lo, hi), part in zip(spans, parts):
            w.addmv_(basis[lo:hi].T, part, alpha=-1.0)
            coef[lo:hi] += part
            rows += hi - lo
        if sweep == 1 or torch.linalg.vector_norm(w) >= DGKS * before:
            break
    return coef, rows


def last_vector_overlap(basis: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Per run, max_k |q_last . q_k| over the earlier vectors of its basis (b, >= counts, P), ``counts`` (b,) the
    vectors each run holds: one GEMV per run, a spot check of the semi-orthogonality partial
    reorthogonalisation promises (the last vector is where its loss shows first). (b,) float64, CPU."""
    out = torch.zeros(basis.shape[0], dtype=torch.float64)
    for i, count in enumerate(counts.tolist()):
        if count > 1:
            out[i] = torch.mv(basis[i, : count - 1], basis[i, count - 1]).abs().max().cpu()
    return out


class PartialReorth:
    """The omega estimates of b lockstep runs (CPU float64) and what they decide at each step, for products
    with rounding unit ``eps`` (:func:`~nnspectra.curvature.precision.unit_roundoff`): reorthogonalise above
    sqrt(eps), intervals over the estimates above ``eta`` (default eps^(3/4); 0 orthogonalises against the
    whole basis). Counts, per run, the steps reorthogonalised (``steps``) and the basis rows read (``rows``)."""

    def __init__(self, b: int, steps: int, size: int, eta: float | None = None, eps: float = EPS):
        self.omega = torch.zeros(b, steps + 1, dtype=torch.float64)
        self.omega[:, 0] = 1.0
        self.omega_prev = torch.zeros_like(self.omega)
        self.forced = torch.zeros(b, dtype=torch.bool)  # reorthogonalise the next vector too (Simon's pairs)
        self.spans: list[list[tuple[int, int]]] = [[] for _ in range(b)]
        self.rounding = 0.5 * math.sqrt(size) * eps  # a freshly orthogonalised vector's omega
        self.delta = math.sqrt(eps)
        self.eta = eps**0.75 if eta is None else eta
        self.steps = torch.zeros(b, dtype=torch.long)
        self.rows = torch.zeros(b, dtype=torch.long)

    def step(self, w: torch.Tensor, a: torch.Tensor, nrm: torch.Tensor, basis: torch.Tensor, j: int,
             alpha: torch.Tensor, beta: torch.Tensor, beta_prev: torch.Tensor, scale: torch.Tensor,
             active: torch.Tensor) -> torch.Tensor:
        """After the three-term recurrence of step j (``w`` (b, P), ``a`` (b,) alpha_j, ``nrm`` (b,) ||w||,
        on the device; ``basis`` (b, >= j + 1, P)): advance the estimates and orthogonalise, in place, the
        rows of ``w`` that need it, adding the coefficient on q_j to ``a``. Returns ||w|| after that."""
        nrm_cpu = nrm.cpu()
        live = active.cpu() & (nrm_cpu > 0)
        eps1 = self.rounding * torch.maximum(scale.cpu(), torch.maximum(a.abs().cpu(), nrm_cpu))
        new = omega_step(self.omega, self.omega_prev, alpha, beta, a.cpu(), beta_prev.cpu(),
                         torch.where(live, nrm_cpu, torch.ones_like(nrm_cpu)), j, eps1)
        lost = new[:, : j + 1].abs().amax(1) > self.delta
        rows = live & (lost | self.forced)
        if bool(rows.any()):
            nrm = nrm.clone()
        for i in torch.nonzero(rows).flatten().tolist():
            if not self.forced[i] or self.eta <= 0:  # the pair's second vector keeps the first one's intervals
                self.spans[i] = intervals(new[i, : j + 1], self.delta, self.eta)
            coef, read = project_out_(w[i], basis[i, : j + 1], self.spans[i])
            a[i] = a[i] + coef[j]
            nrm[i] = torch.linalg.vector_norm(w[i])
            for lo, hi in self.spans[i]:
                new[i, lo:hi] = self.rounding  # orthogonal to rounding again, there only
            self.rows[i] += read
        self.steps += rows
        self.forced = rows & ~self.forced
        self.omega_prev, self.omega = self.omega, new
        return nrm
