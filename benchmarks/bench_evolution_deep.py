"""Cost of SPEC §3.3's CIFAR-10 run (claim 42): training steps and one checkpoint's spectra of the deep MLP.

``python benchmarks/bench_evolution_deep.py [--out results/benchmarks/evolution_deep.csv] [--n 2000 --dim 3072
--width 2048 --layers 2 --ntk-points 1000 --steps 3]``

One thread; process CPU seconds beside wall time (the machine may be shared). Random standardised inputs of
CIFAR-10's shape stand in for the images (the cost does not depend on the pixels). Rows: one GD, SGD (batch 32)
and Adam step in the training precision (float32), and one checkpoint's analysis in float64 split into the
weight ESDs (every W_l^T W_l / h), the CK (n x n), the NTK (on ntk_points inputs) and the whole checkpoint
(matrices, eigh, power-law fits: :func:`~nnspectra.experiments.wang2023.evolution_spectra.analyse_checkpoint`). The last
rows estimate one seed of the four claim runs (gd_lr1 1,000 steps, sgd_lr1 625, gd_eta_star 10, adam_lr1 10;
5 + 5 + 3 + 3 checkpoints) from these numbers.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench_tables import write_table  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from nnspectra.curvature.deep_kernels import deep_ck, deep_ntk, kernel_points  # noqa: E402
from nnspectra.curvature.kernels import weight_gram  # noqa: E402
from nnspectra.data.teacher import RegressionData  # noqa: E402
from nnspectra.experiments.wang2023.evolution_spectra import EvoAnalysis, analyse_checkpoint, matrices_at, spectra_of  # noqa: E402
from nnspectra.models.linear_width import LinearWidthMLP  # noqa: E402


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, float]:
    """(wall, CPU) seconds per call, the best of ``repeats``."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w0, time.process_time() - c0), key=lambda t: t[1])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/evolution_deep.csv")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=3072)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--ntk-points", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.n, args.dim, generator=gen)
    y = torch.sign(torch.randn(args.n, generator=gen))
    size = f"n={args.n} d={args.dim} h={args.width} L={args.layers}"
    rows: list[dict[str, Any]] = []

    def add(what: str, wall: float, cpu: float, **extra: Any) -> None:
        rows.append({"what": what, "size": size, "cpu_s": round(cpu, 4), "wall_s": round(wall, 4), **extra})
        print(rows[-1], flush=True)

    for name, opt_name, batch in (("GD step (float32, full batch)", "sgd", None),
                                  ("SGD step (float32, batch 32)", "sgd", 32), ("Adam step (float32, full batch)", "adam", None)):
        model = LinearWidthMLP(args.dim, args.width, hidden_layers=args.layers, seed=0, dtype=torch.float32)
        opt = (torch.optim.Adam if opt_name == "adam" else torch.optim.SGD)(model.parameters(), lr=1e-3)
        xb, yb = (x, y) if batch is None else (x[:batch], y[:batch])

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss = 0.5 * torch.mean((model(xb) - yb) ** 2)
            loss.backward()
            opt.step()

        step()  # warm-up
        add(name, *timed(step, args.steps))
    model = LinearWidthMLP(args.dim, args.width, hidden_layers=args.layers, seed=0, dtype=torch.float32)
    weights = [w.detach().double().numpy() for w in model.hidden_weights()]
    head = model.a.detach().double().numpy()
    data = RegressionData(x.double().numpy(), y.double().numpy(), x[:200].double().numpy(), y[:200].double().numpy(),
                          np.ones(args.dim) / np.sqrt(args.dim), "random")
    xk = data.x_train[kernel_points(args.n, args.ntk_points)]
    add("weight ESDs (every W_l^T W_l / h, eigh)", *timed(lambda: [np.linalg.eigh(weight_gram(w)) for w in weights]))
    add("CK of the last hidden layer (n x n, eigh)", *timed(lambda: np.linalg.eigh(deep_ck(weights, data.x_train))))
    add(f"NTK on {args.ntk_points} points (closed form, eigh)", *timed(lambda: np.linalg.eigh(deep_ntk(weights, head, xk))))
    mats0 = matrices_at(weights, head, data, "tanh", "W", args.ntk_points)
    init = {"weights": weights, "mats": mats0, "spectra": spectra_of(mats0)}
    wall, cpu = timed(lambda: analyse_checkpoint(weights, head, init, data, "tanh", "W", 1.0, EvoAnalysis(),
                                                 args.ntk_points))
    add("one checkpoint (all spectra, fits, norms)", wall, cpu)
    by = {r["what"]: r for r in rows}
    train_cpu = sum(steps * by[k]["cpu_s"] for k, steps in (("GD step (float32, full batch)", 1010),
                                                             ("SGD step (float32, batch 32)", 625),
                                                             ("Adam step (float32, full batch)", 10)))
    add("estimate: one seed, training of the 4 claim runs", float("nan"), train_cpu)
    add("estimate: one seed, 16 checkpoints' spectra", float("nan"), 16 * cpu)
    add("estimate: one seed, all (+ data, eta_star)", float("nan"), train_cpu + 16 * cpu)
    write_table(rows, args.out)


if __name__ == "__main__":
    main()
