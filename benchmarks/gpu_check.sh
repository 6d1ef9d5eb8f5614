#!/usr/bin/env bash
# One prepared device check for issue 15 (about 10 min on one H100/H200; needs torch, scipy, numpy, pytest).
#   bash benchmarks/gpu_check.sh [OUT_DIR]        (default: $OUT, else results/benchmarks)
# 1. the CUDA tests of the curvature paths (CPU vs GPU agreement, basis on the device);
# 2. benchmarks/bench_gpu_paths.py --device cuda: convnet (P = 11,978) dense spectrum vs Lanczos, products
#    at P = 55,660, CIFAR AlexNet (P = 1,756,426) density with 10 probes x 100 steps -> gpu_paths_cuda.{csv,md}.
# 3. issue 24's GPU target (benchmarks/gpu_analyze.yaml): ResNet-18 on 5,000 CIFAR-10 images, top-20 + SLQ of H
#    and GN (5 probes x 80 steps) + trace (100 probes), <= 10 min -> analyze_gpu.{csv,md}. Needs .device/analyze
#    (ANALYZE=1 bash benchmarks/prepare_device.sh) carried; skipped with one line without it.
#    STEPS picks steps (default "tests paths analyze"); the analyze step alone:
#      run(command="STEPS=analyze bash benchmarks/gpu_check.sh", carry=[".device/analyze"], timeout_s=720)
# curvlinops rows and tests are skipped where curvlinops is not installed.
set -uo pipefail
out="${1:-${OUT:-results/benchmarks}}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv | tee "$out/gpu.txt"
python -c "import torch, sys; print('torch', torch.__version__, 'python', sys.version.split()[0])" | tee -a "$out/gpu.txt"
steps="${STEPS:-tests paths analyze}"
if [[ " $steps " == *" tests "* ]]; then
timeout 180 python -m pytest -q -p no:cacheprovider tests/curvature/ \
    -k "cuda" 2>&1 | tail -5 | tee "$out/gpu_tests.txt"
fi
if [[ " $steps " == *" paths "* ]]; then
timeout 420 python benchmarks/bench_gpu_paths.py --device cuda --out "$out/gpu_paths_cuda" --cap 240 \
    --probes 10 --steps 100 --reps 20 2>&1 | grep -v -i warn | tee "$out/gpu_paths_cuda.log"
cat "$out/gpu_paths_cuda.md" 2>/dev/null
fi
if [[ " $steps " == *" analyze "* ]]; then
    if [ -d .device/analyze/cifar10_5000 ] && python -c "import torchvision" 2>/dev/null; then
        python -m pip install -q --no-index --find-links .device/analyze/wheels jsonschema powerlaw 2>&1 | tail -2
        start=$(date +%s)
        timeout 660 python benchmarks/bench_analyze.py --gpu-target benchmarks/gpu_analyze.yaml \
            --out "$out/analyze_gpu" 2>&1 | grep -v -i warn | tail -20 | tee "$out/analyze_gpu.log"
        echo "analyze GPU target: exit ${PIPESTATUS[0]}, $(( $(date +%s) - start )) s wall (target <= 600 s)" \
            | tee -a "$out/analyze_gpu.log"
        cat "$out/analyze_gpu.md" 2>/dev/null
    else
        echo "analyze GPU target skipped: needs .device/analyze (ANALYZE=1 bash benchmarks/prepare_device.sh, carried)" \
             "and torchvision" | tee "$out/analyze_gpu.log"
    fi
fi
