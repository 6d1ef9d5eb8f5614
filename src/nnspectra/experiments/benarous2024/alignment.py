"""Online-SGD runs of Ben Arous et al. (ICLR 2024) with spectral measurements at checkpoints.

* :func:`run_gmm` -- k-GMM + softmax regression (SPEC §2.1): at each checkpoint ell/d the top
  eigenpairs of the empirical Hessian H and G-matrix G (full k d x k d and per class block H_cc),
  their bulk edges from a null matrix (same x; noise-only samples), the outlier counts, the alignment
  A(x_ell, top-r eigenspace) and the overlap of the eigenspaces with the span of the means.
* :func:`run_xor` -- XOR-GMM + two-layer ReLU net (SPEC §2.2): the same per layer (first-layer unit
  blocks (W_i, W_i) and the K x K readout block).
Claims 24-32 from saved runs: :mod:`nnspectra.experiments.benarous2024.alignment_metrics`.

Every random stream comes from ``numpy.random.default_rng([seed, stream])`` so that runs with the same
seed share the init and the standard-normal noise across lam (common random numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator

from nnspectra.curvature.choose import decide_method
from nnspectra.curvature.eigen import top_eigenpairs
from nnspectra.curvature.mixtures import (
    softmax_block_weights,
    softmax_operator,
    two_layer_readout_block,
    two_layer_unit_weights,
    weighted_gram_dense,
    weighted_gram_operator,
)
from nnspectra.data.mixtures import GaussianMixture, XorMixture, orthonormal_means, random_unit_means
from nnspectra.errors import ConfigError
from nnspectra.models.mixture_nets import TwoLayerParams, softmax_step_grad, two_layer_step_grad
from nnspectra.spectra.alignment import alignment, span_basis, subspace_overlap, top_space
from nnspectra.spectra.outliers import count_above_edge, count_largest_gap
from nnspectra.training.online import SeenBuffer, checkpoint_steps, online_sgd

log = logging.getLogger(__name__)

KINDS = ("hessian", "gmatrix")
EDGE_TOL = 1e-6          # relative accuracy of the null-run top eigenvalue (the bulk edge)
LANCZOS_TOL = 1e-10      # relative accuracy of the top eigenpairs
DENSE_MAX = 399          # operators up to this size are diagonalised densely (the one rule, decide_method)
STREAM_MEANS, STREAM_INIT, STREAM_TRAIN, STREAM_TEST, STREAM_NULL = range(5)


@dataclass(frozen=True)
class MatrixSettings:
    """Config ``alignment.matrices``: how the empirical Hessian / G-matrix and their outliers are measured.

    ``m_factor``: M = m_factor d samples; ``matrix_data``: ``test`` (fresh samples) or ``train`` (the last
    M samples SGD consumed); ``n_top`` top eigenpairs; outliers lie above the null-matrix edge times
    (1 + ``edge_margin``); ``null_model``: ``noise`` (means removed) or ``zero_means``; blocks up to
    ``dense_max`` are formed densely.
    """

    m_factor: float = 4
    matrix_data: str = "test"
    n_top: int = 16
    edge_margin: float = 0.05
    null_model: str = "noise"
    dense_max: int = 2000


@dataclass(frozen=True)
class OnlineSGD:
    """Online SGD with step delta = c/d and l2 penalty beta (config ``alignment.gmm`` / ``alignment.xor``)."""

    c: float = 0.5
    beta: float = 0.0
    key: str = "alignment.gmm"  # the config section holding c (named when the run diverges)


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(stream)])


def _top(A: np.ndarray | LinearOperator, n: int, seed: int = 0, tol: float = LANCZOS_TOL
         ) -> tuple[np.ndarray, np.ndarray]:
    """Top-n eigenpairs (descending) with this section's Lanczos settings (dense when small or stalled)."""
    dim = A.shape[0]
    vals, vecs = top_eigenpairs(A, n, seed=seed, tol=tol, method="auto", max_dense_params=DENSE_MAX,
                                ncv=min(dim, max(2 * min(n, dim) + 1, 40)), maxiter=20 * dim,
                                on_no_convergence="dense")
    assert vecs is not None
    return vals, vecs


