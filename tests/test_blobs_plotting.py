"""Blob figures render from small synthetic spectra (files written, readable PNGs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnspectra.plotting.sagun2018.blobs import plot_fig1, plot_fig2, plot_fig3


def _png(path: Path) -> None:
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_figures_render(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    spec = {p: {"eig_H": rng.normal(size=200), "eig_G": np.abs(rng.normal(size=200)), "eig_R": rng.normal(size=200)}
            for p in ("init", "final")}
    plot_fig1(spec, tmp_path / "fig1.png", "test setting")
    plot_fig2({2: np.sort(rng.uniform(size=20))[::-1], 5: np.sort(rng.uniform(size=20))[::-1]}, tmp_path / "fig2.png", "t")
    plot_fig3({2: rng.uniform(size=150), 5: rng.uniform(size=150)}, {2: 0.9, 5: 0.8}, tmp_path / "fig3.png", "t")
    for name in ("fig1", "fig2", "fig3"):
        _png(tmp_path / f"{name}.png")
