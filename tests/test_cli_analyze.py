"""`nnspectra analyze`: the thin front door of `snakemake analyze` (same workflow, same targets)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import run_guarded, workflow_env
from nnspectra.cli import main
from nnspectra.cli_analyze import analyze_arguments, workflow_dir
from nnspectra.errors import ConfigError
from nnspectra.pipeline.config import REPO_ROOT

STUDY = """
run_name: cli_analyze_test
analyze:
  studies:
    digits_small:
      model: {name: "module:nnspectra.models.mlp:make_mlp", kwargs: {sizes: [64, 4, 10], init: torch}}
      dataset: {name: digits, n_samples: 50, flatten: true}
      analysis: {top_k: 12, slq_probes: 2, slq_steps: 8, trace_probes: 4, block_trace_probes: 2}
"""


def test_analyze_runs_the_analyze_target_of_the_same_workflow(tmp_path: Path) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(STUDY)
    args, work = analyze_arguments(["--configfile", str(cfg), "--cores", "2", "-n"], cwd=tmp_path)
    assert args == ["analyze", "--cores", "2", "--configfile", str(cfg.resolve()), "-n"]
    assert work == REPO_ROOT  # tmp_path holds no Snakefile: the package's checkout runs it
    args, _ = analyze_arguments(["--configfile", "study.yaml", "--study", "digits_small"], cwd=tmp_path)
    assert args[:3] == ["analyze_digits_small", "--cores", "1"] and str(cfg.resolve()) in args
    assert workflow_dir(REPO_ROOT) == REPO_ROOT


def test_analyze_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(STUDY)
    with pytest.raises(ConfigError, match="--study 'digits_smal' is not a study .* did you mean 'digits_small'"):
        analyze_arguments(["--configfile", str(cfg), "--study", "digits_smal"])
    (tmp_path / "none.yaml").write_text("run_name: nothing\n")
    cases = ((["--configfile", str(tmp_path / "none.yaml")], "define(s) no study under analyze.studies"),
             (["--configfile", str(tmp_path / "missing.yaml")], "missing.yaml not found"))
    for argv, message in cases:
        assert main(["analyze", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("nnspectra analyze: ") and message in err, err
    bad = tmp_path / "typo.yaml"
    bad.write_text(STUDY.replace("dataset:", "datset:"))
    assert main(["analyze", "--configfile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'dataset'" in err, err


@pytest.mark.workflow
def test_analyze_dry_run_plans_the_studies(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path / "work")
    cfg = tmp_path / "study.yaml"
    cfg.write_text(STUDY)
    proc = run_guarded([sys.executable, "-m", "nnspectra.cli", "analyze", "--configfile", str(cfg), "--cores", "1",
                        "-n"], work, workflow_env(work))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "analyze_run" in proc.stdout and "analyze_summary" in proc.stdout
    assert "nnspectra analyze: snakemake analyze --cores 1 --configfile" in proc.stdout