def _matrix_data(mats: MatrixSettings, test: tuple[np.ndarray, np.ndarray], seen: SeenBuffer | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Samples the matrices are built on: fresh test samples or the last M samples SGD consumed."""
    if mats.matrix_data == "train" and seen is not None and seen.count > 0:
        return seen.get()
    return test


def _gram(Y: np.ndarray, w: np.ndarray, dense_max: int) -> "np.ndarray | LinearOperator":
    """The d x d block (1/M) Y^T diag(w) Y: dense (fast exact eigh) up to d = dense_max where it fits the memory
    budget (the one rule, :func:`nnspectra.curvature.choose.decide_method`), else matrix-free."""
    dense = decide_method("auto", Y.shape[1], max_dense_params=dense_max)[0] == "dense"
    return weighted_gram_dense(Y, w) if dense else weighted_gram_operator(Y, w)


def _block_spectrum(Y: np.ndarray, w: np.ndarray, Yg: np.ndarray, w_null: np.ndarray, mats: MatrixSettings,
                    seed: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """One d x d weighted Gram block (1/M) Y^T diag(w) Y: its top eigenpairs, the null block's top
    eigenvalue (the bulk edge) and the number of outliers above it."""
    vals, vecs = _top(_gram(Y, w, int(mats.dense_max)), int(mats.n_top), seed=seed)
    edge = _top(weighted_gram_operator(Yg, w_null), 1, seed=seed, tol=EDGE_TOL)[0][0]
    return vals, vecs, edge, count_above_edge(vals, edge, mats.edge_margin)


def _null_data(mats: MatrixSettings, Y: np.ndarray, labels: np.ndarray, sample_means: np.ndarray,
               null: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs for the weights, labels, inputs for the Gram factor) of the null matrix (bulk edge).

    ``noise``: the same samples and weights with their means removed, Y - mu_a (the noise-only part
    of the matrix); ``zero_means``: an independent run on pure noise (mu = 0), SPEC §2.0 literally.
    """
    if mats.null_model == "noise":
        return Y, labels, Y - sample_means
    return null[0], null[1], null[0]


# -- task (i): k-GMM, softmax regression -----------------------------------------------------------

def run_gmm(k: int, means_kind: str, sgd: OnlineSGD, mats: MatrixSettings, d: int, lam: float, seed: int,
            times: Sequence[float], blocks: bool = True, kinds: Sequence[str] = KINDS) -> dict[str, np.ndarray]:
    """One online-SGD run on the k-GMM with measurements at ``times`` = ell/d; arrays keyed by name.

    ``means_kind``: ``orthonormal`` or ``random`` unit means. ``blocks=False`` skips the class blocks and
    ``kinds`` picks the matrices (the d-scan needs only the Hessian).
    Shapes: T checkpoints, k classes, n = n_top eigenvalues.
    """
    k, M, n_top = int(k), int(round(mats.m_factor * d)), int(mats.n_top)
    if k < 2 or M < 1:
        raise ConfigError(f"alignment.gmm needs k >= 2 classes and m_factor * d >= 1 (got k={k}, M={M})")
    means = orthonormal_means(k, d) if means_kind == "orthonormal" else random_unit_means(k, d, _rng(seed, STREAM_MEANS))
    mix = GaussianMixture(means, lam)
    steps = checkpoint_steps(times, d)
    test = mix.sample(M, _rng(seed, STREAM_TEST))
    null = mix.sample(M, _rng(seed, STREAM_NULL), mean_scale=0.0)
    train_rng = _rng(seed, STREAM_TRAIN)
    seen = SeenBuffer(M, d) if mats.matrix_data == "train" else None
    Qmu = span_basis(means)                                    # (d, k)
    Qfull = np.kron(np.eye(k), Qmu)                            # basis of R^k (x) span(mu), (k d, k^2)
    T = len(steps)
    out: dict[str, np.ndarray] = {
        "times": steps / d, "steps": steps, "acc": np.zeros(T), "norm": np.zeros(T),
        "bayes": np.array(mix.bayes_accuracy()), "d": np.array(d), "lam": np.array(lam), "seed": np.array(seed),
    }
    for kind in kinds:
        out |= {f"{kind}_eigs": np.zeros((T, n_top)), f"{kind}_edge": np.zeros(T), f"{kind}_r": np.zeros(T, int),
                f"{kind}_r_gap": np.zeros(T, int), f"{kind}_align": np.zeros(T), f"{kind}_align_gap": np.zeros(T),
                f"{kind}_mean_overlap": np.zeros(T)}
        if blocks:
            out |= {f"{kind}_block_eigs": np.zeros((T, k, n_top)), f"{kind}_block_edge": np.zeros((T, k)),
                    f"{kind}_block_r": np.zeros((T, k), int), f"{kind}_block_align": np.zeros((T, k)),
                    f"{kind}_block_mean_overlap": np.zeros((T, k))}
    idx = {"t": 0}

    def measure(ell: int, theta: np.ndarray) -> None:
        t = idx["t"]
        x = theta.reshape(k, d)
        Y, labels = _matrix_data(mats, test, seen)
        out["acc"][t] = np.mean((test[0] @ x.T).argmax(axis=1) == test[1])
        out["norm"][t] = np.linalg.norm(theta)
        Yw, lab_w, Yg = _null_data(mats, Y, labels, means[labels], null)
        for kind in kinds:
            vals, vecs = _top(softmax_operator(x, Y, labels, kind), n_top, seed=seed)
            edge = _top(softmax_operator(x, Yw, lab_w, kind, Y_gram=Yg), 1, seed=seed, tol=EDGE_TOL)[0][0]
            r = count_above_edge(vals, edge, mats.edge_margin)
            r_gap = count_largest_gap(vals, max_count=k * k)
            out[f"{kind}_eigs"][t], out[f"{kind}_edge"][t] = vals, edge
            out[f"{kind}_r"][t], out[f"{kind}_r_gap"][t] = r, r_gap
            out[f"{kind}_align"][t] = alignment(theta, top_space(vecs, r))
            out[f"{kind}_align_gap"][t] = alignment(theta, top_space(vecs, r_gap))
            out[f"{kind}_mean_overlap"][t] = subspace_overlap(top_space(vecs, max(r, 1)), Qfull)
            if not blocks:
                continue
            w, w_null = softmax_block_weights(x, Y, labels, kind), softmax_block_weights(x, Yw, lab_w, kind)
            for c in range(k):
                bvals, bvecs, bedge, br = _block_spectrum(Y, w[:, c], Yg, w_null[:, c], mats, seed)
                out[f"{kind}_block_eigs"][t, c], out[f"{kind}_block_edge"][t, c] = bvals, bedge
                out[f"{kind}_block_r"][t, c] = br
                out[f"{kind}_block_align"][t, c] = alignment(x[c], top_space(bvecs, br))
                out[f"{kind}_block_mean_overlap"][t, c] = subspace_overlap(top_space(bvecs, k), Qmu)
        log.info("gmm d=%d lam=%g seed=%d ell/d=%.3g acc=%.3f %s", d, lam, seed, ell / d, out["acc"][t],
                 " ".join(f"{kd}: r={out[kd + '_r'][t]} A={out[kd + '_align'][t]:.3f}" for kd in kinds))
        idx["t"] += 1

    theta0 = _rng(seed, STREAM_INIT).standard_normal(k * d) / np.sqrt(d)
    online_sgd(theta0, softmax_step_grad(k, d), lambda n: mix.sample(n, train_rng), steps,
               delta=sgd.c / d, beta=sgd.beta, on_checkpoint=measure, seen=seen, step_key=f"{sgd.key}.c")
    return out


# -- task (ii): XOR-GMM, two-layer ReLU network ----------------------------------------------------

def run_xor(sgd: OnlineSGD, mats: MatrixSettings, d: int, K: int, lam: float, seed: int, times: Sequence[float]
            ) -> dict[str, np.ndarray]:
    """One online-SGD run of the two-layer net on the XOR-GMM with per-layer measurements.

    Arrays: T checkpoints, K units.
    """
    M, n_top = int(round(mats.m_factor * d)), int(mats.n_top)
    if K < 1 or M < 1:
        raise ConfigError(f"alignment.xor needs K >= 1 hidden units and m_factor * d >= 1 (got K={K}, M={M})")
    mix = XorMixture.standard(d, lam)
    steps = checkpoint_steps(times, d)
    Y_test, lab_test, comp_test = mix.sample(M, _rng(seed, STREAM_TEST))
    Y_null, lab_null, _ = mix.sample(M, _rng(seed, STREAM_NULL), mean_scale=0.0)
    train_rng = _rng(seed, STREAM_TRAIN)
    seen = SeenBuffer(M, d) if mats.matrix_data == "train" else None
    Qmn = span_basis(np.stack([mix.mu, mix.nu]))
    T = len(steps)
    out: dict[str, np.ndarray] = {
        "times": steps / d, "steps": steps, "acc": np.zeros(T), "bayes": np.array(mix.bayes_accuracy()),
        "d": np.array(d), "K": np.array(K), "lam": np.array(lam), "seed": np.array(seed),
        "W_norm": np.zeros((T, K)), "v": np.zeros((T, K)),
    }
    for kind in KINDS:
        out |= {f"{kind}_unit_eigs": np.zeros((T, K, n_top)), f"{kind}_unit_edge": np.zeros((T, K)),
                f"{kind}_unit_r": np.zeros((T, K), int), f"{kind}_unit_align2": np.zeros((T, K)),
                f"{kind}_unit_align": np.zeros((T, K)), f"{kind}_unit_mean_overlap": np.zeros((T, K)),
                f"{kind}_v_eigs": np.zeros((T, K)), f"{kind}_v_vecs": np.zeros((T, K, K)),
                f"{kind}_v_edge": np.zeros(T), f"{kind}_v_r": np.zeros(T, int), f"{kind}_v_align": np.zeros(T)}
    idx = {"t": 0}

    def measure(ell: int, theta: np.ndarray) -> None:
        t = idx["t"]
        p = TwoLayerParams.from_flat(theta, K, d)
        Y, labels = _matrix_data(mats, (Y_test, comp_test), seen)
        f = np.maximum(Y_test @ p.W.T, 0.0) @ p.v
        out["acc"][t] = np.mean((f > 0) == (lab_test == 1))
        out["W_norm"][t], out["v"][t] = np.linalg.norm(p.W, axis=1), p.v
        comp = labels                      # the SGD stream and the test set carry component indices
        labels = (comp < 2).astype(np.int64)
        Yw, lab_w, Yg = _null_data(mats, Y, labels, mix.component_means()[comp], (Y_null, lab_null))
        for kind in KINDS:
            w, w_null = two_layer_unit_weights(p, Y, labels, kind), two_layer_unit_weights(p, Yw, lab_w, kind)
            for i in range(K):
                vals, vecs, edge, r = _block_spectrum(Y, w[:, i], Yg, w_null[:, i], mats, seed)
                out[f"{kind}_unit_eigs"][t, i], out[f"{kind}_unit_edge"][t, i] = vals, edge
                out[f"{kind}_unit_r"][t, i] = r
                out[f"{kind}_unit_align2"][t, i] = alignment(p.W[i], top_space(vecs, 2))
                out[f"{kind}_unit_align"][t, i] = alignment(p.W[i], top_space(vecs, r))
                out[f"{kind}_unit_mean_overlap"][t, i] = subspace_overlap(top_space(vecs, 2), Qmn)
            B = two_layer_readout_block(p, Y, labels, kind)
            if mats.null_model == "noise":   # same weights, hidden features of the noise-only inputs
                B_null = two_layer_readout_block(p, Yg, lab_w, kind, Y_weights=Yw)
            else:
                B_null = two_layer_readout_block(p, Yw, lab_w, kind)
            vals, vecs = _top(B, K)
            edge = float(np.linalg.eigvalsh(B_null)[-1])
            r = count_above_edge(vals, edge, mats.edge_margin)
            out[f"{kind}_v_eigs"][t], out[f"{kind}_v_vecs"][t] = vals, vecs
            out[f"{kind}_v_edge"][t], out[f"{kind}_v_r"][t] = edge, r
            out[f"{kind}_v_align"][t] = alignment(p.v, top_space(vecs, r))
        log.info("xor d=%d K=%d lam=%g seed=%d ell/d=%.3g acc=%.3f r_v(H)=%d A_W2(H)=%s", d, K, lam, seed,
                 ell / d, out["acc"][t], out["hessian_v_r"][t], np.round(out["hessian_unit_align2"][t], 2))
        idx["t"] += 1

    rng = _rng(seed, STREAM_INIT)
    theta0 = np.concatenate([rng.standard_normal(K * d) / np.sqrt(d), rng.standard_normal(K) / np.sqrt(K)])

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        Y, _, comp = mix.sample(n, train_rng)
        return Y, comp

    label_grad = two_layer_step_grad(K, d)

    def grad(theta: np.ndarray, y: np.ndarray, comp: int) -> np.ndarray:
        return label_grad(theta, y, int(comp < 2))

    online_sgd(theta0, grad, sample, steps, delta=sgd.c / d, beta=sgd.beta, on_checkpoint=measure, seen=seen,
               step_key=f"{sgd.key}.c")
    return out
