"""The papers' spectral analyses for any model: everything goes through the project's curvature front-end.

For the Hessian H and its Gauss-Newton part GN of the mean loss at the model's parameters (and, with
``gradient_moment``, the G-matrix G = (1/N) sum_i g_i g_i^T of the per-sample gradients):

* top-k and bottom-k of each: the dense matrix (the exact builders behind :func:`nnspectra.curvature.hessian` /
  :func:`~nnspectra.curvature.gauss_newton`, + ``eigvalsh``) when two P x P matrices fit the budget and
  P <= ``max_dense_params``, else Lanczos on :class:`~nnspectra.curvature.HessianProducts` /
  :class:`~nnspectra.curvature.GaussNewtonProducts`; the one rule is
  :func:`nnspectra.curvature.choose_spectrum_method` and its reason is recorded; the dense matrix comes from
  the operator's one ``dense_with_builder("auto")`` chain, which takes double-backward products where batch
  norm on batch statistics couples the samples or (logged) where a layer does not support the dense builders'
  torch.func transforms (e.g. an ``autograd.Function`` without ``setup_context``); how is recorded
  (``dense_builder``);
* SLQ densities (:func:`nnspectra.curvature.slq`) with their spread over probes and Hutchinson traces
  (:func:`nnspectra.curvature.hutchinson_trace`) with standard errors (plus the exact trace when dense);
* per block (parameter tensor, module, or top-level child): top-k and trace, from the blocks of the dense
  matrix, or by Lanczos / Hutchinson on the operator restricted to the block (:class:`BlockOperator`);
* outlier counts by every rule of :mod:`nnspectra.spectra.outliers`, next to the number of classes C;
* the weight ESD power-law alpha of every weight matrix (:func:`nnspectra.spectra.powerlaw.fit_power_law`);
* lambda_max of H at training snapshots (Lanczos), to set against 2 / lr.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from nnspectra.analyze.matrices import lanczos_edges_of, operator
from nnspectra.curvature import (
    HessianProducts,
    decide_method,
    eigvalsh_dense,
    hutchinson_trace,
    slq,
    top_eigenpairs,
)
from nnspectra.curvature.choose import EdgeSettings
from nnspectra.curvature.dense import batch_coupled
from nnspectra.curvature.lanczos import REORTH
from nnspectra.curvature.operators import TorchOperator, as_torch_operator
from nnspectra.curvature.spectrum import DTYPES
from nnspectra.errors import ConfigError
from nnspectra.spectra.outliers import RULES, count_outliers

log = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
METHODS = ("auto", "dense", "lanczos")
BLOCKINGS = ("parameter", "module", "top", "none")


@dataclass(frozen=True)
class AnalysisSettings(EdgeSettings):
    """What to compute (config ``analyze.studies.<name>.analysis``): the shared keys of
    :class:`~nnspectra.curvature.choose.EdgeSettings` (with this section's defaults) and the estimators';
    see the schema for each key."""

    methods: ClassVar[tuple[str, ...]] = METHODS
    section: ClassVar[str] = "analysis"

    top_k: int = 20
    bottom_k: int = 5
    max_dense_params: int = 5000
    lanczos_maxiter: int = 200
    slq_reorth: str = "full"
    slq_probes: int = 5
    slq_steps: int = 60
    trace_probes: int = 50
    blocks: str = "module"
    block_top_k: int = 3
    block_trace_probes: int = 20
    outlier_tau: float = 2.0
    powerlaw_min_tail: int = 10
    snapshot_tol: float = 1e-4
    gradient_moment: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.slq_reorth not in REORTH:
            raise ConfigError(f"analysis slq_reorth '{self.slq_reorth}' is not one of {list(REORTH)}")
        if self.blocks not in BLOCKINGS:
            raise ConfigError(f"analysis blocks '{self.blocks}' is not one of {BLOCKINGS}")


class BlockOperator(TorchOperator):
    """The diagonal block ``A[idx][:, idx]`` of a torch operator: embed, multiply, restrict (one product of A each)."""

    def __init__(self, op: TorchOperator, index: torch.Tensor):
        self.op = op
        self.index = index.to(op.device)
        self.size = int(index.numel())
        self.dtype = op.dtype
        self.device = op.device
        self.n_products = 0

    def _matmat(self, vecs: torch.Tensor) -> torch.Tensor:
        full = torch.zeros(vecs.shape[0], self.op.size, dtype=self.dtype, device=self.device)
        full[:, self.index] = vecs
        self.n_products += vecs.shape[0]
        return self.op.matmat(full)[:, self.index]


def parameter_blocks(model: torch.nn.Module, by: str) -> dict[str, np.ndarray]:
    """Indices into the flat parameter vector (``named_parameters`` order) of each block: every parameter
    tensor (``parameter``), every module owning parameters (``module``: ``layer1.0.conv1``) or every
    top-level child (``top``: ``layer1``)."""
    blocks: dict[str, list[np.ndarray]] = {}
    offset = 0
    for name, p in model.named_parameters():
        n = p.numel()
        if by == "parameter":
            key = name
        elif by == "module":
            key = name.rsplit(".", 1)[0] if "." in name else name
        else:
            key = name.split(".", 1)[0]
        blocks.setdefault(key, []).append(np.arange(offset, offset + n))
        offset += n
    return {k: np.concatenate(v) for k, v in blocks.items()}


def _stderr(std: float, n: int) -> float:
    return float(std / math.sqrt(n)) if n > 1 else float("nan")


def _outliers(top_desc: np.ndarray, n_classes: int, tau: float) -> dict[str, Any]:
    """Every counting rule on the top eigenvalues (descending), next to C."""
    lam = np.asarray(top_desc, dtype=np.float64)
    window = int(min(lam.size, 120))
    counts = {}
    for rule in RULES:
        kw: dict[str, Any] = {"top": window}
        if rule == "edge":
            kw["tau"] = tau
        try:
            c = count_outliers(lam, rule, **kw)
            counts[rule] = {"count": int(c.count), "cutoff": float(c.cutoff)}
        except Exception as err:  # a rule that cannot apply to this window (e.g. no positive eigenvalues)
            counts[rule] = {"count": None, "cutoff": None, "note": str(err).splitlines()[0]}
    return {"n_classes": int(n_classes), "window": window, "rules": counts,
            "note": "" if lam.size > n_classes else f"only {lam.size} top eigenvalues: raise top_k above C"}


def choose_method(n_params: int, settings: AnalysisSettings, dtype: torch.dtype, budget_gb: float | None,
                  device: torch.device | str) -> tuple[str, str]:
    """(dense | lanczos, reason): configured (a dense that does not fit raises), or by the project's one rule
    (:func:`nnspectra.curvature.decide_method`) for ``auto``."""
    return decide_method(settings.method, n_params, dtype, device, budget_gb,
                         max_dense_params=None if settings.method != "auto" else int(settings.max_dense_params),
                         check_dense=True)


def analyze_curvature(model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, n_classes: int,
                      settings: AnalysisSettings, dtype: str = "float64", seed: int = 0,
                      budget_gb: float | None = None, device: torch.device | str = "cpu",
                      ) -> tuple[dict[str, Any], dict[str, np.ndarray], list[dict[str, Any]]]:
    """H and GN (and G) of the mean loss at ``model``'s parameters: (record, arrays, per-block rows).

    The record holds the method and its reason, top/bottom eigenvalues, traces (estimate, standard error,
    exact when dense), outlier counts next to C and timings; the arrays the eigenvalues and SLQ densities
    (``H_*`` / ``GN_*``); the rows one dict per (matrix, block).
    """
    tdtype = DTYPES[dtype]
    p = sum(t.numel() for t in model.parameters())
    method, reason = choose_method(p, settings, tdtype, budget_gb, device)
    log.info("curvature of P = %d parameters on N = %d samples: %s", p, len(x), reason)
    blocks = parameter_blocks(model, settings.blocks) if settings.blocks != "none" else {}
    modules = dict(model.named_modules())
    block_types = {b: type(modules[b]).__name__ if b in modules else "parameter" for b in blocks}
    record: dict[str, Any] = {"n_params": p, "n_samples": int(len(x)), "method": method, "method_reason": reason,
                              "dtype": dtype, "seconds": {}}
    arrays: dict[str, np.ndarray] = {}
    rows: list[dict[str, Any]] = []
    kinds = ("H", "GN", "G") if settings.gradient_moment else ("H", "GN")
    if settings.gradient_moment and batch_coupled(model):
        raise ConfigError("analysis.gradient_moment needs per-sample gradients, which batch norm on batch statistics "
                          "(bn_dropout: train) does not have; use bn_dropout: eval or gradient_moment: false")
    for kind in kinds:
        t0 = time.perf_counter()
        entry: dict[str, Any] = {}
        if method == "dense":
            mat, entry["dense_builder"] = operator(kind, model, loss_fn, x, y, tdtype, device).dense_with_builder(
                "auto", budget_gb=budget_gb)
            mat = mat.to(torch.float64)
            entry["edges_how"] = "dense eigvalsh: every eigenvalue (top-k and bottom-k read off)"
            eigs = np.asarray(eigvalsh_dense(mat), dtype=np.float64)
            arrays[f"{kind}_eigenvalues"] = eigs
            top, bottom = eigs[::-1][: settings.top_k].copy(), eigs[: settings.bottom_k].copy()
            entry["trace_exact"] = float(torch.trace(mat))
            op: TorchOperator = as_torch_operator(mat)
            for bname, idx in blocks.items():
                ti = torch.as_tensor(idx)
                sub = mat[ti][:, ti]
                beigs = np.asarray(eigvalsh_dense(sub), dtype=np.float64)[::-1]
                rows.append({"matrix": kind, "block": bname, "type": block_types[bname], "size": int(idx.size), "how": "dense block",
                             "top": beigs[: settings.block_top_k].tolist(), "trace": float(torch.trace(sub)),
                             "trace_stderr": 0.0})
        else:
            op = operator(kind, model, loss_fn, x, y, tdtype, device)
            top, bottom, entry["edges_how"] = lanczos_edges_of(
                kind, op, len(x), n_classes, settings.top_k, settings.bottom_k, settings.lanczos_tol, seed,
                settings.lanczos_maxiter)
            for bname, idx in blocks.items():
                bop = BlockOperator(op, torch.as_tensor(idx))
                btop: list[float] = []
                if settings.block_top_k > 0 and bop.size > settings.block_top_k + 1:
                    btop = top_eigenpairs(bop, settings.block_top_k, tol=settings.lanczos_tol, seed=seed,
                                          return_vectors=False, maxiter=settings.lanczos_maxiter,
                                          on_no_convergence="partial")[0].tolist()
                elif settings.block_top_k > 0:
                    btop = np.asarray(eigvalsh_dense(bop.dense()))[::-1][: settings.block_top_k].tolist()
                tr = hutchinson_trace(bop, settings.block_trace_probes, seed=seed)
                rows.append({"matrix": kind, "block": bname, "type": block_types[bname], "size": int(idx.size),
                             "how": "Lanczos + Hutchinson",
                             "top": btop, "trace": tr.mean, "trace_stderr": _stderr(tr.std, settings.block_trace_probes)})
        arrays[f"{kind}_top"], arrays[f"{kind}_bottom"] = np.asarray(top), np.asarray(bottom)
        tr = hutchinson_trace(op, settings.trace_probes, seed=seed)
        entry.update(top=np.asarray(top).tolist(), bottom=np.asarray(bottom).tolist(), lambda_max=float(top[0]),
                     trace=tr.mean, trace_stderr=_stderr(tr.std, settings.trace_probes),
                     trace_probes=settings.trace_probes)
        arrays[f"{kind}_trace_samples"] = tr.samples
        density = slq(op, settings.slq_probes, settings.slq_steps, seed=seed, block=1, reorth=settings.slq_reorth,
                      budget_gb=budget_gb)
        arrays[f"{kind}_grid"], arrays[f"{kind}_density"] = density.grid, density.density
        arrays[f"{kind}_density_per_probe"] = density.density_per_probe
        entry["slq"] = {"probes": settings.slq_probes, "steps": density.n_steps, "sigma": density.sigma,
                        "trace_mean": density.trace_mean, "trace_std": density.trace_std}
        spectrum = arrays.get(f"{kind}_eigenvalues")
        entry["outliers"] = _outliers(spectrum[::-1] if spectrum is not None else np.asarray(top), n_classes,
                                      settings.outlier_tau)
        entry["seconds"] = time.perf_counter() - t0
        record[kind] = entry
        log.info("%s: lambda_max %.5g, trace %.5g +- %.2g, outliers (gap) %s vs C = %d (%.1f s)", kind,
                 entry["lambda_max"], entry["trace"], entry["trace_stderr"],
                 entry["outliers"]["rules"]["gap"]["count"], n_classes, entry["seconds"])
    return record, arrays, rows


def lambda_max_over_snapshots(snapshots: Sequence[tuple[int, Mapping[str, torch.Tensor]]], model: torch.nn.Module,
                              loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, dtype: str = "float64",
                              tol: float = 1e-4, seed: int = 0, device: torch.device | str = "cpu",
                              maxiter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(steps, lambda_max of H) at each (step, state dict) snapshot, by Lanczos on HessianProducts."""
    steps, values = [], []
    for step, state in snapshots:
        model.load_state_dict(state)
        op = HessianProducts(model, loss_fn, x, y, dtype=DTYPES[dtype], device=device)
        lam = top_eigenpairs(op, 1, tol=tol, seed=seed, return_vectors=False, maxiter=maxiter,
                             on_no_convergence="partial")[0]
        steps.append(int(step))
        values.append(float(lam[0]) if lam.size else float("nan"))
        log.info("snapshot step %d: lambda_max %.5g", step, values[-1])
    return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)
