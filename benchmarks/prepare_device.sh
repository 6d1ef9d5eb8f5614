#!/usr/bin/env bash
# Prepare .device/ (git-ignored) for a GPU session of the device tool, which has no package registry:
#   bash benchmarks/prepare_device.sh            (here, with the registry; about 45 MB, a few minutes)
# * .device/wheels: snakemake (this machine's version), jsonschema, powerlaw and what they need that the
#   device image (Python 3.12, torch 2.11, numpy, scipy, pandas, matplotlib, seaborn, pyyaml, ...) lacks;
#   pure-Python wheels as built here, binary ones downloaded for CPython 3.12 / manylinux x86-64;
# * .device/data/MNIST/raw/*.gz: the MNIST IDX files from $NNSPECTRA_DATA (default ../shared/data),
#   gzip-compressed (11 MB; the device receives only the checkout).
# Then carry ".device" in the device tool's run and start with benchmarks/gpu_pipeline_check.sh.
# ANALYZE=1 also writes .device/analyze/ (about 13 MB; carry it alone for step 3 of benchmarks/gpu_check.sh):
# * .device/analyze/cifar10_5000/<class>/<i>.png: a class-balanced 5,000-image subset of the CIFAR-10 training
#   set (seed 0), the data of the GPU target benchmarks/gpu_analyze.yaml (the whole set is over the carry limit);
# * .device/analyze/wheels: jsonschema and powerlaw (the analyses need them; snakemake does not run there).
set -euo pipefail
cd "$(dirname "$0")/.."
dev=.device
data="${NNSPECTRA_DATA:-../shared/data}"
rm -rf "$dev/wheels" && mkdir -p "$dev/wheels" "$dev/data/MNIST/raw"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
version="$(python -c 'import importlib.metadata as m; print(m.version("snakemake"))')"
python -m pip wheel -q "snakemake==$version" jsonschema powerlaw -w "$tmp"
# binary packages already in the device image (KINDS.md of the device tool): not carried (pure-Python ones
# are, since the image's versions may be outside snakemake's pins, e.g. packaging<26)
present='numpy|scipy|matplotlib|pandas|pillow|contourpy|fonttools|kiwisolver|charset_normalizer|markupsafe|psutil|pyyaml|wrapt'
for whl in "$tmp"/*.whl; do
    name="$(basename "$whl")"
    project="${name%%-*}"
    if echo "$project" | grep -qiE "^($present)$"; then continue; fi
    case "$name" in
        *-none-any.whl | *-abi3-*) cp "$whl" "$dev/wheels/" ;;
        *) python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
               --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
               "$project==$(echo "$name" | cut -d- -f2)" -d "$dev/wheels" ;;
    esac
done
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gzip -c "$data/MNIST/raw/$f" > "$dev/data/MNIST/raw/$f.gz"
done
du -sh "$dev/wheels" "$dev/data"
ls "$dev/wheels" | wc -l | xargs echo "wheels:"
if [ "${ANALYZE:-0}" = 1 ]; then
    rm -rf "$dev/analyze" && mkdir -p "$dev/analyze/wheels"
    python -m pip wheel -q jsonschema powerlaw -w "$tmp/analyze"
    for whl in "$tmp"/analyze/*.whl; do
        name="$(basename "$whl")"
        case "$name" in
            *-none-any.whl | *-abi3-*) cp "$whl" "$dev/analyze/wheels/" ;;
            *) python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
                   --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
                   "${name%%-*}==$(echo "$name" | cut -d- -f2)" -d "$dev/analyze/wheels" ;;
        esac
    done
    NNSPECTRA_DATA="$data" PYTHONPATH="$PWD/src" python - "$dev/analyze/cifar10_5000" <<'PY'
import sys
from pathlib import Path

from PIL import Image

from nnspectra.data.vision import balanced_subset, load_cifar10, resolve_data_dir

images, labels = load_cifar10(resolve_data_dir(None), train=True, verify_archive=False)
for i in balanced_subset(labels, 500, seed=0):
    folder = Path(sys.argv[1]) / f"class{int(labels[i])}"
    folder.mkdir(parents=True, exist_ok=True)
    pixels = (images[int(i)].permute(1, 2, 0) * 255).round().byte().numpy()
    Image.fromarray(pixels).save(folder / f"{int(i)}.png")
PY
    du -sh "$dev/analyze"
fi
