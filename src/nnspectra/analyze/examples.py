"""Small example models for the studies of config/analyze.yaml (any ``module:<path>:<function>`` works the same)."""

from __future__ import annotations

from torch import nn


def bn_convnet(in_channels: int = 1, image_size: int = 14, channels: tuple[int, int] = (8, 16),
               num_classes: int = 10) -> nn.Sequential:
    """2 x (3x3 conv -> batch norm -> ReLU -> maxpool 2) -> linear: a convnet with batch norm small enough
    for a dense Hessian (P ~ 2,000 at 14 x 14 inputs)."""
    c1, c2 = (int(c) for c in channels)
    size = ((image_size - 2) // 2 - 2) // 2
    if size < 1:
        raise ValueError(f"image_size {image_size} is too small for two 3x3 conv + maxpool stages")
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * size * size, num_classes),
    )
