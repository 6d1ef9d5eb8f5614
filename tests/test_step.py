"""The step runner: logs to the rule's log, writes sidecars, turns user errors into one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from nnspectra.pipeline.provenance import sidecar_path
from nnspectra.pipeline.sidecar import read_sidecar


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
    assert record.step == "demo" and record.seed == 4
    assert record.params == {"cfg": {"demo.a": 1}}
    assert record.code["hash"] == "abc"
    assert record.extra["malloc_reuse"] is (sys.platform == "linux" and _glibc())
    assert "hello from the step" in Path(ns.log[0]).read_text()
    assert sys.stdout is sys.__stdout__


def _glibc() -> bool:
    import platform

    return platform.libc_ver()[0] == "glibc"


FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "reuse":
    from nnspectra.pipeline.runtime import reuse_freed_memory
    assert reuse_freed_memory()
x = np.ones(500_000)  # 4 MB: the size of a training step's temporaries
def work():
    a = x * 2.0
    b = a + x
    return float(np.exp(b)[0])
for _ in range(5):
    work()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    work()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 50)
"""


def test_reuse_freed_memory_stops_the_page_faults_of_repeated_temporaries() -> None:
    """With the step's allocator setting a loop of same-sized 4 MB temporaries faults in no new pages (glibc's
    default maps and unmaps them: ~2,900 faults per iteration here), the premise of benchmarks/bench_allocator.py."""
    import pytest

    if not (sys.platform == "linux" and _glibc()):
        pytest.skip("mallopt is glibc's")
    faults = float(subprocess.run([sys.executable, "-c", FAULTS, "reuse"], capture_output=True, text=True,
                                  check=True).stdout)
    assert faults < 5


def test_reuse_freed_memory_is_a_no_op_without_mallopt(monkeypatch) -> None:
    import ctypes

    from nnspectra.pipeline import runtime

    def no_libc(*args, **kwargs):
        raise OSError("no such library")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert runtime.reuse_freed_memory() is False


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
        det = read_sidecar(ns.output["out"]).extra["determinism"]
        assert det["deterministic_algorithms"] is True and det["cudnn_benchmark"] is False
        assert det["cudnn_allow_tf32"] is torch.backends.cudnn.allow_tf32  # recorded as torch has it
        assert isinstance(det["cuda_matmul_allow_tf32"], bool)
        assert det["torch_threads"] == 1
    finally:
        torch.use_deterministic_algorithms(before)


# -- verify before use (issue 12): inputs are checked against their sidecars ---------------------------------
def _made(tmp_path: Path, name: str, content: bytes, rule: str = "make") -> Path:
    """A file written through a Step (so it has a sidecar naming ``rule``)."""
    from nnspectra.pipeline.step import Step

    path = tmp_path / name
    ns = SimpleNamespace(rule=rule, input={}, output={"out": str(path)}, params={}, wildcards={}, log=[], threads=1)
    with Step.from_namespace(ns):
        path.write_bytes(content)
    return path


def _flip(path: Path, offset: int = 0, keep_mtime: bool = False) -> None:
    import os

    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


CONSUMER = """
import sys
from types import SimpleNamespace
from nnspectra.pipeline.step import Step
inp, out = sys.argv[1], sys.argv[2]
ns = SimpleNamespace(rule="consume", input={"data": inp}, output={"out": out}, params={}, wildcards={},
                     log=[out + ".log"], threads=1)
with Step.from_namespace(ns) as step:
    open(out, "w").write("new: " + open(inp).read())
"""


def test_corrupt_input_stops_the_step_before_it_reads_or_writes(tmp_path: Path) -> None:
    import os

    data = _made(tmp_path, "data.txt", b"upstream bytes", rule="make_data")
    out = _made(tmp_path, "out.txt", b"previous valid output", rule="consume")
    before = {p: p.read_bytes() for p in (out, sidecar_path(out))}
    _flip(data, 3, keep_mtime=True)  # same size, same mtime: only the hash can tell
    env = dict(os.environ, NNSPECTRA_REPAIR_COMMAND="nnspectra audit --repair table1 --configfile config/smoke.yaml")
    proc = subprocess.run([sys.executable, "-c", CONSUMER, str(data), str(out)], capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"nnspectra error in step 'consume': cached file {data} (made by rule make_data) is "
                               "corrupt: sha256 ")
    assert lines[0].endswith("rebuild it and everything made from it with: nnspectra audit --repair table1 "
                             "--configfile config/smoke.yaml")
    assert {p: p.read_bytes() for p in (out, sidecar_path(out))} == before  # nothing written or deleted


