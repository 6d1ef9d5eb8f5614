"""The shared curvature test cases: one list of small float64 models, data and losses that every operator,
dense builder and eigen front-end is tested against (tests/curvature/, fixture ``case`` in its conftest).

Each :class:`Case` builds a FRESH model and data on every call (tests may move or copy them); the factories are
seeded, so two builds are equal bit for bit and the references of tests/curvature_reference.py can be cached
per case name. Every case stays small (P <= ~500) so the whole list runs in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from nnspectra.models.convnets import make_bare_alexnet, make_small_convnet

F64 = torch.float64


def mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over samples of half the squared error (a per-sample-separable regression loss)."""
    return 0.5 * ((out - target) ** 2).sum(1).mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "ce": nn.functional.cross_entropy, "mse": mse}


@dataclass(frozen=True)
class Case:
    """One curvature test case. ``mlp``: the model qualifies for the layer-structured MLP path
    (``nnspectra.curvature.mlp.mlp_layers``); ``one_hidden_relu``: exactly Sequential(Linear, ReLU, Linear),
    where the m x m reduction (curvature/reduced.py) applies (cross-entropy only)."""

    name: str
    model_factory: Callable[[], nn.Module] = field(repr=False)
    data_factory: Callable[[], tuple[torch.Tensor, torch.Tensor]] = field(repr=False)
    loss: str = "ce"
    dtype: torch.dtype = F64
    mlp: bool = False
    one_hidden_relu: bool = False

    @property
    def loss_fn(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        return LOSSES[self.loss]

    def build(self) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
        """A fresh (model, inputs, targets) in ``dtype``."""
        model = self.model_factory().to(self.dtype)
        x, y = self.data_factory()
        return model, x.to(self.dtype), (y.to(self.dtype) if y.is_floating_point() else y)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model_factory().parameters())


# -- model factories -------------------------------------------------------------------------------------------

def mlp(widths: list[int], act: type[nn.Module] = nn.Tanh, bias: bool = True, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b, bias=bias), act()]
    return nn.Sequential(*layers[:-1]).double()


def relu1(d: int, n: int, c: int, bias: bool = True, seed: int = 0, dead: int = 0) -> nn.Sequential:
    """One hidden ReLU layer, weights N(0, 0.7^2); ``dead`` units never fire on inputs in [0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(d, n, bias=bias), nn.ReLU(), nn.Linear(n, c, bias=bias)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=F64) * 0.7)
        if dead:  # no residual block, zero gradient on their incoming weights
            model[0].weight[:dead] = -model[0].weight[:dead].abs()
            if bias:
                model[0].bias[:dead] = -10.0
    return model


def flatten_identity_gelu() -> nn.Sequential:
    """An MLP with a Flatten in front and two Linear layers without an activation between them."""
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.Linear(4, 5), nn.GELU(), nn.Linear(5, 2)).double()


def small_convnet(image_size: int = 12, channels: tuple[int, int] = (2, 3), hidden: int = 5,
                  seed: int = 0) -> nn.Sequential:
    """SPEC §1.7 convnet shape with tiny channels, 3x3 kernels: by default P = 157 (conv 1->2, conv 2->3,
    FC 3->5->10). The one builder of a tiny SPEC convnet in the tests (test_density.py takes a larger one)."""
    return make_small_convnet(image_size=image_size, channels=channels, kernel=3, hidden=hidden, seed=seed,
                              dtype=F64)


def tiny_alexnet() -> nn.Sequential:
    """The bare AlexNet (two 5x5 'same' convs with overlapping pools, three FC layers) on 8x8 images: P = 345."""
    return make_bare_alexnet(image_size=8, channels=(2, 2), hidden=(4, 3), seed=0, dtype=F64)


def nested_sequential() -> nn.Sequential:
    """Nested Sequential: strided/padded/dilated conv, a grouped conv (no closed form here), batch norm in eval
    mode, smooth activations (nothing piecewise linear), a Linear on a 3-D input, bias-free layers: P = 385."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=1), nn.Tanh(),
        nn.Sequential(nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2), nn.Softplus(), nn.BatchNorm2d(4)),
        nn.Conv2d(4, 3, (2, 3), padding=(1, 0), dilation=(1, 2), bias=False), nn.Sigmoid(),
        nn.Flatten(start_dim=2), nn.Linear(6, 5), nn.GELU(), nn.Flatten(),
        nn.Sequential(nn.Linear(15, 6, bias=False), nn.Tanh()), nn.Linear(6, 4),
    ).double().eval()
    model[2][2].running_mean.uniform_(-0.2, 0.2)
    return model


