"""Shared figure conventions: seaborn style, captions under the axes, atomic PNG output."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def setup_style() -> None:
    """Headless backend and one consistent look for every figure."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float = 4.2, **kwargs: Any):
    """A figure with ``nrows x ncols`` axes (width/height per panel, inches)."""
    setup_style()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs)
    return fig, axes


def save_figure(fig: "Figure", path: str | Path, title: str, caption: str, dpi: int = 150) -> None:
    """Save ``fig`` with a title (the setting) and a wrapped caption (what is shown) under it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.suptitle(title, fontsize="large")
    width_in = fig.get_size_inches()[0]
    wrapped = textwrap.fill(caption, width=max(60, int(width_in * 14)))
    n_lines = wrapped.count("\n") + 1
    fig.tight_layout(rect=(0, 0.03 + 0.035 * n_lines, 1, 0.95))
    fig.text(0.01, 0.01, wrapped, ha="left", va="bottom", fontsize="small", wrap=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    os.replace(tmp, path)
    plt.close(fig)
