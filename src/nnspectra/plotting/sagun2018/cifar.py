"""Figures of Sagun et al. (2018) §4.2, seed Figs 9-10: CIFAR-10 training (large, then
small batch) and the loss along the line between the two solutions.

Each function takes loaded results (numpy arrays / DataFrames) and writes one PNG through
:func:`nnspectra.plotting.save_figure` (title = setting, caption = what is shown).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from nnspectra.plotting import legend_below, new_figure, save_figure


def _loss_accuracy_panels(axes: Any, frame: pd.DataFrame, x: str) -> list[Any]:
    """Train and test loss (left) and accuracy (right) of ``frame`` against column ``x``; returns both axes."""
    panels = [(axes[0, 0], "loss", "cross-entropy (nats)", "loss"),
              (axes[0, 1], "acc", "accuracy (fraction)", "accuracy")]
    for ax, metric, unit, word in panels:
        for split, color, marker in (("train", "tab:blue", "o"), ("test", "tab:orange", "s")):
            ax.plot(frame[x], frame[f"{split}_{metric}"], "-", marker=marker, ms=3, lw=1.1, color=color,
                    label=f"{split} {word}")
        ax.set_ylabel(unit)
    return [ax for ax, *_ in panels]


def plot_cifar_training(history: pd.DataFrame, switch_step: int, path: str | Path, setting: str) -> None:
    """Seed Fig. 9: full train/test loss and accuracy of Part I (LB) then Part II (SB)."""
    fig, axes = new_figure(1, 2, width=6.0, height=4.2)
    for ax in _loss_accuracy_panels(axes, history, "step"):
        ax.axvline(switch_step, color="0.3", ls="--", lw=0.9, label="switch from Part I (LB) to Part II (SB)")
        ax.set_xlabel("SGD step")
        legend_below(ax, ncol=2, fontsize="small")
    b1 = int(history.loc[history["part"] == 1, "batch_size"].iloc[0])
    b2 = int(history.loc[history["part"] == 2, "batch_size"].iloc[0])
    save_figure(fig, path, f"CIFAR-10 bare AlexNet: Part I batch {b1}, Part II batch {b2} ({setting})",
                "Loss and accuracy on the full training and test sets, recorded at regular steps. Part II starts "
                "from Part I's end point with the same constant learning rate. Claim: losses jump and accuracies "
                "drop at the switch, and Part II ends about 1 percentage point more accurate on test.")


def plot_interpolation(frame: pd.DataFrame, barrier: float, path: str | Path, setting: str) -> None:
    """Seed Fig. 10: loss and accuracy on the line theta_I + alpha (theta_II - theta_I)."""
    fig, axes = new_figure(1, 2, width=6.0, height=4.2)
    for ax in _loss_accuracy_panels(axes, frame, "alpha"):
        ax.axvline(0.0, color="tab:red", ls="--", lw=0.9, label="α = 0: end of Part I (LB)")
        ax.axvline(1.0, color="tab:green", ls="-.", lw=0.9, label="α = 1: end of Part II (SB)")
        ax.set_xlabel("interpolation coefficient α (dimensionless)")
        legend_below(ax, ncol=2, fontsize="small")
    axes[0, 0].set_title(f"train-loss barrier on [0, 1]: {barrier:+.3f} nats")
    save_figure(fig, path, f"CIFAR-10: straight line between the LB and SB end points ({setting})",
                "Loss and accuracy of θ(α) = θ_I + α(θ_II − θ_I) on the full training and test sets. The barrier is "
                "max over α in [0, 1] of the train loss minus the larger end-point value (≤ 0: no barrier). "
                "Claim: no barrier between the two points; the LB side (α < 0) is sharper.")
