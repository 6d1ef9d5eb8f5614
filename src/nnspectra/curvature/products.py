"""The one family of curvature operators: Hessian, Gauss-Newton and G-matrix products on torch tensors, with
little work per product (any ``nn.Module``, any device), and their dense and scipy views.

The operators build the autograd graph of the gradient ONCE (``create_graph=True``, on the first product)
and keep it; each product is then a single backward pass through that graph (Pearlmutter's R-operator as
double backward), so the primal forward/backward is not repeated. The parameters are views of one flat
leaf (P,), so the gradient and every product come out of autograd as flat vectors: no per-parameter split
of the vector, zero-fill or concatenation in Python. Measured at P = 55,660 (784-70-10 MLP,
N = 1,000, float64, one CPU thread): 6.4 ms per Hessian-vector product against 26 ms for ``jvp(grad)`` and
a flop bound 8 N P / GEMM rate of 7.7 ms (see benchmarks/bench_gpu_paths.py).

Graphs and products run at IEEE float32 precision on CUDA, never TensorFloat-32
(:func:`nnspectra.curvature.precision.ieee_float32`). The operators follow the protocol of
:class:`nnspectra.curvature.operators.TorchOperator` (blocks of row vectors on the operator's device; Lanczos and SLQ use only that, so on CUDA the vectors never leave the GPU). Two
adaptors:

* ``.dense(strategy)``: the P x P matrix. ``"products"`` from products with the identity (any operator);
  the model operators also take the dense builders of :mod:`nnspectra.curvature.dense` (``"mlp"``, ``"hvp"``,
  ``"jacobian"``) and ``"auto"``, their default and the one dense chain: products where batch norm on batch
  statistics couples the samples, else MLP GEMMs where the model qualifies, else the generic builder, and
  products as the logged fallback (naming the layer) where a layer does not support the builders' torch.func
  transforms. ``.dense_with_builder(strategy)`` also says which way the matrix was built.
* ``.to_scipy()``: a ``scipy.sparse.linalg.LinearOperator`` view (numpy float64 in and out, products on the
  operator's device), for ARPACK or any scipy solver; it logs its progress (ARPACK has no hook).

Operators (Sagun et al. 2018 eqs. 1, 4-5; L = mean loss over the N samples):

* :class:`HessianProducts`     v -> H v
* :class:`GaussNewtonProducts` v -> G v = sum_i J_i^T (d^2 L/df_i^2) J_i v  (J v by the double-vjp trick)
* :class:`GradientMomentProducts` v -> (1/N) sum_i g_i g_i^T v   (per-sample gradients g_i)

``sample_chunk`` splits the data into chunks whose graphs are all kept (the loss must be a mean of
per-sample terms, which the Gauss-Newton code checks); ``cache_graph=False`` rebuilds each chunk's
graph per product instead, trading about 2x time for the graph memory.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Iterator

import torch

from nnspectra.curvature.activations import first_order_relu
from nnspectra.curvature.dense import (
    EXACT_BUILDER,
    PRODUCTS_BUILDER,
    LayerTrace,
    batch_coupled,
    dense_curvature,
    prepare,
)
from nnspectra.curvature.memory import check_dense_fits
from nnspectra.curvature.mlp import output_hessian_blocks
from nnspectra.curvature.operators import TorchOperator
from nnspectra.curvature.precision import ieee_float32
from nnspectra.errors import NnspectraError
from nnspectra.models.flat import flat_parameters, unflatten

log = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _chunks(n: int, chunk: int | None) -> Iterator[slice]:
    step = n if chunk is None else max(1, int(chunk))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


class _ModelProducts(TorchOperator):
    """Shared setup: the model's parameters as fresh leaf tensors (the caller's model is never changed),
    data on the device, and the per-chunk graphs (built once, or per product without the cache)."""

    kind: str  # "hessian", "gauss_newton" or "gradient_moment": the matrix, for the dense builders

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
                 sample_chunk: int | None = None, cache_graph: bool = True, batched: bool = False):
        self.model, self.inputs, self.targets = prepare(model, inputs, targets, dtype, device)
        self.loss_fn = loss_fn
        # one flat leaf; the model sees views of it, so every product comes out of autograd as one (P,) vector
        self.theta = flat_parameters(self.model).requires_grad_(True)
        self.buffers = dict(self.model.named_buffers())
        self.size = self.theta.numel()
        self.dtype = dtype
        self.device = self.theta.device
        self.n = int(self.inputs.shape[0])
        self.slices = list(_chunks(self.n, sample_chunk))
        self.cache_graph = bool(cache_graph)
        self.batched = bool(batched)
        self.n_products = 0
        self._graph_bytes = 0
        self._graphs: list[tuple] | None = None  # built on the first product (a dense builder needs none)
        with ieee_float32():
            self._precompute()

    @property
    def graph_bytes(self) -> int:
        """Bytes of the tensors the cached graphs save (measured while building them; builds them if needed)."""
        self._ensure_graphs()
        return self._graph_bytes

    def _ensure_graphs(self) -> None:
        if self.cache_graph and self._graphs is None:
            self._graphs = [self._build_counted(s) for s in self.slices]

    def dense(self, strategy: str = "auto", *, block: int = 64, budget_gb: float | None = None,
              chunk: int | None = None) -> torch.Tensor:
        """The P x P matrix: ``"products"`` from products with the identity (any layer autograd supports, e.g.
        batch norm on batch statistics); ``"mlp"``, ``"hvp"``, ``"jacobian"``: that exact dense builder of
        :func:`nnspectra.curvature.dense.dense_curvature`; ``"auto"``: the one dense chain (see
        :meth:`dense_with_builder`). Within ``budget_gb``; ``chunk`` caps the columns per block of ``hvp``."""
        return self.dense_with_builder(strategy, block=block, budget_gb=budget_gb, chunk=chunk)[0]

    def dense_with_builder(self, strategy: str = "auto", *, block: int = 64, budget_gb: float | None = None,
                           chunk: int | None = None) -> tuple[torch.Tensor, str]:
        """(the P x P matrix, how it was built: :data:`~nnspectra.curvature.dense.EXACT_BUILDER` or
        :data:`~nnspectra.curvature.dense.PRODUCTS_BUILDER` with the reason). ``"auto"``: from products where
        batch norm on batch statistics couples the samples (per-sample transforms do not apply); else the exact
        builders (MLP GEMMs where the model qualifies, else the generic builder), and where a layer does not
        support their torch.func transforms (e.g. an ``autograd.Function`` without ``setup_context``) from
        products instead, logged with the layer's name (exact too: double backward through any autograd layer)."""
        if strategy == "products":
            return self._from_products(block, budget_gb), PRODUCTS_BUILDER
        if strategy != "auto":
            return self._exact(strategy, budget_gb, chunk), EXACT_BUILDER
        if batch_coupled(self.model):
            return (self._from_products(block, budget_gb),
                    f"{PRODUCTS_BUILDER}: batch norm on batch statistics couples the samples")
        trace = LayerTrace(self.model)
        try:
            return self._exact("auto", budget_gb, chunk), EXACT_BUILDER
        except (RuntimeError, NotImplementedError) as err:
            if isinstance(err, (NnspectraError, torch.OutOfMemoryError)):
                raise
            layer = trace.innermost
            why = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        finally:
            trace.remove()
        log.warning("dense %s: layer %s does not support the exact builder's torch.func transforms; fallback: %s",
                    self.kind, layer, PRODUCTS_BUILDER)
        return (self._from_products(block, budget_gb),
                f"{PRODUCTS_BUILDER}: fallback, the exact dense builder does not support layer {layer} ({why})")

    def _from_products(self, block: int, budget_gb: float | None) -> torch.Tensor:
        """The dense matrix from products with the identity, within ``budget_gb`` (every products route)."""
        check_dense_fits(self.size, self.size, self.dtype, budget_gb, device=self.device)
        return super().dense("products", block=block)

    def _exact(self, method: str, budget_gb: float | None, chunk: int | None) -> torch.Tensor:
        return dense_curvature(self.kind, self.model, self.loss_fn, self.inputs, self.targets, dtype=self.dtype,
                               method=method, budget_gb=budget_gb, device=self.device, chunk=chunk)

    def _outputs(self, sl: slice) -> torch.Tensor:
        from torch.func import functional_call

        return functional_call(self.model, (unflatten(self.model, self.theta), self.buffers), (self.inputs[sl],))

    def _build_counted(self, sl: slice) -> tuple:
        seen: dict[tuple[int, int], int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            try:
                key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
                seen[key] = key[1]
            except (RuntimeError, NotImplementedError):  # e.g. tensors without storage
                pass
            return t

        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), ieee_float32():
            graph = self._build(sl)
        self._graph_bytes += sum(seen.values())
        return graph

    def _precompute(self) -> None:
        """Per-chunk data that needs torch.func (not allowed under the saved-tensor hooks)."""

    @abstractmethod
    def _build(self, sl: slice) -> tuple:
        """The graph of one chunk of samples (weighted by its share of N)."""

    @abstractmethod
    def _apply_graph(self, graph: tuple, vecs: torch.Tensor, retain: bool) -> torch.Tensor:
        """Products (k, P) of one chunk's matrix with the rows of ``vecs``."""

    def _grad_rows(self, outputs: torch.Tensor, inputs: torch.Tensor, vecs: torch.Tensor, retain: bool,
                   ) -> torch.Tensor:
        """Rows (k, inputs.numel()) of vector-Jacobian products of ``outputs`` with each row of ``vecs``
        (k, outputs.numel()): one backward pass per row, or one vmapped pass for all with ``batched``."""
        k, width = vecs.shape[0], inputs.numel()
        if not outputs.requires_grad:  # the outputs do not depend on the inputs at all
            return torch.zeros(k, width, dtype=vecs.dtype, device=vecs.device)
        if self.batched and k > 1:
            (grad,) = torch.autograd.grad(outputs, inputs, vecs.reshape(k, *outputs.shape), retain_graph=retain,
                                          is_grads_batched=True, allow_unused=True)
            return torch.zeros(k, width, dtype=vecs.dtype, device=vecs.device) if grad is None else grad.reshape(k, width)
        rows = None if k == 1 else torch.empty(k, width, dtype=vecs.dtype, device=vecs.device)
        for i in range(k):
            (grad,) = torch.autograd.grad(outputs, inputs, vecs[i].reshape(outputs.shape),
                                          retain_graph=retain or i < k - 1, allow_unused=True)
            row = torch.zeros(width, dtype=vecs.dtype, device=vecs.device) if grad is None else grad.reshape(width)
            if rows is None:  # one vector: autograd's own output, no copy
                return row.reshape(1, width)
            rows[i] = row  # each row written in place (no stack of k copies afterwards)
        return rows  # type: ignore[return-value]

    def _matmat(self, vecs: torch.Tensor) -> torch.Tensor:
        total = None
        self._ensure_graphs()
        with torch.enable_grad(), ieee_float32():
            for i, sl in enumerate(self.slices):
                if self._graphs is not None:
                    part = self._apply_graph(self._graphs[i], vecs, retain=True)
                else:
                    part = self._apply_graph(self._build(sl), vecs, retain=False)
                total = part if total is None else total + part
        return total.detach()  # type: ignore[union-attr]

    def _weight(self, sl: slice) -> float:
        return (sl.stop - sl.start) / self.n


