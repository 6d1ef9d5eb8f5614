"""Benchmark of the device-agnostic curvature paths (issue 15): products, Lanczos, dense, SLQ; CPU or CUDA.

    python benchmarks/bench_gpu_paths.py --device cpu --out results/benchmarks/gpu_paths_cpu
    python benchmarks/bench_gpu_paths.py --device cuda --out results/benchmarks/gpu_paths_cuda
    python benchmarks/bench_gpu_paths.py --quick --out results/benchmarks/gpu_paths_quick   # small sizes, minutes

Writes ``<out>.csv`` and ``<out>.md`` (rewritten after every row). Every (case, method) runs in a fresh
single-threaded subprocess (its peak memory is its own). Cases (seeded random data of the papers'
shapes; curvature cost does not depend on the values):

* ``convnet``   -- SPEC §1.7 LB/SB convnet (conv 1->8 5x5, pool, ReLU, conv 8->16 5x5, pool, ReLU, FC 256->32,
  ReLU, FC 32->10), P = 11,978, N = 1,000 MNIST-shaped inputs;
* ``mlp55k``    -- 784-70-10 MLP, P = 55,660, N = 1,000 (the widest MNIST net of Sagun et al. 2018);
* ``alexnet``   -- bare AlexNet of SPEC §1.9, P = 1,756,426, N = 1,000 CIFAR-shaped inputs (density only).

Methods: ``product_*`` (one Hessian-vector product: ours = double backward on a kept graph; ``jvp`` =
torch.func forward-over-reverse ``jvp(grad)``, the route of the former scipy operators; ``scipy`` = our
operator's scipy view ``HessianProducts.to_scipy()`` with its numpy round trip; ``curvlinops``),
``lanczos_*`` (top-k by our torch Lanczos, by ARPACK on the scipy view,
by ARPACK on curvlinops' operator), ``dense_ours`` (dense Hessian from batched products + eigvalsh),
``slq_*`` (density with equal probes and steps: ours with full reorthogonalisation, curvlinops' Papyan
Alg. 2), ``slq_gn_ours`` (Gauss-Newton density).

Flop bound of one product: 4 x the FLOPs of one forward pass over the N samples (= 8 N P for an MLP),
counted by torch.utils.flop_counter, at the float64 GEMM rate measured in the same run (CPU time on the
CPU, GPU time on CUDA). The cap: before running a row its time and memory are predicted (from the
product time and peak memory measured in the case's first row); a row predicted over ``--cap`` seconds
or over the memory budget is skipped and the table says why; measured and predicted are reported
side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curvature_harness import cpu_name, rss_mb  # noqa: E402

from nnspectra.models.sizes import mlp_parameter_count  # noqa: E402

CASES: dict[str, dict[str, Any]] = {
    "convnet": {"kind": "convnet", "channels": [8, 16], "hidden": 32, "image": 28, "n": 1000},
    "mlp55k": {"kind": "mlp", "widths": [784, 70, 10], "n": 1000},
    "alexnet": {"kind": "alexnet", "channels": [64, 64], "hidden": [384, 192], "n": 1000},
}
QUICK_CASES: dict[str, dict[str, Any]] = {
    "convnet-small": {"kind": "convnet", "channels": [4, 8], "hidden": 16, "image": 28, "n": 500},
    "mlp784-20-10": {"kind": "mlp", "widths": [784, 20, 10], "n": 1000},
}
PRODUCT_METHODS = ["product_ours", "product_ours_batched", "product_jvp", "product_scipy", "product_curvlinops"]
LANCZOS_METHODS = ["lanczos_ours", "lanczos_arpack", "lanczos_curvlinops"]
METHODS = {
    "convnet": PRODUCT_METHODS + ["dense_ours"] + LANCZOS_METHODS + ["slq_ours", "slq_curvlinops", "slq_gn_ours"],
    "mlp": PRODUCT_METHODS + ["dense_ours"] + LANCZOS_METHODS + ["slq_ours", "slq_curvlinops"],
    "alexnet": ["product_ours", "product_curvlinops", "slq_ours", "slq_curvlinops"],
}


# ------------------------------------------------------------------------------------------------ child
def _build(case: dict[str, Any], device: str):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    from nnspectra.models.convnets import make_bare_alexnet, make_small_convnet

    gen = torch.Generator().manual_seed(1)
    n = case["n"]
    if case["kind"] == "convnet":
        model = make_small_convnet(channels=case["channels"], hidden=case["hidden"], image_size=case["image"],
                                   dtype=torch.float64)
        x = torch.randn(n, 1, case["image"], case["image"], generator=gen, dtype=torch.float64)
    elif case["kind"] == "alexnet":
        model = make_bare_alexnet(channels=case["channels"], hidden=case["hidden"], dtype=torch.float64)
        x = torch.randn(n, 3, 32, 32, generator=gen, dtype=torch.float64)
    else:
        torch.manual_seed(0)
        w = case["widths"]
        layers: list[nn.Module] = []
        for a, b in zip(w[:-1], w[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        model = nn.Sequential(*layers[:-1]).double()
        x = torch.randn(n, w[0], generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (n,), generator=gen)
    return model.to(device), x.to(device), y.to(device)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _memory_now(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.memory_allocated() / 2**20
    return rss_mb()


def _memory_peak(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gemm_gflops(device: str, size: int = 2000) -> float:
    """float64 GEMM rate: GFLOP/s of process CPU time (CPU) or of GPU time (CUDA), best of 3."""
    import torch

    a = torch.randn(size, size, dtype=torch.float64, device=device)
    a @ a
    best = math.inf
    for _ in range(3):
        _sync(device)
        t0 = time.perf_counter() if device.startswith("cuda") else time.process_time()
        a @ a
        _sync(device)
        best = min(best, (time.perf_counter() if device.startswith("cuda") else time.process_time()) - t0)
    return 2 * size**3 / best / 1e9


def forward_flops(model, x) -> float:  # type: ignore[no-untyped-def]
    """FLOPs of one forward pass (torch.utils.flop_counter: matmuls and convolutions)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return float(counter.get_total_flops())


