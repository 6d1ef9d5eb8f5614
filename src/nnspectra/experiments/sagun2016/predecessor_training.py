"""The predecessor paper's (P0: Sagun, Bottou & LeCun 2016) networks and training: the float64 ReLU MLPs,
their inits, GD/SGD to a gradient norm, and Fig 8 (loss on the line between simultaneous GD/SGD iterates).

What training needs lives here and what measures spectra in :mod:`nnspectra.experiments.sagun2016.predecessor`, so a
step that only trains (Fig 8) hashes no spectra or counting code. (Fig 8's flat-parameter helpers still
come from :mod:`nnspectra.curvature.dense`.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import torch
from torch import nn

from nnspectra.models.flat import flat_parameters, loss_of_flat_params
from nnspectra.errors import ConfigError
from nnspectra.experiments.settings import SeededSettings, offset_seed
from nnspectra.models.mlp import make_mlp, mlp_parameter_count
from nnspectra.training import TrainConfig, TrainResult, train
from nnspectra.training.evaluate import cross_entropy  # softmax + mean NLL, P0's loss
from nnspectra.training.interpolation import barrier_height, line_losses
from nnspectra.training.settings import FixedStepsSettings, TrainSettings


# ------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class P0Model(SeededSettings):
    """Config ``predecessor.model``: the init scheme (``torch`` or ``normal`` with ``init_scale``) and the
    offset added to a seed to draw it."""

    seed_offset: int = 1000
    init: str = "torch"
    init_scale: float = 0.1

    def net(self, sizes: Sequence[int], seed: int) -> nn.Sequential:
        """The net of run seed ``seed`` at its initial point: :func:`build_net` with this section's scheme,
        drawn with :meth:`seed_for` (which its training also shuffles with)."""
        return build_net(sizes, seed=self.seed_for(seed), init=self.init, init_scale=float(self.init_scale))


@dataclass(frozen=True)
class P0Train(TrainSettings):
    """Config ``predecessor.train``: GD at a constant step until the full-batch gradient norm is
    ``grad_norm_tol`` (None: run all ``max_iterations``)."""

    grad_norm_tol: float | None = 1e-4
    max_iterations: int = 300_000


@dataclass(frozen=True)
class P0Blobs(SeededSettings):
    """Config ``predecessor.blobs``: the two Gaussian blobs of P0 Fig 3 (points per blob, std, seed offset)."""

    n_per_blob: int = 100
    std: float = 0.1

    def draw(self, seed: int, std: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The blobs (x, y) of run seed ``seed``, drawn with :meth:`seed_for`; ``std`` in place of this
        section's (P0 Fig 7's sweep: the same standard-normal draws for every std, scaled by it)."""
        from nnspectra.data.p0 import two_blobs

        return two_blobs(int(self.n_per_blob), float(self.std if std is None else std), self.seed_for(seed))


@dataclass(frozen=True)
class P0Fig8(FixedStepsSettings):
    """Config ``predecessor.fig8``: the SGD runs' batch, steps and recording interval (the shared fragment, read by
    :meth:`TrainConfig.from_settings <nnspectra.training.TrainConfig.from_settings>`), the net width, points on the
    line and the second SGD run's seed offset."""

    width: int = 10
    n_alphas: int = 21
    second_seed_offset: int = 1

    def second_seed(self, seed: int) -> int:
        """The run seed of the second SGD run of run seed ``seed`` (its init and shuffle are drawn from it)."""
        return offset_seed(self.second_seed_offset, seed)


@dataclass(frozen=True)
class P0Plot:
    """Config ``predecessor.plot``: the seed the figures show (and the one Fig 8 trains)."""

    seed: int = 0


# ------------------------------------------------------------------------------------- networks
def blob_sizes(width: int, hidden_layers: int = 2) -> list[int]:
    """Layer widths of the P0 2-D net: 2 -> width (x hidden_layers) -> 2 classes."""
    if width < 1 or hidden_layers < 1:
        raise ConfigError(f"the blob net needs width >= 1 and hidden_layers >= 1, got {width}, {hidden_layers}")
    return [2, *[int(width)] * int(hidden_layers), 2]


