"""Measured overheads of the one curvature operator family (issue 23 item 3), side by side with the references.

    python benchmarks/bench_overheads.py --out results/benchmarks/overheads      # ~5 CPU-min
    python benchmarks/bench_overheads.py --quick --out results/benchmarks/overheads_quick  # seconds

Writes ``<out>.csv`` (one row per measurement, appended per run with a ``label`` column, so before/after
runs sit in one file). Single-threaded (``torch.set_num_threads(1)``); every row reports process CPU
seconds beside wall seconds (the machine is shared: CPU time is the comparable figure). No assertion is
made on any time. Rows (784-70-10 MLP, N = 1,000, float64, P = 55,660, as in docs/performance.md):

* ``hvp_ours`` -- one ``HessianProducts.matvec``; ``hvp_pyhessian`` -- PyHessian's
  ``hessian_vector_product`` on the same kept graph (``autograd.grad(grads, params, v_list)``, no flat
  vector: what a wrapper around the bare double backward costs); ``hvp_pyhessian_flat`` -- the same made one
  (P,) vector by ``torch.cat`` (the form every solver here takes); ``hvp_curvlinops`` -- curvlinops'
  ``HessianLinearOperator @ v``; ``bound`` -- 8 N P flops at the float64 GEMM rate measured here.
* ``hutchinson_ours`` (the default ``batched=False`` products), ``hutchinson_ours_batched``
  (``batched=True``: one vmapped backward per block), ``hutchinson_curvlinops`` -- the same number of
  Rademacher probes.
* ``slq_ours`` -- SLQ (probes x steps, full reorthogonalisation, the default) with the time inside products
  measured by a timing wrapper: ``krylov_share`` = (total - products) / products; ``slq_ours_partial`` /
  ``slq_ours_none`` -- the same with ``reorth="partial"`` / ``"none"``; ``reorth_steps`` = the fraction of
  (probe, step) pairs that were reorthogonalised, ``rows_read`` the basis rows they read; ``krylov_floor`` =
  the fewest bytes that mode's vector work must move (:func:`krylov_bytes`) at this thread's read rate
  (row ``stream_rate``) / products' time: the share no implementation on this machine could go below.
* The product and Hutchinson rows are timed interleaved (every variant once per round, in a seeded shuffled
  order, each timed call right after an untimed call of the same variant):
  ``ratio_to_ours`` is the median over rounds of the row's CPU time / ours in the same round
  (``ratio_q25`` / ``ratio_q75`` its quartiles), the figure the machine's changing load cannot skew.
* ``lanczos_ours`` -- top-k thick-restart Lanczos; ``per_product_bound`` = CPU time per product inside
  Lanczos / the flop bound, beside ``hvp_ours`` / bound alone.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from nnspectra.curvature.density import hutchinson_trace, slq  # noqa: E402
from nnspectra.curvature.lanczos import lanczos_eigsh  # noqa: E402
from nnspectra.curvature.operators import TorchOperator  # noqa: E402
from nnspectra.curvature.products import HessianProducts  # noqa: E402


class Timed(TorchOperator):
    """Wraps an operator and sums the CPU / wall seconds spent inside its products."""

    def __init__(self, op: TorchOperator):
        self.op, self.size, self.dtype, self.device = op, op.size, op.dtype, op.device
        self.n_products, self.cpu, self.wall = 0, 0.0, 0.0

    def _matmat(self, vecs: torch.Tensor) -> torch.Tensor:
        c0, w0 = time.process_time(), time.perf_counter()
        out = self.op.matmat(vecs)
        self.cpu += time.process_time() - c0
        self.wall += time.perf_counter() - w0
        return out


def clock(fn, reps: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median (CPU s, wall s) of ``reps`` calls after one warm-up call."""
    fn()
    cpus, walls = [], []
    for _ in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return sorted(cpus)[len(cpus) // 2], sorted(walls)[len(walls) // 2]


def interleaved(fns: dict[str, Any], reps: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Each callable once to warm up, then ``reps`` rounds calling every one in a shuffled order (seeded), so a
    change of load on the shared machine falls on all of them alike. Each timed call comes right after an
    untimed call of the same callable, as in a solver's loop of products: a fixed rotation let one variant
    follow another's cache-evicting call in most rounds (ours followed curvlinops' in 3 of 4: part of the ~5 % gap
    measured that way).
    Per name: median CPU and wall seconds, and the per-round CPU ratio to the first name (median and
    quartiles): a ratio from the same round is what the load cannot skew."""
    for fn in fns.values():
        fn()
    names = list(fns)
    order = random.Random(seed)
    cpus: dict[str, list[float]] = {name: [] for name in names}
    walls: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(reps):
        for name in order.sample(names, len(names)):
            fns[name]()
            c0, w0 = time.process_time(), time.perf_counter()
            fns[name]()
            cpus[name].append(time.process_time() - c0)
            walls[name].append(time.perf_counter() - w0)
    first = cpus[names[0]]
    out = {}
    for name in names:
        ratios = [c / f for c, f in zip(cpus[name], first)]
        q25, _, q75 = statistics.quantiles(ratios, n=4)
        out[name] = {"cpu": statistics.median(cpus[name]), "wall": statistics.median(walls[name]),
                     "ratio": statistics.median(ratios), "ratio_q25": q25, "ratio_q75": q75}
    return out


def gemm_rate(size: int = 1500) -> float:
    """float64 GEMM flop/s on this thread (CPU time)."""
    a = torch.randn(size, size, dtype=torch.float64)
    cpu, _ = clock(lambda: a @ a, 3)
    return 2 * size**3 / cpu


def stream_rate(mib: int = 256) -> float:
    """Bytes per CPU second this thread reads from memory (``torch.dot`` of two vectors of ``mib`` MiB each,
    far beyond the caches): the rate every Krylov vector operation here is bound by."""
    a = torch.randn(mib * 2**17, dtype=torch.float64)
    b = torch.randn_like(a)
    cpu, _ = clock(lambda: torch.dot(a, b), 5)
    return 2 * a.numel() * 8 / cpu


def krylov_bytes(size: int, probe_steps: int, rows_read: int) -> int:
    """The fewest bytes SLQ's vector work outside the products must move, whatever its kernels: per (probe,
    step) the recurrence reads A q, q and q_prev and writes the next vector once (4 vectors, fused), and each
    basis row a reorthogonalisation uses is read once (``rows_read``; a fused modified Gram-Schmidt would).
    Divided by :func:`stream_rate` and the products' time, it is the ``krylov_floor`` no implementation on
    this machine can go below."""
    return 8 * size * (4 * probe_steps + rows_read)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/benchmarks/overheads")
    parser.add_argument("--label", default="now", help="tag of this run's rows (e.g. before / after)")
    parser.add_argument("--quick", action="store_true", help="784-20-10 MLP, N = 200, fewer probes")
    parser.add_argument("--only", default="", help="comma-separated row groups: hvp,hutchinson,slq,lanczos")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    hidden, n = (20, 200) if args.quick else (70, 1000)
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10)).double()
    x, y = torch.randn(n, 784, dtype=torch.float64), torch.randint(0, 10, (n,))
    loss_fn = nn.functional.cross_entropy
    p = sum(q.numel() for q in model.parameters())
    bound = 8 * n * p / gemm_rate()
    reps = 5 if args.quick else 20
    groups = set(args.only.split(",")) if args.only else {"hvp", "hutchinson", "slq", "lanczos"}
    rows: list[dict[str, Any]] = []

    def add(name: str, cpu: float, wall: float, **extra: Any) -> None:
        rows.append({"label": args.label, "row": name, "P": p, "N": n, "cpu_s": f"{cpu:.6g}", "wall_s": f"{wall:.6g}",
                     **{k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in extra.items()}})
        print(rows[-1], flush=True)

    add("bound", bound, float("nan"), note="8 N P flops / GEMM rate (CPU)")
    op = HessianProducts(model, loss_fn, x, y)
    v = torch.randn(p, dtype=torch.float64)
    hvp_cpu = None
    if "hvp" in groups:  # ours, PyHessian's and curvlinops' products interleaved round by round
        params = list(model.parameters())
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        v_list = [piece.view_as(q) for piece, q in zip(v.split([q.numel() for q in params]), params)]
        def pyhessian() -> tuple[torch.Tensor, ...]:
            return torch.autograd.grad(grads, params, grad_outputs=v_list, only_inputs=True, retain_graph=True)

        fns = {"hvp_ours": lambda: op.matvec(v), "hvp_pyhessian": pyhessian,
               "hvp_pyhessian_flat": lambda: torch.cat([t.reshape(-1) for t in pyhessian()])}
        try:
            from curvlinops import HessianLinearOperator

            cl = HessianLinearOperator(model, nn.CrossEntropyLoss(), params, [(x, y)], check_deterministic=False)
            fns["hvp_curvlinops"] = lambda: cl @ v
        except ImportError as err:
            print(f"curvlinops missing: {err}")
        notes = {"hvp_pyhessian": "PyHessian hessian_vector_product",
                 "hvp_pyhessian_flat": "PyHessian's product made one (P,) vector by torch.cat"}
        timings = interleaved(fns, reps)
        for name, t in timings.items():
            add(name, t["cpu"], t["wall"], over_bound=t["cpu"] / bound, ratio_to_ours=t["ratio"],
                ratio_q25=t["ratio_q25"], ratio_q75=t["ratio_q75"], note=notes.get(name, ""))
        hvp_cpu = timings["hvp_ours"]["cpu"]
    if "hutchinson" in groups:  # the same probes, interleaved round by round
        probes = 16 if args.quick else 64
        fns = {}
        for batched in (False, True):
            hop = HessianProducts(model, loss_fn, x, y, batched=batched)
            fns["hutchinson_ours_batched" if batched else "hutchinson_ours"] = (
                lambda hop=hop: hutchinson_trace(hop, probes, seed=0, block=16))
        try:
            from curvlinops import HessianLinearOperator, hutchinson_trace as cl_hutchinson

            cl = HessianLinearOperator(model, nn.CrossEntropyLoss(), list(model.parameters()), [(x, y)],
                                       check_deterministic=False)
            fns["hutchinson_curvlinops"] = lambda: cl_hutchinson(cl, probes)
        except ImportError as err:
            print(f"curvlinops missing: {err}")
        for name, t in interleaved(fns, 3 if args.quick else 7).items():
            add(name, t["cpu"], t["wall"], probes=probes, ratio_to_ours=t["ratio"], ratio_q25=t["ratio_q25"],
                ratio_q75=t["ratio_q75"])
    if "slq" in groups:
        import nnspectra.curvature.density as density

        rate = stream_rate(32 if args.quick else 256)
        add("stream_rate", float("nan"), float("nan"), note=f"{rate / 1e9:.1f} GB/s read by torch.dot on this thread")

        n_probes, steps = (4, 30) if args.quick else (10, 100)
        runs: list = []
        tridiagonal = density.lanczos_tridiagonal
        density.lanczos_tridiagonal = lambda *a, **kw: runs.append(tridiagonal(*a, **kw)) or runs[-1]
        for reorth in ("full", "partial", "none"):
            timed = Timed(HessianProducts(model, loss_fn, x, y))
            timed.matvec(v)
            timed.cpu = timed.wall = 0.0
            c0, w0 = time.process_time(), time.perf_counter()
            slq(timed, n_probes, steps, seed=0, reorth=reorth)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            share = float(runs[-1].reorthogonalised.sum()) / (n_probes * steps)
            rows_read = int(runs[-1].rows_read.sum())
            floor = krylov_bytes(p, n_probes * steps, rows_read) / rate
            add("slq_ours" if reorth == "full" else f"slq_ours_{reorth}", cpu, wall, products_cpu_s=timed.cpu,
                krylov_share=(cpu - timed.cpu) / timed.cpu, krylov_floor=floor / timed.cpu, probes=n_probes,
                steps=steps, reorth_steps=share, rows_read=rows_read)
        density.lanczos_tridiagonal = tridiagonal
    if "lanczos" in groups:
        k = 5 if args.quick else 20
        timed = Timed(HessianProducts(model, loss_fn, x, y))
        timed.matvec(v)
        timed.cpu = timed.wall = timed.n_products = 0
        c0, w0 = time.process_time(), time.perf_counter()
        res = lanczos_eigsh(timed, k, "LA", tol=1e-10, return_vectors=False)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        per = timed.cpu / max(1, timed.n_products)
        add("lanczos_ours", cpu, wall, products=timed.n_products, per_product_cpu_s=per,
            per_product_bound=per / bound, alone_bound=(hvp_cpu / bound) if hvp_cpu else float("nan"),
            krylov_share=(cpu - timed.cpu) / timed.cpu, converged=res.converged)
    out = Path(args.out + ".csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["label", "row", "P", "N", "cpu_s", "wall_s", "over_bound", "probes", "steps", "products",
              "products_cpu_s", "krylov_share", "krylov_floor", "reorth_steps", "rows_read", "ratio_to_ours",
              "ratio_q25", "ratio_q75",
              "per_product_cpu_s", "per_product_bound", "alone_bound", "converged",
              "note"]
    if out.exists():  # a file from an older version of this script: its rows kept under today's columns
        with out.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames != fields:
                rows = [*reader, *rows]
                out.unlink()
    new = not out.exists()
    with out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
