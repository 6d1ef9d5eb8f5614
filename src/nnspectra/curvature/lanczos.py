"""Lanczos in torch: thick-restart eigenpairs at a spectral edge, and lockstep tridiagonalisation for SLQ.

Both work on a :class:`nnspectra.curvature.operators.TorchOperator` (blocks of vectors as torch tensors),
so on CUDA the Krylov basis and every product stay on the GPU; only the small projected matrix goes
to the CPU. Arithmetic is float64 (the basis is float64 even when the operator computes in float32).

* :func:`lanczos_eigsh` -- the k largest ("LA") or smallest ("SA") algebraic eigenvalues and their
  eigenvectors by thick-restart Lanczos (Wu & Simon, SIAM J. Matrix Anal. Appl. 22, 2000) with full
  reorthogonalisation: the three-term recurrence, then one classical Gram-Schmidt pass against the
  whole basis, and a second pass only when the first removed more than 1 - 1/sqrt(2) of the norm
  (the DGKS criterion ARPACK uses). Recurrence first keeps the full pass to rounding-level
  components, so the second pass is rare: at P = 55,660 this halved the per-step overhead. Converged when every wanted Ritz pair
  has residual ||A y - theta y|| = |beta_m s_{m,i}| <= tol * ||A||_est (||A||_est = the largest
  |Ritz value| seen); the eigenvalue error is then at most that residual (and ~ residual^2 / gap).
* :func:`lanczos_tridiagonal` -- b independent Lanczos runs from the rows of a (b, P) block, in
  lockstep so each step is ONE block product (k = b vectors); returns the tridiagonal matrices.
  Used by stochastic Lanczos quadrature (:mod:`nnspectra.curvature.density`). Reorthogonalisation
  ``reorth``: "full" (default), "partial" (Simon's omega recurrence decides when) or "none".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch

from nnspectra.curvature.memory import check_dense_fits, dense_bytes
from nnspectra.curvature.operators import TorchOperator, as_torch_operator
from nnspectra.curvature.precision import unit_roundoff
from nnspectra.curvature.reorth import PartialReorth, last_vector_overlap, project_out_

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 60.0


@dataclass
class LanczosResult:
    """Eigenpairs from :func:`lanczos_eigsh`: ``values`` (k,) ordered from the wanted end (descending for
    "LA", ascending for "SA"), ``vectors`` (P, k) on the operator's device or None, the residual norms
    (k,), whether all k converged, and the work done."""

    values: torch.Tensor
    vectors: torch.Tensor | None
    residuals: torch.Tensor
    converged: bool
    n_converged: int
    n_products: int
    n_restarts: int
    seconds: float


def _random_unit(size: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    vec = torch.randn(size, generator=generator, dtype=torch.float64).to(device)
    return vec / torch.linalg.vector_norm(vec)


def lanczos_eigsh(op: TorchOperator | torch.Tensor, k: int, which: str = "LA", *, ncv: int | None = None,
                  tol: float = 1e-10, max_restarts: int = 1000, seed: int = 0, v0: torch.Tensor | None = None,
                  return_vectors: bool = True, keep: int | None = None) -> LanczosResult:
    """The k largest ("LA") or smallest ("SA") eigenvalues of a symmetric operator by thick-restart Lanczos.

    ``ncv``: basis size (default max(2k + 1, 20), at most P); ``keep``: Ritz vectors kept at a restart
    (default k + (ncv - k) // 2); ``tol``: relative residual (see module docstring); ``seed`` / ``v0``:
    start vector (seeded Gaussian by default, so results repeat). Raises ValueError for k outside
    1..P-1. When ``max_restarts`` runs out, returns what it has with ``converged=False`` (and logs it).
    """
    op = as_torch_operator(op)
    size, device = op.size, op.device
    if which not in ("LA", "SA"):
        raise ValueError(f"which must be 'LA' (largest) or 'SA' (smallest), got {which!r}")
    if not 0 < k < size:
        raise ValueError(f"k must be between 1 and P - 1 = {size - 1} for Lanczos, got {k}; "
                         "use eigvalsh_dense for the whole spectrum")
    m = min(size, max(2 * k + 1, 20) if ncv is None else int(ncv))
    if m <= k:
        raise ValueError(f"ncv must exceed k: got ncv={m}, k={k}")
    n_keep = min(m - 1, k + (m - k) // 2 if keep is None else int(keep))
    if n_keep < k:
        raise ValueError(f"keep must be at least k = {k}, got {n_keep}")
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    t_logged = start
    products0 = op.n_products

    basis = torch.zeros(m + 1, size, dtype=torch.float64, device=device)
    q = _random_unit(size, gen, device) if v0 is None else v0.to(device=device, dtype=torch.float64).reshape(-1)
    basis[0] = q / torch.linalg.vector_norm(q)
    proj = torch.zeros(m, m, dtype=torch.float64)  # projected matrix Q^T A Q (CPU)
    j0, anorm, restarts = 0, 0.0, 0
    sign = -1.0 if which == "LA" else 1.0  # sort key: wanted end first
    while True:
        beta = 0.0
        for j in range(j0, m):
            w = op.matmat(basis[j].to(op.dtype)).to(torch.float64)
            if j > j0:  # three-term recurrence first, then one pass against the whole basis (rounding only)
                alpha = torch.dot(w, basis[j])
                w = w - alpha * basis[j] - beta * basis[j - 1]
                coef, _ = project_out_(w, basis[: j + 1])
                alpha = float(alpha + coef[j])
                proj[j, j - 1] = proj[j - 1, j] = beta
            else:  # first step of a cycle: w has components on every kept Ritz vector (the arrowhead);
                # a copy, as the operator's own output may share memory with its input (an identity)
                w = w.clone()
                coef, _ = project_out_(w, basis[: j + 1])
                alpha = float(coef[j])
            proj[j, j] = alpha
            beta = float(torch.linalg.vector_norm(w))
            anorm = max(anorm, abs(alpha), beta)
            if beta <= 1e-13 * max(anorm, 1e-300):  # invariant subspace: continue with a fresh direction
                w = _random_unit(size, gen, device)
                for _ in range(2):
                    project_out_(w, basis[: j + 1])
                basis[j + 1] = w / torch.linalg.vector_norm(w)
                beta = 0.0
            else:
                basis[j + 1] = w / beta
            now = time.perf_counter()
            if now - t_logged >= PROGRESS_EVERY_S:
                t_logged = now
                log.info("Lanczos (%s, k=%d): %d products, %d restarts, %.0f s", which, k,
                         op.n_products - products0, restarts, now - start)
        theta, vecs = torch.linalg.eigh(proj)
        order = torch.argsort(sign * theta)
        theta, vecs = theta[order], vecs[:, order]
        resid = (beta * vecs[m - 1, :]).abs()
        anorm = max(anorm, float(theta.abs().max()))
        done = resid[:k] <= tol * anorm
        n_done = int(done.sum())
        if bool(done.all()) or restarts >= max_restarts:
            if not bool(done.all()):
                log.warning("Lanczos (%s) converged for %d of %d eigenvalues after %d restarts", which, n_done, k,
                            restarts)
            vectors = None
            if return_vectors:
                vectors = (vecs[:, :k].to(device).T @ basis[:m]).T.contiguous()
            return LanczosResult(values=theta[:k].clone(), vectors=vectors, residuals=resid[:k].clone(),
                                 converged=bool(done.all()), n_converged=n_done,
                                 n_products=op.n_products - products0, n_restarts=restarts,
                                 seconds=time.perf_counter() - start)
        # thick restart: keep the n_keep Ritz vectors at the wanted end, then the residual direction
        restarts += 1
        coupling = beta * vecs[m - 1, :n_keep]
        kept = vecs[:, :n_keep].to(device).T @ basis[:m]
        basis[:n_keep] = kept
        basis[n_keep] = basis[m]
        proj.zero_()
        proj[:n_keep, :n_keep] = torch.diag(theta[:n_keep])
        proj[:n_keep, n_keep] = coupling
        proj[n_keep, :n_keep] = coupling
        j0 = n_keep


@dataclass
class Tridiagonal:
    """b Lanczos tridiagonal matrices: ``alpha`` (b, m) diagonals, ``beta`` (b, m - 1) off-diagonals, and
    ``steps`` (b,) the number of valid steps of each run (< m where a run found an invariant subspace).
    ``reorthogonalised`` (b,): steps at which each run's new vector was orthogonalised against (part of) its
    basis (every step for "full", none for "none"); ``rows_read`` (b,): basis rows those orthogonalisations
    read, summed over passes and steps; ``basis`` (b, m, P): the Lanczos vectors, when asked for;
    ``overlap`` (b,), "partial" only: max |q_last . q_k| of each run's last vector against its earlier ones,
    measured (semi-orthogonality promises <= sqrt(eps))."""

    alpha: torch.Tensor
    beta: torch.Tensor
    steps: torch.Tensor
    reorthogonalised: torch.Tensor | None = None
    basis: torch.Tensor | None = None
    rows_read: torch.Tensor | None = None
    overlap: torch.Tensor | None = None

    def matrices(self) -> torch.Tensor:
        """The (b, m, m) tridiagonal matrices (float64, CPU)."""
        return torch.diag_embed(self.alpha) + torch.diag_embed(self.beta, 1) + torch.diag_embed(self.beta, -1)


REORTH = ("full", "partial", "none")


def check_basis_fits(runs: int, steps: int, size: int, device: torch.device | str | None = None,
                     budget_gb: float | None = None) -> None:
    """Raise :class:`~nnspectra.errors.MemoryBudgetError` (one line, with how many runs fit) unless the float64
    basis of ``runs`` lockstep Lanczos runs fits the budget and the memory available now (the dense guard,
    :func:`~nnspectra.curvature.memory.check_dense_fits`): it is allocated lazily, so without this a run too
    large would be killed after hours of products, not refused before the first."""
    def alternatives(usable: int) -> str:
        fits = usable // dense_bytes(steps, size)
        return (f"fewer runs at a time (slq block={fits} fits{', or fewer steps' if fits == 0 else ''}), fewer "
                f"Lanczos steps, reorth='none' (no basis)")

    check_dense_fits(runs * steps, size, torch.float64, budget_gb,
                     what=f"Lanczos basis of {runs} runs x {steps} steps x P = {size:,}", device=device,
                     alternatives=alternatives)


def reorth_mode(reorth: bool | str) -> str:
    """``reorth`` as one of :data:`REORTH` (True means "full", False "none"); ValueError otherwise."""
    if isinstance(reorth, bool):
        return "full" if reorth else "none"
    if reorth not in REORTH:
        raise ValueError(f"reorth must be True, False or one of {REORTH}, got {reorth!r}")
    return str(reorth)


def lanczos_tridiagonal(op: TorchOperator | torch.Tensor, starts: torch.Tensor, steps: int, *,
                        reorth: bool | str = True, keep_basis: bool = False, eta: float | None = None,
                        budget_gb: float | None = None) -> Tridiagonal:
    """Run ``steps`` Lanczos steps from each row of ``starts`` (b, P) in lockstep: one (b, P) block product
    per step. ``reorth`` (float64 basis, b x steps x P memory except for "none"):

    * ``"full"`` / True (default): every step, one classical Gram-Schmidt pass of each run against its
      whole basis, and a second pass for the runs whose first pass removed much (DGKS).
    * ``"partial"``: Simon's partial reorthogonalisation with intervals (Math. Comp. 42, 1984; Larsen
      1998; :mod:`nnspectra.curvature.reorth`): the omega recurrence estimates each run's loss of
      orthogonality from the tridiagonal entries; where an estimate exceeds sqrt(eps), that run's new
      vector and the next one are orthogonalised (per run, DGKS) against the basis vectors around the large
      estimates (those above ``eta``, default eps^(3/4); ``eta=0``: the whole basis). eps is the rounding
      unit of the operator's products (:func:`~nnspectra.curvature.precision.unit_roundoff`: float32's eps for
      float32 products, TensorFloat-32's on CUDA where torch allows it). The basis stays orthogonal to ~sqrt(eps)
      (semi-orthogonality), enough for the tridiagonal to be, to working precision, the projection of the
      operator on an orthonormal basis (Simon 1984), so Ritz values and quadrature agree with "full" to
      rounding-level differences (tests/curvature/test_lanczos.py); the bytes differ from "full".
    * ``"none"`` / False: the three-term recurrence only (Papyan 2020 Alg. 2; spurious copies of converged
      Ritz values appear, which the quadrature weights mostly absorb).

    Every mode runs the same three-term recurrence (three passes over the (b, P) blocks) and keeps the basis
    step-major, so each new vector is written once, straight into it; each run's reorthogonalisation is one
    GEMV pair on its own basis. A run that finds an invariant subspace (beta ~ 0) stops there;
    its remaining entries are zero and ``steps`` says where it stopped. ``keep_basis``: also return the
    basis (not for "none"). A basis that would not fit ``budget_gb`` (default: 80% of the job's memory limit)
    or the memory available now stops before the first product with one line (:func:`check_basis_fits`).
    """
    mode = reorth_mode(reorth)
    op = as_torch_operator(op)
    device = op.device
    q = starts.to(device=device, dtype=torch.float64)
    b, size = q.shape
    steps = int(min(steps, size))
    q = q / torch.linalg.vector_norm(q, dim=1, keepdim=True)
    alpha = torch.zeros(b, steps, dtype=torch.float64)
    beta = torch.zeros(b, max(steps - 1, 0), dtype=torch.float64)
    valid = torch.full((b,), steps, dtype=torch.long)
    active = torch.ones(b, dtype=torch.bool, device=device)
    q_prev = torch.zeros_like(q)
    # own buffer written in place: a fresh (b, P) temporary per operation can cost more than the operation
    # (page faults: 4-11x in isolation at b = 10, P = 55,660)
    w = torch.empty_like(q)
    beta_prev = torch.zeros(b, dtype=torch.float64, device=device)
    scale = torch.zeros(b, dtype=torch.float64, device=device)
    n_reorth, rows_read = torch.zeros(b, dtype=torch.long), torch.zeros(b, dtype=torch.long)
    partial = PartialReorth(b, steps, size, eta, unit_roundoff(op.dtype, device)) if mode == "partial" else None
    basis = None
    if mode != "none":  # step-major storage: each new vector is one contiguous (b, P) block, q a view of it;
        # every row is written (a stopped run writes zeros) before it is read: no zero-fill of b x steps x P
        check_basis_fits(b, steps, size, device, budget_gb)
        basis = torch.empty(steps, b, size, dtype=torch.float64, device=device).transpose(0, 1)
        basis[:, 0] = q
        q = basis[:, 0]
    filled = 1 if basis is not None else 0
    for j in range(steps):
        w_op = op.matmat(q.to(op.dtype)).to(torch.float64)
        nrm = None
        # the three-term recurrence in three passes over the blocks, no temporaries
        a = torch.empty(b, dtype=torch.float64, device=device)
        for i in range(b):  # one dot per row: linalg.vecdot makes a (b, P) temporary, 2x slower here
            torch.dot(w_op[i], q[i], out=a[i])
        torch.addcmul(w_op, q, -a[:, None], out=w)
        if j > 0:
            w.addcmul_(q_prev, -beta_prev[:, None])
        if mode == "full":  # per run: one classical Gram-Schmidt pass against its whole basis, a second
            # where it removed much (DGKS); a GEMV per run reads the basis ~3x faster than one batched product
            live = active.cpu()
            n_reorth += live
            for i in torch.nonzero(live).flatten().tolist():
                coef, read = project_out_(w[i], basis[i, : j + 1])  # type: ignore[index]
                a[i] += coef[j]
                rows_read[i] += read
        elif partial is not None and j < steps - 1:
            nrm = partial.step(w, a, torch.linalg.vector_norm(w, dim=1), basis, j, alpha, beta, beta_prev,
                               scale, active)
        a = torch.where(active, a, torch.zeros_like(a))
        alpha[:, j] = a.cpu()
        if j == steps - 1:
            break
        if nrm is None:
            nrm = torch.linalg.vector_norm(w, dim=1)
        scale = torch.maximum(scale, torch.maximum(a.abs(), nrm))
        stop = active & (nrm <= 1e-13 * scale.clamp_min(1e-300))
        for i in torch.nonzero(stop).flatten().tolist():
            valid[i] = j + 1
        active = active & ~stop
        nrm = torch.where(active, nrm, torch.ones_like(nrm))
        beta[:, j] = torch.where(active, nrm, torch.zeros_like(nrm)).cpu()
        # the next vector goes straight into the basis ("full", "partial") or into q_prev's buffer, free now
        q_next = torch.div(w, nrm[:, None], out=basis[:, j + 1] if basis is not None else q_prev)
        if not bool(active.all()):
            q_next[~active] = 0.0
        if basis is not None:
            filled = j + 2
        q_prev, q = q, q_next
        beta_prev = torch.where(active, nrm, torch.zeros_like(nrm))
        if not bool(active.any()):
            break
    overlap = None
    if partial is not None:
        n_reorth, rows_read = partial.steps, partial.rows
        overlap = last_vector_overlap(basis, valid)  # type: ignore[arg-type]
        worst = float(overlap.max())
        if worst > partial.delta:  # the omega estimates missed a loss of orthogonality
            log.warning("partial reorthogonalisation lost semi-orthogonality: last Lanczos vector overlaps an "
                        "earlier one by %.2g > sqrt(eps) = %.2g (operator dtype %s); use reorth='full'",
                        worst, partial.delta, op.dtype)
    if keep_basis and basis is not None:
        basis[:, filled:] = 0.0  # rows never reached (every run stopped early)
    return Tridiagonal(alpha=alpha, beta=beta, steps=valid, reorthogonalised=n_reorth,
                       basis=basis if keep_basis else None, rows_read=rows_read, overlap=overlap)
