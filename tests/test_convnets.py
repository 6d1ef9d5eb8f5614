"""Convnets of Sagun et al. (2018) §4: parameter counts, shapes, seeded init, config errors."""

from __future__ import annotations

import pytest
import torch

from nnspectra.errors import ConfigError
from nnspectra.models.convnets import make_bare_alexnet, make_small_convnet, parameter_count


def _small_count(c1: int, c2: int, k: int, hidden: int, size: int) -> int:
    s = ((size - k + 1) // 2 - k + 1) // 2
    return (1 * k * k + 1) * c1 + (c1 * k * k + 1) * c2 + (c2 * s * s + 1) * hidden + (hidden + 1) * 10


def test_small_convnet_default_matches_spec_count():
    model = make_small_convnet()
    assert parameter_count(model) == 11_978 == _small_count(8, 16, 5, 32, 28)
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("channels,kernel,hidden,size", [((4, 8), 5, 16, 28), ((2, 3), 3, 5, 14)])
def test_small_convnet_counts(channels, kernel, hidden, size):
    model = make_small_convnet(1, size, channels, kernel, hidden)
    assert parameter_count(model) == _small_count(*channels, kernel, hidden, size)
    assert model(torch.zeros(2, 1, size, size)).shape == (2, 10)


def test_bare_alexnet_structure():
    model = make_bare_alexnet()
    # conv 5x5x3x64 + conv 5x5x64x64 + FC 4096x384 + FC 384x192 + FC 192x10, all with biases
    expected = (75 * 64 + 64) + (1600 * 64 + 64) + (64 * 8 * 8 * 384 + 384) + (384 * 192 + 192) + (192 * 10 + 10)
    assert parameter_count(model) == expected == 1_756_426
    kinds = {type(m).__name__ for m in model.modules()}
    assert not kinds & {"Dropout", "BatchNorm2d", "LocalResponseNorm"}  # "bare"
    small = make_bare_alexnet(channels=(4, 4), hidden=(8, 6))
    assert small(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_init_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = make_small_convnet(seed=5)
    after = torch.rand(1)
    assert torch.equal(before, after)  # the global stream is restored
    b = make_small_convnet(seed=5)
    c = make_small_convnet(seed=6)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_bad_configs_raise_one_line():
    with pytest.raises(ConfigError, match="too small"):
        make_small_convnet(1, 10, (4, 8), 5, 16)
    with pytest.raises(ConfigError):
        make_small_convnet(channels=(4,))
    with pytest.raises(ConfigError):
        make_bare_alexnet(hidden=(0, 5))
