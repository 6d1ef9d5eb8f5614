"""Figures of
Sagun et al. (2018), "Empirical analysis of the Hessian of over-parametrized neural networks".

Helpers shared by its modules: RealdataPlot, palette.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RealdataPlot:
    """Config ``realdata.plot``: the seed shown, the top windows of Figs 4 and 7, the setting in every title."""

    seed: int = 0
    top_right_edge: int = 120
    top_lbsb: int = 40
    setting: str = "paper-scale config"


def palette(n: int) -> list[Any]:
    import seaborn as sns

    return sns.color_palette("viridis", n_colors=max(n, 1))
