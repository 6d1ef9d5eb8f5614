"""The `nnspectra` command: validate-config, scorecard, audit and run subcommands, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import run_guarded, run_snakemake, workflow_env
from nnspectra.cli import main, parse_override, resolve_config
from nnspectra.pipeline.snakemake_cli import Rewritten, nest_config_entries, rewrite_snakemake_args
from nnspectra.pipeline.config import config_subset
from nnspectra.errors import ConfigError
from nnspectra.pipeline.provenance import build_record, code_version, write_sidecar


def test_validate_config_prints_resolved_config(repo_root: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo_root)
    assert main(["validate-config", "--configfile", "config/smoke.yaml", "--config", "threads=3"]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved["threads"] == 3
    assert resolved["scorecard"]["setting"].startswith("smoke preset")  # smoke.yaml merged over config.yaml
    assert resolved["memory_budget_gb"] is None  # defaults are filled in


def test_validate_config_error_is_one_line(repo_root: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(repo_root)
    bad = tmp_path / "typo.yaml"
    bad.write_text("treads: 2\n")
    assert main(["validate-config", "--configfile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'threads'?" in err
    assert main(["validate-config", "--config", "threads=-1"]) == 2
    assert "config key 'threads'" in capsys.readouterr().err


def test_parse_override() -> None:
    assert parse_override("blobs.train.lr=0.5") == (["blobs", "train", "lr"], 0.5)
    assert parse_override("device=cpu") == (["device"], "cpu")
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("no_equals_sign")


def test_scorecard_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = tmp_path / "claims"
    claims.mkdir()
    claims.joinpath("demo.yaml").write_text(yaml.safe_dump([{
        "id": 1, "paper": "wang2023", "figure": "Fig. 1", "target": "fig1", "statement": "ESD is invariant",
        "measure": "KS distance", "tolerance": "<= 0.05", "paper_value": None, "paper_value_source": "default",
        "metric": "demo.ks", "check": {"op": "<=", "value": 0.05},
    }]))
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    metrics.joinpath("demo.json").write_text(json.dumps({"ks": {"values": [0.01, 0.02, 0.2], "seeds": [0, 1, 2]}}))
    write_sidecar(build_record(step="demo_metrics", output=metrics / "demo.json", params={"cfg": {"run_name": "demo"}}),
                  metrics / "demo.json")
    out = tmp_path / "out"
    assert main(["scorecard", "--metrics-dir", str(metrics), "--claims-dir", str(claims),
                 "--csv", str(out / "s.csv"), "--md", str(out / "s.md")]) == 0
    printed = capsys.readouterr().out
    assert "Summary: 0 pass / 1 fail / 0 not_run" in printed  # 2/3 seeds = 67 % < 70 %
    assert (out / "s.csv").exists() and (out / "s.md").read_text() == printed
    assert main(["scorecard", "--metrics-dir", str(metrics), "--claims-dir", str(claims), "--csv", "x.csv"]) == 2


def test_audit_subcommand_exit_codes(repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo_root)
    config = resolve_config()
    out = tmp_path / "results" / "scorecard" / "table.csv"
    out.parent.mkdir(parents=True)
    out.write_text("a,b\n1,2\n")
    write_sidecar(build_record(step="demo", output=out, code=code_version("nnspectra.scorecard"),
                               params={"cfg": config_subset(config, "scorecard", "threads")}), out)
    results = str(tmp_path / "results")
    json_out = tmp_path / "audit.json"

    assert main(["audit", "--results", results, "--json", str(json_out)]) == 0
    assert "1 ok; OK" in capsys.readouterr().out
    assert json.loads(json_out.read_text())["counts"]["ok"] == 1

    # a changed config value is reported as stale, and exits 1 (issue 22: anything not ok is non-zero)
    assert main(["audit", "--results", results, "--config", "threads=4"]) == 1
    text = capsys.readouterr().out
    assert "stale-config" in text and "STALE" in text and "--verbose" in text
    assert main(["audit", "--results", results, "--config", "threads=4", "--verbose"]) == 1
    assert "threads: 1 -> 4" in capsys.readouterr().out

    out.write_text("a,b\n1,3\n")  # corrupt
    assert main(["audit", "--results", results, "--only-problems"]) == 1
    text = capsys.readouterr().out
    assert "corrupt" in text and "FAIL" in text


def test_console_script_is_installed() -> None:
    proc = subprocess.run([sys.executable, "-m", "nnspectra.cli", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    for command in ("audit", "scorecard", "validate-config"):
        assert command in proc.stdout


# -- nnspectra run: a thin wrapper over `python -m snakemake` -------------------------------------------------

def test_run_nests_dotted_config_keys_per_section() -> None:
    entries = ["blobs.train.lr=0.05", "download=false", "blobs.train.max_iterations=9", "blobs.model.hidden=[5, 5]",
               "evolution.runs.gd_lr1={steps: 5}", "evolution.runs.gd_lr1.lr=2"]
    nested = nest_config_entries(entries)
    assert nested == ['blobs={"train": {"lr": "0.05", "max_iterations": "9"}, "model": {"hidden": ["5", "5"]}}',
                      "download=false", 'evolution={"runs": {"gd_lr1": {"steps": "5", "lr": "2"}}}']
    # an undotted entry for a section stays where it is; later dotted ones start a new entry after it
    assert nest_config_entries(["blobs.train.lr=1", 'blobs={"train": {"lr": 2}}', "blobs.train.lr=3"]) == \
        ['blobs={"train": {"lr": "1"}}', 'blobs={"train": {"lr": 2}}', 'blobs={"train": {"lr": "3"}}']
    with pytest.raises(ConfigError, match="blobs..lr"):
        nest_config_entries(["blobs..lr=1"])


def test_run_moves_targets_out_of_multi_value_options(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path)
    (work / "extra.yml").write_text("threads: 2\n")
    fig = work / "results" / "smoke" / "figures" / "fig1.png"
    fig.parent.mkdir(parents=True)
    fig.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    r = rewrite_snakemake_args(["--cores", "2", "--configfile", "config/smoke.yaml", "fig3", "extra.yml",
                                "results/smoke/figures/fig1.png", "results/smoke/tables/table1.md"], work)
    assert r.args == ["fig3", "results/smoke/figures/fig1.png", "results/smoke/tables/table1.md",
                      "--cores", "2", "--configfile", "config/smoke.yaml", "extra.yml"]
    r = rewrite_snakemake_args(["-n", "--config", "device=cpu", "fig2", "--quiet", "rules", "fig1",
                                "--default-resources", "mem_mb=100", "table1", "--configfile=config/smoke.yaml"], work)
    assert r.args == ["fig2", "fig1", "table1", "-n", "--config", "device=cpu", "--quiet", "rules",
                      "--default-resources", "mem_mb=100", "--configfile=config/smoke.yaml"]
    assert len(r.notes) == 3
    plain = ["fig3", "--cores", "2", "--configfile", "config/smoke.yaml", "--config", "device=cpu"]
    assert rewrite_snakemake_args(plain, work) == Rewritten(plain, [])  # nothing to do: unchanged
    with pytest.raises(ConfigError, match="'fgi3' after --configfile is neither .* did you mean the rule 'fig3'"):
        rewrite_snakemake_args(["--configfile", "config/smoke.yaml", "fgi3"], work)
    with pytest.raises(ConfigError, match="--configfile is followed by no value of its own"):
        rewrite_snakemake_args(["--configfile", "fig3"], work)


@pytest.mark.parametrize("args", [["--cores", "0"], ["-c0"], ["--cores=0"], ["-j", "0"], ["--jobs", "-2"],
                                  ["--cores", "two"], ["--cores", "1", "--local-cores", "0"]])
def test_run_refuses_impossible_core_and_job_counts(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Snakemake 9 accepts `--cores 0` and then waits forever; `nnspectra run` says so in one line, exit 2."""
    assert main(["run", *args, "fig2", "--configfile", "config/smoke.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is impossible: give a whole number of at least 1" in err, err


def test_plain_snakemake_cores_0_is_one_line_not_a_hang(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path)
    for args in (["--cores", "0"], ["--cores", "1", "--jobs", "0"]):
        proc = run_snakemake(work, "fig2", *args, "--configfile", "config/smoke.yaml", hang_min=2)
        assert proc.returncode != 0, proc.stdout[-2000:]
        assert re.search(r"^Argument error: --(cores|jobs) 0 is impossible", proc.stdout, re.M), proc.stdout[-2000:]
    assert rewrite_snakemake_args(["--cores", "all", "-j", "unlimited", "fig2"], work).args[:1] == ["--cores"]


def test_run_checks_config_files_first(tmp_path: Path, copy_workflow, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    work = copy_workflow(tmp_path)
    (work / "bad.yaml").write_text("blobs:\n  train: {lr: 0.1\nthreads: 2\n")
    monkeypatch.chdir(work)
    for args, message in ((["--configfile", "config/smoke.yaml", "config/missing.yaml"],
                           "nnspectra run: config file config/missing.yaml not found"),
                          (["--configfile=bad.yaml"], "nnspectra run: config file bad.yaml line 3 is not valid YAML"),
                          (["-n", "--configfile", "bad.yaml", "fig3"], "config file bad.yaml line 3")):
        assert main(["run", "--cores", "1", *args]) == 2  # before Snakemake starts
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_run_end_to_end_targets_after_configfile_and_dotted_overrides(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path)
    run = [sys.executable, "-m", "nnspectra.cli", "run", "-n", "--cores", "1", "--configfile", "config/smoke.yaml"]
    ok = run_guarded([*run, "fig3", "--config", "blobs.train.lr=0.05", "download=false"], work, workflow_env(work))
    assert ok.returncode == 0, ok.stdout[-3000:]
    table = ok.stdout.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    assert {"fig3", "blobs_fig3", "blobs_train", "blobs_spectrum"} <= set(re.findall(r"^(\w+)\s+\d+\s*$", table, re.M))
    assert "fig1" not in table  # only what fig3 needs
    assert "nnspectra run: target(s) fig3 moved before --configfile" in ok.stdout

    # a bad value arrives under its dotted key, and fails exactly as the nested form does in plain snakemake
    bad = run_guarded([*run, "--config", "blobs.train.lr=abc"], work, workflow_env(work))
    plain = run_snakemake(work, "-n", "--cores", "1", "--configfile", "config/smoke.yaml",
                          "--config", 'blobs={"train": {"lr": "abc"}}')
    message = "Config error: config key 'blobs.train.lr' = 'abc' has the wrong type; expected number"
    assert bad.returncode == plain.returncode == 1
    assert message in bad.stdout and message in plain.stdout


def test_run_overrides_reach_the_workflow_typed_by_the_schema(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path)
    (work / "show.smk").write_text(textwrap.dedent("""
        import json
        from nnspectra.pipeline.config import validate_config
        configfile: "config/config.yaml"
        typed = validate_config(config, "workflow/schemas")
        print("RAW " + json.dumps(config["blobs"]["train"]))
        print("TYPED " + json.dumps({"lr": typed["blobs"]["train"]["lr"], "it": typed["blobs"]["train"]["max_iterations"],
                                     "hidden": typed["blobs"]["model"]["hidden"], "download": typed["download"]}))
        rule all:
            default_target: True
    """))
    proc = run_guarded([sys.executable, "-m", "nnspectra.cli", "run", "-s", "show.smk", "-n", "--cores", "1",
                        "--config", "blobs.train.lr=0.05", "blobs.model.hidden=[7, 3]", "download=false",
                        "blobs.train.max_iterations=12"], work, workflow_env(work))
    assert proc.returncode == 0, proc.stdout[-3000:]
    raw = json.loads(re.search(r"^RAW (.*)$", proc.stdout, re.M).group(1))
    assert raw["lr"] == "0.05" and raw["max_iterations"] == "12"  # Snakemake passes strings...
    typed = json.loads(re.search(r"^TYPED (.*)$", proc.stdout, re.M).group(1))
    assert typed == {"lr": 0.05, "it": 12, "hidden": [7, 3], "download": False}  # ...the schema types them