def blob_parameter_count(width: int) -> int:
    """Parameters of 2-n-n-2 with biases: 3n + (n² + n) + (2n + 2) = n² + 6n + 2 (P0 Fig 4 legend)."""
    return int(width) ** 2 + 6 * int(width) + 2


def build_net(sizes: Sequence[int], *, seed: int, init: str = "torch", init_scale: float = 0.1) -> nn.Sequential:
    """Float64 ReLU MLP with biases (:func:`nnspectra.models.mlp.make_mlp`) at its initial point.

    Default init ``torch``: U(±1/sqrt(fan_in)) for every weight and bias, the default of Torch7's
    ``nn.Linear`` in 2016 and of PyTorch. P0 does not state its init. On 784-10-10-10 this one gives
    initial spectra near P0 Fig 2's readings (5 seeds: MNIST [-1.3..-0.87, 2.2..5.2] vs read [-1, 1.7];
    random inputs [-0.22..-0.18, 0.27..0.40] vs read [-0.17, 0.29]); N(0, 0.1²) gives MNIST
    [-0.74..-0.54, 0.9..1.8] and random [-0.17..-0.12, 0.29..0.56] (3 seeds), and on 784-10-10
    random inputs reach 2.8, far from the reading. ``init_scale`` is
    used by ``normal`` only.
    """
    return make_mlp(list(sizes), "relu", init=init, init_scale=float(init_scale), seed=int(seed), dtype=torch.float64)


def init_radius(sizes: Sequence[int], init: str = "torch", init_scale: float = 0.1) -> float:
    """Typical norm of the initial parameter vector, sqrt(E||theta_0||²), of a :func:`build_net` init.

    ``torch`` (Torch7/PyTorch default): every weight and bias of a layer with fan-in m is U(±1/sqrt(m)),
    variance 1/(3m), so E||theta||² = sum_l n_out (n_in + 1) / (3 n_in). ``normal``: init_scale² P.
    Used as the radius of P0 Fig 6's sphere: P0 draws inits "on the surface of a sphere with a fixed
    radius" without giving it; this choice puts them at the scale of the other figures' inits (a
    random init concentrates near this sphere), so only the spread of the norm is removed.
    """
    if init == "normal":
        return float(init_scale) * math.sqrt(mlp_parameter_count(sizes))
    if init == "torch":
        return math.sqrt(sum(b * (a + 1) / (3.0 * a) for a, b in pairwise(sizes)))
    raise ConfigError(f"init '{init}' is not one of ('normal', 'torch')")


def sphere_parameters(n_inits: int, n_params: int, radius: float, seed: int) -> np.ndarray:
    """``n_inits`` points uniform on the sphere of ``radius`` in R^P: (n_inits, P) float64 (normalised Gaussians)."""
    if n_inits < 1 or n_params < 1 or not radius > 0:
        raise ConfigError(f"sphere inits need n_inits >= 1, n_params >= 1 and radius > 0, got {n_inits}, "
                          f"{n_params}, {radius}")
    z = np.random.default_rng(seed).standard_normal((n_inits, n_params))
    return radius * z / np.linalg.norm(z, axis=1, keepdims=True)


