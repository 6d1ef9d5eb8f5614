"""Factories a user would write: any function returning an nn.Module."""

from torch import nn


def tiny_mlp(inputs: int = 64, hidden: int = 8, classes: int = 10) -> nn.Module:
    """inputs -> hidden (tanh) -> classes."""
    return nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, classes))


class TinyBranchNet(nn.Module):
    """Conv + batch norm on 8x8 images with a skip connection (not a Sequential)."""

    def __init__(self, channels: int = 3, classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(4 * channels, classes)

    def forward(self, x):  # type: ignore[no-untyped-def]
        h = self.bn(self.conv(x)).tanh() + x
        return self.fc(self.pool(h).flatten(1))


def branch_net(channels: int = 3, classes: int = 10) -> nn.Module:
    """The factory of :class:`TinyBranchNet`."""
    return TinyBranchNet(channels, classes)
