"""Training step cost: the loop's fast gradient path vs autograd on the Sagun et al. blob nets.

``python benchmarks/bench_training.py [--out results/benchmarks/training.csv] [--steps 2000]``
One thread; process CPU seconds per step (the machine may be shared) beside wall time. The two paths
give bit-identical parameters (tests/test_training.py); this measures only their cost.
"""

from __future__ import annotations

import argparse
import os
import time
from unittest import mock

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench_tables import write_table  # noqa: E402
import torch  # noqa: E402

from nnspectra.models.mlp import make_mlp  # noqa: E402
from nnspectra.training import TrainConfig, train  # noqa: E402
from nnspectra.training import loop as training_loop  # noqa: E402

CASES = [("100-30-30-2, GD", [100, 30, 30, 2], None), ("100-30-30-50, GD", [100, 30, 30, 50], None),
         ("100-30-30-50, SGD batch 10", [100, 30, 30, 50], 10), ("784-10-10 (MNIST width), GD", [784, 10, 10], None)]


def time_run(widths: list[int], batch: int | None, steps: int, fast: bool, n: int = 100) -> tuple[float, float]:
    """(wall, CPU) seconds per step of ``steps`` plain-SGD steps on random data."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, widths[0], generator=gen, dtype=torch.float64)
    y = torch.randint(0, widths[-1], (n,), generator=gen)
    model = make_mlp(widths, "relu", seed=0, dtype=torch.float64)
    cfg = TrainConfig(lr=0.01, batch_size=batch, max_iterations=steps, grad_norm_tol=None, log_every=0, progress=False)
    patch = mock.patch.object(training_loop, "fast_gradient_for", lambda *a: None) if not fast else mock.MagicMock()
    with patch:
        w0, c0 = time.perf_counter(), time.process_time()
        train(model, torch.nn.functional.cross_entropy, x, y, cfg)
        return (time.perf_counter() - w0) / steps, (time.process_time() - c0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/training.csv")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name, widths, batch in CASES:
        for fast in (False, True):
            wall, cpu = min((time_run(widths, batch, args.steps, fast) for _ in range(3)), key=lambda t: t[1])
            rows.append({"case": name, "path": "fast gradient" if fast else "autograd",
                         "ms_per_step_cpu": round(1e3 * cpu, 4), "ms_per_step_wall": round(1e3 * wall, 4)})
            print(rows[-1], flush=True)
    write_table(rows, args.out)


if __name__ == "__main__":
    main()
