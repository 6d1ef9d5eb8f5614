"""P0 Fig 6 cost: GD on many tiny blob nets, one at a time (training.train) vs vmapped (batched_gd).

``python benchmarks/bench_p0_batched_gd.py [--out results/benchmarks/p0_batched_gd.csv] [--steps 300]``
One thread; process CPU seconds per (net x step) beside wall time (the machine may be shared). Both
paths follow the same trajectory (tests/test_predecessor.py); this measures only their cost. Nets:
2-n-n-2 on the 200-point two-blob data, no stopping (grad_norm_tol far below reach).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench_tables import write_table  # noqa: E402
import torch  # noqa: E402

from nnspectra.models.flat import loss_of_flat_params  # noqa: E402
from nnspectra.data.p0 import two_blobs  # noqa: E402
from nnspectra.experiments.sagun2016 import predecessor as p0  # noqa: E402
from nnspectra.experiments.sagun2016 import predecessor_training as p0t  # noqa: E402
from nnspectra.training.batched import batched_gd  # noqa: E402


def per_net_step(width: int, n_nets: int, steps: int, batched: bool) -> tuple[float, float]:
    """(wall, CPU) seconds per net and step of ``steps`` GD steps on ``n_nets`` nets."""
    x, y = p0t.as_tensors(*two_blobs(100, 0.1, 0))
    sizes = p0t.blob_sizes(width)
    theta0 = torch.as_tensor(p0t.sphere_parameters(n_nets, p0t.blob_parameter_count(width), 3.0, seed=0))
    w0, c0 = time.perf_counter(), time.process_time()
    if batched:
        f = loss_of_flat_params(p0t.build_net(sizes, seed=0), p0.cross_entropy, x, y)
        batched_gd(theta0, f, lr=0.1, grad_norm_tol=1e-30, max_iterations=steps)
    else:
        for theta in theta0:
            model = p0t.set_flat_parameters(p0t.build_net(sizes, seed=0), theta)
            p0t.train_gd(model, x, y, p0t.P0Train(lr=0.1, grad_norm_tol=1e-30, max_iterations=steps))
    return (time.perf_counter() - w0) / (steps * n_nets), (time.process_time() - c0) / (steps * n_nets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/p0_batched_gd.csv")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for width in (6, 10):
        cases = [("training.train, one net at a time", 8, False)] + [
            (f"batched_gd, {b} nets", b, True) for b in (1, 32, 256, 1024)]
        for name, n_nets, batched in cases:
            per_net_step(width, 1, 5, batched)  # warm-up (first-call costs of either path)
            wall, cpu = min((per_net_step(width, n_nets, args.steps, batched) for _ in range(2)), key=lambda t: t[1])
            rows.append({"net": f"2-{width}-{width}-2 (P={p0t.blob_parameter_count(width)})", "path": name,
                         "us_per_net_step_cpu": round(1e6 * cpu, 2), "us_per_net_step_wall": round(1e6 * wall, 2)})
            print(rows[-1], flush=True)
    write_table(rows, args.out)


if __name__ == "__main__":
    main()
