"""Per-seed values of the predecessor paper's claims 20-23 (SPEC §4) for the scorecard: ``metrics/p0.json``.

Inputs are the arrays written by :mod:`nnspectra.experiments.sagun2016.predecessor` (final spectra per width,
final λ_max per init, λ_max per blob std, initial spectra on MNIST and random inputs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nnspectra.experiments.metrics import MetricsRecord
from nnspectra.experiments.sagun2016.predecessor import BLOB_STDS, BLOB_WIDTHS
from nnspectra.experiments.sagun2016.predecessor_mnist import spectral_width
from nnspectra.spectra.outliers import ISOLATED_FRACTION, isolated_eigenvalues

LAMBDA_BAND = (0.012, 0.05)  # claim 21b
MODE_BINS = 40  # claim 21a
MODE_RANGE = (1.0, 99.0)  # claim 21a: the bins span these percentiles of the sample


def lambda_max_mode(values: np.ndarray, bins: int = MODE_BINS, clip: tuple[float, float] = MODE_RANGE) -> float:
    """Mode of a sample of λ_max (claim 21a): centre of the fullest of ``bins`` equal bins spanning the
    ``clip`` percentiles of the finite values (default 1st-99th).

    Clipping keeps a few extreme nets (e.g. dead ReLU nets at λ_max = 0.5, the output-bias curvature at
    p = 1/2) from stretching the bins until one bin holds the whole bulk.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan
    lo, hi = (float(q) for q in np.percentile(v, clip))
    if hi <= lo:
        return lo
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    i = int(np.argmax(counts))
    return float(0.5 * (edges[i] + edges[i + 1]))


def fraction_in_band(values: np.ndarray, band: tuple[float, float] = LAMBDA_BAND) -> float:
    """Fraction of the finite ``values`` in [lo, hi] (claim 21b); NaN entries count as outside."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan
    return float(np.mean(np.isfinite(v) & (v >= band[0]) & (v <= band[1])))


# the config entries :func:`scale_evidence` reads
SCALE_KEYS = ("predecessor.blobs", "predecessor.train", "predecessor.fig6", "predecessor.fig7", "predecessor.mnist")


def scale_evidence(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The scale of each P0 group (``fig4``, ``fig6``, ``fig7``, ``fig2``) from the step's config subset
    (``SCALE_KEYS``): points per blob, blob std and gradient-norm stop of the 2-D runs, the widths of Figs 6-7,
    and the MNIST subset (28 x 28 images, SPEC §1.12) of Fig 2."""
    blobs, train = cfg["predecessor.blobs"], cfg["predecessor.train"]
    gd = {"n_per_blob": int(blobs["n_per_blob"]), "grad_norm_tol": [float(train["grad_norm_tol"])]}
    mnist = cfg["predecessor.mnist"]
    return {"fig4": {**gd, "blob_std": [float(blobs["std"])]},
            "fig6": {**gd, "blob_std": [float(blobs["std"])], "width": [int(cfg["predecessor.fig6"]["width"])]},
            "fig7": {**gd, "width": [int(cfg["predecessor.fig7"]["width"])]},
            "fig2": {"n_train": 10 * int(mnist["per_class"]), "input_dim": [int(mnist["image_size"]) ** 2]}}


