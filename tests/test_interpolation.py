"""Line interpolation between two networks, barrier height and monotonicity (seed Fig. 10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn
from torch.nn.utils import parameters_to_vector

from nnspectra.errors import ConfigError
from nnspectra.training.interpolation import (
    barrier_height, interpolate_vector, line_scan, max_monotonicity_violation, paper_alphas,
)


def test_paper_alphas_grid():
    a = paper_alphas()
    assert a.size == 22 and a[0] == -1.0 and a[-1] == 2.0
    assert np.allclose(np.diff(a), 1 / 7)
    assert 0.0 in a and 1.0 in a


def test_line_scan_endpoints_and_linearity():
    torch.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    ta, tb = parameters_to_vector(a.parameters()).detach(), parameters_to_vector(b.parameters()).detach()

    def evaluate(m: nn.Module) -> dict[str, float]:
        theta = parameters_to_vector(m.parameters()).detach()
        return {"first": float(theta[0]), "dist_a": float((theta - ta).norm())}

    rows = line_scan(a, b, [-1.0, 0.0, 0.5, 1.0, 2.0], evaluate)
    got = {r["alpha"]: r for r in rows}
    assert got[0.0]["dist_a"] == pytest.approx(0.0, abs=1e-7)
    assert got[1.0]["first"] == pytest.approx(float(tb[0]), abs=1e-6)
    assert got[0.5]["first"] == pytest.approx(float(0.5 * (ta[0] + tb[0])), abs=1e-6)
    assert got[2.0]["dist_a"] == pytest.approx(2 * float((tb - ta).norm()), rel=1e-5)
    assert got[-1.0]["dist_a"] == pytest.approx(float((tb - ta).norm()), rel=1e-5)
    assert torch.equal(parameters_to_vector(a.parameters()).detach(), ta)  # inputs untouched


def test_interpolate_vector_shape_mismatch():
    with pytest.raises(ConfigError):
        interpolate_vector(torch.zeros(3), torch.zeros(4), 0.5)


def test_barrier_height_detects_a_bump_and_not_a_valley():
    a = paper_alphas()
    valley = (a - 0.5) ** 2
    assert barrier_height(a, valley) <= 0.0
    bump = 1.0 - (a - 0.5) ** 2  # peak 1 at 0.5, end points 0.75
    assert barrier_height(a, bump) == pytest.approx(1.0 - 0.75 - 0.0, abs=0.03)
    with pytest.raises(ConfigError):
        barrier_height([0.1, 0.5, 0.9], [1, 2, 3])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=2, max_size=20))
def test_monotone_sequences_have_no_violation(values):
    v = np.sort(np.asarray(values))
    a = np.linspace(0, 1, v.size)
    assert max_monotonicity_violation(a, v, increasing=True) == 0.0
    assert max_monotonicity_violation(a, v[::-1], increasing=False) == 0.0
    assert max_monotonicity_violation(a, v[::-1], increasing=True) == pytest.approx(v[-1] - v[0])
