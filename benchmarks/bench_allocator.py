"""What the steps' allocator setting (:func:`nnspectra.pipeline.runtime.reuse_freed_memory`) buys, per workload.

    python benchmarks/bench_allocator.py --out results/benchmarks/allocator           # ~2 CPU-min
    python benchmarks/bench_allocator.py --quick --out results/benchmarks/allocator_quick

Each workload runs in a fresh single-threaded child process twice, once with glibc's default malloc and once
after ``reuse_freed_memory()`` (the setting is process-wide and one-way, hence the children), alternating
over ``--rounds``. Writes ``<out>.csv``: per (round, workload, allocator) the wall and process-CPU
milliseconds per call and the minor page faults per call; no assertion on any time. Workloads:

* ``p0_pool_step`` -- one step of P0 Fig 6's refilled batched GD: ``vmap(grad_and_value)`` over a pool of
  250 nets of 162 parameters on the 200 blob points (float64), the campaign's inner loop;
* ``p0_hessian_vmap`` / ``p0_hessian_mlp`` -- the final Hessian of one such net by the vmapped
  ``torch.func.hessian`` and by the MLP GEMM engine (``curvature.batched``), per net;
* ``mlp_train_step`` -- forward, backward and update of a 784-70-10 float64 MLP on 1,000 points (the MNIST
  width sweep's size).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

WORKLOADS = ("p0_pool_step", "p0_hessian_vmap", "p0_hessian_mlp", "mlp_train_step")
ALLOCATORS = ("default", "reuse")


def _workload(name: str):
    """(function to time, calls per measurement) for a workload, built outside the timed region."""
    import torch
    from torch.func import grad_and_value, vmap

    from nnspectra.curvature.batched import batched_hessian_eigvalsh, mlp_hessians_eigvalsh
    from nnspectra.experiments.sagun2016.predecessor_training import (
        P0Blobs, as_tensors, blob_sizes, build_net, init_radius, sphere_parameters)
    from nnspectra.models.flat import loss_of_flat_params
    from nnspectra.models.mlp import mlp_parameter_count
    from nnspectra.training.evaluate import cross_entropy

    if name == "mlp_train_step":
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(1000, 784, generator=gen, dtype=torch.float64)
        y = torch.randint(0, 10, (1000,), generator=gen)
        net = torch.nn.Sequential(torch.nn.Linear(784, 70), torch.nn.ReLU(), torch.nn.Linear(70, 10)).double()
        opt = torch.optim.SGD(net.parameters(), lr=0.01)

        def step() -> None:
            opt.zero_grad()
            cross_entropy(net(x), y).backward()
            opt.step()

        return step, 20
    sizes = blob_sizes(10)
    x, y = as_tensors(*P0Blobs().draw(0))
    net = build_net(sizes, seed=0)
    f = loss_of_flat_params(net, cross_entropy, x, y)
    theta = torch.as_tensor(sphere_parameters(250, mlp_parameter_count(sizes), init_radius(sizes), 0))
    if name == "p0_pool_step":
        fn = vmap(grad_and_value(f))
        return (lambda: fn(theta)), 50
    if name == "p0_hessian_vmap":
        return (lambda: batched_hessian_eigvalsh(theta[:32], f, 32)), 1
    if name == "p0_hessian_mlp":
        return (lambda: mlp_hessians_eigvalsh(theta[:32], net, cross_entropy, x, y, 32)), 1
    raise SystemExit(f"unknown workload {name!r}; one of {WORKLOADS}")


def child(name: str, allocator: str, calls: int | None) -> dict[str, float]:
    """Time one workload in this (fresh) process; per call: wall ms, CPU ms, minor page faults."""
    import torch

    torch.set_num_threads(1)
    if allocator == "reuse":
        from nnspectra.pipeline.runtime import reuse_freed_memory

        if not reuse_freed_memory():
            raise SystemExit("reuse_freed_memory() is not available here (not glibc)")
    fn, default_calls = _workload(name)
    n = calls or default_calls
    per = 32 if name.startswith("p0_hessian") else 1  # the Hessian rows time 32 nets per call
    for _ in range(max(2, n // 5)):  # warm-up: first use of torch.func, caches
        fn()
    f0, w0, c0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    return {"wall_ms": 1e3 * wall / (n * per), "cpu_ms": 1e3 * cpu / (n * per), "faults": faults / (n * per)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/benchmarks/allocator", help="CSV path without .csv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one round, few calls (a smoke test of the script)")
    parser.add_argument("--label", default="", help="tag stored in every row (e.g. a commit)")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "ALLOCATOR"), help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.calls)))
        return
    rounds, calls = (1, 2) if args.quick else (args.rounds, None)
    rows = []
    for r in range(rounds):
        for name in args.workloads:
            for allocator in (ALLOCATORS if r % 2 == 0 else ALLOCATORS[::-1]):
                cmd = [sys.executable, __file__, "--child", name, allocator]
                if calls:
                    cmd += ["--calls", str(calls)]
                out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                rows.append({"label": args.label, "round": r, "workload": name, "allocator": allocator,
                             **{k: round(v, 4) for k, v in out.items()}})
                print(f"round {r} {name:16s} {allocator:8s} {out['cpu_ms']:9.3f} CPU-ms/call "
                      f"{out['wall_ms']:9.3f} wall-ms {out['faults']:9.1f} faults", flush=True)
    path = Path(args.out).with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)
    for name in args.workloads:
        cpu = {a: statistics.median(x["cpu_ms"] for x in rows if x["workload"] == name and x["allocator"] == a)
               for a in ALLOCATORS}
        print(f"{name:16s} median CPU-ms/call default {cpu['default']:.3f} reuse {cpu['reuse']:.3f} "
              f"(x{cpu['default'] / cpu['reuse']:.2f})")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
