#!/usr/bin/env bash
# One prepared device check for issue 15 (about 10 min on one H100/H200; needs torch, scipy, numpy, pytest).
#   bash benchmarks/gpu_check.sh [OUT_DIR]        (default: $OUT, else results/benchmarks)
# 1. the CUDA tests of the curvature paths (CPU vs GPU agreement, basis on the device);
# 2. benchmarks/bench_gpu_paths.py --device cuda: convnet (P = 11,978) dense spectrum vs Lanczos, products
#    at P = 55,660, CIFAR AlexNet (P = 1,756,426) density with 10 probes x 100 steps -> gpu_paths_cuda.{csv,md}.
# curvlinops rows and tests are skipped where curvlinops is not installed.
set -uo pipefail
out="${1:-${OUT:-results/benchmarks}}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv | tee "$out/gpu.txt"
python -c "import torch, sys; print('torch', torch.__version__, 'python', sys.version.split()[0])" | tee -a "$out/gpu.txt"
timeout 180 python -m pytest -q -p no:cacheprovider tests/test_dense_any_module.py tests/test_lanczos.py \
    -k "cuda" 2>&1 | tail -5 | tee "$out/gpu_tests.txt"
timeout 420 python benchmarks/bench_gpu_paths.py --device cuda --out "$out/gpu_paths_cuda" --cap 240 \
    --probes 10 --steps 100 --reps 20 2>&1 | grep -v -i warn | tee "$out/gpu_paths_cuda.log"
cat "$out/gpu_paths_cuda.md" 2>/dev/null
