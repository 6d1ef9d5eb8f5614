"""CPU cost of one SGD step of the bare AlexNet (SPEC §1.7 CIFAR-10 LB->SB): eager vs channels-last vs torch.compile.

``python benchmarks/bench_cifar_step.py [--out results/benchmarks/cifar_step.csv] [--steps 5] [--threads 1 2]``
Random 32x32x3 inputs (the cost does not depend on the pixels). Per variant, batch (1,000 for Part I, 32 for
Part II) and thread count: process CPU seconds and wall seconds per step, the best of the timed steps after
warm-up (compile time is reported apart). This decides which speedups the CIFAR-10 rules use (issue 20:
"use the CPU speedups that measure best"); docs/performance.md has the numbers and the decision.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench_tables import write_table  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from nnspectra.models.convnets import make_bare_alexnet  # noqa: E402

VARIANTS = ("eager", "channels_last", "compile")


def _step_fn(model: nn.Module, variant: str):  # type: ignore[no-untyped-def]
    """One SGD step (forward, backward, update) of ``model`` as the training loop does it."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    if variant == "compile":
        forward = torch.compile(model)

        def step(x: torch.Tensor, y: torch.Tensor) -> None:  # noqa: F811
            opt.zero_grad(set_to_none=True)
            loss_fn(forward(x), y).backward()
            opt.step()
    return step


def time_variant(variant: str, batch: int, steps: int, threads: int) -> dict[str, float]:
    """Seconds per step (CPU and wall, best of ``steps``) and the first step's cost (warm-up/compile)."""
    torch.set_num_threads(threads)
    model = make_bare_alexnet(seed=0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    step = _step_fn(model, variant)
    w0, c0 = time.perf_counter(), time.process_time()
    step(x, y)
    first_wall, first_cpu = time.perf_counter() - w0, time.process_time() - c0
    best_wall = best_cpu = float("inf")
    for _ in range(steps):
        w0, c0 = time.perf_counter(), time.process_time()
        step(x, y)
        best_wall, best_cpu = min(best_wall, time.perf_counter() - w0), min(best_cpu, time.process_time() - c0)
    return {"s_per_step_cpu": round(best_cpu, 4), "s_per_step_wall": round(best_wall, 4),
            "first_step_wall_s": round(first_wall, 2), "first_step_cpu_s": round(first_cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/cifar_step.csv")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1000, 32])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    rows = []
    for batch in args.batches:
        for threads in args.threads:
            for variant in args.variants:
                row = {"batch": batch, "threads": threads, "variant": variant,
                       **time_variant(variant, batch, args.steps, threads)}
                rows.append(row)
                print(row, flush=True)
    write_table(rows, args.out)


if __name__ == "__main__":
    main()