def tail_work(model, x) -> float:  # type: ignore[no-untyped-def]
    """sum over parameter groups b of (parameters of b) x (forward FLOPs of groups >= b) / (all forward FLOPs):
    the number of full products the layer-triangular dense build is worth (nnspectra.curvature.generic),
    assuming the groups run in parameter order (true for nn.Sequential)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from nnspectra.curvature.generic import parameter_groups

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    total = float(counter.get_total_flops()) or 1.0
    root = type(model).__name__
    groups = parameter_groups(model)
    sizes = [sum(dict(model.named_parameters())[n].numel() for n in g) for g in groups]
    owners = [g[0].rsplit(".", 1)[0] if "." in g[0] else "" for g in groups]
    flops = [float(per_module.get(f"{root}.{o}" if o else root, 0.0)) for o in owners]
    work = 0.0
    for b, size in enumerate(sizes):
        work += size * sum(flops[b:]) / total
    return work


class _Timer:
    def __init__(self, device: str):
        self.device = device

    def __enter__(self) -> "_Timer":
        _sync(self.device)
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        _sync(self.device)
        self.wall, self.cpu = time.perf_counter() - self.w0, time.process_time() - self.c0


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One (case, method) in this process: its timings, memory and accuracy."""
    import torch
    from torch import nn

    from nnspectra.curvature import top_eigenpairs
    from nnspectra.models.flat import flat_parameters, loss_of_flat_params
    from nnspectra.curvature.density import slq, w1_distance
    from nnspectra.curvature.eigen import eigvalsh_dense
    from nnspectra.curvature.lanczos import lanczos_eigsh
    from nnspectra.curvature.products import GaussNewtonProducts, HessianProducts

    torch.set_num_threads(1)
    device, method, tmp = spec["device"], spec["method"], Path(spec["tmp"])
    torch.manual_seed(0)
    model, x, y = _build(spec["case"], device)
    loss_fn = nn.functional.cross_entropy
    p = sum(q.numel() for q in model.parameters())
    rec: dict[str, Any] = {"P": p}
    ref_eigs = tmp / "dense_eigenvalues.npy"
    k, probes, steps, reps = spec["k"], spec["probes"], spec["steps"], spec["reps"]

    def curvlinops_op():  # type: ignore[no-untyped-def]
        from curvlinops import HessianLinearOperator

        return HessianLinearOperator(model, nn.CrossEntropyLoss(), list(model.parameters()), [(x, y)],
                                     check_deterministic=False)

    mem0 = _memory_now(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    if method.startswith("product"):
        rec["forward_gflop"] = forward_flops(model, x) / 1e9
        v = torch.randn(p, dtype=torch.float64, device=device)
        if method in ("product_ours", "product_ours_batched"):
            op = HessianProducts(model, loss_fn, x, y, batched=method.endswith("batched"))
            rec["graph_mb"] = op.graph_bytes / 2**20
            rec["tail_work"] = tail_work(model, x)
            block = 8 if method.endswith("batched") else 1
            vecs = torch.randn(block, p, dtype=torch.float64, device=device)

            def once():  # type: ignore[no-untyped-def]
                return op.matmat(vecs)
        elif method == "product_jvp":
            grad_f = torch.func.grad(loss_of_flat_params(model, loss_fn, x, y))
            theta, block = flat_parameters(model), 1

            def once():  # type: ignore[no-untyped-def]
                return torch.func.jvp(grad_f, (theta,), (v,))[1]
        elif method == "product_scipy":
            hop = HessianProducts(model, loss_fn, x, y, device=device).to_scipy()
            vn, block = v.cpu().numpy(), 1

            def once():  # type: ignore[no-untyped-def]
                return hop.matvec(vn)
        else:
            cl, block = curvlinops_op(), 1

            def once():  # type: ignore[no-untyped-def]
                return cl @ v
        once()
        walls, cpus = [], []
        for _ in range(reps):
            with _Timer(device) as t:
                once()
            walls.append(t.wall / block)
            cpus.append(t.cpu / block)
            if sum(walls) * block > 30.0:  # slow products (AlexNet on a CPU): fewer repetitions
                break
        rec.update(wall_s=float(np.median(walls)), cpu_s=float(np.median(cpus)), products=len(walls) * block)
    elif method == "dense_ours":
        from nnspectra.curvature import hessian

        with _Timer(device) as t:
            h = hessian(model, loss_fn, x, y, budget_gb=spec["budget_gb"])
            t_build = time.process_time()
            eigs = eigvalsh_dense(h)
        rec.update(wall_s=t.wall, cpu_s=t.cpu, eig_cpu_s=time.process_time() - t_build)
        peak = _memory_peak(device)
        probe = torch.randn(3, p, dtype=torch.float64, device=device)  # accuracy: H against 3 products
        rows = HessianProducts(model, loss_fn, x, y).matmat(probe)
        rec["max_rel_diff"] = float((probe @ h - rows).abs().max() / rows.abs().max())
        rec["reference"] = "3 products"
        np.save(ref_eigs, eigs)
        del h
        rec["peak_mb"] = peak - mem0
    elif method.startswith("lanczos"):
        tol = spec["tol"]
        warm = torch.randn(p, dtype=torch.float64, device=device)  # first products pay one-time set-up costs
        if method == "lanczos_ours":
            op = HessianProducts(model, loss_fn, x, y)
            op.matvec(warm)
            op.n_products = 0
            with _Timer(device) as t:
                res = lanczos_eigsh(op, k, "LA", tol=tol, return_vectors=False)
            vals, products = res.values.cpu().numpy(), res.n_products
            rec["converged"] = res.converged
        else:
            from scipy.sparse.linalg import eigsh

            if method == "lanczos_arpack":
                sop = HessianProducts(model, loss_fn, x, y, device=device).to_scipy()
                sop.matvec(warm.cpu().numpy())
                sop.op.n_products = 0
                with _Timer(device) as t:
                    vals, _ = top_eigenpairs(sop, k, tol=tol, return_vectors=False)
                products = sop.n_matvec
            else:
                cl = curvlinops_op()
                cl @ warm
                counter = {"n": 0}
                scipy_op = cl.to_scipy()

                def matvec(vec):  # type: ignore[no-untyped-def]
                    counter["n"] += 1
                    return scipy_op.matvec(vec)

                from scipy.sparse.linalg import LinearOperator

                counted = LinearOperator(scipy_op.shape, matvec=matvec, dtype=scipy_op.dtype)
                with _Timer(device) as t:
                    vals = eigsh(counted, k=k, which="LA", tol=tol, return_eigenvectors=False,
                                 v0=np.random.default_rng(0).standard_normal(p))
                products = counter["n"]
            vals = np.sort(np.asarray(vals))[::-1]
        rec.update(wall_s=t.wall, cpu_s=t.cpu, products=products)
        rec["top1"] = float(vals[0])
        np.save(tmp / f"{method}.npy", vals)
        ref_name = "dense" if ref_eigs.exists() else ("lanczos_ours" if method != "lanczos_ours" else None)
        if ref_name == "dense":
            ref = np.load(ref_eigs)[::-1][: len(vals)]
        elif ref_name and (tmp / "lanczos_ours.npy").exists():
            ref = np.load(tmp / "lanczos_ours.npy")
        else:
            ref = None
        if ref is not None:
            rec["max_rel_diff"] = float(np.max(np.abs(vals - ref) / np.abs(ref)))
            rec["reference"] = f"{ref_name} top-{len(vals)}"
        rec["peak_mb"] = _memory_peak(device) - mem0
    elif method.startswith("slq"):
        if method in ("slq_ours", "slq_gn_ours"):
            cls = GaussNewtonProducts if method == "slq_gn_ours" else HessianProducts
            op = cls(model, loss_fn, x, y)
            op.matvec(torch.randn(p, dtype=torch.float64, device=device))
            op.n_products = 0
            with _Timer(device) as t:
                dens = slq(op, probes, steps, seed=0, block=spec["slq_block"])
            nodes, weights, products = dens.nodes, dens.weights, dens.n_products
            rec["trace"] = dens.trace_mean
            rec["trace_std"] = dens.trace_std
        else:
            from curvlinops.papyan2020traces.spectrum import fast_lanczos

            cl = curvlinops_op()
            cl @ torch.randn(p, dtype=torch.float64, device=device)
            torch.manual_seed(0)
            with _Timer(device) as t:
                runs = [fast_lanczos(cl, steps) for _ in range(probes)]
            nodes = np.stack([r[0].cpu().numpy() for r in runs])
            weights = np.stack([(r[1][0] ** 2).cpu().numpy() for r in runs])
            products = probes * steps
            rec["trace"] = float(p * (nodes * weights).sum(1).mean())
            rec["trace_std"] = float(p * (nodes * weights).sum(1).std(ddof=1))
        rec.update(wall_s=t.wall, cpu_s=t.cpu, products=products, lambda_max=float(nodes.max()))
        if ref_eigs.exists() and method != "slq_gn_ours":
            eigs = np.load(ref_eigs)
            rec["w1_over_range"] = w1_distance(nodes, weights, eigs) / float(eigs[-1] - eigs[0])
            rec["trace_exact"] = float(eigs.sum())
            rec["reference"] = "dense eigenvalues"
        rec["peak_mb"] = _memory_peak(device) - mem0
    else:
        raise ValueError(f"unknown method {method}")
    rec.setdefault("peak_mb", _memory_peak(device) - mem0)
    return rec


# ----------------------------------------------------------------------------------------------- parent
def predict(method: str, p: int, per_product_s: float | None, product_mb: float | None, spec: dict[str, Any],
            gflops: float, tail: float | None = None) -> tuple[float, float]:
    """(seconds, MiB) a row is expected to take, from the case's ``product_ours`` row: its time per product
    and its peak memory (the kept graph plus one product's temporaries).

    dense: MLPs 2 N P^2 flops at the GEMM rate; other models sum_b n_b x (share of the forward FLOPs from
    group b on) products (the layer-triangular build, :func:`tail_work`; batching makes it an upper bound) +
    eigvalsh at 0.38 x the GEMM rate for (4/3) P^3 flops (measured: P = 11,978 in 62 s at 58 GFLOP/s);
    memory 2 P^2 float64 (matrix + eigvalsh's copy) + the product's memory + the column-block workspace,
    which nnspectra.curvature.generic caps at BLOCK_FRACTION of the budget left, MAX_BLOCK columns and
    MAX_BLOCK_BYTES.
    Lanczos: 20 k + 50 products (measured 5-20 per wanted value), each with a reorthogonalisation of
    ~4 ncv P flops at a tenth of the GEMM rate (memory-bound GEMV); basis (ncv + 1) P float64.
    SLQ: probes x steps products, reorthogonalisation 2 steps P flops per product; basis probes x steps x P.
    """
    t_prod = per_product_s if per_product_s is not None else 0.0
    base = product_mb or 0.0
    gemv = 0.1 * gflops * 1e9
    if method.startswith("product"):
        return 0.0, base
    if method == "dense_ours":
        from nnspectra.curvature.generic import BLOCK_FRACTION, MAX_BLOCK, MAX_BLOCK_BYTES, PER_COLUMN_FACTOR

        workspace = min(BLOCK_FRACTION * max(0.0, spec["budget_mb"] - p * p * 8 / 2**20),
                        MAX_BLOCK * PER_COLUMN_FACTOR * base, MAX_BLOCK_BYTES / 2**20)
        if spec["case"]["kind"] == "mlp":  # layer GEMMs, ~N P^2 multiply-adds (nnspectra.curvature.mlp)
            build = 2 * spec["case"]["n"] * p * p / (gflops * 1e9)
        else:
            build = (tail if tail is not None else p) * t_prod
        return build + (4 / 3) * p**3 / (0.38 * gflops * 1e9), 2 * p * p * 8 / 2**20 + base + workspace
    if method.startswith("lanczos"):
        ncv = max(2 * spec["k"] + 1, 20)
        products = 20 * spec["k"] + 50
        return products * (t_prod + 4 * ncv * p / gemv), base + (ncv + 1) * p * 8 / 2**20
    products = spec["probes"] * spec["steps"]
    if method == "slq_curvlinops":  # no reorthogonalisation, three vectors per run
        return products * t_prod, base + 3 * p * 8 / 2**20
    return products * (t_prod + 2 * spec["steps"] * p / gemv), base + products * p * 8 / 2**20


def run(args: argparse.Namespace, log=print) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    import torch

    from nnspectra.curvature.memory import memory_budget_bytes

    torch.set_num_threads(1)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no GPU")
    gflops = gemm_gflops(device)
    budget_mb = memory_budget_bytes(args.budget_gb, device) / 2**20
    log(f"device {device}, float64 GEMM {gflops:.1f} GFLOP/s, memory budget {budget_mb / 1024:.1f} GiB")
    cases = QUICK_CASES if args.quick else CASES
    chosen = args.cases.split(",") if args.cases else list(cases)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    rows: list[dict[str, Any]] = []
    meta = {"device": device, "gflops": gflops, "budget_mb": budget_mb, "torch": torch.__version__,
            "device_name": torch.cuda.get_device_name() if device == "cuda" else cpu_name(), "quick": args.quick,
            "k": args.k, "probes": args.probes, "steps": args.steps, "cap_s": args.cap}
    for name in chosen:
        case = cases[name]
        methods = [m for m in METHODS[case["kind"]] if not args.methods or m in args.methods.split(",")]
        per_product, product_mb, tail = None, None, None
        with tempfile.TemporaryDirectory(prefix="nnspectra-gpu-bench-") as tmp:
            for method in methods:
                spec = {"case": case, "method": method, "device": device, "tmp": tmp, "k": args.k,
                        "probes": args.probes, "steps": args.steps, "reps": args.reps, "tol": args.tol,
                        "budget_gb": args.budget_gb, "slq_block": args.slq_block, "budget_mb": budget_mb}
                p = _n_params(case)
                row: dict[str, Any] = {"case": name, "P": p, "N": case["n"], "method": method}
                pred_s, pred_mb = predict(method, p, per_product, product_mb, spec, gflops, tail)
                row.update(predicted_s=pred_s, predicted_mb=pred_mb)
                if method.startswith(("lanczos", "slq", "dense")) and per_product is None:
                    row["status"] = "skipped: no product time measured for the prediction"
                elif pred_s > args.cap:
                    row["status"] = f"skipped: predicted {pred_s:.0f} s > cap {args.cap:.0f} s"
                elif pred_mb > budget_mb:
                    row["status"] = f"skipped: predicted {pred_mb / 1024:.1f} GiB > budget {budget_mb / 1024:.1f} GiB"
                if "status" in row:
                    log(f"{name} {method}: {row['status']}")
                    rows.append(row)
                    _write(rows, meta, args.out)
                    continue
                cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
                try:
                    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                                          timeout=max(60.0, 3 * args.cap))
                except subprocess.TimeoutExpired:
                    row["status"] = f"killed after {3 * args.cap:.0f} s"
                    rows.append(row)
                    _write(rows, meta, args.out)
                    continue
                if proc.returncode != 0:
                    row["status"] = "error: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:200]
                else:
                    rec = json.loads(proc.stdout.strip().splitlines()[-1])
                    row.update(rec, status="ok")
                    if method == "product_ours":
                        per_product = rec["cpu_s"] if device == "cpu" else rec["wall_s"]
                        product_mb = rec["peak_mb"]
                        tail = rec["tail_work"]
                    if "forward_gflop" in rec:
                        row["bound_s"] = 4 * rec["forward_gflop"] / gflops
                log(f"{name} {method}: {row['status']} " + ", ".join(
                    f"{key} {row[key]:.4g}" for key in ("wall_s", "cpu_s", "products", "peak_mb", "max_rel_diff",
                                                        "w1_over_range") if isinstance(row.get(key), float | int)))
                rows.append(row)
                _write(rows, meta, args.out)
    return rows


