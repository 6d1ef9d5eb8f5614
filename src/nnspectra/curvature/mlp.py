"""Exact dense curvature of multilayer perceptrons by layer-structured GEMMs (the fast path).

For ``nn.Sequential(Flatten?, Linear, act, Linear, act, ..., Linear)`` with elementwise activations,
write z_l = W_l a_{l-1} + b_l, a_l = phi(z_l), f = z_L, per-sample output gradient g_i = dL/df_i and
per-sample output-Hessian block H_i = d^2 L / df_i^2 (L = the mean loss, so both carry the 1/N).
Second-order expansion of the loss along a parameter perturbation (Sagun et al. 2018 eqs. 4-5 split
H = G + R) gives, with delta_l = dL/dz_l, eps_l = W_{l+1}^T delta_{l+1}, T_{l,m} = dz_l/dz_m:

* G block (m, m')     = sum_i  (T_{L,m}^T H_i T_{L,m'}) (x) (a_{m-1} a_{m'-1}^T)                (Gauss-Newton)
* R cross block m<m'  = sum_i  [delta_{m'} (x) (phi'(z_{m'-1}) T_{m'-1,m})^T ] (x) a_{m-1}     (weights of m' only)
* R curvature of phi  = sum_i sum_{l<L} (T_{l,m}^T diag(eps_l phi''(z_l)) T_{l,m'}) (x) (a_{m-1} a_{m'-1}^T)

(the last term vanishes for piecewise-linear activations such as ReLU). For every block of output
units p of layer m, all of these become ONE matrix product over the samples,

    H[(p, k), (p', k')]  =  sum_i  abar_{m-1,i}[k] * Z_{p,i}[(p', k')],

written straight into the upper block-triangle of H in the layout of ``model.parameters()`` (weight
rows then bias); the lower triangle is copied from it. Cost ~ N P^2 multiply-adds, i.e. about half
of the 4 N P^2 flop bound, with no (N, C, N, C) output Hessian and no per-sample Jacobians.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.Softplus, nn.GELU, nn.SiLU, nn.Identity,
               nn.Hardtanh, nn.ReLU6, nn.SELU, nn.CELU, nn.Mish, nn.Softsign, nn.Tanhshrink)


@dataclass
class _Layer:
    linear: nn.Linear
    acts: list[nn.Module]  # elementwise modules applied after this layer (empty for the output layer)
    w_off: int  # offset of the weight in the flat parameter vector
    b_off: int | None  # offset of the bias (None without bias)

    @property
    def n_in(self) -> int:
        return self.linear.in_features

    @property
    def n_out(self) -> int:
        return self.linear.out_features

    @property
    def start(self) -> int:
        return self.w_off

    @property
    def end(self) -> int:
        return self.w_off + self.n_out * self.n_in + (self.n_out if self.b_off is not None else 0)


def mlp_layers(model: nn.Module) -> list[_Layer] | None:
    """The layers of ``model`` if it is an MLP the fast path handles, else None.

    Handled: a bare ``nn.Linear``, or an ``nn.Sequential`` of an optional leading ``nn.Flatten``, ``nn.Linear`` layers (bias or
    not) and elementwise activations, ending with a Linear, whose parameters are exactly the Linear
    weights and biases stored contiguously (weight then bias) in ``model.parameters()`` order.
    """
    if isinstance(model, nn.Linear):  # e.g. logistic / softmax regression
        modules: list[nn.Module] = [model]
    elif isinstance(model, nn.Sequential):
        modules = list(model.children())
    else:
        return None
    if modules and isinstance(modules[0], nn.Flatten):
        modules = modules[1:]
    if not modules or not isinstance(modules[0], nn.Linear) or not isinstance(modules[-1], nn.Linear):
        return None
    offsets, offset = {}, 0
    for p in model.parameters():
        offsets[id(p)] = offset
        offset += p.numel()
    layers: list[_Layer] = []
    for module in modules:
        if isinstance(module, nn.Linear):
            w_off = offsets.get(id(module.weight))
            b_off = offsets.get(id(module.bias)) if module.bias is not None else None
            if w_off is None or (module.bias is not None and b_off != w_off + module.weight.numel()):
                return None
            layers.append(_Layer(module, [], w_off, b_off))
        elif isinstance(module, ELEMENTWISE):
            layers[-1].acts.append(module)
        else:
            return None
    # layers must tile the parameter vector in order, each Linear used once
    position = 0
    for layer in layers:
        if layer.start != position:
            return None
        position = layer.end
    if position != offset:
        return None
    for prev, nxt in zip(layers, layers[1:]):
        if prev.n_out != nxt.n_in:
            return None
    return layers


def _activation_derivatives(acts: list[nn.Module], z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                               torch.Tensor]:
    """(phi(z), phi'(z), phi''(z)) of the composed elementwise activations, by autograd."""
    zz = z.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = zz.clone()  # activations may be in place
        for act in acts:
            y = act(y)
        if not acts:  # identity between two Linear layers
            return y.detach(), torch.ones_like(z), torch.zeros_like(z)
        (d1,) = torch.autograd.grad(y.sum(), zz, create_graph=True)
        if d1.requires_grad:
            (d2,) = torch.autograd.grad(d1.sum(), zz, allow_unused=True)
            d2 = torch.zeros_like(z) if d2 is None else d2
        else:
            d2 = torch.zeros_like(z)
    return y.detach(), d1.detach(), d2.detach()


def output_hessian_blocks(loss_fn: LossFn, outputs: torch.Tensor, targets: torch.Tensor,
                          check: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(g, Hb): dL/df (N, C) and the per-sample blocks d^2 L/df_i^2 (N, C, C) of the total loss L.

    Hb comes from C Hessian-vector products of L w.r.t. the outputs with probes e_c on every sample,
    exact when L is a sum of per-sample terms; ``check`` verifies that with one random probe (an
    extra HVP) and raises ValueError otherwise. Never builds the (N, C, N, C) output Hessian.
    """
    from nnspectra.errors import NnspectraError

    n, c = outputs.shape
    out = outputs.detach()

    def total(o: torch.Tensor) -> torch.Tensor:
        return loss_fn(o, targets)

    grad_fn = torch.func.grad(total)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(grad_fn, (out,), (v,))[1]

    g = grad_fn(out)
    probes = torch.eye(c, dtype=out.dtype, device=out.device)[:, None, :].expand(c, n, c).contiguous()
    cols = torch.func.vmap(hvp)(probes)  # (C, N, C): cols[c', i, :] = Hb_i[:, c']
    blocks = cols.permute(1, 2, 0).contiguous()  # (N, C, C)
    blocks = 0.5 * (blocks + blocks.transpose(1, 2))
    if check:
        gen = torch.Generator(device="cpu").manual_seed(0)
        v = torch.randn(n, c, generator=gen, dtype=out.dtype).to(out.device)
        full = hvp(v)
        block = torch.einsum("icd,id->ic", blocks, v)
        scale = full.abs().max().clamp_min(torch.finfo(out.dtype).tiny)
        tol = 1e-8 if out.dtype == torch.float64 else 1e-4
        if float((full - block).abs().max() / scale) > tol:
            raise NnspectraError("the loss is not a sum of per-sample terms (its output Hessian is not block "
                                 "diagonal); use a per-sample loss such as cross_entropy or mse_loss")
    return g.detach(), blocks


def _forward(layers: list[_Layer], x: torch.Tensor):
    """Per-layer inputs a_{l-1}, phi'(z_l), phi''(z_l) and the output f (all detached)."""
    a = x.reshape(x.shape[0], -1)
    inputs, d1s, d2s = [], [], []
    for layer in layers:
        inputs.append(a)
        z = torch.nn.functional.linear(a, layer.linear.weight.detach(),
                                       None if layer.linear.bias is None else layer.linear.bias.detach())
        a, d1, d2 = _activation_derivatives(layer.acts, z)
        d1s.append(d1)
        d2s.append(d2)
    return inputs, d1s, d2s, a


def mlp_curvature(layers: list[_Layer], loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
                  kind: str = "hessian", out: torch.Tensor | None = None,
                  temp_bytes: int | None = None) -> torch.Tensor:
    """Dense P x P curvature of the mean loss of an MLP: ``kind`` in {hessian, gauss_newton, gradient_moment}.

    ``gradient_moment`` is the G-matrix (1/N) sum_i grad l_i grad l_i^T, i.e. the GN formula with
    output blocks N g_i g_i^T (l_i = N x per-sample share of the mean loss). ``temp_bytes`` bounds the
    temporaries (the Z panels), so the peak is the P x P result plus about that much.
    """
    if kind not in ("hessian", "gauss_newton", "gradient_moment"):
        raise ValueError(f"unknown curvature kind {kind!r}")
    w0 = layers[0].linear.weight
    dtype, device = w0.dtype, w0.device
    x = inputs.to(device=device, dtype=dtype)
    n = x.shape[0]
    acts_in, d1s, d2s, f = _forward(layers, x)
    g, hb = output_hessian_blocks(loss_fn, f, targets.to(device), check=(kind != "gradient_moment"))
    if kind == "gradient_moment":
        hb = n * g[:, :, None] * g[:, None, :]
    residual = kind == "hessian"
    n_layers = len(layers)
    # backprop: delta_l = dL/dz_l ; eps_l = W_{l+1}^T delta_{l+1} ; e_l = eps_l * phi''(z_l)
    deltas: list[torch.Tensor] = [g] * n_layers
    e_terms: list[torch.Tensor | None] = [None] * n_layers
    for l in range(n_layers - 2, -1, -1):
        eps = deltas[l + 1] @ layers[l + 1].linear.weight.detach()
        deltas[l] = eps * d1s[l]
        if residual and d2s[l] is not None and bool((d2s[l] != 0).any()):
            e_terms[l] = eps * d2s[l]
    total = layers[-1].end
    if temp_bytes is None:  # temporaries: half the result, between 16 and 256 MiB
        temp_bytes = int(min(256 * 2**20, max(16 * 2**20, total * total * dtype.itemsize // 2)))
    if out is None:
        out = torch.empty(total, total, dtype=dtype, device=device)
    # Jacobians T[l][m] = dz_l/dz_m, (N, out_l, out_m), for m <= l (T[l][l] = I implicit)
    jac: dict[tuple[int, int], torch.Tensor] = {}
    for m in range(n_layers):
        for l in range(m + 1, n_layers):
            prev = jac.get((l - 1, m))
            w = layers[l].linear.weight.detach()
            if prev is None:  # l - 1 == m: dz_l/dz_m = W_l diag(phi'(z_m))
                jac[(l, m)] = w[None] * d1s[l - 1][:, None, :]
            else:
                jac[(l, m)] = torch.matmul(w, d1s[l - 1][:, :, None] * prev)

    def t_of(l: int, m: int) -> torch.Tensor | None:
        return None if l == m else jac[(l, m)]

    def q_block(m: int, mp: int) -> torch.Tensor:
        """Q_i = T_{L,m}^T H_i T_{L,m'} + sum_l T_{l,m}^T diag(e_l) T_{l,m'}: (N, out_m, out_m')."""
        last = n_layers - 1
        left, right = t_of(last, m), t_of(last, mp)
        q = hb if right is None else torch.matmul(hb, right)
        q = q if left is None else torch.matmul(left.transpose(1, 2), q)
        for l in range(max(m, mp), last):
            e = e_terms[l]
            if e is None:
                continue
            tl, tr = t_of(l, m), t_of(l, mp)
            term = e[:, :, None] * (torch.eye(layers[l].n_out, dtype=dtype, device=device)[None] if tr is None else tr)
            q = q + (term if tl is None else torch.matmul(tl.transpose(1, 2), term))
        return q

    for m, layer in enumerate(layers):
        abar = torch.cat([acts_in[m], torch.ones(n, 1, dtype=dtype, device=device)], 1) if layer.b_off is not None \
            else acts_in[m]
        qs = {mp: q_block(m, mp) for mp in range(m, n_layers)}
        # cross factor for m < m': R_i = phi'(z_{m'-1}) T_{m'-1,m}, (N, in_m', out_m)
        cross = {}
        if residual:
            for mp in range(m + 1, n_layers):
                t_prev = t_of(mp - 1, m)
                d1 = d1s[mp - 1]
                cross[mp] = torch.diag_embed(d1) if t_prev is None else d1[:, :, None] * t_prev
        n_cols_full = total - layer.start
        panel_rows = n * n_cols_full * dtype.itemsize
        per_unit = panel_rows * (1 + abar.shape[1] / n)  # Z panel and the product
        pb = max(1, min(layer.n_out, int(temp_bytes // max(1.0, per_unit))))
        for p0 in range(0, layer.n_out, pb):
            p1 = min(layer.n_out, p0 + pb)
            col0 = layer.start + p0 * layer.n_in
            ncols = total - col0
            z = torch.empty(p1 - p0, n, ncols, dtype=dtype, device=device)  # Z panels, (pb, N, cols)
            c0 = 0
            for mp in range(m, n_layers):
                lay = layers[mp]
                o0 = p0 if mp == m else 0  # upper triangle only inside the diagonal block
                width = (lay.n_out - o0) * lay.n_in
                zw = z[:, :, c0:c0 + width].view(p1 - p0, n, lay.n_out - o0, lay.n_in)
                q = qs[mp][:, p0:p1, o0:].permute(1, 0, 2)  # (pb, N, out' - o0)
                torch.mul(q[:, :, :, None], acts_in[mp][None, :, None, :], out=zw)
                if mp in cross:  # + delta_{m'}[o] * R[j, p]
                    zw.addcmul_(deltas[mp][None, :, o0:, None], cross[mp][:, :, p0:p1].permute(2, 0, 1)[:, :, None, :])
                c0 += width
                if lay.b_off is not None:  # bias columns (all units; input 1, no cross term)
                    z[:, :, c0:c0 + lay.n_out].copy_(qs[mp][:, p0:p1, :].permute(1, 0, 2))
                    c0 += lay.n_out
            res = torch.matmul(abar.T, z)  # (pb, in + 1, cols): one GEMM over the samples
            w_rows = out[layer.w_off + p0 * layer.n_in: layer.w_off + p1 * layer.n_in, col0:]
            w_rows.view(p1 - p0, layer.n_in, ncols).copy_(res[:, : layer.n_in])
            if layer.b_off is not None:
                out[layer.b_off + p0: layer.b_off + p1, col0:] = res[:, layer.n_in]
    symmetrize_from_upper(out)
    return out


def symmetrize_from_upper(mat: torch.Tensor, tile: int = 1024) -> None:
    """In place: copy the upper triangle of a square matrix into its lower triangle, tile by tile."""
    size = mat.shape[0]
    for i0 in range(0, size, tile):
        i1 = min(size, i0 + tile)
        diag = mat[i0:i1, i0:i1]
        diag.copy_(torch.triu(diag) + torch.triu(diag, 1).T)
        for j0 in range(i1, size, tile):
            j1 = min(size, j0 + tile)
            mat[j0:j1, i0:i1].copy_(mat[i0:i1, j0:j1].T)
