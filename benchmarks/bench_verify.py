"""What verifying cached results costs at paper scale: sha256 of the inputs against their sidecars (issue 12).

Builds a results tree whose files have the sizes of the paper preset's intermediates (counts and sizes from
config/config.yaml and the parameter counts of the networks, listed in ``PAPER_FILES``; the bytes are random,
the sidecars real), then times, in this process (wall and CPU seconds):

* ``every file``: :func:`nnspectra.pipeline.verify.verify_inputs` over every cached file of the tree (what
  an ``onstart`` check of the whole tree, or ``nnspectra audit``, hashes);
* the inputs the ``onstart`` check hashes for three typical reruns (the jobs' inputs that the run does not
  rebuild): an edit of the curvature code (every spectrum job reruns: it reads every model and data set),
  a rerun of the CIFAR-10 line scan (two AlexNet end points), a new Table 1 (every counts file);
* a byte flip whose mtime is restored with ``os.utime`` (what a size + mtime shortcut would miss): caught.

    python benchmarks/bench_verify.py [--out results/benchmarks] [--repeat 3]

Writes ``verify.csv`` and ``verify.md`` to ``--out``. The files were just written, so they are in the page
cache: the times are the hashing cost (CPU bound); from a cold disk add the time to read the bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from nnspectra.errors import CorruptResultError
from nnspectra.models.sizes import mlp_parameter_count
from nnspectra.pipeline.provenance import build_record, write_sidecar
from nnspectra.pipeline.verify import verify_inputs

KB = 1024
P_BLOBS = mlp_parameter_count([100, 30, 30, 50])  # the largest Table 1 net (k = 50): 5,510 parameters
P_MNIST = [mlp_parameter_count([784, n, 10]) for n in (10, 30, 50, 70)]
P_CIFAR = 1_756_426  # bare AlexNet, channels [64, 64], hidden [384, 192] (config.yaml)
# (group, file pattern, count, bytes each): paper preset (config.yaml), float64 unless said otherwise
PAPER_FILES = [
    ("blobs", "blobs/data/k{i}/data.npz", 75, 2 * 100 * 100 * 8 + 4 * KB),        # 2N x d inputs, 15 (k, cov) x 5 seeds
    ("blobs", "blobs/runs/r{i}/model_init.pt", 95, P_BLOBS * 8 + 2 * KB),           # 19 rows x 5 seeds
    ("blobs", "blobs/runs/r{i}/model_final.pt", 95, P_BLOBS * 8 + 2 * KB),
    ("blobs", "blobs/runs/r{i}/spectrum_final.npz", 95, P_BLOBS * 8 + 1 * KB),
    ("blobs", "blobs/runs/r{i}/spectrum_init.npz", 95, P_BLOBS * 8 + 1 * KB),
    ("blobs", "blobs/runs/r{i}/decomposition_final.npz", 10, 3 * P_BLOBS * 8 + 1 * KB),
    ("blobs", "blobs/runs/r{i}/history.csv", 95, 40 * KB),
    ("blobs", "blobs/runs/r{i}/counts.json", 95, 2 * KB),
    *[("mnist", f"realdata/mnist/n{n}/model.pt", 1, p * 4 + 2 * KB) for n, p in zip((10, 30, 50, 70), P_MNIST)],
    *[("mnist", f"realdata/mnist/n{n}/spectrum.npz", 1, p * 8 + 1 * KB) for n, p in zip((10, 30, 50, 70), P_MNIST)],
    ("lbsb", "realdata/lbsb/{i}/model.pt", 2, 11_978 * 4 + 2 * KB),
    ("lbsb", "realdata/lbsb/{i}/spectrum.npz", 2, 11_978 * 8),
    ("cifar", "realdata/cifar/part{i}.pt", 2, P_CIFAR * 4 + 4 * KB),                  # float32
    ("cifar", "realdata/cifar/history{i}.csv", 2, 200 * KB),
    ("evolution", "evolution/run{i}/spectra.npz", 54, 4 * (1000 + 2 * 2000 + 2000) * 8),  # 18 runs x 3 seeds
    ("alignment", "alignment/run{i}/run.npz", 52, 1000 * 16 * 8 * 4 + 200 * KB),     # 52 runs, d = 1000
]


def build_tree(root: Path, seed: int = 0) -> dict[str, list[Path]]:
    """Write the paper-sized files (random bytes) with real sidecars; returns the paths by group."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[Path]] = {}
    for group, pattern, count, size in PAPER_FILES:
        for i in range(count):
            path = root / pattern.format(i=i)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            write_sidecar(build_record(step=group, output=path), path)
            groups.setdefault(group, []).append(path)
    return groups


def timed(paths: list[Path], repeat: int) -> tuple[float, float, int]:
    """Best wall and CPU seconds of ``verify_inputs(paths)`` over ``repeat`` runs, and the bytes hashed."""
    best_wall, best_cpu, hashed = float("inf"), float("inf"), 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        hashed = verify_inputs(paths, require_sidecar=True)
        best_wall, best_cpu = min(best_wall, time.perf_counter() - w0), min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, hashed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks"), help="folder for verify.csv/.md")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (the best is reported)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        groups = build_tree(Path(tmp))
        everything = [p for paths in groups.values() for p in paths]
        by_name = {p.name: [q for q in everything if q.name == p.name] for p in everything}
        cases = {
            "every cached file of the tree": everything,
            "curvature edit: every spectrum job's inputs (models, data)":
                [p for p in everything if p.suffix == ".pt" or p.name == "data.npz"],
            "CIFAR-10 line scan rerun: its two end points": groups["cifar"][:2],
            "Table 1 rerun: every counts file": by_name["counts.json"],
        }
        for case, paths in cases.items():
            wall, cpu, hashed = timed(paths, args.repeat)
            rows.append({"case": case, "files": len(paths), "MB": round(hashed / 1e6, 1), "wall_s": round(wall, 3),
                         "cpu_s": round(cpu, 3), "MB_per_cpu_s": round(hashed / 1e6 / max(cpu, 1e-9), 1)})
        victim = groups["cifar"][0]  # one flipped byte, mtime restored: size + mtime would not see it
        stat = victim.stat()
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x01
        victim.write_bytes(bytes(data))
        os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        try:
            verify_inputs([victim], require_sidecar=True)
            caught = "NOT caught"
        except CorruptResultError:
            caught = "caught"
        total_mb = sum(p.stat().st_size for p in everything) / 1e6
    frame = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "verify.csv", index=False)
    text = (frame.to_markdown(index=False) + f"\n\nByte flip with the mtime restored (os.utime): {caught}.\n"
            f"Tree: {len(everything)} files, {total_mb:.0f} MB "
            f"(paper-preset sizes, PAPER_FILES in benchmarks/bench_verify.py).\n")
    (out / "verify.md").write_text(text)
    print(text, end="")
    return 0 if caught == "caught" else 1


if __name__ == "__main__":
    sys.exit(main())