def _n_params(case: dict[str, Any]) -> int:
    if case["kind"] == "mlp":
        return mlp_parameter_count(case["widths"])
    if case["kind"] == "convnet":
        c1, c2 = case["channels"]
        size = ((case["image"] - 4) // 2 - 4) // 2
        return c1 * 25 + c1 + c2 * c1 * 25 + c2 + c2 * size * size * case["hidden"] + case["hidden"] + case["hidden"] * 10 + 10
    c1, c2 = case["channels"]
    h1, h2 = case["hidden"]
    return 3 * c1 * 25 + c1 + c1 * c2 * 25 + c2 + c2 * 64 * h1 + h1 + h1 * h2 + h2 + h2 * 10 + 10


COLUMNS = ["case", "P", "N", "method", "status", "wall_s", "cpu_s", "eig_cpu_s", "products", "per_product_ms",
           "bound_ms", "over_bound", "peak_mb", "predicted_s", "predicted_mb", "max_rel_diff", "w1_over_range",
           "trace", "trace_std", "trace_exact", "reference"]


def _derived(row: dict[str, Any], device: str) -> dict[str, Any]:
    out = dict(row)
    secs = row.get("cpu_s") if device == "cpu" else row.get("wall_s")
    if row.get("status") == "ok" and secs is not None and row.get("products"):
        per = secs if row["method"].startswith("product") else secs / row["products"]
        out["per_product_ms"] = 1e3 * per
        if row.get("bound_s"):
            out["bound_ms"] = 1e3 * row["bound_s"]
            out["over_bound"] = per / row["bound_s"]
    return out


def _write(rows: list[dict[str, Any]], meta: dict[str, Any], out: str) -> None:
    import csv

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the flop bound of a case (from its product rows) applies to its Lanczos/SLQ rows too
    bounds = {r["case"]: r["bound_s"] for r in rows if r.get("bound_s")}
    full = [_derived({**r, "bound_s": r.get("bound_s", bounds.get(r["case"]))}, meta["device"]) for r in rows]
    with open(path.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS + ["device", "gflops"], extrasaction="ignore")
        writer.writeheader()
        for r in full:
            writer.writerow({**r, "device": meta["device_name"], "gflops": meta["gflops"]})
    path.with_suffix(".md").write_text(markdown(full, meta))


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The table plus the CPU targets of issue 15 where this run measured them."""
    timing = "process CPU" if meta["device"] == "cpu" else "wall (GPU synchronised)"
    lines = [f"# Curvature paths benchmark ({meta['device']}{', quick' if meta['quick'] else ''})", "",
             f"Device: {meta['device_name']}; torch {meta['torch']}; one CPU thread; float64; float64 GEMM "
             f"{meta['gflops']:.1f} GFLOP/s (this run). Per-product times use {timing} seconds; flop bound of a "
             "product = 4 x forward FLOPs (8 N P for an MLP) at that GEMM rate. Lanczos: top-"
             f"{meta['k']} (LA); SLQ: {meta['probes']} probes x {meta['steps']} steps. Memory: peak increase over "
             "the process after setup (RSS on CPU, allocated on CUDA), predicted before the run.", "",
             "| case | P | method | status | wall s | CPU s | products | ms/product | bound ms | x bound | "
             "peak MiB | pred. s | pred. MiB | max rel diff | W1/range | trace | reference |", "|" + "---|" * 17]
    for r in rows:
        trace = "-" if r.get("trace") is None else f"{r['trace']:.4g} ± {r.get('trace_std', float('nan')):.2g}" + (
            f" (exact {r['trace_exact']:.4g})" if r.get("trace_exact") is not None else "")
        lines.append("| " + " | ".join([
            str(r["case"]), f"{int(r['P']):,}", r["method"], str(r.get("status", "")), _fmt(r.get("wall_s"), ".3g"),
            _fmt(r.get("cpu_s"), ".3g"), _fmt(r.get("products"), ".0f"), _fmt(r.get("per_product_ms"), ".3g"),
            _fmt(r.get("bound_ms"), ".3g"), _fmt(r.get("over_bound"), ".2f"), _fmt(r.get("peak_mb"), ".0f"),
            _fmt(r.get("predicted_s"), ".3g"), _fmt(r.get("predicted_mb"), ".0f"), _fmt(r.get("max_rel_diff"), ".1e"),
            _fmt(r.get("w1_over_range"), ".2e"), trace, str(r.get("reference", "-"))]) + " |")
    lines += ["", "## Targets of issue 15 measured here (reported, not asserted)", "",
              "| target | measured | met |", "|---|---|---|"]
    for r in rows:
        if r["case"] == "convnet" and r["method"] == "dense_ours" and r.get("status") == "ok":
            secs = r["cpu_s"] if meta["device"] == "cpu" else r["wall_s"]
            need = 300 if meta["device"] == "cpu" else 30
            lines.append(f"| convnet (P = 11,978) full dense float64 spectrum <= {need} s | {secs:.0f} s "
                         f"(eigvalsh {r.get('eig_cpu_s', float('nan')):.0f} s CPU) | {'yes' if secs <= need else 'NO'} |")
        if r["case"] == "mlp55k" and r["method"] in ("product_ours", "lanczos_ours") and r.get("over_bound"):
            lines.append(f"| {r['method']} at P = 55,660 <= 1.5x flop bound | {r['over_bound']:.2f}x | "
                         f"{'yes' if r['over_bound'] <= 1.5 else 'NO'} |")
        if r["case"] == "alexnet" and r["method"] == "slq_ours" and r.get("status") == "ok":
            lines.append(f"| CIFAR AlexNet density {meta['probes']} x {meta['steps']} <= 300 s | {r['wall_s']:.0f} s | "
                         f"{'yes' if r['wall_s'] <= 300 else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--out", default="results/benchmarks/gpu_paths", help="path prefix for .csv and .md")
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes on one CPU core)")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--methods", help="comma-separated methods (default: all)")
    parser.add_argument("--cap", type=float, default=1800.0, help="skip rows predicted to take longer (seconds)")
    parser.add_argument("--budget-gb", type=float, default=None, help="memory budget (default 80%% available)")
    parser.add_argument("--k", type=int, default=20, help="Lanczos: number of top eigenvalues")
    parser.add_argument("--tol", type=float, default=1e-10, help="Lanczos tolerance (ours and ARPACK)")
    parser.add_argument("--probes", type=int, default=10, help="SLQ probes")
    parser.add_argument("--steps", type=int, default=100, help="SLQ Lanczos steps per probe")
    parser.add_argument("--slq-block", type=int, default=None, help="SLQ probes per lockstep block")
    parser.add_argument("--reps", type=int, default=10, help="repetitions of a single product")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return
    run(args, log=lambda msg: print(msg, flush=True))


if __name__ == "__main__":
    main()