def set_flat_parameters(model: nn.Module, theta: torch.Tensor | np.ndarray) -> nn.Module:
    """Write the flat vector theta (P,) into ``model``'s parameters (``model.parameters()`` order)."""
    theta = torch.as_tensor(theta)
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(theta[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
    if offset != theta.numel():
        raise ConfigError(f"parameter vector has {theta.numel()} entries, the model {offset}")
    return model


def as_tensors(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N, d) as float64 and labels (N,) as int64 tensors."""
    return torch.as_tensor(np.asarray(x), dtype=torch.float64), torch.as_tensor(np.asarray(y), dtype=torch.long)


# ------------------------------------------------------------------------------------- training
def train_gd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, settings: P0Train, *, batch_size: int | None = None,
             schedule: str = "cyclic", seed: int = 0, log_every: int = 0,
             on_log: Callable[[int, nn.Module], None] | None = None, desc: str = "p0") -> TrainResult:
    """GD (``batch_size=None``) or SGD with a constant step until grad norm <= tol, by :func:`training.train`."""
    cfg = TrainConfig.from_settings(settings, batch_size=batch_size, schedule=schedule, seed=seed,
                                    log_every=log_every, progress=False, config_key="predecessor.train")
    return train(model, cross_entropy, x, y, cfg, on_log=on_log, desc=desc)


@torch.no_grad()
def full_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean training loss of ``model`` on (x, y)."""
    return float(cross_entropy(model(x), y))


# ---------------------------------------------------------------------------------------- Fig 8
def _trajectory(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig) -> np.ndarray:
    """Flat parameters (T, P) at steps 0, log_every, ... of a fixed-length run (:func:`training.train`)."""
    rows: list[np.ndarray] = []

    def on_log(step: int, m: nn.Module) -> None:
        rows.append(flat_parameters(m).numpy().copy())

    train(model, cross_entropy, x, y, cfg, on_log=on_log, desc="p0 fig8")
    return np.stack(rows)


def interpolation_profiles(x: np.ndarray, y: np.ndarray, fig8: P0Fig8, train_settings: P0Train, model: P0Model,
                           seed: int) -> dict[str, np.ndarray]:
    """P0 Fig 8: loss on the straight line between simultaneous iterates, at every recorded step.

    Every run takes ``fig8.steps`` steps at ``train_settings.lr`` (no gradient-norm stop), recording every
    ``fig8.record_every``; the run of seed s starts from init ``model.seed_for(s)`` and shuffles with that seed.
    * ``gd_sgd`` (T, A): GD and SGD (batch ``fig8.batch_size``, shuffled) of run ``seed`` from the same init;
    * ``sgd_sgd`` (T, A): SGD of run ``seed`` and SGD of run ``fig8.second_seed(seed)``.
    alpha = 0 is the first run, 1 the second, ``fig8.n_alphas`` points; ``steps`` (T,) are the recorded step
    numbers. Also returns ``barrier_gd_sgd``/``barrier_sgd_sgd`` (T,): max loss over alpha in [0, 1] minus the
    larger end value.
    """
    al = np.linspace(0.0, 1.0, int(fig8.n_alphas))
    sizes = blob_sizes(int(fig8.width))
    xt, yt = as_tensors(x, y)
    sgd = TrainConfig.from_settings(fig8, lr=train_settings.lr, grad_norm_tol=None, schedule="shuffle",
                                    progress=False, config_key="predecessor.train")

    def run(run_seed: int, cfg: TrainConfig) -> np.ndarray:
        return _trajectory(model.net(sizes, run_seed), xt, yt, replace(cfg, seed=model.seed_for(run_seed)))

    gd_a, sgd_a = run(seed, replace(sgd, batch_size=None)), run(seed, sgd)
    sgd_b = run(fig8.second_seed(seed), sgd)
    f = loss_of_flat_params(build_net(sizes, seed=model.seed_for(seed)), cross_entropy, xt, yt)
    prof_same = line_losses(gd_a, sgd_a, al, f)
    prof_diff = line_losses(sgd_a, sgd_b, al, f)

    def barrier(prof: np.ndarray) -> np.ndarray:
        return np.array([barrier_height(al, row) for row in prof])

    steps, record_every = int(fig8.steps), int(fig8.record_every)
    recorded = np.arange(0, steps + 1, record_every)
    if recorded[-1] != steps:
        recorded = np.append(recorded, steps)
    return {"alphas": al, "steps": recorded[:prof_same.shape[0]], "gd_sgd": prof_same, "sgd_sgd": prof_diff,
            "barrier_gd_sgd": barrier(prof_same), "barrier_sgd_sgd": barrier(prof_diff)}
