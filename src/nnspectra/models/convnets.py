"""Convolutional networks of Sagun et al. (2018) §4 (SPEC §1.7 and §1.9).

* :func:`make_small_convnet` -- "2 convolution layers with relu-maxpool followed by two fully-connected
  layers" for the MNIST LB/SB experiment. Channel and hidden widths are not given by the paper; the
  default (SPEC §1.7 [DEF]) conv 1->8 (5x5) -> maxpool 2 -> ReLU -> conv 8->16 (5x5) -> maxpool 2 ->
  ReLU -> FC 256->32 -> ReLU -> FC 32->10 has 11,978 parameters, small enough for an exact Hessian.
* :func:`make_bare_alexnet` -- the "bare AlexNet" of the CIFAR-10 two-phase experiment (no momentum,
  dropout or batch norm). Default (SPEC §1.9 [DEF], Keskar et al. 2016 "C1"): conv 5x5x64 -> ReLU ->
  maxpool 3/2 -> conv 5x5x64 -> ReLU -> maxpool 3/2 -> FC 384 -> ReLU -> FC 192 -> ReLU -> FC 10.

Both use PyTorch's default initialisation ("standard ... initialization methods that are commonly
used in practice", Sagun et al. 2018 §4.2), drawn after ``torch.manual_seed(seed)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nnspectra.errors import ConfigError


def parameter_count(model: nn.Module) -> int:
    """Number of trainable scalars of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _seeded():  # type: ignore[no-untyped-def]
    """Context that restores torch's global generator after the seeded layer init inside it."""
    return torch.random.fork_rng(devices=[])


def make_small_convnet(in_channels: int = 1, image_size: int = 28, channels: Sequence[int] = (8, 16),
                       kernel: int = 5, hidden: int = 32, num_classes: int = 10, seed: int = 0,
                       dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """2 x (conv -> maxpool 2 -> ReLU) + FC -> ReLU -> FC; input (N, in_channels, image_size, image_size)."""
    if len(channels) != 2 or min(channels) < 1 or hidden < 1 or kernel < 1:
        raise ConfigError(f"small convnet needs two positive channel counts, kernel and hidden width; "
                          f"got channels={list(channels)}, kernel={kernel}, hidden={hidden}")
    size = image_size
    for _ in range(2):
        size = _conv_out(size, kernel) // 2
    if size < 1:
        raise ConfigError(f"image size {image_size} is too small for two {kernel}x{kernel} conv + maxpool "
                          "stages; use a larger image_size or a smaller kernel")
    c1, c2 = int(channels[0]), int(channels[1])
    with _seeded():
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(c1, c2, kernel), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * size * size, hidden), nn.ReLU(), nn.Linear(hidden, num_classes),
        )
    return model.to(dtype)


def make_bare_alexnet(in_channels: int = 3, image_size: int = 32, channels: Sequence[int] = (64, 64),
                      hidden: Sequence[int] = (384, 192), num_classes: int = 10, seed: int = 0,
                      dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """Bare AlexNet: 2 x (conv 5x5 'same' -> ReLU -> maxpool 3/2 pad 1) + FC -> ReLU -> FC -> ReLU -> FC.

    No dropout, batch norm or local response normalisation. For 32x32 inputs the feature map after
    the second pool is 8x8, so the default has 1,756,426 parameters.
    """
    if len(channels) != 2 or len(hidden) != 2 or min(*channels, *hidden) < 1:
        raise ConfigError(f"bare AlexNet needs two conv channel counts and two hidden widths; "
                          f"got channels={list(channels)}, hidden={list(hidden)}")
    size = image_size
    for _ in range(2):
        size = _conv_out(size, 3, stride=2, padding=1)
    c1, c2 = int(channels[0]), int(channels[1])
    h1, h2 = int(hidden[0]), int(hidden[1])
    with _seeded():
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
            nn.Flatten(), nn.Linear(c2 * size * size, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(),
            nn.Linear(h2, num_classes),
        )
    return model.to(dtype)
