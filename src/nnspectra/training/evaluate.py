"""Classification loss and accuracy of a model on whole data sets, for training histories and line scans."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy (the loss of Sagun et al. 2018, SPEC §1.0)."""
    return nn.functional.cross_entropy(logits, targets)


@torch.no_grad()
def evaluate_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` on (x, y), in batches of ``batch``."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(y), batch):
        xb, yb = x[start:start + batch], y[start:start + batch]
        logits = model(xb)
        total_loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    return {"loss": total_loss / len(y), "acc": correct / len(y)}


def classification_evaluator(sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]], batch: int = 1000,
                             ) -> Callable[[nn.Module], dict[str, float]]:
    """``model -> {"<name>_loss": ..., "<name>_acc": ...}`` over the named data sets, in their order."""
    def evaluate(model: nn.Module) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, (x, y) in sets.items():
            out.update({f"{name}_{k}": v for k, v in evaluate_classifier(model, x, y, batch).items()})
        return out

    return evaluate
