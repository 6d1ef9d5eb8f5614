#!/usr/bin/env bash
# Issue 15's pipeline target on the device machine: `snakemake fig4 fig5 fig6 fig7 fig8` at paper scale
# (config/config.yaml, the local-gpu profile: all cores, one GPU job at a time) <= 10 min on one H100/H200. Needs .device/ from
# benchmarks/prepare_device.sh, carried with the checkout:
#   run(command="bash benchmarks/gpu_pipeline_check.sh", carry=[".device"], timeout_s=600)
# Writes $OUT/pipeline.log (times per job and in all) and $OUT/pipeline.tgz (figures, logs, sidecars).
# CONFIGFILE / DEVICE / RUN_NAME override the preset, device and its results folder (a CPU rehearsal:
#   CONFIGFILE=config/smoke.yaml RUN_NAME=smoke DEVICE=cpu bash benchmarks/gpu_pipeline_check.sh).
set -uo pipefail
out="${OUT:-results/benchmarks}"
configfile="${CONFIGFILE:-config/config.yaml}"
device="${DEVICE:-cuda}"
run="results/${RUN_NAME:-paper}"
mkdir -p "$out"
python3 -m pip install -q --no-index --find-links .device/wheels snakemake jsonschema powerlaw 2>&1 | tail -3
gunzip -kf .device/data/MNIST/raw/*.gz
export PYTHONPATH="$PWD/src" NNSPECTRA_DATA="$PWD/.device/data" OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE MPLBACKEND=Agg
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU"; } | tee "$out/pipeline.log"
start=$(date +%s)
timeout 540 python3 -m snakemake fig4 fig5 fig6 fig7 fig8 --profile workflow/profiles/local-gpu \
    --configfile "$configfile" --config device="$device" download=false 2>&1 | grep -E "^\[|rule |Finished|Error|error|Exception" >> "$out/pipeline.log"
echo "snakemake fig4-fig8 ($configfile, $device): exit ${PIPESTATUS[0]}, $(( $(date +%s) - start )) s wall" | tee -a "$out/pipeline.log"
for f in "$run"/logs/*/*.bench.tsv; do [ -f "$f" ] && echo "$f $(tail -1 "$f" | cut -f1) s"; done >> "$out/pipeline.log"
tar czf "$out/pipeline.tgz" "$run/figures" "$run/logs" 2>/dev/null
tail -20 "$out/pipeline.log"
