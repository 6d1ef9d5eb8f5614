"""training.fast_mlp.pooled_mlp_step: the batched gradient of many MLPs that P0 Fig 6's pool trains, against the
vmapped autograd step it replaces; each row independent of the others; the pool trains the same nets with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import grad_and_value, vmap

from nnspectra.data.p0 import two_blobs
from nnspectra.experiments.sagun2016 import predecessor_training as p0t
from nnspectra.models.flat import loss_of_flat_params
from nnspectra.models.mlp import make_mlp
from nnspectra.training.batched_pool import pool_gd
from nnspectra.training.evaluate import cross_entropy
from nnspectra.training.fast_mlp import pooled_mlp_step

CE = torch.nn.functional.cross_entropy


def _data(n: int, d: int, k: int, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=dtype), torch.randint(0, k, (n,), generator=gen)


def _thetas(b: int, p: int, dtype: torch.dtype, scale: float = 0.7) -> torch.Tensor:
    return scale * torch.randn(b, p, generator=torch.Generator().manual_seed(1), dtype=dtype)


@pytest.mark.parametrize("act", ["relu", "tanh"])
@pytest.mark.parametrize("widths", [[2, 10, 10, 2], [6, 5, 3], [4, 7, 7, 7, 3], [3, 4]], ids=str)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_equals_the_vmapped_autograd_step(act, widths, dtype):
    x, y = _data(23, widths[0], widths[-1], dtype)
    model = make_mlp(widths, act, seed=0, dtype=dtype)
    p = sum(q.numel() for q in model.parameters())
    theta = _thetas(9, p, dtype)
    want_g, want_l = vmap(grad_and_value(loss_of_flat_params(model, cross_entropy, x, y)))(theta)
    got_g, got_l = pooled_mlp_step(model, cross_entropy, x, y)(theta)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    assert got_g.shape == want_g.shape and got_g.dtype == dtype
    assert float((got_g - want_g).abs().max() / want_g.abs().max()) <= tol
    assert float((got_l - want_l).abs().max() / want_l.abs().max()) <= tol


def test_each_row_is_computed_on_its_own_bit_for_bit():
    """A net's gradient does not depend on which or how many other nets share the pool (so the pool size and its
    refill order change no result)."""
    x, y = p0t.as_tensors(*two_blobs(100, 0.3, 0))
    model = p0t.build_net(p0t.blob_sizes(10), seed=0)
    theta = torch.as_tensor(p0t.sphere_parameters(300, p0t.blob_parameter_count(10), 2.0, seed=3))
    step = pooled_mlp_step(model, cross_entropy, x, y)
    grads, losses = step(theta)
    for start, stop in [(0, 1), (3, 4), (0, 37), (5, 90), (100, 299), (0, 250)]:
        g, loss = step(theta[start:stop])
        assert torch.equal(g, grads[start:stop]) and torch.equal(loss, losses[start:stop]), (start, stop)
    assert torch.equal(step(theta.flip(0))[0], grads.flip(0))


def test_applies_only_where_the_fast_gradient_does():
    x, y = _data(8, 6, 3, torch.float64)
    mlp = make_mlp([6, 5, 3], "relu", seed=0, dtype=torch.float64)
    assert pooled_mlp_step(mlp, CE, x, y) is not None
    assert pooled_mlp_step(mlp, lambda out, t: CE(out, t), x, y) is None                    # another loss
    assert pooled_mlp_step(mlp, CE, x, y.double()) is None                                # soft targets
    assert pooled_mlp_step(torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.GELU(), torch.nn.Linear(4, 3)),
                           CE, x, y) is None
    assert pooled_mlp_step(torch.nn.Sequential(torch.nn.Linear(6, 4, bias=False), torch.nn.ReLU(),
                                               torch.nn.Linear(4, 3)), CE, x, y) is None


def test_the_pool_trains_the_same_nets_with_it():
    """P0's blob nets to convergence, a collapsing one among them: the same stops, steps and parameters as the
    vmapped autograd step, to rounding."""
    x, y = p0t.as_tensors(*two_blobs(20, 0.3, 0))
    model = p0t.build_net(p0t.blob_sizes(4), seed=0)
    f = loss_of_flat_params(model, cross_entropy, x, y)
    theta0 = torch.as_tensor(p0t.sphere_parameters(7, p0t.blob_parameter_count(4), 1.5, seed=2))
    theta0[1] *= 30  # collapses at once
    kw = {"lr": 0.5, "grad_norm_tol": 2e-3, "max_iterations": 300, "snapshot_tols": [5e-2], "pool": 3}
    fast, _ = pool_gd(theta0, f, step=pooled_mlp_step(model, cross_entropy, x, y), **kw)
    slow, _ = pool_gd(theta0, f, **kw)
    assert fast.converged.any() and fast.diverged[1] and (fast.iterations == 300).any()
    for name in ("iterations", "converged", "diverged"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
    torch.testing.assert_close(fast.final, slow.final, rtol=0, atol=1e-10, equal_nan=True)
    torch.testing.assert_close(fast.snapshots, slow.snapshots, rtol=0, atol=1e-10, equal_nan=True)
    np.testing.assert_allclose(fast.grad_norm, slow.grad_norm, rtol=1e-8)
