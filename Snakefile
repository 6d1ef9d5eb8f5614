# nnspectra: spectra of neural networks during training, replicated end to end.
# Table of contents: configuration -> validation -> stages -> `rule all`.
# Usage: `snakemake --cores N` (everything), `snakemake --cores N <target>` (one figure or table);
# the README lists every target. Results go to results/<run_name>/ (one tree per preset).

import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.21.1")

# The library of this checkout (src/) is the one the Snakefile and every job import, installed or not: the
# rule environment (workflow/envs/nnspectra.yaml) holds the dependencies only, and a second checkout's
# editable install cannot stand in for this one's code.
SRC = str(Path(workflow.basedir, "src"))
if sys.path[:1] != [SRC]:
    sys.path.insert(0, SRC)
_path = os.environ.get("PYTHONPATH", "")
if _path.split(os.pathsep)[:1] != [SRC]:
    os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, _path])))

try:
    from nnspectra.errors import ConfigError, CorruptResultError
    from nnspectra.pipeline.config import validate_config
    from nnspectra.pipeline.snakemake_cli import impossible_count
    from nnspectra.pipeline.verify import verify_planned_inputs
except ImportError as err:  # its dependencies must be installed (pip install -e . or the conda environment)
    sys.exit(f"nnspectra is not importable ({err}); install it first: pip install -e '.[test]'")


# `--cores 0` or `--jobs 0` would start no job and wait forever (Snakemake 9 accepts them): one line instead.
for _option, _count in (("--cores", workflow.resource_settings.cores), ("--jobs", workflow.resource_settings.nodes)):
    if (_problem := impossible_count(_option, _count)) is not None:
        sys.exit(f"Argument error: {_problem}")


configfile: "config/config.yaml"
report: "workflow/report/workflow.rst"


# Validate once, before any job starts: command-line strings are typed by the schema, defaults from
# workflow/schemas/ are filled in, and every problem is one line.
try:
    config.update(validate_config(config, Path(workflow.basedir, "workflow", "schemas")))
except ConfigError as err:
    sys.exit(f"Config error: {err}")


include: "workflow/rules/common.smk"
include: "workflow/rules/blobs.smk"
include: "workflow/rules/predecessor.smk"
include: "workflow/rules/realdata_mnist.smk"
include: "workflow/rules/realdata_lbsb.smk"
include: "workflow/rules/realdata_cifar.smk"
include: "workflow/rules/realdata_mp.smk"
include: "workflow/rules/realdata.smk"
include: "workflow/rules/alignment.smk"
include: "workflow/rules/evolution.smk"
include: "workflow/rules/benchmarks.smk"
include: "workflow/rules/analyze.smk"
# the scorecard reads every experiment's METRICS: keep this include last
include: "workflow/rules/scorecard.smk"


# Before any job is prepared (preparing deletes a job's old outputs), every cached input of the planned jobs
# is checked against the sha256 in its sidecar: a corrupt file stops the run in one line, nothing is deleted.
# The first line says where MNIST/CIFAR-10 come from (lookup: config data_dir > $NNSPECTRA_DATA > ./data > ../shared/data).
onstart:
    from nnspectra.data.vision import locate_data_dir

    data_root, data_origin = locate_data_dir(config["data_dir"])
    print(f"Datasets: {data_root.resolve()} ({data_origin}; download {'on' if config['download'] else 'off'})",
          file=sys.stderr)
    try:
        print(verify_planned_inputs(workflow, RESULTS), file=sys.stderr)
    except CorruptResultError as err:
        sys.exit(f"Cache error: {err}")


rule all:
    default_target: True
    input:
        all_targets(),
        rules.scorecard.output,  # last: `snakemake` always ends with an up-to-date verdict
