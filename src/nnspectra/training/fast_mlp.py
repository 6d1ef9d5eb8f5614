"""Fast gradients for plain MLPs under the softmax cross-entropy: autograd's arithmetic, without autograd.

For the tiny networks of Sagun et al. (2018) (100-30-30-k on 100 samples) one autograd step costs
~0.6 ms of per-operator bookkeeping for ~0.1 ms of arithmetic. :func:`mlp_gradient` computes the loss
and writes every ``p.grad`` with exactly the ATen kernels autograd runs for ``nn.Linear`` / ``ReLU`` /
``Tanh`` and ``cross_entropy`` (addmm forward; ``_log_softmax_backward_data``; ``mm`` for weight and
input gradients; ``sum`` for biases; ``threshold_backward`` / ``tanh_backward``), in the same order, so
the parameters after every optimiser step are bit-for-bit those of the autograd path (tested for ReLU
and tanh, float32 and float64, full and mini batches). :func:`nnspectra.training.train` picks it by
itself (:func:`fast_gradient_for`); callers never choose.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

GradientFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _mean_cross_entropy_fns() -> tuple[Callable[..., torch.Tensor], ...]:
    from nnspectra.training.evaluate import cross_entropy

    return (nn.functional.cross_entropy, cross_entropy)


def _mlp_layers(model: nn.Module) -> tuple[list[nn.Linear], type[nn.Module]] | None:
    """``(linear layers, activation class)`` when ``model`` is Linear, act, ..., act, Linear; else None."""
    if not isinstance(model, nn.Sequential) or len(model) % 2 == 0:
        return None
    linears = [m for m in model[::2]]
    acts = [m for m in model[1::2]]
    if not all(type(m) is nn.Linear and m.bias is not None for m in linears):
        return None
    # a hidden layer of width 1: autograd's kernels for a 1-wide Linear differ from addmm/mm by an ulp at
    # batch 1 in float32 (torch 2.14, found by tests/test_training.py's property test), so autograd runs it
    if any(m.out_features == 1 for m in linears[:-1]):
        return None
    if not acts:
        return linears, nn.ReLU
    kind = type(acts[0])
    if kind not in (nn.ReLU, nn.Tanh) or any(type(a) is not kind or getattr(a, "inplace", False) for a in acts):
        return None
    return linears, kind


def fast_gradient_for(model: nn.Module, loss_fn: Callable[..., torch.Tensor], targets: torch.Tensor,
                      ) -> GradientFn | None:
    """The fast gradient function for this (model, loss, targets), or None when it does not apply.

    It applies to CPU ``nn.Sequential`` MLPs (Linear with bias, one of ReLU/Tanh between) trained on the
    mean softmax cross-entropy with integer class targets; anything else uses autograd.
    """
    layers = _mlp_layers(model)
    first = next(model.parameters(), None)
    if (layers is None or first is None or first.device.type != "cpu" or loss_fn not in _mean_cross_entropy_fns()
            or targets.dtype != torch.int64 or targets.dim() != 1):
        return None
    linears, act = layers
    return lambda x, y: mlp_gradient(linears, act is nn.ReLU, x, y)


@torch.no_grad()
def mlp_gradient(linears: list[nn.Linear], relu: bool, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the MLP on (x (n, d), y (n,)); sets ``.grad`` of every weight and bias.

    Returns the loss (a 0-d tensor). Bit-for-bit the value and gradients autograd computes.
    """
    inputs, hidden = [x], []
    h = x
    last = len(linears) - 1
    for i, layer in enumerate(linears):
        z = torch.addmm(layer.bias, h, layer.weight.t())
        if i < last:
            h = torch.relu(z) if relu else torch.tanh(z)
            hidden.append(h)
            inputs.append(h)
        else:
            h = z
    logp = torch.log_softmax(h, 1)
    loss = nn.functional.nll_loss(logp, y)
    grad = torch.zeros_like(logp)
    # nll_loss backward with mean reduction: -grad_output / total_weight, in the tensor's dtype
    grad.scatter_(1, y[:, None], float(-(torch.ones((), dtype=logp.dtype) / y.shape[0])))
    grad = torch.ops.aten._log_softmax_backward_data(grad, logp, 1, logp.dtype)
    for i in range(last, -1, -1):
        layer = linears[i]
        layer.weight.grad = torch.mm(grad.t(), inputs[i])
        layer.bias.grad = grad.sum(0)
        if i > 0:
            back = torch.mm(grad, layer.weight)
            out = hidden[i - 1]
            grad = (torch.ops.aten.threshold_backward(back, out, 0) if relu
                    else torch.ops.aten.tanh_backward(back, out))
    return loss