class HessianProducts(_ModelProducts):
    """v -> H v for the Hessian of the mean loss (Sagun et al. 2018 eq. 1), by double backward through the
    kept graph of the gradient: one backward pass per product, no repeated forward."""

    kind = "hessian"

    def _build(self, sl: slice) -> tuple:
        with first_order_relu():  # ReLU's zero second derivative stays out of the graph (same products)
            loss = self.loss_fn(self._outputs(sl), self.targets[sl]) * self._weight(sl)
        (grad,) = torch.autograd.grad(loss, self.theta, create_graph=True, allow_unused=True)
        return (torch.zeros_like(self.theta) if grad is None else grad,)

    def _apply_graph(self, graph: tuple, vecs: torch.Tensor, retain: bool) -> torch.Tensor:
        (grad,) = graph
        return self._grad_rows(grad, self.theta, vecs, retain)


class _OuterProducts(_ModelProducts):
    """v -> sum_i J_i^T B_i J_i v with per-sample C x C blocks B_i; J v by the double-vjp trick:
    w(u) = J^T u is linear in u, so d/du <w(u), v> = J v (a backward pass through the graph of w)."""

    @abstractmethod
    def _blocks(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-sample C x C blocks (N, C, C) of the outer curvature (Gauss-Newton or G-matrix)."""

    def _precompute(self) -> None:
        self._chunk_blocks = []
        with torch.no_grad():
            for sl in self.slices:
                self._chunk_blocks.append(self._blocks(self._outputs(sl), self.targets[sl]) * self._weight(sl))

    def _build(self, sl: slice) -> tuple:
        out = self._outputs(sl)
        blocks = self._chunk_blocks[self.slices.index(sl)]
        dummy = torch.zeros_like(out, requires_grad=True)
        (jt_u,) = torch.autograd.grad(out, self.theta, dummy, create_graph=True, allow_unused=True)
        return out, dummy, (torch.zeros_like(self.theta) if jt_u is None else jt_u), blocks

    def _apply_graph(self, graph: tuple, vecs: torch.Tensor, retain: bool) -> torch.Tensor:
        out, dummy, jt_u, blocks = graph
        jv = self._grad_rows(jt_u, dummy, vecs, True).reshape(vecs.shape[0], *out.shape)  # J v: (k, N, C)
        bjv = torch.einsum("icd,kid->kic", blocks, jv)
        return self._grad_rows(out, self.theta, bjv.reshape(vecs.shape[0], -1), retain)


class GaussNewtonProducts(_OuterProducts):
    """v -> G v with G = sum_i J_i^T (d^2 L / d f_i^2) J_i, the Gauss-Newton part (Sagun et al. 2018 eq. 5)."""

    kind = "gauss_newton"

    def _blocks(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return output_hessian_blocks(self.loss_fn, outputs, targets)[1]


class GradientMomentProducts(_OuterProducts):
    """v -> (1/N) sum_i g_i g_i^T v, the second moment of the per-sample gradients (G-matrix)."""

    kind = "gradient_moment"

    def _blocks(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        grad, _ = output_hessian_blocks(self.loss_fn, outputs, targets, check=False)
        n = grad.shape[0]
        return n * grad[:, :, None] * grad[:, None, :]


#: an operator of the family on a model (what :func:`nnspectra.curvature.spectrum.curvature_operator` returns)
ModelOperator = HessianProducts | GaussNewtonProducts | GradientMomentProducts
