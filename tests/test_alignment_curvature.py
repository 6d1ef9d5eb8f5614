"""Closed-form per-sample gradients, empirical Hessians and G-matrices against torch.func autodiff."""

import numpy as np
import pytest
import torch
from torch.func import grad, hessian, vmap

from nnspectra.curvature.mixtures import (
    softmax_block_weights,
    softmax_matrix_dense,
    softmax_operator,
    two_layer_matrix_dense,
    two_layer_readout_block,
    two_layer_unit_weights,
    weighted_gram_dense,
    weighted_gram_operator,
)
from nnspectra.models.mixture_nets import (
    TwoLayerParams,
    softmax_loss,
    softmax_loss_torch,
    softmax_per_sample_grads,
    softmax_step_grad,
    two_layer_loss,
    two_layer_loss_torch,
    two_layer_per_sample_grads,
    two_layer_step_grad,
)

K_CLASSES, D, M = 3, 5, 40


@pytest.fixture
def softmax_case():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((K_CLASSES, D))
    Y = rng.standard_normal((M, D))
    labels = rng.integers(0, K_CLASSES, M)
    return x, Y, labels


@pytest.fixture
def xor_case():
    rng = np.random.default_rng(1)
    K = 3
    p = TwoLayerParams(rng.standard_normal((K, D)), rng.standard_normal(K))
    Y = rng.standard_normal((M, D))
    labels = rng.integers(0, 2, M)
    return p, Y, labels


def _t(a):
    return torch.as_tensor(a, dtype=torch.float64)


def _softmax_autodiff(x, Y, labels):
    Yt, lt = _t(Y), torch.as_tensor(labels)
    f = lambda th: softmax_loss_torch(th.reshape(K_CLASSES, D), Yt, lt)  # noqa: E731
    H = hessian(f)(_t(x).ravel()).numpy()
    per = vmap(grad(lambda th, y, a: softmax_loss_torch(th.reshape(K_CLASSES, D), y[None], a[None])),
               in_dims=(None, 0, 0))(_t(x).ravel(), Yt, lt).numpy()
    return float(f(_t(x).ravel())), H, per


def test_softmax_loss_gradients_and_matrices_match_autodiff(softmax_case):
    x, Y, labels = softmax_case
    loss, H_ad, per_ad = _softmax_autodiff(x, Y, labels)
    assert softmax_loss(x, Y, labels) == pytest.approx(loss, rel=1e-12)
    per = softmax_per_sample_grads(x, Y, labels).reshape(M, -1)
    np.testing.assert_allclose(per, per_ad, atol=1e-12)
    step = softmax_step_grad(K_CLASSES, D)
    np.testing.assert_allclose(step(x.ravel(), Y[3], int(labels[3])), per_ad[3], atol=1e-12)
    np.testing.assert_allclose(softmax_matrix_dense(x, Y, labels, "hessian"), H_ad, atol=1e-12)
    np.testing.assert_allclose(softmax_matrix_dense(x, Y, labels, "gmatrix"), per_ad.T @ per_ad / M, atol=1e-12)


@pytest.mark.parametrize("kind", ["hessian", "gmatrix"])
def test_softmax_operator_and_blocks_match_dense(softmax_case, kind):
    x, Y, labels = softmax_case
    dense = softmax_matrix_dense(x, Y, labels, kind)
    op = softmax_operator(x, Y, labels, kind)
    V = np.random.default_rng(2).standard_normal((K_CLASSES * D, 4))
    np.testing.assert_allclose(op @ V, dense @ V, atol=1e-12)
    w = softmax_block_weights(x, Y, labels, kind)
    for c in range(K_CLASSES):
        block = dense[c * D:(c + 1) * D, c * D:(c + 1) * D]
        np.testing.assert_allclose(weighted_gram_dense(Y, w[:, c]), block, atol=1e-12)
        np.testing.assert_allclose(weighted_gram_operator(Y, w[:, c]) @ np.eye(D), block, atol=1e-12)


