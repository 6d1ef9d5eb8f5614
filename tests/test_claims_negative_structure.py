"""The negative eigenvalues of the MNIST 784-n-10 ReLU nets (claim 9's "≈1.1 %"): (C - 1) n of them.

Why at most (C - 1) n: for a one-hidden-layer ReLU net the network is piecewise bilinear, so the residual part
R = H - G of the cross-entropy Hessian (Sagun et al. eq. 5) only couples unit j's incoming weights (w_j, b_j) with
its outgoing weights W2[:, j], through B_j = mean_i relu'(z_ij) [x_i; 1] (p_i - y_i)^T. The softmax residuals sum
to zero over the C classes, so rank B_j <= C - 1; the block matrix [[0, B], [B^T, 0]] has exactly rank(B)
negative eigenvalues (its spectrum is +-singular values), and adding the positive semi-definite Gauss-Newton
part G cannot create more (Weyl). So #negative(H) <= #negative(R) <= (C - 1) n, i.e. 9 n / (795 n + 10) ≈ 1.13 %
of P for MNIST. That the bound is met exactly is measured, not proved (see the slow test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nnspectra.curvature.dense import hessian_decomposition
from nnspectra.curvature.spectrum import dense_spectra, negative_tolerance
from nnspectra.data.vision import mnist_subset
from nnspectra.experiments.sagun2018 import mnist as mw
from nnspectra.experiments.sagun2018 import mnist_training as mwt
from nnspectra.training.evaluate import cross_entropy

C = 10


def _trained(root: Path, width: int, steps: int, image_size: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The paper's 784-n-10 ReLU MLP (N(0, 0.1^2) init, full-batch GD lr 0.1) on the 1K class-balanced subset."""
    x, y = mnist_subset(root, False, per_class=100, subset_seed=0, image_size=image_size)
    model = mwt.MlpModel(widths=(width,), activation="relu", init="normal", init_scale=0.1)
    net, _ = mwt.train_mnist_mlp(x, y, width, model, mwt.GDTrain(lr=0.1, iterations=steps, log_every=steps), seed=0)
    return net, x.reshape(len(x), -1), y


def _negatives(eigs: np.ndarray) -> int:
    return int(np.sum(eigs < -negative_tolerance(eigs, eigs.size)))


def test_negative_count_is_bounded_by_classes_minus_one_per_unit(shared_data_dir: Path | None) -> None:
    """The structure on a small real-MNIST net (14x14 inputs, n = 5, 3,000 GD steps; ~3 s): R's spectrum is
    symmetric with (C - 1) n negative eigenvalues, and H has no more."""
    if shared_data_dir is None:
        pytest.skip("real MNIST (../shared/data) not present")
    width = 5
    net, x, y = _trained(shared_data_dir, width, steps=3000, image_size=14)
    h, g, r = (m.numpy() for m in hessian_decomposition(net, cross_entropy, x, y, dtype=torch.float64))
    eig_h, eig_g, eig_r = (np.linalg.eigvalsh(m) for m in (h, g, r))
    assert eig_g.min() > -negative_tolerance(eig_g, eig_g.size)                      # G is PSD
    np.testing.assert_allclose(np.sort(eig_r), -np.sort(eig_r)[::-1], atol=1e-12)    # +-sigma(B)
    assert _negatives(eig_r) == (C - 1) * width, "each live unit couples through a rank-(C-1) block"
    assert _negatives(eig_h) <= _negatives(eig_r), "Weyl: adding the PSD Gauss-Newton part cannot add negatives"
    # the R-part also vanishes inside the first layer and for the output bias (piecewise-bilinear net)
    n_first = width * (x.shape[1] + 1)
    assert np.abs(r[:n_first, :n_first]).max() < 1e-14 and np.abs(r[-C:]).max() < 1e-14


@pytest.mark.slow
def test_paper_setting_net_has_exactly_classes_minus_one_negatives_per_unit(shared_data_dir: Path | None) -> None:
    """784-10-10 on the 1K MNIST subset after 2,000 GD steps (dense float64 Hessian, P = 7,960; ~25 CPU-s): exactly
    9 n = 90 negative eigenvalues (1.131 % of P), as the pipeline measures at n = 10 and 30 (and a GPU run at
    50 and 70). Smaller nets (n = 5, or 14x14 inputs) have (C - 1) n - 1: why exactly one is lifted there is open.
    """
    if shared_data_dir is None:
        pytest.skip("real MNIST (../shared/data) not present")
    width = 10
    net, x, y = _trained(shared_data_dir, width, steps=2000, image_size=28)
    eigs = dense_spectra(net, cross_entropy, x, y)["eig_H"]
    count = _negatives(eigs)
    assert count == (C - 1) * width, (
        f"MNIST 784-{width}-10 after 2,000 GD steps: {count} negative eigenvalues, (C - 1) n = {(C - 1) * width} "
        f"({100 * count / eigs.size:.3f} % of P = {eigs.size})")
    assert 100 * count / eigs.size == pytest.approx(1.1307, abs=1e-3)


def test_width_metrics_record_the_structure() -> None:
    """mnist_width_metrics reports #negative per width against (C - 1) n (planted records)."""
    def spec(n_neg: int, p: int) -> dict[str, np.ndarray]:
        top = np.r_[np.linspace(0.1, 0.01, 10), np.full(110, 1e-4)]
        return {"top": top, "bottom": np.array([-1e-5, 0.0]), "n_params": np.asarray(p), "eigenvalues": np.array([]),
                "negative_tolerance": np.asarray(1e-12), "n_negative": np.asarray(n_neg),
                "negative_count_exact": np.asarray(True), "method": np.asarray("dense")}

    m = mw.mnist_width_metrics({10: spec(90, 7960), 30: spec(268, 23860)})
    assert m["neg_count_n10"] == 90 and m["neg_count_over_cm1_n_n10"] == 1.0
    assert m["neg_count_over_cm1_n_n30"] == pytest.approx(268 / 270)
    assert m["neg_count_minus_cm1_n_max_abs"] == 2
    assert m["neg_frac_min_pct"] == pytest.approx(100 * 268 / 23860)
    assert m["neg_frac_max_pct"] == pytest.approx(100 * 90 / 7960)