class Branchy(nn.Module):
    """Not a Sequential (custom forward): two branches, a buffer, a parameter-free op, a bias-free layer and a
    parameter the loss ignores: P = 477."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.fc_a = nn.Linear(2 * 6 * 6, 4)
        self.fc_b = nn.Linear(36, 4, bias=False)
        self.head = nn.Linear(4, 3)
        self.unused = nn.Linear(2, 2)
        self.register_buffer("shift", torch.linspace(-0.5, 0.5, 36))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.tanh(self.conv(x)).flatten(1)
        b = torch.nn.functional.softplus(self.fc_b(x.flatten(1) + self.shift))
        return self.head(torch.sigmoid(self.fc_a(a)) * b)


def branchy() -> Branchy:
    torch.manual_seed(0)
    return Branchy().double()


# -- data factories --------------------------------------------------------------------------------------------

def classes(shape: tuple[int, ...], c: int, seed: int = 1, uniform: bool = False) -> Callable[[], tuple]:
    def make() -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        x = (torch.rand if uniform else torch.randn)(*shape, generator=gen, dtype=F64)
        return x, torch.randint(0, c, (shape[0],), generator=gen)
    return make


def regression(shape: tuple[int, ...], c: int, seed: int = 1) -> Callable[[], tuple]:
    def make() -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(*shape, generator=gen, dtype=F64), torch.randn(shape[0], c, generator=gen, dtype=F64)
    return make


def relu1_data(d: int, n: int, c: int, n_samples: int, bias: bool = True, seed: int = 0) -> tuple:
    """The reduction's data for ``relu1(d, n, c, bias, seed)``: inputs uniform in [0, 1), drawn after the
    weights from the same generator."""
    gen = torch.Generator().manual_seed(seed)
    for p in nn.Sequential(nn.Linear(d, n, bias=bias), nn.Linear(n, c, bias=bias)).parameters():
        torch.randn(p.shape, generator=gen, dtype=F64)  # the weights' draws
    return torch.rand(n_samples, d, generator=gen, dtype=F64), torch.randint(0, c, (n_samples,), generator=gen)


def _relu1_case(name: str, d: int, n: int, c: int, n_samples: int, bias: bool = True, dead: int = 0) -> Case:
    return Case(name, lambda: relu1(d, n, c, bias, dead=dead), lambda: relu1_data(d, n, c, n_samples, bias),
                mlp=True, one_hidden_relu=True)


CASES: list[Case] = [
    # MLPs on the layer-structured path (more activations and bias-free variants: MLP_EXTRA)
    Case("mlp_tanh", lambda: mlp([5, 4, 3, 3], nn.Tanh), classes((17, 5), 3), mlp=True),
    Case("mlp_elu_wide", lambda: mlp([6, 8, 4], nn.ELU), classes((30, 6), 4), mlp=True),
    Case("mlp_relu", lambda: mlp([4, 6, 5, 3], nn.ReLU), classes((9, 4), 3), mlp=True),
    Case("mlp_relu_mse", lambda: mlp([4, 6, 5, 3], nn.ReLU), regression((9, 4), 3), loss="mse", mlp=True),
    Case("mlp_flatten_identity_gelu_mse", flatten_identity_gelu, regression((11, 2, 3), 2), loss="mse", mlp=True),
    # one hidden ReLU layer: the m x m reduction applies
    _relu1_case("relu1", 6, 5, 4, 9),
    # not MLPs: the generic (product / Jacobian) paths
    Case("convnet_spec_tiny", small_convnet, classes((9, 1, 12, 12), 10)),
    Case("alexnet_bare_tiny", tiny_alexnet, classes((5, 3, 8, 8), 10)),
    Case("nested_sequential", nested_sequential, classes((6, 2, 9, 9), 4, seed=5)),
    Case("branchy_custom_forward", branchy, classes((7, 1, 6, 6), 3)),
]
#: more activations and bias-free MLPs, for the layer-structured MLP path (dense.py / mlp.py, where the activation
#: and the bias change the code) and the reduction; the generic families (products, strategies) do not branch on
#: them and see bias-free layers in nested_sequential and branchy_custom_forward
MLP_EXTRA: list[Case] = [
    Case("mlp_tanh_nobias", lambda: mlp([5, 4, 3, 3], nn.Tanh, bias=False), classes((17, 5), 3), mlp=True),
    Case("mlp_relu_nobias", lambda: mlp([5, 4, 3, 3], nn.ReLU, bias=False), classes((17, 5), 3), mlp=True),
    Case("mlp_softplus", lambda: mlp([5, 4, 3, 3], nn.Softplus), classes((17, 5), 3), mlp=True),
    Case("mlp_sigmoid_nobias", lambda: mlp([5, 4, 3, 3], nn.Sigmoid, bias=False), classes((17, 5), 3), mlp=True),
    Case("mlp_softplus_nobias", lambda: mlp([5, 4, 3, 3], nn.Softplus, bias=False), classes((17, 5), 3), mlp=True),
    Case("mlp_sigmoid", lambda: mlp([5, 4, 3, 3], nn.Sigmoid), classes((17, 5), 3), mlp=True),
    _relu1_case("relu1_nobias", 6, 5, 4, 9, bias=False),
]
#: more one-hidden-layer ReLU shapes for the reduction only (dead units, C = 2, N < n, m < P): on every family
#: they would repeat what relu1 shows at 4x its cost
RELU1_EXTRA: list[Case] = [
    _relu1_case("relu1_dead_units", 12, 7, 5, 40, dead=3),
    _relu1_case("relu1_narrow_many_classes", 30, 3, 10, 5),
    _relu1_case("relu1_wide", 20, 8, 10, 30),
    _relu1_case("relu1_two_classes", 3, 4, 2, 7),
]
ALL_CASES = CASES + MLP_EXTRA + RELU1_EXTRA
CASES_BY_NAME = {c.name: c for c in ALL_CASES}
#: the dense public API (dense.py, mlp.py) runs on these: the core list and the activation variants
DENSE_CASES = CASES + MLP_EXTRA
MLP_CASES = [c for c in DENSE_CASES if c.mlp]
RELU1_CASES = [c for c in ALL_CASES if c.one_hidden_relu]
#: the whole matrix from P products: cheap cases, the SPEC convnet, and the one with a parameter the loss ignores
#: (zero rows); every case's products are checked on a block of vectors
DENSE_PRODUCT_CASES = [c for c in CASES
                       if c.n_params < 150 or c.name in ("convnet_spec_tiny", "branchy_custom_forward")]


def case_id(case: Case) -> str:
    return case.name
