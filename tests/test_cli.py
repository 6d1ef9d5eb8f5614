"""The `nnspectra` command: validate-config, scorecard and audit subcommands, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nnspectra.cli import main, parse_override, resolve_config
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
    write_sidecar(build_record(step="demo_metrics", output=metrics / "demo.json"), metrics / "demo.json")
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

    # a changed config value is reported as stale (exit 0), and fails with --strict
    assert main(["audit", "--results", results, "--config", "threads=4"]) == 0
    assert "stale-config" in capsys.readouterr().out
    assert main(["audit", "--results", results, "--config", "threads=4", "--strict"]) == 1
    capsys.readouterr()

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
