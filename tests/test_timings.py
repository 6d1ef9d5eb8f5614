"""Per-rule timings: the sums of Snakemake's benchmark files (one per job), devices from provenance sidecars,
sidecars alone for a rule without benchmark files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from nnspectra.cli import main
from nnspectra.pipeline.timings import rule_timings, to_markdown


def _sidecar(path: Path, step: str, wall: float, cpu: float, wildcards: dict | None, created: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    record = {"step": step, "wall_time_s": wall, "cpu_time_s": cpu, "device": "cuda:0 NVIDIA H100",
              "created": created, "extra": {"wildcards": wildcards} if wildcards else {}}
    Path(str(path) + ".prov.json").write_text(json.dumps(record))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    res = tmp_path / "results"
    for seed, wall in ((0, 120.0), (1, 180.0)):  # two jobs of one rule, two outputs each
        for name in ("model.pt", "history.csv"):
            _sidecar(res / "train" / f"seed{seed}" / name, "train", wall, wall / 2, {"seed": str(seed)},
                     f"2026-11-23T0{seed + 1}:00:00+00:00")
    _sidecar(res / "tables" / "t.csv", "table", 6.0, 3.0, None, "2026-11-23T05:00:00+00:00")
    _sidecar(res / "tables" / "t.md", "table", 6.0, 3.0, None, "2026-11-23T05:00:00+00:00")
    bench = res / "logs" / "train"
    bench.mkdir(parents=True)
    # the whole job as Snakemake measured it: more than the time inside the step recorded in the sidecars
    (bench / "seed0.bench.tsv").write_text("s\th:m:s\tmax_rss\tcpu_time\n126.5\t0:02:06\t812.5\t63.25\n")
    (bench / "seed1.bench.tsv").write_text("s\th:m:s\tmax_rss\tcpu_time\n187.1\t0:03:07\t1024.0\t93.5\n")
    for seed in (0, 1):  # finished at the sidecars' creation times
        stamp = pd.Timestamp(f"2026-11-23T0{seed + 1}:00:00+00:00").timestamp()
        os.utime(bench / f"seed{seed}.bench.tsv", (stamp, stamp))
    return res


def test_timings_are_the_sums_of_the_benchmark_files(results: Path) -> None:
    frame = rule_timings(results).set_index("rule")
    bench = pd.concat([pd.read_csv(f, sep="\t") for f in sorted((results / "logs" / "train").glob("*.bench.tsv"))])
    assert frame.loc["train", "jobs"] == len(bench) == 2
    assert frame.loc["train", "wall_total_min"] == pytest.approx(round(bench["s"].sum() / 60, 2))
    assert frame.loc["train", "wall_max_min"] == pytest.approx(round(bench["s"].max() / 60, 2))
    assert frame.loc["train", "cpu_total_min"] == pytest.approx(round(bench["cpu_time"].sum() / 60, 2))
    assert frame.loc["train", "peak_rss_mb"] == pytest.approx(1024.0)
    assert frame.loc["train", "devices"] == "cuda:0" and frame.loc["train", "source"] == "benchmark"
    # a rule without benchmark files: its sidecars, one job per output group
    assert frame.loc["table", "jobs"] == 1 and frame.loc["table", "source"] == "sidecars"
    assert frame.loc["table", "wall_total_min"] == pytest.approx(0.1)
    assert "**total**" in to_markdown(rule_timings(results))


def test_rule_prefix_and_cli(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert list(rule_timings(results, rule_prefix="tab")["rule"]) == ["table"]
    csv = tmp_path / "timings.csv"
    assert main(["timings", "--results", str(results), "--csv", str(csv)]) == 0
    assert "| train" in capsys.readouterr().out and csv.read_text().startswith("rule,jobs")
    assert main(["timings", "--results", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["timings", "--results", str(results), "--since", "yesterday-ish"]) == 2
    assert "ISO format" in capsys.readouterr().err


def test_since_keeps_one_run(results: Path) -> None:
    frame = rule_timings(results, since="2026-11-23T01:30").set_index("rule")
    assert frame.loc["train", "jobs"] == 1 and frame.loc["train", "wall_total_min"] == pytest.approx(3.12)
    assert frame.loc["table", "jobs"] == 1
    assert rule_timings(results, since="2026-11-23T06:00").empty
