"""End to end: the smoke config builds the whole DAG, every output is audited clean, reruns are no-ops."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_guarded, run_snakemake, workflow_env


pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory, copy_workflow, shared_data_dir: Path | None) -> Path:
    """A copy of the workflow, run once on config/smoke.yaml with 2 cores (under the hang guard: no time
    limit, but a log silent for NNSPECTRA_TEST_HANG_MIN minutes fails naming the jobs still running)."""
    work = copy_workflow(tmp_path_factory.mktemp("workflow"))
    proc = run_snakemake(work, "--cores", "2", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stdout[-8000:]
    return work


def _run(work: Path, *args: str) -> subprocess.CompletedProcess:
    return run_guarded(list(args), work, workflow_env(work))


def _planned_rules(work: Path) -> set[str]:
    """Rules a dry run of the smoke preset would run (from Snakemake's job table)."""
    dry = run_snakemake(work, "-n", "--cores", "2", "--configfile", "config/smoke.yaml")
    assert dry.returncode == 0, dry.stdout[-3000:]
    out = dry.stdout
    if "Nothing to be done" in out:
        return set()
    table = out.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, flags=re.M)} - {"total"}


def _edited_copy(smoke_run: Path, dest: Path, module: str) -> Path:
    """A copy of the finished smoke run (results and Snakemake's metadata, mtimes kept) whose ``module``
    (a path under src/nnspectra) has one more comment line."""
    work = Path(shutil.copytree(smoke_run, dest, symlinks=True))
    path = work / "src" / "nnspectra" / module
    path.write_text(path.read_text() + "\n# an edit that changes the module's content hash\n")
    return work


def test_editing_curvature_reruns_spectra_not_training(smoke_run: Path, tmp_path: Path) -> None:
    planned = _planned_rules(_edited_copy(smoke_run, tmp_path / "edit", "curvature/eigen.py"))
    assert {"blobs_spectrum", "realdata_mnist_spectrum", "realdata_lbsb_spectrum"} <= planned, planned
    training = {"blobs_data", "blobs_train", "realdata_mnist_train", "realdata_lbsb_train", "realdata_cifar_part1",
                "realdata_cifar_part2"}
    assert not planned & training, f"a curvature edit would retrain: {sorted(planned & training)}"


def test_editing_an_outlier_rule_reruns_counts_not_training(smoke_run: Path, tmp_path: Path) -> None:
    """Issue 23: an edit to spectra/outliers.py used to plan blobs, MNIST and LB/SB training."""
    planned = _planned_rules(_edited_copy(smoke_run, tmp_path / "edit", "spectra/outliers.py"))
    assert {"blobs_counts", "blobs_table1"} <= planned, planned
    training = {"blobs_data", "blobs_train", "realdata_mnist_train", "realdata_lbsb_train", "realdata_cifar_part1",
                "realdata_cifar_part2"}
    assert not planned & training, f"an outlier-rule edit would retrain: {sorted(planned & training)}"


def test_editing_a_plot_reruns_only_its_figures(smoke_run: Path, tmp_path: Path) -> None:
    planned = _planned_rules(_edited_copy(smoke_run, tmp_path / "edit", "plotting/sagun2018/blobs.py"))
    assert planned - {"all"} == {"blobs_fig1", "blobs_fig2", "blobs_fig3"}, planned


def test_every_output_has_valid_provenance(smoke_run: Path) -> None:
    results = smoke_run / "results" / "smoke"
    files = [p for p in results.rglob("*") if p.is_file() and "logs" not in p.relative_to(results).parts
             and not p.name.endswith(".prov.json")]
    assert files, "the smoke run produced no results"
    missing = [str(p) for p in files if not Path(str(p) + ".prov.json").exists()]
    assert not missing, f"outputs without a provenance sidecar: {missing[:5]}"
    audit = _run(smoke_run, sys.executable, "-m", "nnspectra.cli", "audit", "--configfile", "config/smoke.yaml")
    assert audit.returncode == 0, audit.stdout[-3000:] + audit.stderr[-3000:]


def test_figures_and_tables_exist(smoke_run: Path) -> None:
    figures = sorted((smoke_run / "results" / "smoke" / "figures").glob("*.png"))
    assert figures, "no figures"
    for fig in figures:
        assert fig.stat().st_size > 10_000, f"{fig.name} looks empty"
    tables = sorted((smoke_run / "results" / "smoke" / "tables").glob("*.csv"))
    assert tables, "no tables"
    scorecard = smoke_run / "results" / "smoke" / "scorecard.csv"
    assert scorecard.exists()
    text = scorecard.read_text()
    assert "not_run" in text or "pass" in text or "fail" in text


def test_timings_are_the_sums_of_the_runs_benchmark_files(smoke_run: Path) -> None:
    """`nnspectra timings` = Snakemake's own benchmark files of the run (issue 22: it used to undercount)."""
    import pandas as pd

    from nnspectra.pipeline.timings import rule_timings

    results = smoke_run / "results" / "smoke"
    files = [pd.read_csv(f, sep="\t") for f in sorted((results / "logs").glob("*/*.bench.tsv"))]
    frame = rule_timings(results)
    assert len(files) > 50 and set(frame["source"]) == {"benchmark"}
    assert frame["jobs"].sum() == len(files)
    tolerance = 0.006 * len(frame)  # per-rule rounding to 0.01 min
    assert frame["wall_total_min"].sum() == pytest.approx(sum(f["s"].sum() for f in files) / 60, abs=tolerance)
    assert frame["cpu_total_min"].sum() == pytest.approx(sum(f["cpu_time"].sum() for f in files) / 60, abs=tolerance)


