"""Training loops shared by every experiment: full-batch GD, mini-batch SGD and Adam.

Batches follow the schedule of the paper's official code by default (cyclic, fixed order) or are
shuffled each epoch / drawn with replacement. Training stops when the gradient norm of the current
(mini-)batch falls to ``grad_norm_tol`` (as in the official code of Sagun et al.) or after
``max_iterations``. Training stops with :class:`DivergenceError` (one line naming the config key) when the
loss is not finite, or when the batch loss stays above ``divergence_factor`` times its initial value for
``divergence_steps`` consecutive steps (a finite blow-up: lr 1e8 drives the loss to 1e7 and accuracy to
chance without ever overflowing), and when the loss or gradient collapses to exactly zero or the
parameters become non-finite (saturation, not convergence: :func:`nnspectra.training.divergence.check_collapse`).
Before the first step a memory guard checks parameters, gradients, optimiser state and one batch's saved
activations against the job's memory (:func:`nnspectra.resources.check_training_fits`). Long runs can save a
checkpoint every ``checkpoint_every`` steps and resume from it with identical results.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from nnspectra.errors import DivergenceError, NnspectraError
from nnspectra.resources import check_training_fits
from nnspectra.training.checkpoint import load_checkpoint, report_checkpoint, save_checkpoint
from nnspectra.training.divergence import DivergenceMonitor
from nnspectra.training.fast_mlp import fast_gradient_for
from nnspectra.training.settings import LOOP_NAMES

log = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]

SCHEDULES = ("cyclic", "shuffle", "replacement")
OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainConfig:
    """Optimiser settings. ``batch_size=None`` (or >= N) means full-batch gradient descent."""

    lr: float = 0.1
    optimizer: str = "sgd"
    batch_size: int | None = None
    schedule: str = "cyclic"
    max_iterations: int = 1_000_000
    grad_norm_tol: float | None = 1e-4
    log_every: int = 100
    momentum: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    seed: int = 0
    checkpoint_every: int | None = None
    checkpoint_path: str | None = None
    progress: bool = True
    divergence_factor: float | None = 10.0  # None: only a non-finite loss counts as divergence
    divergence_steps: int = 20  # consecutive steps above divergence_factor x the initial loss
    divergence_floor: float = 0.0  # lower bound of the initial loss (a run continuing another one)
    memory_budget_gb: float | None = None  # training memory guard (None: 80% of the job's memory limit)
    config_key: str = ""  # dotted config section of these settings, named in error messages

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> TrainConfig:
        """The loop settings of one config section's typed settings (a dataclass, usually a
        :class:`~nnspectra.training.settings.TrainSettings`): every field named like a loop setting (or
        renamed by :data:`~nnspectra.training.settings.LOOP_NAMES`) is taken over; the rest belong to the
        experiment. ``overrides`` set what the call decides (seed, batch size of a regime, ``config_key``)."""
        loop = {f.name for f in fields(cls)}
        values = {LOOP_NAMES.get(f.name, f.name): getattr(settings, f.name) for f in fields(settings)}
        return cls(**{**{k: v for k, v in values.items() if k in loop}, **overrides})

    def __post_init__(self) -> None:
        # one type per setting whatever the section's YAML wrote (1 or 1.0), so equal settings fingerprint alike
        self.lr, self.max_iterations, self.log_every = float(self.lr), int(self.max_iterations), int(self.log_every)
        self.divergence_steps, self.seed = int(self.divergence_steps), int(self.seed)
        self.batch_size = None if self.batch_size is None else int(self.batch_size)
        if self.optimizer not in OPTIMIZERS:
            raise NnspectraError(f"optimizer '{self.optimizer}' is not one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise NnspectraError(f"batch schedule '{self.schedule}' is not one of {SCHEDULES}")
        if not self.lr > 0:
            raise NnspectraError(f"learning rate must be > 0, got {self.lr}")
        if self.divergence_factor is not None and not self.divergence_factor > 1:
            raise NnspectraError(f"{self.key('divergence_factor')} must be > 1 (or null to switch the check off), "
                                 f"got {self.divergence_factor}")
        if int(self.divergence_steps) < 1:
            raise NnspectraError(f"{self.key('divergence_steps')} must be >= 1, got {self.divergence_steps}")

    def key(self, name: str) -> str:
        """The dotted config key of setting ``name`` (``config_key`` names the section, e.g. ``blobs.train``)."""
        return f"{self.config_key}.{name}" if self.config_key else name


@dataclass
class TrainResult:
    """Outcome of :func:`train`: the history rows and why training stopped."""

    history: list[dict[str, float]] = field(default_factory=list)
    iterations: int = 0
    converged: bool = False
    final_grad_norm: float = math.nan


class BatchSampler:
    """Index batches for cyclic (fixed order), shuffled-per-epoch or with-replacement schedules."""

    def __init__(self, n: int, batch_size: int | None, schedule: str, generator: torch.Generator) -> None:
        self.n = n
        self.batch_size = n if batch_size is None or batch_size >= n else int(batch_size)
        self.schedule = schedule
        self.generator = generator
        self._order = torch.arange(n)
        self._cursor = 0

    @property
    def full_batch(self) -> bool:
        return self.batch_size == self.n

    def next(self) -> torch.Tensor | None:
        """Indices of the next batch (None for full batch)."""
        if self.full_batch:
            return None
        if self.schedule == "replacement":
            return torch.randint(0, self.n, (self.batch_size,), generator=self.generator)
        if self._cursor + self.batch_size > self.n:
            self._cursor = 0
        if self._cursor == 0 and self.schedule == "shuffle":
            self._order = torch.randperm(self.n, generator=self.generator)
        idx = self._order[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {"order": self._order.clone(), "cursor": self._cursor, "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._order, self._cursor = state["order"], state["cursor"]
        self.generator.set_state(state["rng"])


def grad_norm(model: torch.nn.Module) -> float:
    """Euclidean norm of the gradient over all parameters."""
    total = torch.zeros((), dtype=torch.float64)
    for p in model.parameters():
        if p.grad is not None:
            total += p.grad.detach().double().pow(2).sum().cpu()
    return float(total.sqrt())


def _make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def run_fingerprint(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig) -> str:
    """Hash of what determines a run: optimiser settings, initial parameters and data.

    A checkpoint is resumed only when its fingerprint matches, so a checkpoint left by a run with
    another config, seed or dataset is never continued by mistake.
    """
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("checkpoint_path", "progress")}
    digest = hashlib.sha256(repr(sorted(settings.items())).encode())
    for tensor in [*model.state_dict().values(), inputs, targets]:
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())  # hashes the buffer in place
    return digest.hexdigest()[:16]


#: the optimiser's per-parameter state, in copies of the parameters (SGD with momentum: 1; Adam: 2)
def _state_copies(cfg: TrainConfig) -> int:
    return 2 if cfg.optimizer == "adam" else int(cfg.momentum != 0)


def training_bytes(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor,
                   batch: int, cfg: TrainConfig) -> int:
    """Estimated peak bytes of one training step beyond the data: parameters, gradients and optimiser state,
    plus the tensors autograd saves for a batch of ``batch`` (measured with saved-tensor hooks on a forward
    of a few samples in eval mode, so nothing of the run changes, and scaled to the batch)."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    probe = max(1, min(batch, 4))
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}  # counted once, below
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            ptr = t.untyped_storage().data_ptr()
            if ptr not in weights:
                seen[ptr] = t.untyped_storage().nbytes()
        except (RuntimeError, NotImplementedError):
            pass
        return t

    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss_fn(model(inputs[:probe].clone()), targets[:probe].clone())
    finally:
        model.train(was_training)
    return int(params * (2 + _state_copies(cfg)) + sum(seen.values()) * batch / probe)