def test_inputs_without_sidecar_are_not_results_and_pass(tmp_path: Path) -> None:
    data = tmp_path / "config.yaml"
    data.write_text("external input, no sidecar")
    out = tmp_path / "out.txt"
    proc = subprocess.run([sys.executable, "-c", CONSUMER, str(data), str(out)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "new: external input, no sidecar"
    assert read_sidecar(out).inputs["data"]["path"] == str(data)


def test_check_file_verdicts(tmp_path: Path) -> None:
    from nnspectra.pipeline.verify import check_file

    good = _made(tmp_path, "good.npz", b"\x00" * 64)
    assert check_file(good) is None
    flipped = _made(tmp_path, "flipped.npz", b"\x00" * 64, rule="blobs_spectrum")
    _flip(flipped, 40, keep_mtime=True)
    verdict = check_file(flipped)
    assert verdict is not None and verdict.kind == "corrupt" and verdict.rule == "blobs_spectrum"
    assert "64 bytes now, 64 then" in verdict.detail
    bare = tmp_path / "bare.pt"
    bare.write_bytes(b"x")
    verdict = check_file(bare, rule="blobs_train")
    assert verdict is not None and verdict.kind == "missing-sidecar" and verdict.rule == "blobs_train"
    broken = _made(tmp_path, "broken.json", b"{}")
    sidecar_path(broken).write_text("{truncated")
    verdict = check_file(broken)
    assert verdict is not None and verdict.kind == "corrupt" and "unreadable provenance sidecar broken.json.prov.json (not valid JSON" in verdict.detail


def test_verify_inputs_names_the_first_bad_file_and_counts_the_rest(tmp_path: Path) -> None:
    import pytest

    from nnspectra.errors import CorruptResultError
    from nnspectra.pipeline.verify import verify_inputs

    files = [_made(tmp_path, f"f{i}.bin", bytes([i]) * 10) for i in range(3)]
    assert verify_inputs(files) == 30
    for path in files[1:]:
        _flip(path)
    with pytest.raises(CorruptResultError) as info:
        verify_inputs(files, repair="REPAIR", stopped="nothing was run or deleted")
    message = str(info.value)
    assert "\n" not in message and f"cached file {files[1]} (made by rule make)" in message
    assert "nothing was run or deleted; rebuild it and everything made from it with: REPAIR" in message
    assert message.endswith(f"(and 1 more: {files[2]})")
    bare = tmp_path / "bare.bin"
    bare.write_bytes(b"?")
    assert verify_inputs([bare]) == 0  # no sidecar: not a result, not checked
    with pytest.raises(CorruptResultError, match="has no provenance sidecar bare.bin.prov.json"):
        verify_inputs([bare], repair="REPAIR", require_sidecar=True, rules={str(bare): "blobs_data"})


def test_repair_command_repeats_the_runs_targets_and_config_options(tmp_path: Path) -> None:
    from nnspectra.pipeline.verify import repair_command

    (tmp_path / "config").mkdir()
    smoke = tmp_path / "config" / "smoke.yaml"
    # what Snakemake hands over from `--config 'blobs={"train": {"lr": 0.05}, ...}'`: every leaf a string
    overrides = {"blobs": {"train": {"lr": "0.05"}, "counting": {"top": "30"}}, "scorecard": {"setting": "a b"}}
    command = repair_command(["table1"], [smoke], overrides, cwd=tmp_path)
    assert command == ("nnspectra audit --repair table1 --configfile config/smoke.yaml --config "
                       "blobs.train.lr=0.05 blobs.counting.top=30 'scorecard.setting=a b'")
    assert repair_command() == "nnspectra audit --repair"
    # read back by `nnspectra audit`, they validate to the config Snakemake ran with
    from nnspectra.cli import resolve_config
    from nnspectra.pipeline.repair import snakemake_overrides

    pairs = ["blobs.train.lr=0.05", "blobs.counting.top=30", "scorecard.setting=a b"]
    config = resolve_config(overrides=pairs)
    assert config["blobs"]["train"]["lr"] == 0.05 and config["blobs"]["counting"]["top"] == 30
    assert config["scorecard"]["setting"] == "a b"
    # and go back to Snakemake as one entry per section (it refuses dotted keys)
    assert snakemake_overrides(pairs + ["blobs.table1.rows=[0, 9]"]) == [
        'blobs={"train": {"lr": 0.05}, "counting": {"top": 30}, "table1": {"rows": [0, 9]}}',
        'scorecard={"setting": "a b"}']


def test_planned_inputs_skips_files_the_run_rebuilds() -> None:
    from nnspectra.pipeline.verify import planned_inputs

    class Job(SimpleNamespace):
        __hash__ = object.__hash__

    data = Job(rule=SimpleNamespace(name="blobs_data"), input=[], output=["r/data.npz"])
    train = Job(rule=SimpleNamespace(name="blobs_train"), input=["r/data.npz"], output=["r/model.pt"])
    spec = Job(rule=SimpleNamespace(name="blobs_spectrum"), input=["r/data.npz", "r/model.pt"], output=["r/s.npz"])
    dag = SimpleNamespace(needrun_jobs=lambda: iter([spec]),
                          dependencies={spec: {data: {"r/data.npz"}, train: {"r/model.pt"}}})
    assert planned_inputs(dag) == {"r/data.npz": "blobs_data", "r/model.pt": "blobs_train"}
    dag.needrun_jobs = lambda: iter([train, spec])  # the model is rebuilt in this run: not checked
    dag.dependencies[train] = {data: {"r/data.npz"}}
    assert planned_inputs(dag) == {"r/data.npz": "blobs_data"}
