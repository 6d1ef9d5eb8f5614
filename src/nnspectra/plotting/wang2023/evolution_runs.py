"""Reading the evolution runs for a figure: the plot seed's summary and spectra, a run's readable label, its
median curve over seeds, and one colour and marker per run shared by every panel of a figure."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnspectra.errors import ConfigError
from nnspectra.plotting import series_styles

OPTIMIZERS = {"gd": "full-batch GD", "sgd": "SGD", "adam": "Adam"}
# the scalar targets of nnspectra.data.teacher (TARGETS, CIFAR_TARGETS) in words, for titles and captions
# (here, not in the data module, so that wording never reruns training; tests keep the two in step)
TARGET_MEANINGS = {"parity": "+1 for odd class labels, -1 for even", "digit": "the digit minus 4.5",
                   "vehicle": "+1 for the 4 vehicle classes (airplane, car, ship, truck), -1 for the 6 animals"}


@dataclass(frozen=True)
class EvoPlot:
    """Config ``evolution.plot``: the seed whose spectra are drawn, histogram bins, top eigenvalues followed."""

    seed: int = 0
    bins: int = 80
    top_k: int = 5


def spectra_for(summary: Mapping[str, Any], spectra: Mapping[str, Mapping[str, np.ndarray]]) -> Mapping[str, np.ndarray]:
    """The eigenvalue arrays of the run of ``summary`` (``spectra`` is keyed by run name, plot seed only)."""
    if summary["run"] not in spectra:
        raise ConfigError(f"spectra of run {summary['run']} were not passed to the figure; check evolution.plot.seed")
    return spectra[summary["run"]]


def seed_summary(seeds: Sequence[Mapping[str, Any]], seed: int) -> Mapping[str, Any]:
    for summary in seeds:
        if summary["seed"] == seed:
            return summary
    raise ConfigError(f"evolution.plot.seed {seed} has no run; it must be one of evolution.seeds")


def final_step(summary: Mapping[str, Any]) -> int:
    return int(summary["rows"][-1]["step"])


def run_label(summary: Mapping[str, Any]) -> str:
    """What the run is, in words: optimiser and learning rate (``η*`` when the config's lr is the spike
    threshold), and whether both layers train; not the config's run id."""
    text = f"{OPTIMIZERS.get(summary['optimizer'], summary['optimizer'])}, lr {summary['lr']:.3g}"
    if str(summary.get("run", "")).endswith("eta_star"):
        text += " (= η*)"
    return text + (", both layers trained" if summary.get("train_a") else "")


def dataset_title(name: str) -> str:
    """A dataset's name as the runs record it (``CIFAR-10 vehicle``) with its scalar target in words."""
    base, _, target = name.rpartition(" ")
    meaning = TARGET_MEANINGS.get(target)
    return f"{base}: target {meaning}" if base and meaning else name


def run_styles(runs: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    """One colour and marker per run of the dataset, the same in every panel of a figure."""
    return dict(zip(runs, series_styles(len(runs))))


def median_curve(seeds: Sequence[Mapping[str, Any]], key: str | Callable[[Mapping[str, Any]], float | None],
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, median, min, max) of ``key`` (a row's column, or a function of the row) over the seeds at every
    step any seed recorded. A run that stopped early (training diverged) has no rows after its last one: later
    steps are over the seeds that reached them."""
    value = (lambda r: r[key]) if isinstance(key, str) else key
    steps = sorted({float(r["step"]) for s in seeds for r in s["rows"]})
    column = {step: i for i, step in enumerate(steps)}
    values = np.full((len(seeds), len(steps)), np.nan)
    for i, s in enumerate(seeds):
        for r in s["rows"]:
            v = value(r)
            values[i, column[float(r["step"])]] = np.nan if v is None else v
    with warnings.catch_warnings():  # a step where every seed's value is missing stays NaN (not drawn)
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(steps), np.nanmedian(values, axis=0), np.nanmin(values, axis=0), np.nanmax(values, axis=0)


def diverged_note(seeds: Sequence[Mapping[str, Any]]) -> str:
    """``"; diverged in k of n seeds"`` where training stopped early in some seeds (their summaries say why), else ``""``."""
    k = sum(1 for s in seeds if s.get("diverged"))
    return f"; diverged in {k} of {len(seeds)} seeds" if k else ""


def real_datasets(grouped: Mapping[str, Any], claims: Any) -> list[str]:
    """The real-data variants the claims (typed ``evolution.claims``) name (``real_dataset``, then
    ``also_real_datasets``) that were run; the synthetic ``dataset`` when none was."""
    named = [claims.real_dataset, *(claims.also_real_datasets or ())]
    found = [d for d in dict.fromkeys(named) if d and d in grouped]
    return found or [claims.dataset]
