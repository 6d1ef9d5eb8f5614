"""Factories a user would write: any function returning an nn.Module."""

import torch
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


class _CubicFunction(torch.autograd.Function):
    """x -> x^3 / 3 + x with a hand-written backward, the old style (no ``setup_context``): autograd runs it,
    torch.func transforms (vmap, jvp, jacrev) refuse it."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(x)
        return x * x * x / 3 + x

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]
        (x,) = ctx.saved_tensors
        return grad * (x * x + 1)


class Cubic(nn.Module):
    """A user's activation layer built on a custom autograd.Function."""

    def forward(self, x):  # type: ignore[no-untyped-def]
        return _CubicFunction.apply(x)


def custom_function_mlp(inputs: int = 6, hidden: int = 5, classes: int = 3) -> nn.Module:
    """inputs -> hidden (Cubic, a custom autograd.Function) -> classes."""
    return nn.Sequential(nn.Linear(inputs, hidden), Cubic(), nn.Linear(hidden, classes))
