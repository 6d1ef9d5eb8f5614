"""Shared figure conventions: seaborn style, one colour and marker per series, legends outside the data,
captions under the axes, atomic PNG output."""

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


# one marker per series, in order; paired with the colours of ``series_colours`` so that no two series of a
# panel share both colour and marker (readable in greyscale and for colour-blind readers)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")


GREY = "0.45"  # reserved for the initialisation and reference curves: no series colour is grey


def series_colours(n: int) -> list[Any]:
    """``n`` distinguishable colours: tab10, then tab20 for more than 9 series, greys left out."""
    import matplotlib as mpl

    name, greys = ("tab10", {7}) if n <= 9 else ("tab20", {14, 15})
    cmap = mpl.colormaps[name]
    palette = [cmap(i) for i in range(cmap.N) if i not in greys]
    return [palette[i % len(palette)] for i in range(n)]


def series_styles(n: int) -> list[tuple[Any, str]]:
    """``(colour, marker)`` for ``n`` series: both differ between any two series."""
    return list(zip(series_colours(n), [MARKERS[i % len(MARKERS)] for i in range(n)]))


def legend_below(ax: Any, ncol: int = 1, offset_pt: float = 34.0, **kwargs: Any) -> Any:
    """A legend under the axes (below the x tick labels and label), so it never covers data.

    Anchored ``offset_pt`` points below the axes' bottom edge; :func:`save_figure` makes the figure taller by
    the legends' height, so the panels keep their size.
    """
    from matplotlib.transforms import ScaledTranslation

    fig = ax.get_figure()
    transform = ax.transAxes + ScaledTranslation(0.0, -offset_pt / 72.0, fig.dpi_scale_trans)
    kwargs.setdefault("fontsize", "x-small")
    legend = ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=transform, ncol=ncol,
                       frameon=False, **kwargs)
    legend.nnspectra_below = True
    return legend


def _legend_rows_height(fig: Figure) -> float:
    """Inches needed under the panels for the legends of :func:`legend_below` (tallest per row of panels)."""
    renderer = fig.canvas.get_renderer()
    rows: dict[int, float] = {}
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not getattr(legend, "nnspectra_below", False) or ax.get_subplotspec() is None:
            continue
        row = ax.get_subplotspec().rowspan.start
        rows[row] = max(rows.get(row, 0.0), legend.get_window_extent(renderer).height / fig.dpi)
    return sum(rows.values())


def short_setting(setting: str) -> str:
    """The preset part of a setting label ("smoke preset (config/smoke.yaml)" of "smoke preset
    (config/smoke.yaml): sizes and seeds shrunk ..."), short enough for a one-line title."""
    return setting.split(": ", 1)[0].strip()


def save_figure(fig: Figure, path: str | Path, title: str, caption: str, dpi: int = 150) -> None:
    """Save ``fig`` with a title (the setting) and a wrapped caption (what is shown) under it.

    The figure grows by the height of the legends drawn below panels; title and caption get the room they
    measure, so neither overlaps the panels.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width_in, height_in = fig.get_size_inches()
    wrapped = textwrap.fill(caption, width=max(60, int(width_in * 14)))
    # caption anchored in inches from the bottom-left corner, so it stays put when the figure grows
    text = fig.text(0.12, 0.08, wrapped, ha="left", va="bottom", fontsize="small", transform=fig.dpi_scale_trans)
    bottom_in = text.get_window_extent(fig.canvas.get_renderer()).height / fig.dpi + 0.25
    height_in += _legend_rows_height(fig) + bottom_in
    fig.set_size_inches(width_in, height_in)
    # the title wrapped to the figure's width (about 10 characters per inch at "large"), its own breaks kept
    title = "\n".join(textwrap.fill(line, width=max(40, int(width_in * 10))) for line in title.splitlines())
    fig.suptitle(title, fontsize="large", y=1.0 - 0.08 / height_in, va="top")
    fig.tight_layout(rect=(0, bottom_in / height_in, 1, 1))  # tight_layout makes room for the suptitle itself
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    os.replace(tmp, path)
    plt.close(fig)