def train(
    model: torch.nn.Module,
    loss_fn: LossFn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    cfg: TrainConfig,
    evaluate: EvalFn | None = None,
    on_log: Callable[[int, torch.nn.Module], None] | None = None,
    desc: str = "train",
    deadline: float | None = None,
) -> TrainResult:
    """Train ``model`` in place on (inputs, targets) and return its history.

    Every ``cfg.log_every`` steps (and at the end) a history row records the step, the loss and
    gradient norm of the current batch, and whatever ``evaluate(model)`` returns (e.g. full-set
    loss/accuracy); ``on_log(step, model)`` may save checkpoints of the trajectory. With a checkpoint
    and a ``deadline`` (epoch seconds; the run's ``max_hours``), the first checkpoint written after the
    deadline ends the run with :class:`TimeBudgetReached`; calling again with the same settings continues.
    """
    gen = torch.Generator().manual_seed(int(cfg.seed))
    sampler = BatchSampler(len(inputs), cfg.batch_size, cfg.schedule, gen)
    need = training_bytes(model, loss_fn, inputs, targets, sampler.batch_size, cfg)
    check_training_fits(need, f"training '{desc}' ({sum(p.numel() for p in model.parameters()):,} parameters, "
                              f"batch {sampler.batch_size})", cfg.memory_budget_gb, inputs.device,
                        fix=f"lower the batch size or the width under {cfg.config_key or 'the training settings'}")
    opt = _make_optimizer(model, cfg)
    # plain MLPs under cross-entropy get their gradients without autograd's overhead, bit-for-bit the same
    fast_gradient = fast_gradient_for(model, loss_fn, targets)
    result = TrainResult()
    start = 0
    ckpt = Path(cfg.checkpoint_path) if cfg.checkpoint_path else None
    fingerprint = run_fingerprint(model, inputs, targets, cfg) if ckpt is not None else ""
    state = None
    monitor = DivergenceMonitor(cfg, sampler.batch_size)
    if ckpt is not None and ckpt.exists():
        device = next(model.parameters()).device
        state = load_checkpoint(ckpt, fingerprint, device)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sampler.load_state_dict(state["sampler"])
        result.history = state["history"]
        start = state["step"]
        monitor.reference = state.get("divergence", {}).get("reference")
        monitor.streak = int(state.get("divergence", {}).get("streak", 0))
        log.info("resumed from checkpoint %s at step %d", ckpt, start)

    def record(step: int, loss: float, gnorm: float) -> None:
        row = {"step": step, "batch_loss": loss, "batch_grad_norm": gnorm}
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                row.update(evaluate(model))
            model.train()
        result.history.append(row)
        if on_log is not None:
            on_log(step, model)

    if start == 0 and cfg.log_every:
        with torch.no_grad():
            loss0 = float(loss_fn(model(inputs), targets))
        record(0, loss0, math.nan)
        monitor.start(loss0)

    model.train()
    started = time.time()
    bar = tqdm(total=cfg.max_iterations, initial=start, desc=desc, mininterval=5.0, disable=not cfg.progress)
    step, loss_value, gnorm = start, math.nan, math.nan
    for step in range(start + 1, cfg.max_iterations + 1):
        idx = sampler.next()
        xb, yb = (inputs, targets) if idx is None else (inputs[idx], targets[idx])
        opt.zero_grad(set_to_none=True)
        if fast_gradient is not None:
            loss = fast_gradient(xb, yb)
        else:
            loss = loss_fn(model(xb), yb)
            loss.backward()
        loss_value = float(loss.detach())
        try:
            monitor.update(step, loss_value)
        except DivergenceError:
            bar.close()
            if ckpt is not None:  # a diverged run is not worth resuming
                ckpt.unlink(missing_ok=True)
            raise
        gnorm = grad_norm(model)
        converged = cfg.grad_norm_tol is not None and gnorm <= cfg.grad_norm_tol
        # an exact zero is saturation, not convergence (training/divergence.py); a mini-batch's loss may round
        # to 0 in float32 on a memorised set (margins > 17), its gradient only when the units saturate
        if gnorm == 0.0 or (loss_value == 0.0 and sampler.full_batch):
            try:
                monitor.check_collapse(step, loss_value, gnorm)
            except DivergenceError:
                bar.close()
                if ckpt is not None:
                    ckpt.unlink(missing_ok=True)
                raise
        if converged:
            # stop at a point whose gradient norm satisfies the criterion (no further update)
            result.converged = True
            break
        opt.step()
        if cfg.log_every and step % cfg.log_every == 0:
            record(step, loss_value, gnorm)
            bar.update(cfg.log_every)
            bar.set_postfix(loss=f"{loss_value:.3g}", grad=f"{gnorm:.2g}", refresh=False)
        if ckpt is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            save_checkpoint(ckpt, fingerprint, step, model, opt, sampler, result, monitor)
            report_checkpoint(desc, ckpt, step, start, cfg.max_iterations, started, deadline)
    bar.close()
    result.iterations = step - 1 if result.converged else step
    result.final_grad_norm = gnorm
    if not result.history or result.history[-1]["step"] != step:
        record(step, loss_value, gnorm)
    if ckpt is not None:
        ckpt.unlink(missing_ok=True)  # finished or diverged: nothing to resume
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    if not finite:
        monitor.check_collapse(step, loss_value, gnorm, params_finite=False)
    monitor.check_end(step, float(result.history[-1].get("train_loss", loss_value)))
    log.info("%s stopped after %d steps (converged=%s, grad norm %.3g, batch loss %.4g)",
             desc, step, result.converged, gnorm, loss_value)
    return result