def test_softmax_hessian_has_the_gauge_kernel(softmax_case):
    """(diag pi - pi pi^T) 1 = 0, so 1 (x) u is in the kernel of H for every u (SPEC §2.0)."""
    x, Y, labels = softmax_case
    H = softmax_matrix_dense(x, Y, labels, "hessian")
    u = np.random.default_rng(3).standard_normal(D)
    np.testing.assert_allclose(H @ np.kron(np.ones(K_CLASSES), u), 0.0, atol=1e-12)


def test_noise_only_null_operator_uses_the_gram_inputs(softmax_case):
    x, Y, labels = softmax_case
    Z = Y + 1.0
    op = softmax_operator(x, Y, labels, "hessian", Y_gram=Z)
    pi = np.exp(Y @ x.T)
    pi /= pi.sum(axis=1, keepdims=True)
    ref = sum(np.kron(np.diag(p) - np.outer(p, p), np.outer(z, z)) for p, z in zip(pi, Z)) / M
    np.testing.assert_allclose(op @ np.eye(K_CLASSES * D), ref, atol=1e-12)


def test_two_layer_gradients_and_matrices_match_autodiff(xor_case):
    p, Y, labels = xor_case
    K = p.v.size
    Yt, lt = _t(Y), torch.as_tensor(labels)
    theta = _t(p.flat())
    f = lambda th: two_layer_loss_torch(th, Yt, lt, K)  # noqa: E731
    assert two_layer_loss(p, Y, labels) == pytest.approx(float(f(theta)), rel=1e-12)
    H_ad = hessian(f)(theta).numpy()
    per_ad = vmap(grad(lambda th, y, a: two_layer_loss_torch(th, y[None], a[None], K)),
                  in_dims=(None, 0, 0))(theta, Yt, lt).numpy()
    gW, gv = two_layer_per_sample_grads(p, Y, labels)
    np.testing.assert_allclose(np.concatenate([gW.reshape(M, -1), gv], axis=1), per_ad, atol=1e-12)
    np.testing.assert_allclose(two_layer_step_grad(K, D)(p.flat(), Y[5], int(labels[5])), per_ad[5], atol=1e-12)
    H = two_layer_matrix_dense(p, Y, labels, "hessian")
    G = two_layer_matrix_dense(p, Y, labels, "gmatrix")
    np.testing.assert_allclose(H, H_ad, atol=1e-12)
    np.testing.assert_allclose(G, per_ad.T @ per_ad / M, atol=1e-12)
    # per-layer blocks
    for kind, full in (("hessian", H), ("gmatrix", G)):
        w = two_layer_unit_weights(p, Y, labels, kind)
        for i in range(K):
            np.testing.assert_allclose(weighted_gram_dense(Y, w[:, i]), full[i * D:(i + 1) * D, i * D:(i + 1) * D],
                                       atol=1e-12)
        np.testing.assert_allclose(two_layer_readout_block(p, Y, labels, kind), full[K * D:, K * D:], atol=1e-12)


def top_eigenpairs(A, n):
    """The alignment experiment's Lanczos settings through the one front-end."""
    from nnspectra.experiments.benarous2024.alignment import _top

    return _top(A, n)


def test_lanczos_top_eigenpairs_match_dense():
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((900, 450))
    Y[:, :3] *= 4.0                                   # three planted outliers
    w = rng.uniform(0.1, 1.0, 900)
    op = weighted_gram_operator(Y, w)
    vals, vecs = top_eigenpairs(op, 6)
    dense = np.linalg.eigh(weighted_gram_dense(Y, w))
    np.testing.assert_allclose(vals, dense[0][::-1][:6], rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(vecs * dense[1][:, ::-1][:, :6], axis=0)), 1.0, atol=1e-6)
    small_vals, _ = top_eigenpairs(weighted_gram_operator(Y[:, :20], w), 3)
    np.testing.assert_allclose(small_vals, np.linalg.eigvalsh(weighted_gram_dense(Y[:, :20], w))[::-1][:3], rtol=1e-10)
