"""Which exact route for a spectrum: the m x m reduction, dense, or Lanczos edges? The one place that decides
dense vs iterative: :func:`decide_method` (configured or ``auto``) over :func:`choose_spectrum_method` (the
rule), used by the Hessian spectrum (:mod:`nnspectra.curvature.spectrum`), the Lanczos front-end
(:func:`nnspectra.curvature.eigen.eigenpairs` with ``method="auto"``), the analyses of any model
(:mod:`nnspectra.analyze`) and the Ben Arous et al. matrices (:mod:`nnspectra.experiments.benarous2024.alignment`).

"Dense whenever it fits the device's budget, else Lanczos" (issue 15), preceded by the cheapest exact route
where it applies: a one-hidden-layer ReLU net under cross-entropy has every nonzero eigenvalue in an m x m
matrix (:mod:`nnspectra.curvature.reduced`), chosen when m < P and its buffers fit. The rule reads only
the sizes and the budget, never a timing, so the same config gives the same method (and bytes) on any load.

A dense spectrum needs the P x P matrix plus the eigensolver's copy of it (``torch.linalg.eigvalsh``
works on a copy; its values-only workspace is O(P)), i.e. ``copies = 2`` matrices of P^2 * itemsize
bytes, plus the workspace of the blocks of columns that build it (a fraction
:data:`nnspectra.curvature.generic.BLOCK_FRACTION` of the budget, so it always fits by construction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from nnspectra.errors import ConfigError, MemoryBudgetError
from nnspectra.resources import DEFAULT_FRACTION, GIB, memory_limit_bytes
from nnspectra.curvature.reduced import REDUCED_COPIES

#: P x P buffers at the peak of a dense spectrum (the matrix and eigvalsh's copy)
DENSE_COPIES = 2.0


@dataclass(frozen=True)
class SpectrumChoice:
    """``method`` ("dense" or "lanczos"), the bytes a dense spectrum needs, the budget, and why."""

    method: str  # "reduced", "dense" or "lanczos"
    need_bytes: int
    budget_bytes: int
    reason: str


def dense_spectrum_bytes(n_params: int, dtype: torch.dtype = torch.float64, copies: float = DENSE_COPIES) -> int:
    """Peak bytes of a dense spectrum: ``copies`` P x P matrices of ``dtype``."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    return int(copies * int(n_params) ** 2 * itemsize)


def choose_spectrum_method(n_params: int, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
                           budget_gb: float | None = None, *, available_bytes: int | None = None,
                           copies: float = DENSE_COPIES, max_dense_params: int | None = None,
                           reduced_columns: int | None = None) -> SpectrumChoice:
    """Reduced when ``reduced_columns`` m is given, m < P and its m x m buffers fit; else dense when ``copies``
    P x P matrices fit the budget (and P <= ``max_dense_params`` if given); else Lanczos.

    The budget is ``budget_gb`` GiB when given, else 80 % of ``available_bytes``, the memory a job may use
    on ``device`` (by default :func:`nnspectra.curvature.memory.memory_limit_bytes`: the GPU's total memory,
    or the RAM / cgroup / SLURM limit; never the free memory of the moment, so the choice does not move
    with the machine's load).
    """
    if n_params < 1:
        raise ValueError(f"n_params must be positive, got {n_params}")
    if budget_gb is not None:
        if not 0 < budget_gb < float("inf"):
            raise ValueError(f"memory budget must be a positive finite number, got {budget_gb} GiB; "
                             f"fix 'memory_budget_gb'")
        budget = int(budget_gb * GIB)
        source = f"budget {budget_gb:g} GiB"
    else:
        if available_bytes is None:
            avail, where = memory_limit_bytes(device)
        else:
            avail, where = int(available_bytes), "given"
        budget = int(DEFAULT_FRACTION * avail)
        source = f"{DEFAULT_FRACTION:.0%} of {avail / GIB:.2f} GiB ({where})"
    dev = torch.device(device).type
    if reduced_columns is not None and reduced_columns < n_params:
        need = dense_spectrum_bytes(reduced_columns, torch.float64, REDUCED_COPIES)
        if need <= budget:
            return SpectrumChoice("reduced", need, budget, f"exact m x m reduction, m = {reduced_columns:,} < P = "
                                  f"{n_params:,}; needs {need / GIB:.2f} GiB <= {budget / GIB:.2f} GiB on {dev} ({source})")
    need = dense_spectrum_bytes(n_params, dtype, copies)
    name = str(dtype).replace("torch.", "")
    if max_dense_params is not None and n_params > max_dense_params:
        return SpectrumChoice("lanczos", need, budget, f"P = {n_params:,} > max_dense_params = {max_dense_params:,}")
    if need > budget:
        return SpectrumChoice("lanczos", need, budget, f"dense {name} spectrum needs {need / GIB:.2f} GiB > "
                              f"{budget / GIB:.2f} GiB on {dev} ({source})")
    return SpectrumChoice("dense", need, budget, f"dense {name} spectrum needs {need / GIB:.2f} GiB <= "
                          f"{budget / GIB:.2f} GiB on {dev} ({source})")


METHODS = ("auto", "dense", "lanczos", "reduced")


def decide_method(method: str, n_params: int, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
                  budget_gb: float | None = None, *, max_dense_params: int | None = None,
                  reduced_columns: int | None = None, check_dense: bool = False) -> tuple[str, str]:
    """(method, reason): a configured ``method`` as it is, or for ``auto`` the rule of
    :func:`choose_spectrum_method` (``max_dense_params``, ``reduced_columns``: see there). With ``check_dense``
    a configured ``dense`` that does not fit the budget raises :class:`MemoryBudgetError` (one line)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        choice = choose_spectrum_method(n_params, dtype, device, budget_gb, max_dense_params=max_dense_params,
                                        reduced_columns=reduced_columns)
        return choice.method, f"method: auto -> {choice.method}: {choice.reason}"
    if method == "dense" and check_dense:
        choice = choose_spectrum_method(n_params, dtype, device, budget_gb)
        if choice.method != "dense":
            raise MemoryBudgetError(
                f"method 'dense' needs {choice.need_bytes / GIB:.2f} GiB for P = {n_params:,} "
                f"(> {choice.budget_bytes / GIB:.2f} GiB budget); use method: lanczos (top-k edges), or auto, or "
                "raise memory_budget_gb")
        return "dense", f"method: dense (configured; {choice.reason})"
    return method, f"method: {method} (configured)"


@dataclass(frozen=True)
class EdgeSettings:
    """The keys every spectrum section shares, read by :func:`decide_method` and the Lanczos edges:
    ``method`` (one of the class's ``methods``) and ``max_dense_params`` (dense vs Lanczos under ``auto``),
    the windows ``top_k`` (largest) and ``bottom_k`` (smallest), the Lanczos relative tolerance
    ``lanczos_tol`` and restart cap ``lanczos_maxiter``. Each section's class extends it with its own keys
    and sets its own defaults (:class:`nnspectra.curvature.spectrum.SpectrumSettings`,
    :class:`nnspectra.analyze.AnalysisSettings`)."""

    methods: ClassVar[tuple[str, ...]] = METHODS
    section: ClassVar[str] = "curvature"  # how an error names the section's key

    method: str = "auto"
    top_k: int = 120
    bottom_k: int = 1000
    max_dense_params: int = 30_000
    lanczos_tol: float = 1e-6
    lanczos_maxiter: int = 1000

    def __post_init__(self) -> None:
        if self.method not in self.methods:
            raise ConfigError(f"{self.section} method '{self.method}' is not one of {self.methods}")
