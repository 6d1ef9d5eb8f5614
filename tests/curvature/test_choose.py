"""curvature/choose.py: reduced, dense or Lanczos, from the sizes and the budget only."""

from __future__ import annotations

import pytest
import torch

from nnspectra.curvature.choose import choose_spectrum_method, dense_spectrum_bytes
from nnspectra.resources import GIB


def test_choose_spectrum_method_is_dense_exactly_when_it_fits():
    p = 11_978
    need = dense_spectrum_bytes(p, torch.float64)
    assert need == 2 * p * p * 8
    fits = choose_spectrum_method(p, torch.float64, "cuda", budget_gb=need / GIB * 1.01)
    assert fits.method == "dense" and fits.need_bytes == need and "cuda" in fits.reason
    tight = choose_spectrum_method(p, torch.float64, "cuda", budget_gb=need / GIB * 0.99)
    assert tight.method == "lanczos" and "GiB" in tight.reason
    assert choose_spectrum_method(p, torch.float32, "cpu", budget_gb=need / GIB * 0.99).method == "dense"
    # no budget: 80 % of the available memory (given explicitly: a pure function)
    assert choose_spectrum_method(p, available_bytes=int(need / 0.8) + 1).method == "dense"
    assert choose_spectrum_method(p, available_bytes=int(need / 0.8) - 10**6).method == "lanczos"
    # P = 55,660 float64 (2 x 24.8 GB = 46.2 GiB): dense on an H100's 80 GB, not when only 48 GB are free
    assert choose_spectrum_method(55_660, device="cuda", available_bytes=80 * GIB).method == "dense"
    assert choose_spectrum_method(55_660, device="cuda", available_bytes=48 * GIB).method == "lanczos"
    assert choose_spectrum_method(p, budget_gb=100.0, max_dense_params=10_000).method == "lanczos"
    with pytest.raises(ValueError, match="memory_budget_gb"):
        choose_spectrum_method(p, budget_gb=0)


def test_choice_reads_only_sizes_and_budget():
    a = choose_spectrum_method(55_660, torch.float64, "cpu", budget_gb=18.0, reduced_columns=10_260)
    b = choose_spectrum_method(55_660, torch.float64, "cpu", budget_gb=18.0, reduced_columns=10_260)
    assert a == b and a.method == "reduced"
    assert choose_spectrum_method(55_660, torch.float64, "cpu", budget_gb=1.0, reduced_columns=10_260).method == "lanczos"
    assert choose_spectrum_method(7_960, torch.float64, "cpu", budget_gb=18.0, reduced_columns=9_180).method == "dense"


def test_decide_method_configured_or_auto_by_the_one_rule():
    from nnspectra.curvature.choose import decide_method
    from nnspectra.errors import MemoryBudgetError

    p = 3_000
    need = dense_spectrum_bytes(p)
    assert decide_method("lanczos", p) == ("lanczos", "method: lanczos (configured)")
    assert decide_method("dense", p)[0] == "dense"
    method, reason = decide_method("auto", p, budget_gb=need / GIB * 1.01)
    assert method == "dense" and reason.startswith("method: auto -> dense:")
    assert decide_method("auto", p, budget_gb=need / GIB * 0.99)[0] == "lanczos"
    assert decide_method("auto", p, budget_gb=100.0, max_dense_params=p - 1)[0] == "lanczos"
    assert decide_method("auto", p, budget_gb=100.0, max_dense_params=p)[0] == "dense"
    with pytest.raises(MemoryBudgetError, match="method 'dense' needs"):
        decide_method("dense", p, budget_gb=need / GIB * 0.5, check_dense=True)
    with pytest.raises(ValueError, match="method must be one of"):
        decide_method("arpack", p)


def test_eigenpairs_auto_goes_dense_up_to_max_dense_params():
    """eigenpairs(method="auto") decides by the same rule: dense eigh (exact) up to max_dense_params, Lanczos above."""
    import numpy as np
    from scipy.sparse.linalg import aslinearoperator

    from nnspectra.curvature import top_eigenpairs

    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 60))
    a = a + a.T
    exact = np.linalg.eigvalsh(a)[::-1][:3]
    op = aslinearoperator(a)
    for max_dense, want in ((60, "dense"), (59, "lanczos")):
        info: dict = {}
        vals, _ = top_eigenpairs(op, 3, method="auto", max_dense_params=max_dense, info=info)
        assert info["method"] == want
        np.testing.assert_allclose(vals, exact, rtol=1e-10)
    info = {}
    top_eigenpairs(op, 59, method="auto", max_dense_params=10, info=info)  # k >= dim - 1: Lanczos cannot
    assert info["method"] == "dense"