PooledStep = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def pooled_mlp_step(model: nn.Module, loss_fn: Callable[..., torch.Tensor], inputs: torch.Tensor,
                    targets: torch.Tensor) -> PooledStep | None:
    """``theta (B, P) -> (gradients (B, P), losses (B,))`` of B copies of the MLP ``model`` on the same data, each
    with its parameters set to one row of ``theta`` (``model.parameters()`` order); None where
    :func:`fast_gradient_for` would not apply. What ``vmap(grad_and_value(loss))`` gives, to rounding.

    Why: P0 Fig 6 trains 5,000 tiny nets (2-10-10-2 on 200 points) for ~15,000 steps each, and the vmapped
    autograd step spends most of its time in copies and 10 x 10 batched GEMMs on (B, n, h) activations. Here
    the activations are feature-major (B, h, n), so every layer is one batched GEMM without transposed copies,
    and the ReLU and tanh backward are autograd's own kernels. Each net's numbers do not depend on the other
    rows (bit for bit), so a pool's size or refill order changes no result. 15.5 against 42 us per net and step
    at 100 nets (one thread; docs/performance.md).
    """
    layers = _mlp_layers(model)
    if (layers is None or loss_fn not in _mean_cross_entropy_fns() or targets.dtype != torch.int64
            or targets.dim() != 1 or inputs.dim() != 2):
        return None
    linears, act = layers
    relu = act is nn.ReLU
    shapes = [s for m in linears for s in (tuple(m.weight.shape), tuple(m.bias.shape))]
    numels = [m.weight.numel() if i % 2 == 0 else m.bias.numel() for m in linears for i in range(2)]
    n = inputs.shape[0]
    x = inputs
    x_t = inputs.t().contiguous()  # (d, n)
    onehot_t = nn.functional.one_hot(targets, linears[-1].out_features).to(inputs.dtype).t().contiguous()

    def step(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            b = theta.shape[0]
            pieces = theta.split(numels, dim=1)
            weights = [pieces[2 * i].view(b, *shapes[2 * i]) for i in range(len(linears))]
            biases = [pieces[2 * i + 1] for i in range(len(linears))]
            z = torch.bmm(weights[0], x_t.expand(b, *x_t.shape)).add_(biases[0].unsqueeze(2))
            hidden = []
            for i in range(1, len(linears)):
                a = torch.relu_(z) if relu else torch.tanh_(z)
                hidden.append(a)
                z = torch.bmm(weights[i], a).add_(biases[i].unsqueeze(2))
            logp = torch.log_softmax(z, dim=1)  # (B, C, n)
            losses = -(logp * onehot_t).sum((1, 2)) / n
            delta = (logp.exp_() - onehot_t).div_(n)
            grads: list[torch.Tensor] = [torch.empty(0)] * (2 * len(linears))
            for i in range(len(linears) - 1, 0, -1):
                a = hidden[i - 1]
                grads[2 * i] = torch.bmm(delta, a.transpose(1, 2))
                grads[2 * i + 1] = delta.sum(2)
                back = torch.bmm(weights[i].transpose(1, 2), delta)
                delta = (torch.ops.aten.threshold_backward(back, a, 0) if relu
                         else torch.ops.aten.tanh_backward(back, a))
            grads[0] = torch.bmm(delta, x.expand(b, *x.shape))
            grads[1] = delta.sum(2)
            return torch.cat([g.reshape(b, -1) for g in grads], 1), losses

    return step
