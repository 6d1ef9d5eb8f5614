"""Figures of Sagun et al. (2018) §4 and Appendix B on real data (seed Figs 4-10, appendix MP figure).

Each function takes loaded results (numpy arrays / DataFrames) and writes one PNG through
:func:`nnspectra.plotting.save_figure` (title = setting, caption = what is shown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnspectra.plotting import MARKERS, legend_below, new_figure, save_figure


@dataclass(frozen=True)
class RealdataPlot:
    """Config ``realdata.plot``: the seed shown, the top windows of Figs 4 and 7, the setting in every title."""

    seed: int = 0
    top_right_edge: int = 120
    top_lbsb: int = 40
    setting: str = "paper-scale config"


def _integer_ticks():  # type: ignore[no-untyped-def]
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _palette(n: int) -> list[Any]:
    import seaborn as sns

    return sns.color_palette("viridis", n_colors=max(n, 1))


def _neg_part(spec: Mapping[str, np.ndarray]) -> np.ndarray:
    """Negative eigenvalues beyond round-off, ascending (from all eigenvalues when dense, else bottom)."""
    eigs = spec["eigenvalues"] if np.asarray(spec["eigenvalues"]).size else spec["bottom"]
    tol = float(np.asarray(spec["negative_tolerance"]))
    return np.sort(np.asarray(eigs)[np.asarray(eigs) < -tol])


def rank_ticks(n: int, most: int = 8) -> list[int]:
    """Integer rank ticks for ranks 1..n: 1 (the largest eigenvalue) and round steps up to n, never 0."""
    from matplotlib.ticker import MaxNLocator

    steps = [int(t) for t in MaxNLocator(nbins=most, integer=True, steps=[1, 2, 5, 10]).tick_values(1, n)]
    return sorted({1, *(t for t in steps if 1 < t <= n)})


def mlp_input_dim(n_params: int, width: int, classes: int = 10) -> int | None:
    """Input dimension d of a d-n-``classes`` MLP with biases from its parameter count (None if it is not one)."""
    d, rest = divmod(n_params - width - width * classes - classes, width)
    return d if rest == 0 and d > 0 else None


def plot_right_edge(spectra: Mapping[int, Mapping[str, np.ndarray]], path: str | Path, top: int, setting: str) -> None:
    """Seed Fig. 4: the ``top`` largest eigenvalues per width, ordered, rank ``top`` -> 1."""
    fig, axes = new_figure(1, 2, width=6.0, height=4.2)
    colors = _palette(len(spectra))
    n_shown = 1
    for i, ((width, spec), color) in enumerate(zip(sorted(spectra.items()), colors)):
        lam = np.asarray(spec["top"])[:top]
        n_shown = max(n_shown, lam.size)
        ranks = np.arange(1, lam.size + 1)
        label = (f"hidden width n = {width} (P = {int(np.asarray(spec['n_params'])):,} parameters, "
                 f"{np.asarray(spec['method']).item()} spectrum)")
        for ax in axes[0]:
            ax.plot(ranks, lam, "-", marker=MARKERS[i % len(MARKERS)], ms=3, lw=1, color=color, label=label)
    for ax, scale in zip(axes[0], ("linear", "symlog")):
        ax.set_xlim(n_shown + 0.5, 0.5)  # rank top on the left, rank 1 (the largest) on the right, as in the paper
        ax.set_xticks(rank_ticks(n_shown))
        ax.set_xlabel("rank of eigenvalue (1 = largest)")
        ax.set_ylabel("Hessian eigenvalue (loss units / parameter²)")
        if scale == "symlog":
            ax.set_yscale("symlog", linthresh=1e-4)
            shown = np.concatenate([np.asarray(s["top"])[:top] for s in spectra.values()])
            if shown.size and shown.min() > 0:  # no empty negative decades under an all-positive edge
                ax.set_ylim(shown.min() / 2, shown.max() * 2)
            ax.set_title("same eigenvalues, symmetric-log y axis")
        else:
            ax.set_title(f"top {top} eigenvalues, increasing")
    legend_below(axes[0, 0], fontsize="small")
    dims = {mlp_input_dim(int(np.asarray(s["n_params"])), int(w)) for w, s in spectra.items()}
    d = dims.pop() if len(dims) == 1 and None not in dims else None
    side = math.isqrt(d) if d else 0
    pixels = f" ({side}×{side} images)" if d and side * side == d else ""
    net = f"{d}-n-10 MLP on MNIST{pixels}" if d else "d-n-10 MLP on MNIST"
    save_figure(fig, path, f"Right edge of the Hessian spectrum, {net} ({setting})",
                f"Largest {top} eigenvalues of the exact Hessian of the training loss at the end of GD, ordered "
                "(x axis runs from rank {top} to rank 1 as in the paper). Claim: the shape of the right edge does "
                "not change as the hidden width n (and the parameter count P) grows.".replace("{top}", str(top)))


def plot_left_edge(spectra: Mapping[int, Mapping[str, np.ndarray]], path: str | Path, fraction: bool, setting: str,
                   ) -> None:
    """Seed Figs. 5 (x = rank) and 6 (x = rank / P): the negative eigenvalues, most negative first."""
    fig, axes = new_figure(1, 1, width=9.0, height=4.8)
    ax = axes[0, 0]
    colors = _palette(len(spectra))
    for i, ((width, spec), color) in enumerate(zip(sorted(spectra.items()), colors)):
        neg = _neg_part(spec)
        p = int(np.asarray(spec["n_params"]))
        exact = bool(np.asarray(spec["negative_count_exact"]))
        ranks = np.arange(1, neg.size + 1)
        x = ranks / p if fraction else ranks
        share = f"{100 * neg.size / p:.2f}% negative" if exact else f">= {neg.size} negative (Lanczos window)"
        ax.plot(x, neg, "-", marker=MARKERS[i % len(MARKERS)], markevery=max(1, neg.size // 12), ms=4, lw=1.3,
                color=color, label=f"hidden width n = {width} (P = {p:,} parameters): {share}")
    ax.set_xlabel("rank / P (fraction of all P eigenvalues, 0 = most negative)" if fraction
                  else "rank of eigenvalue (1 = most negative)")
    ax.set_ylabel("Hessian eigenvalue (loss units / parameter²)")
    ax.axhline(0.0, color="0.4", lw=0.8)
    legend_below(ax, fontsize="small")
    what = "against the fraction of the parameter count" if fraction else "by rank"
    title = "Left edge of the Hessian spectrum " + ("against rank / P" if fraction else "by rank")
    save_figure(fig, path, f"{title} (seed Fig. {6 if fraction else 5}), d-n-10 MLP on MNIST ({setting})",
                f"Negative eigenvalues (below the round-off level P·eps·|λ|max) of the same Hessians, sorted "
                f"ascending and plotted {what}. Legend: share of negative eigenvalues per width. Claim: about "
                "1.1% are negative for every width, orders of magnitude smaller than the top outliers.")


def plot_lbsb_top(specs: Mapping[str, Mapping[str, np.ndarray]], counts: Mapping[str, tuple[int, float]],
                  path: str | Path, top: int, rule: str, setting: str) -> None:
    """Seed Fig. 7: top eigenvalues of the LB and SB end points with the heuristic threshold."""
    fig, axes = new_figure(1, 1, width=9.0, height=4.8)
    ax = axes[0, 0]
    styles = {"lb": ("tab:red", "LB"), "sb": ("tab:blue", "SB")}
    for regime, spec in specs.items():
        color, name = styles[regime]
        lam = np.asarray(spec["top"])[:top]
        count, cutoff = counts[regime]
        batch = int(np.asarray(spec.get("batch_size", 0))) if "batch_size" in spec else None
        label = f"{name}{f' (batch {batch})' if batch else ''}: λmax={lam[0]:.3g}, {count} above threshold"
        ax.plot(np.arange(1, lam.size + 1), lam, "-", marker=MARKERS[len(ax.lines) % len(MARKERS)], ms=3, lw=1,
                color=color, label=label)
        ax.axhline(cutoff, color=color, ls="--", lw=0.9, label=f"{name} threshold ({rule} rule) = {cutoff:.3g}")
    ax.invert_xaxis()
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("rank of eigenvalue (1 = largest)")
    ax.set_ylabel("Hessian eigenvalue (loss units / parameter²)")
    legend_below(ax, ncol=2, fontsize="small")
    save_figure(fig, path, f"Outliers of LB vs SB, 2-conv + 2-FC convnet on MNIST ({setting})",
                f"Largest {top} eigenvalues of the exact training-loss Hessian at the end of SGD with a large batch "
                "(LB) and a small batch (SB), same lr and iteration count; dashed lines: the heuristic threshold. "
                "Claim: the same number of outliers (about the number of classes), larger for LB.")


def plot_lbsb_bottom(specs: Mapping[str, Mapping[str, np.ndarray]], path: str | Path, setting: str) -> None:
    """Seed Fig. 8: the negative edge of LB and SB against the fraction of the parameter count."""
    fig, axes = new_figure(1, 1, width=9.0, height=4.8)
    ax = axes[0, 0]
    styles = {"lb": ("tab:red", "LB"), "sb": ("tab:blue", "SB")}
    for i, (regime, spec) in enumerate(specs.items()):
        color, name = styles[regime]
        bottom = np.sort(np.asarray(spec["bottom"]))
        p = int(np.asarray(spec["n_params"]))
        x = np.arange(1, bottom.size + 1) / p
        ax.plot(x, bottom, "-", marker=MARKERS[i % len(MARKERS)], ms=3, lw=1, color=color,
                label=f"{name}: λmin={bottom[0]:.3g}, |λmax/λmin|={float(spec['top'][0]) / abs(bottom[0]):.3g}")
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel("rank / P (fraction of all P eigenvalues, 0 = most negative)")
    ax.set_ylabel("Hessian eigenvalue (loss units / parameter²)")
    legend_below(ax, fontsize="small")
    save_figure(fig, path, f"Negative eigenvalues of LB vs SB, convnet on MNIST ({setting})",
                "Smallest eigenvalues of the same Hessians (Lanczos bottom window or dense), sorted ascending, against "
                "rank / P. Claim: the negative eigenvalues are orders of magnitude smaller than the top outliers.")


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


def plot_mp_appendix(results: Mapping[str, Any], ratios: Sequence[float], two_blob_ratios: Sequence[float],
                     path: str | Path, bins: int, setting: str) -> None:
    """Appendix B figure: single-blob Hessian vs MP density; two-blob Hessian with one outlier."""
    from nnspectra.spectra.mp import mp_density, mp_edges

    fig, axes = new_figure(1, 2, width=6.2, height=4.4)
    ax = axes[0, 0]
    colors = _palette(len(ratios) + 1)
    peak = 0.0
    for ratio, color in zip(ratios, colors):
        eigs = np.asarray(results[f"single_{ratio:g}"])
        heights, _, _ = ax.hist(eigs, bins=bins, density=True, alpha=0.45, color=color,
                                label=f"Hessian, α = M/N = {ratio:g} (KS distance {float(np.asarray(results[f'ks_{ratio:g}'])):.3f})")
        peak = max(peak, float(np.max(heights)))
        a, b = mp_edges(float(ratio))
        grid = np.linspace(max(a, 1e-3), b, 400)
        ax.plot(grid, mp_density(grid, float(ratio)), color=color, lw=1.6, label=f"Marchenko-Pastur law, α = {ratio:g}")
    ax.set_ylim(0, 1.6 * peak)  # the alpha = 1 density diverges like x^(-1/2) at 0
    ax.set_xlabel("eigenvalue / mean eigenvalue (dimensionless)")
    ax.set_ylabel("density (1 / unit eigenvalue)")
    ax.set_title("one Gaussian blob, logistic regression")
    legend_below(ax)
    ax = axes[0, 1]
    colors = _palette(len(two_blob_ratios) + 1)
    styles = ("-", "--", "-.", ":")
    for i, (ratio, color) in enumerate(zip(two_blob_ratios, colors)):
        eigs = np.asarray(results[f"two_{ratio:g}"])
        positive = eigs[eigs > 1e-9 * eigs.max()]
        top = float(np.asarray(results[f"top_{ratio:g}"]))
        count = int(np.asarray(results[f"outliers_{ratio:g}"]))
        ls = styles[i % len(styles)]
        # outlines, so that a small spectrum is not hidden under a larger one
        ax.hist(positive, bins=np.logspace(np.log10(positive.min()), np.log10(eigs.max() * 1.5), bins),
                histtype="step", lw=1.6, ls=ls, color=color,
                label=f"α = d/N = {ratio:g}: {count} outlier(s), largest eigenvalue {top:.4g} (vertical line)")
        ax.axvline(top, color=color, ls=ls, lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("non-zero Hessian eigenvalue (summed loss, loss units / parameter²)")
    ax.set_ylabel("count of eigenvalues")
    ax.set_title("two Gaussian blobs, softmax regression at W = 0")
    legend_below(ax)
    save_figure(fig, path, f"Appendix B: logistic-regression Hessians and the Marchenko-Pastur law ({setting})",
                "Left: spectrum of the logistic-loss Hessian on one standard Gaussian blob (normalised by its mean "
                "eigenvalue) against the MP density with ratio α = M/N. Right: the summed Hessian for two blobs has "
                "a bulk plus one outlier (vertical lines: the largest eigenvalue) along the mean direction, larger for larger α = d/N.")