def predecessor_metrics(*, fig4: Mapping[int, Mapping[int, np.ndarray]] | None = None,
               fig6: Mapping[int, np.ndarray] | None = None,
               fig7: Mapping[int, Mapping[float, float]] | None = None,
               fig2: Mapping[int, tuple[np.ndarray, np.ndarray]] | None = None,
               widths: Sequence[int] = BLOB_WIDTHS, stds: Sequence[float] = BLOB_STDS,
               scale: Mapping[str, Mapping[str, Any]] | None = None) -> MetricsRecord:
    """Per-seed values of claims 20-23 in the scorecard's format (``metrics/p0.json``).

    * ``fig4``: seed -> {width -> final eigenvalues}; a width of ``widths`` that did not run counts as
      not isolated (so a partial sweep can never reach 5), and the description says how many ran.
    * ``fig6``: seed -> final λ_max of that seed's batch of inits.
    * ``fig7``: seed -> {std -> final λ_max}; every std of ``stds`` must be present for the monotonicity.
    * ``fig2``: seed -> (initial eigenvalues on MNIST, on random inputs), same net and init.
    A group left out (None or empty) omits its metrics, so the scorecard shows them as not_run.
    ``scale`` (:func:`scale_evidence`) adds each group's sizes to its metrics' evidence, next to the seeds.
    """
    out = MetricsRecord()
    scale = scale or {}

    def ev(group: str, seeds: Sequence[int], **more: Any) -> dict[str, Any]:
        return {**scale.get(group, {}), "seeds": len(seeds), **more}

    if fig4:
        seeds = sorted(fig4)
        ran = [sum(1 for w in widths if w in fig4[s]) for s in seeds]
        pairs = [sum(1 for w in widths if w in fig4[s] and isolated_eigenvalues(fig4[s][w]).is_isolated_pair)
                 for s in seeds]
        everywhere = sorted(w for w in widths if all(w in fig4[s] for s in seeds))
        out.add("isolated_pair_widths", pairs, seeds, "widths",
                f"claim 20: widths n of {list(widths)} whose final Hessian has exactly 2 eigenvalues above "
                f"{ISOLATED_FRACTION:g}·λ_max and all others within ±{ISOLATED_FRACTION:g}·λ_max of 0 "
                f"(widths run per seed: {ran})", evidence=ev("fig4", seeds, widths=everywhere))
    if fig6:
        seeds = sorted(fig6)
        n = [int(np.asarray(fig6[s]).size) for s in seeds]
        evidence = ev("fig6", seeds, initialisations=min(n))
        out.add("lambda_max_mode", [lambda_max_mode(fig6[s]) for s in seeds], seeds, "eigenvalue",
                f"claim 21a: mode (centre of the fullest of {MODE_BINS} equal bins between the {MODE_RANGE[0]:g}th "
                f"and {MODE_RANGE[1]:g}th percentiles) of the final λ_max over random inits on a sphere "
                f"(inits per seed: {n}; paper 5,000)", evidence=evidence)
        out.add("lambda_max_mass_in_band", [fraction_in_band(fig6[s]) for s in seeds], seeds, "fraction",
                f"claim 21b: fraction of final λ_max in [{LAMBDA_BAND[0]:g}, {LAMBDA_BAND[1]:g}] (inits per seed: {n})",
                evidence=evidence)
    if fig7:
        seeds = sorted(fig7)
        lo_std, hi_std = min(float(v) for v in stds), max(float(v) for v in stds)
        mono, ratio = [], []
        for s in seeds:
            lam = {float(k): float(v) for k, v in fig7[s].items()}
            if all(float(v) in lam for v in stds):
                mono.append(float(np.all(np.diff([lam[float(v)] for v in stds]) > 0)))
            else:
                mono.append(0.0)
            lo, hi = lam.get(lo_std), lam.get(hi_std)
            ratio.append(hi / lo if lo is not None and hi is not None and lo > 0 else math.nan)
        present = sorted(float(v) for v in stds if all(float(v) in {float(k) for k in fig7[s]} for s in seeds))
        out.add("lambda_max_monotone_in_std", mono, seeds, "indicator",
                f"claim 22a: 1 if the final λ_max increases strictly over blob std {list(stds)} (0 if any std is missing)",
                evidence=ev("fig7", seeds, stds=present))
        out.add("lambda_max_ratio_std1_std02", ratio, seeds, "ratio",
                f"claim 22b: λ_max(std {hi_std:g}) / λ_max(std {lo_std:g}) after GD",
                evidence=ev("fig7", seeds, stds=present))
    if fig2:
        seeds = sorted(fig2)
        out.add("init_width_ratio_mnist_random",
                [spectral_width(fig2[s][0]) / spectral_width(fig2[s][1]) for s in seeds], seeds, "ratio",
                "claim 23: (λ_max - λ_min) of the initial Hessian on MNIST / on random i.i.d. inputs, same net and "
                "init", evidence=ev("fig2", seeds))
    return out
