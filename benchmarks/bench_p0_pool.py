"""P0 Fig 6 training cost: group-at-a-time batched GD (the old loop) vs the refilled pool (pool_gd), the pool
with the vmapped autograd step vs the batched MLP step (``pool_mlp``: training.fast_mlp.pooled_mlp_step, the
pipeline's).

``python benchmarks/bench_p0_pool.py [--out results/benchmarks/p0_pool.csv] [--inits 500] [--group 250]
[--max-iterations 300000]``
One thread; process CPU seconds beside wall time (the machine may be shared: CPU is the number to read).
Paper settings otherwise (config predecessor.fig6 / predecessor.train / predecessor.blobs defaults: width 10,
P = 162, 2 x 100 points of std 0.1, lr 0.1, grad_norm_tol 1e-4, radius = the torch-init norm, seed 0);
training only (the Hessians afterwards cost the same in all). The paths give each net the same trajectory
(tests/test_batched_pool.py; the batched MLP step to rounding, tests/test_pooled_step.py); this measures only
their cost, and also reports how many net-steps each ran and the mean batch size per step (the straggler effect:
group-at-a-time ends each group with a few nets alone), and ``us_per_net_step`` (CPU microseconds per net and
step).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench_tables import write_table  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from nnspectra.models.flat import loss_of_flat_params  # noqa: E402
from nnspectra.data.p0 import two_blobs  # noqa: E402
from nnspectra.experiments.sagun2016 import predecessor as p0  # noqa: E402
from nnspectra.experiments.sagun2016 import predecessor_training as p0t  # noqa: E402
from nnspectra.training.batched import batched_gd  # noqa: E402
from nnspectra.training.batched_pool import pool_gd  # noqa: E402
from nnspectra.training.fast_mlp import pooled_mlp_step  # noqa: E402

NAMES = {"groups": "group at a time (batched_gd)", "pool": "refilled pool (pool_gd), vmapped autograd step",
         "pool_mlp": "refilled pool (pool_gd), batched MLP step (the pipeline's)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/p0_pool.csv")
    parser.add_argument("--inits", type=int, default=500)
    parser.add_argument("--group", type=int, default=250)
    parser.add_argument("--max-iterations", type=int, default=300_000)
    parser.add_argument("--only", default=None, help="comma-separated paths: groups,pool,pool_mlp")
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y = p0t.as_tensors(*two_blobs(100, 0.1, 0))
    sizes = p0t.blob_sizes(10)
    p = p0t.blob_parameter_count(10)
    theta0 = torch.as_tensor(p0t.sphere_parameters(args.inits, p, p0t.init_radius(sizes, "torch", 0.1), seed=0))
    model = p0t.build_net(sizes, seed=0)
    f = loss_of_flat_params(model, p0.cross_entropy, x, y)
    kw = dict(lr=0.1, grad_norm_tol=1e-4, max_iterations=args.max_iterations, snapshot_tols=[1e-2, 3e-3, 1e-3])
    rows = []
    for path in NAMES if args.only is None else args.only.split(","):
        w0, c0 = time.perf_counter(), time.process_time()
        if path == "groups":
            parts = [batched_gd(theta0[lo:lo + args.group], f, **kw) for lo in range(0, args.inits, args.group)]
            iters = np.concatenate([r.iterations for r in parts])
            steps = sum(int(r.iterations.max()) + 1 for r in parts)
        else:
            step = pooled_mlp_step(model, p0.cross_entropy, x, y) if path == "pool_mlp" else None
            state, _ = pool_gd(theta0, f, pool=args.group, step=step, **kw)
            iters, steps = state.iterations, state.pool_steps
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        net_steps = int(np.sum(iters + 1))
        rows.append({"path": NAMES[path],
                     "inits": args.inits, "group_or_pool": args.group, "max_iterations": args.max_iterations,
                     "cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "cpu_s_per_init": round(cpu / args.inits, 3),
                     "batch_steps": steps, "net_steps": net_steps, "mean_batch": round(net_steps / steps, 1),
                     "capped": int(np.sum(iters >= args.max_iterations)),
                     "median_iterations": int(np.median(iters)), "us_per_net_step": round(1e6 * cpu / net_steps, 1)})
        print(rows[-1], flush=True)
    write_table(rows, args.out)


if __name__ == "__main__":
    main()
