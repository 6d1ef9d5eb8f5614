"""Dense Hessian of any ``nn.Module`` from batched products, layer-block triangular, on CPU or CUDA.

For the parameters of layer group b (weight and bias of one module) the columns H[b:, b] come from
products whose tangents enter at group b and whose gradient is taken w.r.t. groups >= b only, so the
passes skip every layer before b (for a convnet, the columns of the fully connected layers never touch
a convolution). The upper block triangle is filled, then mirrored (Sagun et al. 2018 eq. 1: the
Hessian of the mean loss).

Four ways to get a block of columns, all exact, each with its own rounding; ``strategy="auto"`` picks one
per group by a fixed rule (:func:`auto_strategy`, from the layer type and the block size only, so the
same model and budget give the same bytes whatever the machine's load); ``strategy="timed"`` (for
benchmarks) instead TIMES the first blocks with each and keeps the fastest (the jvp variants on a full
block, the double-backward variants on a short trial block), which is not reproducible bit for bit. The
choice (and any timings) is logged and returned in ``info``:

* ``"output_jvp"``: for a Linear or Conv2d layer of a plain ``nn.Sequential``, forward-over-reverse from
  the layer's OUTPUT, whose tangents are written in closed form (patch rows), then one GEMM for the
  layer's own rows (:mod:`nnspectra.curvature.layer_tangent`); replaces ``"jvp"`` in the timing
  where it applies (elsewhere it falls back to ``"jvp"``, and the log says why);
* ``"jvp"``: forward-over-reverse, ``vmap`` over the basis vectors of a block (one pass for the block);
* ``"double_backward"``: the autograd graph of the group's gradient is built once, then each column is
  one backward pass through it (no repeated forward/backward of the primal);
* ``"double_backward_batched"``: the same, all columns of a block in one vmapped backward
  (``is_grads_batched``).

Measured on one CPU thread, float64, SPEC §1.7 convnet (P = 11,978, N = 1,000), CPU ms per column
(conv1 / conv2 / fc1 group, idle machine, blocks of 22 / 87 / 420): output_jvp 351 / 34 / 1.75, jvp
401 / 54 / 2.6, double_backward 449 / 195 / 1.28, batched 505 / 210 / 1.29: the whole Hessian in
178 CPU-s with output_jvp (268 s without it). No single method wins every group, and the winner moves
with the block size and the load; the fixed rule of ``auto`` follows these measurements (convolutions:
output_jvp, else jvp; other layers: double backward over several blocks, the one-block shortcut below).
``timed`` uses process CPU time on the CPU and synchronised wall time on CUDA. Float64 convolutions on the
CPU run at 6-30 GFLOP/s (no MKL-DNN float64 path; the per-image im2col of the slow path dominates), so the
conv columns dominate there.

Block size (columns per block) comes from the memory budget: the bytes the group's graph saves
(measured with saved-tensor hooks while it is built) times a safety factor, per column, within half the
budget and at most ``MAX_BLOCK_BYTES`` (bigger blocks only add memory traffic).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import torch
from torch.func import functional_call, vmap

from nnspectra.curvature.layer_tangent import LayerOutputColumns, output_tangent_plan

log = logging.getLogger(__name__)
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
STRATEGIES = ("auto", "timed", "output_jvp", "jvp", "double_backward", "double_backward_batched")
#: bytes per column of a vmapped block, as a multiple of the bytes the group's gradient graph saves
#: (measured on the SPEC §1.7 convnet, CPU: ~0.8x for the conv2 columns; 1.5x leaves a margin)
PER_COLUMN_FACTOR = 1.5
#: fraction of the memory budget (after the P x P result) that one block may use
BLOCK_FRACTION = 0.5
MAX_BLOCK = 512
#: cap on one block's estimated working set, whatever the budget: larger blocks run SLOWER per column on
#: the CPU (SPEC §1.7 convnet, conv1 columns by output_jvp: 309 ms at 22 per block (~4 GB), 494 ms at 50)
MAX_BLOCK_BYTES = 4 * 2**30
#: a progress line at most this often within one layer group (a conv group takes minutes on a CPU)
PROGRESS_SECONDS = 60.0


def parameter_groups(model: torch.nn.Module) -> list[list[str]]:
    """Parameter names grouped by owning module (weight and bias of a layer together), in parameter order."""
    groups: list[list[str]] = []
    owner_prev = None
    for name, _ in model.named_parameters():
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        if groups and owner == owner_prev:
            groups[-1].append(name)
        else:
            groups.append([name])
        owner_prev = owner
    return groups


def auto_strategy(module: torch.nn.Module, output_jvp_applies: bool, n_block: int, step: int) -> str:
    """The column strategy ``auto`` uses for a layer group: a fixed rule from the measurements in the module
    docstring (docs/performance.md), never a timing. Convolutions: ``output_jvp`` where it applies, else
    ``jvp`` (both well ahead of double backward on conv columns); a group done in one block: ``output_jvp``
    where it applies, else the batched double backward (one vmapped pass); any other group: double backward
    (the cheapest per column on the fully connected layer, 1.28 vs 1.75 ms)."""
    if isinstance(module, torch.nn.modules.conv._ConvNd):
        return "output_jvp" if output_jvp_applies else "jvp"
    if n_block <= step:
        if output_jvp_applies:
            return "output_jvp"
        return "double_backward_batched" if step > 1 else "double_backward"
    return "double_backward"


def _clock(device: torch.device) -> float:
    """Seconds for timing the strategies: GPU wall time (after a sync) on CUDA, process CPU time on the CPU
    (robust to other jobs sharing the machine)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return time.perf_counter()
    return time.process_time()