def test_status_counts_the_jobs_and_estimates_from_the_benchmarks(smoke_run: Path, tmp_path: Path) -> None:
    """`nnspectra status` on the finished run: every job done; with one figure gone, one job to go, estimated
    from that rule's benchmark file."""
    import pandas as pd

    work = tmp_path / "status"
    shutil.copytree(smoke_run, work, symlinks=True)
    jobs = len(list((work / "results" / "smoke" / "logs").glob("*/*.bench.tsv")))
    (work / "results" / "smoke" / "figures" / "fig2.png").unlink()
    proc = _run(work, sys.executable, "-m", "nnspectra.cli", "status", "--configfile", "config/smoke.yaml",
                "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"jobs: {jobs - 1} of {jobs} done" in proc.stdout and "1 to go" in proc.stdout, proc.stdout
    seconds = pd.read_csv(work / "results" / "smoke" / "logs" / "blobs_fig2" / "run.bench.tsv", sep="\t")["s"].mean()
    assert f"time left: ≈{seconds / 60 / 2:.1f} min wall on 2 cores" in proc.stdout, proc.stdout


def test_rerun_is_a_no_op(smoke_run: Path) -> None:
    dry = run_snakemake(smoke_run, "-n", "--cores", "2", "--configfile", "config/smoke.yaml")
    assert dry.returncode == 0, dry.stdout[-2000:]
    assert "Nothing to be done" in dry.stdout, dry.stdout[-3000:]


def _seed_lists(node: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of every ``seeds`` list in a config."""
    if not isinstance(node, dict):
        return []
    found = [path + (key,) for key, value in node.items() if key == "seeds" and isinstance(value, list)]
    return found + [p for key, value in node.items() for p in _seed_lists(value, path + (key,))]


def test_adding_a_seed_plans_only_that_seeds_jobs(smoke_run: Path, tmp_path: Path) -> None:
    """A job of one seed does not depend on which other seeds run: with seed 97 added to every seed list of the
    smoke preset, no job of an existing seed is planned again (P0 and Appendix B used to rerun them all)."""
    import yaml

    from nnspectra.pipeline.config import load_config_files

    work = Path(shutil.copytree(smoke_run, tmp_path / "more_seeds", symlinks=True))
    config = load_config_files([work / "config" / "config.yaml", work / "config" / "smoke.yaml"])
    extra: dict = {}
    for path in _seed_lists(config):
        node, target = config, extra
        for key in path[:-1]:
            node, target = node[key], target.setdefault(key, {})
        target["seeds"] = [*node["seeds"], 97]
    assert {"predecessor", "realdata", "evolution"} <= set(extra), extra
    (work / "more_seeds.yaml").write_text(yaml.safe_dump(extra))
    dry = run_snakemake(work, "-n", "--cores", "2", "--configfile", "config/smoke.yaml", "more_seeds.yaml")
    assert dry.returncode == 0, dry.stdout[-3000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    wildcards: (.*)$", dry.stdout, flags=re.MULTILINE)
    seeded = [(rule, wc) for rule, wc in jobs if re.search(r"\bseed=", wc)]
    assert seeded, dry.stdout[-3000:]
    again = [(rule, wc) for rule, wc in seeded if not re.search(r"\bseed=97\b", wc)]
    assert not again, f"adding a seed reruns jobs of existing seeds: {again[:10]}"


def test_lint_is_clean(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path / "work")
    lint = run_snakemake(work, "--lint")
    assert lint.returncode == 0 and "Congratulations" in lint.stdout, lint.stdout[-3000:]


def test_config_typo_stops_before_any_job(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path / "work")
    bad = tmp_path / "typo.yaml"
    bad.write_text("treads: 2\n")
    proc = run_snakemake(work, "-n", "--cores", "1", "--configfile", str(bad))
    assert proc.returncode != 0
    out = proc.stdout
    assert "config key 'treads' is not recognised; did you mean 'threads'?" in out
    assert "Traceback" not in out


#: every kind of result file the smoke preset makes (sidecars hold the volatile values and are left out)
RESULT_SUFFIXES = (".npz", ".csv", ".json", ".md", ".png", ".pt", ".rst")


def test_a_second_smoke_run_gives_the_same_bytes_for_every_result_file(smoke_run: Path, tmp_path: Path,
                                                                        copy_workflow) -> None:
    """Same config and seed, same bytes (issue 21): a second run of the whole smoke preset from a fresh copy
    gives every result file (arrays, tables, metrics, models, figures) the sha256 of the first run's."""
    from nnspectra.pipeline.compare import compare_trees

    work = copy_workflow(tmp_path / "again")
    proc = run_snakemake(work, "--cores", "2", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stdout[-8000:]
    same = compare_trees(smoke_run / "results" / "smoke", work / "results" / "smoke", suffixes=RESULT_SUFFIXES)
    assert same.same, (same.summary(), same.different, same.only_a, same.only_b)
    assert len(same.identical) >= 150, same.summary()
