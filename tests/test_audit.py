"""Audit: a results tree made by the Step machinery audits clean; each planted fault is reported."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from nnspectra.pipeline.audit import audit, config_differences
from nnspectra.pipeline.config import SEED_LISTS, config_subset
from nnspectra.pipeline.provenance import build_record, code_version, sidecar_path, write_sidecar
from nnspectra.pipeline.sidecar import read_sidecar
from nnspectra.pipeline.step import Step

CONFIG: dict[str, Any] = {
    "device": "cpu",
    "demo": {"train": {"lr": 0.1, "steps": 10, "widths": [2, 4]}, "plot": {"bins": 20}},
}
CODE = code_version("nnspectra.pipeline.io")  # a real entry module: its hash matches the current source


def _run_step(rule: str, outputs: dict[str, Path], params: dict[str, Any], inputs: dict[str, Path] | None = None,
              seed: int | None = None, content: str = "") -> None:
    """Run one pipeline step through nnspectra.pipeline.step.Step, as a workflow script would."""
    ns = SimpleNamespace(rule=rule, input={k: str(v) for k, v in (inputs or {}).items()},
                         output={k: str(v) for k, v in outputs.items()}, params={"code": CODE, **params},
                         wildcards={"seed": str(seed)} if seed is not None else {}, log=[], threads=1)
    with Step.from_namespace(ns) as step:
        for key, path in step.output.items():
            upstream = "".join(Path(p).read_text() for p in step.input.values())
            Path(path).write_text(f"{rule}:{key}:{content}:{upstream}")


def _make_tree(root: Path, config: dict[str, Any] = CONFIG) -> Path:
    """results/ with a training output per seed, a figure from it, a log and a README (no sidecars)."""
    results = root / "results"
    for seed in (0, 1):
        _run_step("train", {"model": results / "demo" / f"seed{seed}" / "model.txt"},
                  {"cfg": config_subset(config, "demo.train", "device")}, seed=seed)
    _run_step("plot", {"figure": results / "figures" / "demo.png"}, {"cfg": config_subset(config, "demo.plot")},
              inputs={"model": results / "demo" / "seed0" / "model.txt"})
    (results / "logs" / "train").mkdir(parents=True)
    (results / "logs" / "train" / "run.log").write_text("log lines, no sidecar needed")
    (results / "README.md").write_text("generated results")
    (results / "demo" / "part1.ckpt").write_text("resume state of an interrupted training step")
    return results


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    return _make_tree(tmp_path)


def _status(report, name: str) -> str:  # type: ignore[no-untyped-def]
    matches = [e for e in report.entries if e.file.endswith(name)]
    assert len(matches) == 1, [e.file for e in report.entries]
    return matches[0].status


def test_fresh_tree_is_clean_with_provenance(tree: Path) -> None:
    report = audit(tree, config=CONFIG)
    files = sorted(e.file for e in report.entries)
    assert files == ["results/demo/seed0/model.txt", "results/demo/seed1/model.txt", "results/figures/demo.png"]
    assert report.ok and report.fresh, report.to_text()
    entry = next(e for e in report.entries if e.file.endswith("seed1/model.txt"))
    assert entry.step == "train" and entry.seed == 1 and entry.code_hash == CODE["hash"]
    assert entry.config_keys == ["demo.train", "device"] and entry.created and entry.host
    text = report.to_text(verbose=True)
    for column in ("file", "step", "seed", "code", "created", "where", "status"):
        assert column in text.splitlines()[0]
    assert "3 ok; OK" in text
    short = report.to_text(width=80)  # the default: one line per file that fits the terminal
    assert all(len(line) <= 80 for line in short.splitlines()[:-1]) and "3 ok; OK" in short


def test_corrupted_file_is_caught(tree: Path) -> None:
    target = tree / "demo" / "seed0" / "model.txt"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01  # one flipped bit, same size
    target.write_bytes(bytes(data))
    report = audit(tree, config=CONFIG)
    assert _status(report, "seed0/model.txt") == "corrupt"
    assert _status(report, "seed1/model.txt") == "ok"
    assert not report.ok
    assert "differs from recorded" in report.to_text()


def test_changed_config_value_marks_only_the_steps_that_used_it(tree: Path) -> None:
    config = copy.deepcopy(CONFIG)
    config["demo"]["train"]["lr"] = 0.2
    report = audit(tree, config=config)
    assert _status(report, "seed0/model.txt") == "stale-config"
    assert _status(report, "seed1/model.txt") == "stale-config"
    # the plot step never read demo.train, but it was built from seed 0's stale model: stale too (the DAG)
    figure = next(e for e in report.entries if e.file.endswith("figures/demo.png"))
    assert figure.status == "stale-input" and figure.problems == ["stale-input"], figure
    assert figure.details == ["built from results/demo/seed0/model.txt, which is stale-config"]
    entry = next(e for e in report.entries if e.file.endswith("seed0/model.txt"))
    assert any("demo.train.lr: 0.1 -> 0.2" in d for d in entry.details)
    assert report.ok and not report.fresh  # stale is reported, not fatal
    config["demo"]["plot"]["bins"] = 40
    assert _status(audit(tree, config=config), "figures/demo.png") == "stale-config"
    config["demo"]["train"]["lr"] = 0.1  # only the plot's own value changed: its input is fine
    assert _status(audit(tree, config=config), "seed0/model.txt") == "ok"
    # without a config the check is skipped (and said so)
    skipped = audit(tree, config=None)
    assert skipped.fresh and "config not checked" in skipped.summary()


def test_deleted_sidecar_and_deleted_file(tree: Path) -> None:
    sidecar_path(tree / "demo" / "seed1" / "model.txt").unlink()
    (tree / "figures" / "demo.png").unlink()
    report = audit(tree, config=CONFIG)
    assert _status(report, "seed1/model.txt") == "missing-sidecar"
    assert _status(report, "figures/demo.png") == "orphan-sidecar"
    assert _status(report, "seed0/model.txt") == "ok"
    assert not report.ok
    assert report.counts()["missing-sidecar"] == 1 and report.counts()["orphan-sidecar"] == 1


def test_code_change_and_upstream_rerun_are_stale(tree: Path) -> None:
    model = tree / "demo" / "seed1" / "model.txt"
    record = read_sidecar(model).record
    record["code"]["hash"] = "0123456789abcdef"  # made by an older version of the code
    write_sidecar(record, model)
    # rerun the upstream training step of seed 0 with new content: the figure built from it is stale
    _run_step("train", {"model": tree / "demo" / "seed0" / "model.txt"},
              {"cfg": config_subset(CONFIG, "demo.train", "device")}, seed=0, content="retrained")
    report = audit(tree, config=CONFIG)
    assert _status(report, "seed1/model.txt") == "stale-code"
    assert _status(report, "seed0/model.txt") == "ok"
    assert _status(report, "figures/demo.png") == "stale-input"
    assert report.ok


def test_several_problems_report_the_most_serious(tree: Path) -> None:
    model = tree / "demo" / "seed0" / "model.txt"
    model.write_text("tampered")
    config = copy.deepcopy(CONFIG)
    config["device"] = "cuda"
    report = audit(tree, config=config)
    entry = next(e for e in report.entries if e.file.endswith("seed0/model.txt"))
    assert entry.status == "corrupt" and set(entry.problems) == {"corrupt", "stale-config"}


def test_unreadable_sidecar_and_missing_code_record(tree: Path) -> None:
    sidecar_path(tree / "demo" / "seed0" / "model.txt").write_text("{truncated")
    fig = tree / "figures" / "demo.png"
    write_sidecar(build_record(step="plot", output=fig, params={}), fig)  # no code version recorded
    report = audit(tree, config=CONFIG)
    assert _status(report, "seed0/model.txt") == "corrupt"
    assert _status(report, "figures/demo.png") == "stale-code"


def test_config_differences_compare_after_json_round_trip() -> None:
    recorded = {"demo.train": {"lr": 0.1, "steps": 10, "widths": [2, 4]}}
    current = {"demo": {"train": {"lr": 0.1, "steps": 10, "widths": (2, 4)}}}
    assert config_differences(recorded, current) == []
    assert config_differences({"gone.key": 1}, current) == ["gone.key: no longer in the config"]
    current["demo"]["train"]["extra"] = True
    assert config_differences(recorded, current) == ["demo.train.extra: '<absent>' -> True"]


def test_a_job_of_one_seed_records_its_sections_without_the_seed_list() -> None:
    """Adding a seed changes neither a per-seed job's params (Snakemake's rerun trigger) nor its audit verdict;
    any other value it used still does."""
    config = {"demo": {"train": {"lr": 0.1, "seeds": [0, 1]}}, "device": "cpu"}
    recorded = config_subset(config, "demo.train", "device", drop=SEED_LISTS)
    assert recorded == {"demo.train": {"lr": 0.1}, "device": "cpu"}
    assert config["demo"]["train"]["seeds"] == [0, 1]  # the config itself is untouched
    more = {"demo": {"train": {"lr": 0.1, "seeds": [0, 1, 2]}}, "device": "cpu"}
    assert config_subset(more, "demo.train", "device", drop=SEED_LISTS) == recorded
    assert config_differences(recorded, more) == []
    more["demo"]["train"]["lr"] = 0.2
    assert config_differences(recorded, more) == ["demo.train.lr: 0.1 -> 0.2"]
    # a job over all seeds records the list, and a changed list is a difference for it
    everything = config_subset(config, "demo.train")
    assert config_differences(everything, {"demo": {"train": {"lr": 0.1, "seeds": [0, 1, 2]}}}) == [
        "demo.train.seeds: [0, 1] -> [0, 1, 2]"]


def test_missing_results_dir_and_json(tmp_path: Path, tree: Path) -> None:
    empty = audit(tmp_path / "nothing")
    assert empty.ok and empty.entries == []
    payload = json.loads(json.dumps(audit(tree, config=CONFIG).to_json()))
    assert payload["ok"] is True and payload["counts"]["ok"] == 3


def test_relative_input_paths_resolve_against_the_working_directory(tree: Path, monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    """Snakemake records inputs relative to its working directory, the parent of results/."""
    monkeypatch.chdir(tree.parent)
    fig = Path("results/figures/demo.png")
    fig.write_text("replotted")
    write_sidecar(build_record(step="plot", output=fig, inputs={"model": "results/demo/seed1/model.txt"},
                               params={"cfg": config_subset(CONFIG, "demo.plot")}, code=CODE), fig)
    monkeypatch.chdir("/")
    assert _status(audit(tree, config=CONFIG), "figures/demo.png") == "ok"
    (tree / "demo" / "seed1" / "model.txt").write_text("rerun upstream")
    write_sidecar(build_record(step="train", output=tree / "demo" / "seed1" / "model.txt", code=CODE,
                               params={"cfg": config_subset(CONFIG, "demo.train", "device")}, seed=1),
                  tree / "demo" / "seed1" / "model.txt")
    report = audit(tree, config=CONFIG)
    assert _status(report, "figures/demo.png") == "stale-input"
    assert _status(report, "seed1/model.txt") == "ok"


# -- what should exist (Snakemake's DAG) and the repair plan (issue 12) ----------------------------------------
SUMMARY = "\n".join([
    "output_file\tdate\trule\tlog-file(s)\tstatus\tplan",
    "results/demo/seed0/model.txt\tSat Nov 28 07:26:11 2026\ttrain\tresults/logs/train/run.log\tok\tno update",
    "results/demo/seed1/model.txt\tSat Nov 28 07:26:11 2026\ttrain\t-\tok\tno update",
    "results/figures/demo.png\t-\tplot\t-\tmissing\tupdate pending",
    "results/demo/tmp.bin\t-\ttrain\t-\tremoved temp file\tno update",
])


def test_parse_summary_reads_snakemakes_table() -> None:
    from nnspectra.pipeline.repair import Expected, parse_summary

    parsed = parse_summary("Building DAG of jobs...\n" + SUMMARY + "\n")
    assert parsed == {"results/demo/seed0/model.txt": Expected("train", "ok"),
                      "results/demo/seed1/model.txt": Expected("train", "ok"),
                      "results/figures/demo.png": Expected("plot", "missing")}  # temp files are not expected
    with pytest.raises(ValueError):
        parse_summary("Nothing here")


def test_expected_files_that_are_absent_are_missing(tree: Path) -> None:
    from nnspectra.pipeline.repair import parse_summary

    expected = {name: e.rule for name, e in parse_summary(SUMMARY).items()}
    expected["results/demo/seed2/model.txt"] = "train"  # a seed the current config asks for, never made
    expected["elsewhere/out.txt"] = "other"  # outside the audited tree: not this audit's business
    (tree / "figures" / "demo.png").unlink()  # its sidecar stays behind
    report = audit(tree, config=CONFIG, expected=expected, workdir=tree.parent)
    assert _status(report, "seed2/model.txt") == "missing"
    fig = next(e for e in report.entries if e.file == "results/figures/demo.png")
    assert fig.status == "missing" and set(fig.problems) == {"orphan-sidecar", "missing"}
    assert "absent, but rule plot makes it for the audited targets" in fig.details
    assert not any("elsewhere" in e.file for e in report.entries)
    assert not report.ok and report.counts()["missing"] == 2
    assert "[expected files not checked]" in audit(tree, config=CONFIG).summary()
    assert "expected files not checked" not in report.summary()


def test_a_gone_input_inside_the_tree_makes_its_products_stale(tree: Path) -> None:
    model = tree / "demo" / "seed0" / "model.txt"
    model.unlink()
    sidecar_path(model).unlink()
    report = audit(tree, config=CONFIG)
    fig = next(e for e in report.entries if e.file.endswith("figures/demo.png"))
    assert fig.status == "stale-input" and "is gone" in fig.details[0]


def test_repair_plan_moves_untrusted_files_aside_and_forces_their_rebuild(tree: Path) -> None:
    from nnspectra.pipeline.repair import plan_repair, quarantine

    expected = {"results/demo/seed0/model.txt": "train", "results/demo/seed1/model.txt": "train",
                "results/figures/demo.png": "plot", "results/demo/seed2/model.txt": "train"}
    (tree / "demo" / "seed0" / "model.txt").write_text("tampered")        # corrupt
    sidecar_path(tree / "demo" / "seed1" / "model.txt").unlink()          # missing sidecar
    stray = tree / "old" / "gone.txt"                                      # orphan sidecar of an old config
    stray.parent.mkdir()
    stray.write_text("old")
    write_sidecar(build_record(step="old", output=stray), stray)
    stray.unlink()
    extra = tree / "old" / "extra.txt"                                     # corrupt, but no rule makes it now
    extra.write_text("x")
    write_sidecar(build_record(step="old", output=extra), extra)
    extra.write_text("y")
    report = audit(tree, config=CONFIG, expected=expected, workdir=tree.parent)
    plan = plan_repair(report, expected)
    assert plan.quarantine == ["results/demo/seed0/model.txt", "results/demo/seed1/model.txt",
                               "results/old/gone.txt.prov.json"]
    assert plan.forcerun == ["results/demo/seed0/model.txt", "results/demo/seed1/model.txt",
                             "results/demo/seed2/model.txt", "results/figures/demo.png"]  # figure: stale input
    assert plan.outside == ["results/old/extra.txt"] and not plan.empty
    assert "left alone: results/old/extra.txt" in plan.describe()

    folder = quarantine(plan.quarantine, tree.parent)
    assert folder is not None and folder.parent == tree.parent / ".snakemake" / "nnspectra-quarantine"
    assert (folder / "results/demo/seed0/model.txt").read_text() == "tampered"
    assert (folder / "results/demo/seed0/model.txt.prov.json").is_file()
    assert (folder / "results/demo/seed1/model.txt").is_file()
    assert (folder / "results/old/gone.txt.prov.json").is_file()
    assert not (tree / "demo" / "seed0" / "model.txt").exists()
    assert not sidecar_path(tree / "demo" / "seed0" / "model.txt").exists()
    assert quarantine([], tree.parent) is None


# ------------------------------------------------------------------ issue 21: DAG, leftovers, incomplete, data
def _chain(tree: Path) -> list[Path]:
    """seed0/model.txt -> figures/demo.png -> deeper/a.txt -> deeper/b.txt (four levels)."""
    a, b = tree / "deeper" / "a.txt", tree / "deeper" / "b.txt"
    _run_step("derive", {"out": a}, {"cfg": config_subset(CONFIG, "demo.plot")},
              inputs={"fig": tree / "figures" / "demo.png"})
    _run_step("derive2", {"out": b}, {"cfg": config_subset(CONFIG, "demo.plot")}, inputs={"a": a})
    return [tree / "demo" / "seed0" / "model.txt", tree / "figures" / "demo.png", a, b]


def test_stale_and_corrupt_propagate_down_the_dag_at_any_depth(tree: Path) -> None:
    _chain(tree)
    assert audit(tree, config=CONFIG).fresh
    config = copy.deepcopy(CONFIG)
    config["demo"]["train"]["lr"] = 0.2  # only the first level used it; the bytes downstream did not change
    report = audit(tree, config=config)
    assert _status(report, "seed0/model.txt") == "stale-config"
    for name in ("figures/demo.png", "deeper/a.txt", "deeper/b.txt"):
        assert _status(report, name) == "stale-input", report.to_text(verbose=True)
    deepest = next(e for e in report.entries if e.file.endswith("deeper/b.txt"))
    assert deepest.details == ["built from results/deeper/a.txt, which is stale-input"]
    assert report.ok and not report.fresh
    # a corrupt file two levels up makes everything below it stale
    fig = tree / "figures" / "demo.png"
    fig.write_bytes(fig.read_bytes()[::-1])
    report = audit(tree, config=CONFIG)
    assert _status(report, "figures/demo.png") == "corrupt"
    assert _status(report, "deeper/b.txt") == "stale-input" and _status(report, "seed1/model.txt") == "ok"


def test_leftover_temporaries_are_listed_unless_their_writer_runs(tree: Path) -> None:
    import os

    (tree / "demo" / ".model.txt.tmp999999999").write_text("left by a killed write")
    (tree / "demo" / "model.txt.prov.json.tmp999999998").write_text("{")
    (tree / "figures" / ".demo.tmp999999997.png").write_text("half a figure")
    (tree / "demo" / f".live.txt.tmp{os.getpid()}").write_text("being written right now")
    report = audit(tree, config=CONFIG)
    assert report.counts()["leftover"] == 3 and not report.ok, report.to_text()
    assert not any("live.txt" in e.file for e in report.entries)


def test_snakemake_incomplete_outputs_are_listed(tree: Path) -> None:
    import base64

    marker = tree.parent / ".snakemake" / "incomplete"
    marker.mkdir(parents=True)
    for name in ("results/demo/seed1/model.txt", "results/demo/seed2/model.txt"):
        (marker / base64.urlsafe_b64encode(name.encode()).decode()).write_text("")
    report = audit(tree, config=CONFIG)
    assert _status(report, "seed1/model.txt") == "incomplete"
    assert _status(report, "seed2/model.txt") == "incomplete"  # never written at all
    assert not report.ok and "incomplete" in report.summary()


def test_changed_data_file_makes_its_results_stale(tree: Path, tmp_path: Path) -> None:
    """A step that read a dataset records its identity; truncating, relabelling or removing it is stale-data."""
    data_root = tmp_path / "data"
    (data_root / "MNIST" / "raw").mkdir(parents=True)
    labels = data_root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03")
    model = tree / "demo" / "seed0" / "model.txt"
    record = read_sidecar(model).record
    record["data"] = [{"dataset": "MNIST", "split": "train", "n_items": 3, "sha256": "x", "root": str(data_root),
                       "files": {"MNIST/raw/train-labels-idx1-ubyte": build_record(step="s", output=labels)["sha256"]}}]
    write_sidecar(record, model)
    first = audit(tree, config=CONFIG, data_root=data_root)
    assert first.fresh, [(e.file, e.status, e.details) for e in first.entries if e.status != "ok"]
    labels.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x03\x02\x01\x03")  # relabelled
    report = audit(tree, config=CONFIG, data_root=data_root)
    assert _status(report, "seed0/model.txt") == "stale-data"
    entry = next(e for e in report.entries if e.file.endswith("seed0/model.txt"))
    assert "MNIST train (3 items when read): data file" in entry.details[0] and "changed" in entry.details[0]
    assert _status(report, "figures/demo.png") == "stale-input"  # built from it
    labels.unlink()
    entries = audit(tree, config=CONFIG, data_root=data_root).entries
    gone = next(e for e in entries if e.file.endswith("seed0/model.txt"))
    assert gone.status == "stale-data" and "is gone" in gone.details[0]