class _Group:
    """One layer group b: its parameters, the tail (groups >= b) and the column producers."""

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor,
                 params: dict[str, torch.Tensor], head: list[str], block: list[str], tail: list[str]):
        self.model, self.loss_fn, self.inputs, self.targets = model, loss_fn, inputs, targets
        self.params, self.head, self.block, self.tail = params, head, block, tail
        self.buffers = dict(model.named_buffers())
        self.sizes = [params[n].numel() for n in block]
        self.n_block = sum(self.sizes)
        self.n_tail = sum(params[n].numel() for n in tail)
        self._graph: tuple | None = None
        self.saved_bytes = 0
        plan = output_tangent_plan(model, block)
        self.output_jvp_reason = plan if isinstance(plan, str) else None  # why output_jvp does not apply
        self._plan = None if isinstance(plan, str) else plan
        self._layer: LayerOutputColumns | None = None

    # -- double backward: graph of the block's gradient w.r.t. the tail parameters, built once
    def graph(self) -> tuple:
        if self._graph is None:
            leaves = {n: self.params[n].detach().clone().requires_grad_(True) for n in self.tail}
            seen: dict[int, int] = {}

            def pack(t: torch.Tensor) -> torch.Tensor:
                try:
                    seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
                except (RuntimeError, NotImplementedError):
                    pass
                return t

            with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                full = {**{n: self.params[n] for n in self.head}, **leaves}
                loss = self.loss_fn(functional_call(self.model, (full, self.buffers), (self.inputs,)), self.targets)
                grads = torch.autograd.grad(loss, [leaves[n] for n in self.block], create_graph=True,
                                            allow_unused=True) if loss.requires_grad else [None] * len(self.block)
                flat = torch.cat([torch.zeros_like(leaves[n]).reshape(-1) if g is None else g.reshape(-1)
                                  for g, n in zip(grads, self.block)])
            self.saved_bytes = sum(seen.values())
            self._graph = (flat, [leaves[n] for n in self.tail])
        return self._graph

    def release(self, keep: str | None = None) -> None:
        """Free the kept gradient graph and the layer-output state, except what ``keep`` (a strategy) uses."""
        if keep is None or keep.endswith("jvp"):
            self._graph = None
        if keep != "output_jvp":
            self._layer = None

    def columns_double_backward(self, basis: torch.Tensor, batched: bool) -> torch.Tensor:
        flat, leaves = self.graph()
        if not flat.requires_grad:  # the loss does not depend on this group (e.g. an unused layer)
            return torch.zeros(basis.shape[0], self.n_tail, dtype=basis.dtype, device=basis.device)
        with torch.enable_grad():
            if batched and basis.shape[0] > 1:
                grads = torch.autograd.grad(flat, leaves, basis, retain_graph=True, is_grads_batched=True,
                                            allow_unused=True)
                k = basis.shape[0]
                return torch.cat([torch.zeros(k, x.numel(), dtype=basis.dtype, device=basis.device) if g is None
                                  else g.reshape(k, -1) for g, x in zip(grads, leaves)], dim=1)
            rows = []
            for vec in basis:
                grads = torch.autograd.grad(flat, leaves, vec, retain_graph=True, allow_unused=True)
                rows.append(torch.cat([torch.zeros_like(x).reshape(-1) if g is None else g.reshape(-1)
                                       for g, x in zip(grads, leaves)]))
            return torch.stack(rows)

    # -- forward over reverse, vmapped over the block of basis vectors
    def columns_jvp(self, basis: torch.Tensor) -> torch.Tensor:
        head = {n: self.params[n] for n in self.head}
        rest = {n: self.params[n] for n in self.tail if n not in self.block}
        block0 = {n: self.params[n] for n in self.block}
        model, buffers, loss_fn, inputs, targets = self.model, self.buffers, self.loss_fn, self.inputs, self.targets
        tail, names, sizes = self.tail, self.block, self.sizes

        def tail_loss(tail_params: dict[str, torch.Tensor]) -> torch.Tensor:
            return loss_fn(functional_call(model, ({**head, **tail_params}, buffers), (inputs,)), targets)

        grad_tail = torch.func.grad(tail_loss)

        def grad_of_block(block: dict[str, torch.Tensor]) -> torch.Tensor:
            grads = grad_tail({**rest, **block})
            return torch.cat([grads[n].reshape(-1) for n in tail])

        def column(v: torch.Tensor) -> torch.Tensor:
            tangent = {n: piece.view_as(block0[n]) for n, piece in zip(names, v.split(sizes))}
            return torch.func.jvp(grad_of_block, (block0,), (tangent,))[1]

        return vmap(column)(basis)

    def columns(self, strategy: str, start: int, stop: int) -> torch.Tensor:
        """Rows H[j, b:] for the group's parameters j in [start, stop)."""
        if strategy == "output_jvp":
            if self._layer is None:
                index, leaves = self._plan  # type: ignore[misc]
                self._layer = LayerOutputColumns(leaves, index, self.loss_fn, self.inputs, self.targets, self.params,
                                                 self.tail[len(self.block):])
            return self._layer.columns(start, stop)
        first = self.params[self.block[0]]
        basis = torch.zeros(stop - start, self.n_block, dtype=first.dtype, device=first.device)
        basis[torch.arange(stop - start), torch.arange(start, stop)] = 1
        if strategy == "jvp":
            return self.columns_jvp(basis)
        return self.columns_double_backward(basis, batched=(strategy == "double_backward_batched"))


