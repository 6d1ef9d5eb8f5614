"""Spectrum panels shared by the evolution figures: ESD histograms on the Marchenko–Pastur law's scale and
power-law tails drawn from the experiment's stored fit (nothing is refitted or recounted here).

Normalisation (issue 13). ``W^T W / h`` with ``d > h`` has ``d - h`` zero eigenvalues: the MP law's atom of mass
``1 - h/d`` at 0, which a log axis cannot show. Its continuous part integrates to ``h/d``. A histogram drawn
with ``density=True`` over the non-zero eigenvalues only integrates to 1 and sits ``d/h`` times above that
curve, so every histogram here is a density of the WHOLE spectrum: count in bin / (all eigenvalues x bin
width). Undrawn eigenvalues (the zeros) keep their share of the mass, and histogram and curve are on one scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nnspectra.errors import NnspectraError
from nnspectra.spectra.mp import mp_atom, mp_density

__all__ = ["draw_esd", "draw_mp", "draw_tail", "esd_heights", "stored_fit"]

TAIL_KEYS = ("alpha", "alpha_xmin", "alpha_ntail", "alpha_npos")


def esd_heights(vals: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Heights (len(edges) - 1) of the ESD of ``vals`` as a density of all ``vals.size`` eigenvalues.

    ``sum(heights * diff(edges))`` is the fraction of eigenvalues inside ``[edges[0], edges[-1]]``, not 1.
    """
    vals = np.asarray(vals, dtype=float)
    counts, _ = np.histogram(vals, bins=edges)
    return counts / (vals.size * np.diff(edges))


def draw_esd(ax: Any, vals: np.ndarray, edges: np.ndarray, label: str, colour: Any, filled: bool = False) -> Any:
    """Histogram of the ESD of ``vals`` on ``edges`` (:func:`esd_heights` scale); returns the StepPatch."""
    heights = esd_heights(vals, edges)
    if filled:
        return ax.stairs(heights, edges, fill=True, alpha=0.4, color=colour, label=label)
    return ax.stairs(heights, edges, lw=1.5, color=colour, label=label)


def draw_mp(ax: Any, grid: np.ndarray, ratio: float, sigma2: float) -> Any:
    """The continuous part of the MP law of ratio ``d/h`` and variance ``sigma2`` on ``grid`` (a black line),
    labelled with the mass of its atom at 0 when there is one (not drawn)."""
    atom = mp_atom(ratio)
    label = f"Marchenko–Pastur law, d/h = {ratio:.2f}"
    if atom > 0:
        label += f"\n(plus {atom:.0%} of the mass at λ = 0, not drawn)"
    return ax.plot(grid, mp_density(grid, ratio, sigma2), color="k", lw=1.2, label=label)[0]


def stored_fit(row: Mapping[str, Any], name: str, run: str) -> dict[str, float]:
    """The CSN tail fit of matrix ``name`` that the evolution run stored in one checkpoint ``row``."""
    missing = [f"{name}_{k}" for k in TAIL_KEYS if f"{name}_{k}" not in row]
    if missing:
        raise NnspectraError(f"the summary of run {run} has no {', '.join(missing)}: it predates the stored tail "
                             "fits; rerun its evolution_run job (snakemake --forcerun evolution_run)")
    return {k: float(row[f"{name}_{k}"]) for k in TAIL_KEYS}


def draw_tail(ax: Any, vals: np.ndarray, fit: Mapping[str, float], label: str, colour: Any, marker: str,
              hollow: bool = False) -> None:
    """Rank-ordered spectrum (fraction of positive eigenvalues >= λ, log-log) and the stored fit's line.

    The fit ``p(λ) ∝ λ^-alpha`` above ``xmin`` (``alpha_ntail`` of ``alpha_npos`` positive eigenvalues there)
    has the complementary CDF ``(n_tail / n_pos) (λ / xmin)^(1 - alpha)``, drawn from xmin to the largest
    eigenvalue. Eigenvalues below 1e-10 x the largest (round-off) are not drawn but keep their rank.
    """
    pos = np.sort(np.asarray(vals, dtype=float)[np.asarray(vals) > 0])[::-1]
    if pos.size != int(fit["alpha_npos"]):
        raise NnspectraError(f"{label}: the spectrum has {pos.size} positive eigenvalues but its stored fit saw "
                             f"{int(fit['alpha_npos'])}; the spectra and summary files are from different runs")
    frac = np.arange(1, pos.size + 1) / pos.size
    shown = pos > 1e-10 * pos[0]
    ax.loglog(pos[shown], frac[shown], ls="none", marker=marker, ms=4.5 if hollow else 2.5, color=colour,
              markerfacecolor="none" if hollow else colour, label=f"{label}: α = {fit['alpha']:.2f}")
    xmin, alpha = fit["alpha_xmin"], fit["alpha"]
    grid = np.geomspace(xmin, pos[0], 50)
    ax.loglog(grid, fit["alpha_ntail"] / fit["alpha_npos"] * (grid / xmin) ** (1.0 - alpha), "-", color=colour,
              lw=1.2, gid="power-law fit")
