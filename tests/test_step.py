"""The step runner: logs to the rule's log, writes sidecars, turns user errors into one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from nnspectra.pipeline.provenance import read_sidecar, sidecar_path


def _namespace(tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(
        rule="demo", input={}, output={"out": str(tmp_path / "sub" / "out.txt")},
        params={"cfg": {"demo.a": 1}, "code": {"hash": "abc", "entry": ["nnspectra.pipeline.io"], "modules": []}},
        wildcards={"seed": "4"}, log=[str(tmp_path / "demo.log")], threads=1,
    )


def test_success_writes_output_sidecar_and_log(tmp_path: Path) -> None:
    from nnspectra.pipeline.step import Step

    ns = _namespace(tmp_path)
    with Step.from_namespace(ns) as step:
        print("hello from the step")
        Path(step.output["out"]).write_text("42")
    record = read_sidecar(ns.output["out"])
    assert record["step"] == "demo" and record["seed"] == 4
    assert record["params"] == {"cfg": {"demo.a": 1}}
    assert record["code"]["hash"] == "abc"
    assert "hello from the step" in Path(ns.log[0]).read_text()
    assert sys.stdout is sys.__stdout__


SCRIPT = """
import sys
from types import SimpleNamespace
from nnspectra.pipeline.step import Step
from nnspectra.errors import DivergenceError
out, log = sys.argv[1], sys.argv[2]
ns = SimpleNamespace(rule="train", input={}, output={"out": out}, params={}, wildcards={}, log=[log], threads=1)
with Step.from_namespace(ns):
    open(out, "w").write("partial")
    raise DivergenceError("training diverged at step 7: loss is nan; lower the learning rate")
"""


def test_user_error_is_one_line_and_removes_partial_output(tmp_path: Path) -> None:
    out, log = tmp_path / "out.txt", tmp_path / "train.log"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(log)], capture_output=True, text=True)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["nnspectra error in step 'train': training diverged at step 7: loss is nan; lower the learning rate"]
    assert not out.exists() and not sidecar_path(out).exists()
    assert "diverged" in log.read_text()


def test_sidecar_records_determinism_switches(tmp_path: Path) -> None:
    import torch

    from nnspectra.pipeline.step import Step

    ns = _namespace(tmp_path)
    before = torch.are_deterministic_algorithms_enabled()
    try:
        with Step.from_namespace(ns) as step:
            Path(step.output["out"]).write_text("1")
        det = read_sidecar(ns.output["out"])["extra"]["determinism"]
        assert det["deterministic_algorithms"] is True and det["cudnn_benchmark"] is False
        assert det["torch_threads"] == 1
    finally:
        torch.use_deterministic_algorithms(before)