def hessian_any(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
                budget: int, chunk: int | None = None, strategy: str = "auto",
                info: dict | None = None) -> torch.Tensor:
    """Dense P x P Hessian of the mean loss of any module (parameters, data: the dtype/device to use).

    ``budget``: bytes that may be used beyond the result (sets the columns per block); ``chunk``: at most
    this many columns per block (fewer when the budget requires: a fixed chunk of 256 conv1 columns of the
    SPEC §1.7 convnet would need ~45 GB); ``strategy``: one of :data:`STRATEGIES` (module docstring).
    ``info`` (optional dict) receives, per group, the strategy used, block size and seconds per column.
    """
    from nnspectra.curvature.mlp import symmetrize_from_upper

    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    params = {n: p.detach() for n, p in model.named_parameters()}
    groups = parameter_groups(model)
    first = next(iter(params.values()))
    dtype, device = first.dtype, first.device
    p_total = sum(p.numel() for p in params.values())
    out = torch.empty(p_total, p_total, dtype=dtype, device=device)
    report = [] if info is None else info.setdefault("groups", [])
    row0 = 0
    for b, block in enumerate(groups):
        head = [n for g in groups[:b] for n in g]
        tail = [n for g in groups[b:] for n in g]
        grp = _Group(model, loss_fn, inputs, targets, params, head, block, tail)
        n_block = grp.n_block
        grp.graph()  # measures the bytes this group's graph saves
        per_col = PER_COLUMN_FACTOR * max(grp.saved_bytes, 8 * (grp.n_tail + inputs.numel()))
        workspace = min(BLOCK_FRACTION * budget, MAX_BLOCK_BYTES)
        step = int(max(1, min(n_block, MAX_BLOCK if chunk is None else chunk, workspace // per_col)))
        first_order = "output_jvp" if grp.output_jvp_reason is None else "jvp"
        if strategy == "auto":
            owner = block[0].rsplit(".", 1)[0] if "." in block[0] else ""
            candidates = [auto_strategy(model.get_submodule(owner), grp.output_jvp_reason is None, n_block, step)]
        elif strategy == "timed":
            candidates = [first_order, "double_backward", "double_backward_batched"]
            if n_block <= step:  # one block only: nothing to learn, take the cheapest bet
                candidates = ["output_jvp" if first_order == "output_jvp" else
                              "double_backward_batched" if step > 1 else "double_backward"]
        else:
            candidates = [strategy]
        if strategy == "output_jvp" and grp.output_jvp_reason is not None:
            log.info("output_jvp does not apply to %s (%s): jvp instead", block[0], grp.output_jvp_reason)
            candidates = ["jvp"]
        # the vmapped jvp variants get cheaper per column with the block size, so they are timed on a full
        # block; the double-backward variants are (nearly) per column, so a short trial block tells their cost
        trial = max(1, min(step, max(4, step // 8)))
        timings: dict[str, float] = {}
        chosen = candidates[0]
        start = 0
        name, last_log = block[0].rsplit(".", 1)[0], time.monotonic()
        while start < n_block:
            if len(timings) < len(candidates):
                current = candidates[len(timings)]
            else:
                current = chosen
            full = current.endswith("jvp") or len(candidates) == 1 or len(timings) == len(candidates)
            width = step if full else trial
            stop = min(n_block, start + width)
            t0 = _clock(device)
            cols = grp.columns(current, start, stop)
            if len(timings) < len(candidates):
                timings[current] = (_clock(device) - t0) / (stop - start)
                if len(timings) == len(candidates):
                    chosen = min(timings, key=timings.__getitem__)
                    grp.release(keep=chosen)  # free what the other strategies built
            out[row0 + start : row0 + stop, row0:] = cols
            start = stop
            if time.monotonic() - last_log > PROGRESS_SECONDS and start < n_block:
                last_log = time.monotonic()
                log.info("Hessian columns of %s: %d of %d (%s)", name, start, n_block, current)
        report.append({"group": name, "params": n_block, "block": step, "strategy": chosen,
                       "s_per_column": dict(timings), "graph_mb": grp.saved_bytes / 2**20})
        log.info("Hessian columns of %s (%d params): %s, %d per block, %s", name, n_block,
                 chosen, step, {k: f"{v * 1e3:.2f} ms" for k, v in timings.items()})
        grp.release()
        row0 += n_block
    symmetrize_from_upper(out)
    return out
