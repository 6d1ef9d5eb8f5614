"""Scorecard: claims files are validated, hand-made metric files pass, fail or are not_run as SPEC §4 says."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nnspectra.claims import CLAIMS_DIR, ClaimError, load_claim_file, load_claims
from nnspectra.claims.schema import Check, parse_claims
from nnspectra.claims.requirements import shortfalls
from nnspectra.pipeline.provenance import build_record, write_sidecar
from nnspectra.pipeline.sidecar import SidecarError
from nnspectra.scorecard import (
    COLUMNS,
    MetricsError,
    build_scorecard,
    evaluate_claim,
    load_metrics,
    markdown,
    metric_scale,
    parse_metrics,
)


def _claim(id_: Any = 1, metric: str = "demo.hits", op: str = ">=", value: Any = 4, **extra: Any) -> dict[str, Any]:
    entry = {
        "id": id_, "paper": "sagun2018", "figure": "Table 1", "target": "table1",
        "statement": "Outliers = number of classes", "measure": "per seed: k values within ±1",
        "tolerance": "±1 in >= 4 of 5 values of k", "paper_value": "13/15", "paper_value_source": "stated",
        "metric": metric, "check": {"op": op, "value": value},
    }
    entry.update(extra)
    return entry


def _write_claims(folder: Path, name: str, entries: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
    return path


def _write_metrics(folder: Path, section: str, metrics: dict[str, list[Any]],
                   evidence: dict[str, Any] | None = None, run_name: str | None = "unit",
                   sidecar: bool = True) -> Path:
    """``folder/<section>.json`` and (``sidecar``) its provenance sidecar recording ``run_name`` as a metrics
    step does (``None``: a sidecar without one)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{section}.json"
    record = {name: {"values": values, "seeds": list(range(len(values))), "unit": "count", "description": name,
                     **({"evidence": evidence} if evidence is not None else {})}
              for name, values in metrics.items()}
    path.write_text(json.dumps(record))
    if sidecar:
        params = {"cfg": {"demo.claims": {}, **({"run_name": run_name} if run_name else {})}}
        write_sidecar(build_record(step="demo_metrics", output=path, params=params), path)
    return path


def _status(tmp_path: Path, claim: dict[str, Any], values: list[Any] | None,
            evidence: dict[str, Any] | None = None) -> tuple[str, pd.Series]:
    claims = _write_claims(tmp_path / "claims", "demo.yaml", [claim])
    metric_files = [] if values is None else [_write_metrics(tmp_path / "metrics", "demo", {"hits": values},
                                                             evidence)]
    card = build_scorecard(metric_files, claim_files=[claims])
    row = card.frame.iloc[0]
    return str(row["status"]), row


# -- verdicts ---------------------------------------------------------------------------------------
def test_hand_made_metrics_that_must_pass(tmp_path: Path) -> None:
    status, row = _status(tmp_path, _claim(), [5, 4, 5, 4, 5])
    assert status == "pass"
    assert row["measured_value"] == 5 and row["n_seeds"] == 5 and row["n_seeds_pass"] == 5
    assert row["spread"] == pytest.approx(1.0)  # q25 = 4, q75 = 5


def test_hand_made_metrics_that_must_fail(tmp_path: Path) -> None:
    status, row = _status(tmp_path, _claim(), [3, 2, 3, 4, 3])
    assert status == "fail"
    assert row["measured_value"] == 3
    assert "median 3 is not >= 4" in row["note"]


def test_missing_metrics_file_or_key_is_not_run_never_pass(tmp_path: Path) -> None:
    status, row = _status(tmp_path, _claim(), None)
    assert status == "not_run" and "no metrics file" in row["note"]
    assert math.isnan(row["measured_value"])
    status, row = _status(tmp_path, _claim(metric="demo.other_metric"), [5, 5, 5])
    assert status == "not_run" and "other_metric" in row["note"]
    status, _ = _status(tmp_path, _claim(), [])
    assert status == "not_run"


def test_median_passes_but_too_few_seeds_fails(tmp_path: Path) -> None:
    # 3 of 5 seeds meet >= 4 (60 % < 70 %) although the median (4) does
    status, row = _status(tmp_path, _claim(), [4, 4, 5, 1, 2])
    assert status == "fail"
    assert row["measured_value"] == 4 and row["n_seeds_pass"] == 3
    assert "3/5 seeds meet the check" in row["note"]
    # a claim that asks for only half the seeds passes on the same numbers
    status, _ = _status(tmp_path, _claim(seed_fraction=0.5), [4, 4, 5, 1, 2])
    assert status == "pass"


@pytest.mark.parametrize("values, expected", [
    ([0.01, 0.012, 0.011], "pass"),       # inside [0.005, 0.03]
    ([0.005, 0.005, 0.03], "pass"),       # both ends are included
    ([0.04, 0.05, 0.045], "fail"),        # above
    ([0.001, 0.002, 0.004], "fail"),      # below
])
def test_between_range(tmp_path: Path, values: list[float], expected: str) -> None:
    status, _ = _status(tmp_path, _claim(op="between", value=[0.005, 0.03]), values)
    assert status == expected


def test_non_finite_seeds_count_as_failing(tmp_path: Path) -> None:
    status, row = _status(tmp_path, _claim(), [5, None, "nan", 5, 5])
    assert status == "fail"  # 3/5 = 60 % of seeds pass
    assert row["measured_value"] == 5 and "2 of 5 seeds non-finite" in row["note"]
    status, row = _status(tmp_path, _claim(), [None, None])
    assert status == "fail" and "no finite value" in row["note"]


def test_boolean_metric_and_equality(tmp_path: Path) -> None:
    assert _status(tmp_path, _claim(op="==", value=True), [True, True, False, True])[0] == "pass"
    assert _status(tmp_path, _claim(op="==", value=1), [False, False, True])[0] == "fail"


def test_strict_operators() -> None:
    assert Check(">", 1.0)(1.5) and not Check(">", 1.0)(1.0)
    assert Check("<", 1.0)(0.5) and not Check("<", 1.0)(1.0)
    assert Check("<=", 1.0)(1.0) and not Check("<=", 1.0)(1.0 + 1e-6)
    assert not Check(">=", 0.0)(math.nan)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=9),
       threshold=st.floats(-10, 10, allow_nan=False), fraction=st.sampled_from([0.0, 0.5, 0.7, 1.0]))
def test_verdict_matches_independent_rule(values: list[float], threshold: float, fraction: float) -> None:
    """Pass iff statistics.median meets the threshold and >= fraction of seeds do; IQR as statistics.quantiles."""
    claim = parse_claims([_claim(op=">=", value=threshold, seed_fraction=fraction)], "h.yaml")[0]
    metrics = parse_metrics({"hits": {"values": values}}, "demo.json")
    result = evaluate_claim(claim, {"demo": metrics})
    expected = statistics.median(values) >= threshold and sum(v >= threshold for v in values) >= fraction * len(values)
    assert (result.status == "pass") == expected
    assert result.median == pytest.approx(statistics.median(values))
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        assert result.iqr == pytest.approx(q3 - q1, abs=1e-12)


# -- sample requirements, diagnosis, scale ---------------------------------------------------------------
def test_too_few_seeds_is_not_run_with_the_shortfall_whatever_the_values(tmp_path: Path) -> None:
    claim = _claim(requires={"seeds": 5})
    for values in ([5, 5, 5], [0, 0, 0]):                          # would pass / would fail
        status, row = _status(tmp_path, claim, values)
        assert status == "not_run" and "needs ≥ 5 seeds, this run has 3" in row["note"]
        assert row["measured_value"] == values[0] and row["evidence"] == "seeds 3"  # shown, no verdict
    assert _status(tmp_path, claim, [5, 5, 5, 4, 5])[0] == "pass"
    # a metric that records its seeds (one value over all runs) is judged by the recorded count
    status, row = _status(tmp_path, _claim(requires={"seeds": 20, "suboptimal_runs": 3}), [1],
                          {"seeds": 20, "suboptimal_runs": 2})
    assert status == "not_run" and row["note"] == "needs ≥ 3 suboptimal runs, this run has 2"
    assert _status(tmp_path, _claim(requires={"seeds": 20, "suboptimal_runs": 3}), [5],
                   {"seeds": 20, "suboptimal_runs": 3})[0] == "pass"


def test_listed_requirements_must_all_be_present_and_recorded(tmp_path: Path) -> None:
    claim = _claim(requires={"widths": [10, 30, 50, 70]})
    status, row = _status(tmp_path, claim, [5], {"widths": [10]})
    assert status == "not_run" and row["note"] == "needs widths [10, 30, 50, 70], this run has [10]"
    status, row = _status(tmp_path, claim, [5])                               # evidence never recorded
    assert status == "not_run" and "the metric records no widths" in row["note"]
    assert _status(tmp_path, claim, [5], {"widths": [70, 50, 30, 10, 90]})[0] == "pass"
    assert _status(tmp_path, claim, [1], {"widths": [10, 30, 50, 70]})[0] == "fail"
    assert _status(tmp_path, _claim(requires={"dataset": ["cifar10"]}), [5], {"dataset": ["mnist"]})[0] == "not_run"
    assert _status(tmp_path, _claim(requires={"window": [2, 20]}), [5], {"window": [2.0, 20.0]})[0] == "pass"


def test_shortfalls_read_like_a_sentence() -> None:
    assert shortfalls((("seeds", 20.0),), {"seeds": 3}) == ["needs ≥ 20 seeds, this run has 3"]
    assert shortfalls({"steps_per_part": 25000}, {"steps_per_part": 1000}) == [
        "needs ≥ 25000 steps per part, this run has 1000"]
    assert shortfalls({"widths": 4}, {"widths": [10, 30, 30]}) == ["needs ≥ 4 widths, this run has 2"]
    assert shortfalls({"seeds": 20, "widths": [10]}, {"seeds": 20, "widths": 10}) == []
    assert shortfalls({"seeds": 3}, {"seeds": "many"}) == [
        "needs ≥ 3 seeds; the metric records seeds = 'many', not a count"]


@pytest.mark.parametrize("bad, message", [
    ({"requires": {"seeds": 0}}, "key 'requires.seeds'"),
    ({"requires": {"widths": []}}, "key 'requires.widths'"),
    ({"requires": {}}, "key 'requires'"),
    ({"diagnosis": ""}, "key 'diagnosis'"),
])
def test_malformed_requirements_and_diagnosis(tmp_path: Path, bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ClaimError, match=message):
        load_claim_file(_write_claims(tmp_path, "broken.yaml", [_claim(id_=2, **bad)]))


def test_diagnosis_is_shown_for_failing_rows_only(tmp_path: Path) -> None:
    claim = _claim(diagnosis="setup: under-trained at 1,000 steps (paper 25,000)")
    status, row = _status(tmp_path, claim, [1, 1, 1])
    assert status == "fail" and row["diagnosis"] == "setup: under-trained at 1,000 steps (paper 25,000)"
    status, row = _status(tmp_path, claim, [5, 5, 5])
    assert status == "pass" and row["diagnosis"] == ""
    status, row = _status(tmp_path, {**claim, "requires": {"seeds": 9}}, [1, 1, 1])
    assert status == "not_run" and row["diagnosis"] == ""
    md = markdown(build_scorecard([_write_metrics(tmp_path / "m", "demo", {"hits": [1, 1]})],
                                  claim_files=[_write_claims(tmp_path / "c", "d.yaml", [claim])]).frame)
    assert "setup: under-trained at 1,000 steps (paper 25,000)" in md


def test_diagnosis_quotes_the_rows_own_numbers(tmp_path: Path) -> None:
    """A diagnosis template is filled from the metrics the row was evaluated on (issue 20: 39a's row measured
    2.90 on the smoke tree while its diagnosis quoted 3.96, 4.80, 5.03 from the paper run)."""
    claim = _claim(op="<=", value=4.0, metric="demo.hits",
                   diagnosis="borderline at {n_seeds} seeds: alpha is {values} ({median}; {range}), threshold "
                             "{check}, down from {demo.gd:median} after GD (seeds {evidence.seeds}; {demo.absent})")
    claims = _write_claims(tmp_path / "claims", "demo.yaml", [claim])
    metrics = _write_metrics(tmp_path / "metrics", "demo", {"hits": [4.5, 2.9, 5.03], "gd": [14.5, 13.0, 15.0]})
    row = build_scorecard([metrics], claim_files=[claims]).frame.iloc[0]
    assert row["status"] == "fail"
    assert row["diagnosis"] == ("borderline at 3 seeds: alpha is 4.5, 2.9, 5.03 (4.5; 2.9 to 5.03), threshold <= 4, "
                                "down from 14.5 after GD (seeds 3; (not measured))")


def test_diagnosis_quotes_never_reached_as_inf_not_nan(tmp_path: Path) -> None:
    """Claim 29's spread is inf where A never reaches 0.9 at some d; its diagnosis says "inf = never reached", so
    the values it quotes must read inf (they read nan before), and a NaN stays nan."""
    claim = _claim(op="<=", value=0.3, metric="demo.spread", diagnosis="spread {values} per seed (median {median})")
    claims = _write_claims(tmp_path / "claims", "demo.yaml", [claim])
    metrics = _write_metrics(tmp_path / "metrics", "demo", {"spread": [math.inf, math.nan, 0.5]})
    row = build_scorecard([metrics], claim_files=[claims]).frame.iloc[0]
    assert row["status"] == "fail" and row["diagnosis"] == "spread inf, nan, 0.5 per seed (median 0.5)"


def test_diagnosis_written_for_one_run_is_shown_only_on_that_runs_rows(tmp_path: Path) -> None:
    claim = _claim(diagnosis="setup: the paper run's under-training (50 % accuracy)", diagnosis_run="paper")
    claims = _write_claims(tmp_path / "claims", "demo.yaml", [claim])
    paper = _tree(tmp_path / "results" / "paper", "paper", {"hits": [1, 2, 1]})
    smoke = _tree(tmp_path / "results" / "smoke", "smoke", {"hits": [1, 2, 1]})
    row = build_scorecard([paper], claim_files=[claims]).frame.iloc[0]
    assert row["diagnosis"] == "setup: the paper run's under-training (50 % accuracy)"
    row = build_scorecard([smoke], claim_files=[claims]).frame.iloc[0]
    assert row["status"] == "fail" and "50 %" not in row["diagnosis"]
    assert row["diagnosis"].startswith("undecided: measured 1, 2, 1 count over 3 seed(s) (median 1); 0/3 meet >= 4")
    assert row["diagnosis"].endswith("(the claim file's diagnosis was written for the paper run)")


def test_undecided_diagnosis_gets_the_rows_evidence(tmp_path: Path) -> None:
    status, row = _status(tmp_path, _claim(diagnosis="undecided"), [3, 5, 2])
    assert status == "fail"
    assert row["diagnosis"] == "undecided: measured 3, 5, 2 count over 3 seed(s) (median 3); 1/3 meet >= 4, 70% needed"


def test_every_placeholder_of_the_claim_files_is_known() -> None:
    """Every ``{...}`` of a packaged diagnosis is one the renderer fills (a typo would show up verbatim)."""
    from nnspectra.claims.diagnosis import fill_placeholders

    for claim in load_claims(CLAIMS_DIR):
        text = fill_placeholders(claim.diagnosis, claim, None, {})
        assert "{" not in text and "}" not in text, (claim.id, text)


def _tree(root: Path, run_name: str | None, metrics: dict[str, list[Any]], section: str = "demo") -> Path:
    """A results tree ``root/metrics/<section>.json`` whose sidecar records ``run_name`` as a metrics step does."""
    return _write_metrics(root / "metrics", section, metrics, run_name=run_name)


def test_scale_per_row_from_the_provenance_and_merged_trees(tmp_path: Path) -> None:
    claims = _write_claims(tmp_path / "claims", "demo.yaml", [_claim(id_=1, metric="demo.hits"),
                                                             _claim(id_=2, metric="other.x")])
    paper = _tree(tmp_path / "results" / "paper", "paper", {"hits": [5, 5, 5]})
    cpu = _tree(tmp_path / "results" / "cpu", "cpu", {"hits": [1, 1, 1]})
    cpu_other = _tree(tmp_path / "results" / "cpu", "cpu", {"x": [9]}, section="other")
    # the first tree that has a section wins
    frame = build_scorecard([paper, cpu, cpu_other], claim_files=[claims]).frame.set_index("claim_id")
    assert (frame.loc[1, "status"], frame.loc[1, "scale"]) == ("pass", "paper")
    assert frame.loc[1, "source"] == f"{paper} (preferred to {cpu})"
    assert (frame.loc[2, "scale"], frame.loc[2, "source"]) == ("cpu", str(cpu_other))
    frame = build_scorecard([cpu, paper], claim_files=[claims]).frame.set_index("claim_id")
    assert (frame.loc[1, "status"], frame.loc[1, "scale"]) == ("fail", "cpu")
    md = markdown(build_scorecard([paper, cpu_other], claim_files=[claims]).frame)
    assert f"demo: paper ({paper})" in md and f"other: cpu ({cpu_other})" in md
    # the scale is never read off the path: a file without a sidecar (or without run_name in it) needs the
    # run named explicitly, else one line naming the file and the fix
    bare = _write_metrics(tmp_path / "results" / "smoke" / "metrics", "demo", {"hits": [5]}, sidecar=False)
    with pytest.raises(SidecarError, match=r"demo.json has no provenance sidecar demo.json.prov.json.*--run-name"):
        metric_scale(bare)
    assert metric_scale(bare, run_name="by hand") == "by hand"
    unnamed = _tree(tmp_path / "results" / "x", None, {"hits": [5]})
    with pytest.raises(MetricsError, match=r"demo.json: its provenance sidecar records no run_name.*--run-name"):
        metric_scale(unnamed)
    assert metric_scale(unnamed, run_name="x") == "x" and metric_scale(paper, run_name="x") == "paper"


def test_cli_merges_result_trees_in_priority_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nnspectra.cli import main

    claims = _write_claims(tmp_path / "claims", "demo.yaml", [_claim(id_=1, metric="demo.hits")])
    paper, cpu = tmp_path / "results" / "paper", tmp_path / "results" / "cpu"
    _tree(paper, "paper", {"hits": [5, 5, 5]})
    _tree(cpu, "cpu", {"hits": [1, 1, 1]})
    out = tmp_path / "out"
    assert main(["scorecard", "--results", str(paper), str(cpu), "--claims-dir", str(claims.parent),
                 "--csv", str(out / "s.csv"), "--md", str(out / "s.md")]) == 0
    assert "Summary: 1 pass / 0 fail / 0 not_run" in capsys.readouterr().out
    assert pd.read_csv(out / "s.csv")["scale"].tolist() == ["paper"]
    assert main(["scorecard", "--metrics-dir", str(cpu / "metrics"), "--metrics-dir", str(paper / "metrics"),
                 "--claims-dir", str(claims.parent)]) == 0
    text = capsys.readouterr().out
    assert "Summary: 0 pass / 1 fail / 0 not_run" in text and "| cpu " in text
    assert main(["scorecard", "--results", str(tmp_path / "nowhere"), "--claims-dir", str(claims.parent)]) == 2
    assert "metrics folder" in capsys.readouterr().err
    assert main(["scorecard", "--results", str(paper), "--metrics-dir", str(cpu), "--claims-dir",
                 str(claims.parent)]) == 2


# -- outputs ----------------------------------------------------------------------------------------
def test_csv_and_markdown_outputs(tmp_path: Path) -> None:
    claims = _write_claims(tmp_path / "claims", "demo.yaml", [
        _claim(id_=2, metric="demo.hits"), _claim(id_="1b", metric="demo.miss"), _claim(id_=10, metric="other.x"),
        _claim(id_="1a", metric="demo.low"),
    ])
    metrics = _write_metrics(tmp_path / "metrics", "demo", {"hits": [5, 5, 4], "low": [1, 2, 1]})
    card = build_scorecard([metrics], claim_files=[claims], setting="unit test")
    card.write(tmp_path / "out" / "scorecard.csv", tmp_path / "out" / "scorecard.md")
    frame = pd.read_csv(tmp_path / "out" / "scorecard.csv", dtype={"claim_id": str})
    assert list(frame.columns[: len(COLUMNS)]) == COLUMNS
    assert list(frame["claim_id"]) == ["1a", "1b", "2", "10"]
    assert list(frame["status"]) == ["fail", "not_run", "pass", "not_run"]
    md = (tmp_path / "out" / "scorecard.md").read_text()
    assert "Summary: 1 pass / 1 fail / 2 not_run (of 4 claims)" in md
    assert "Setting: unit test" in md
    header = next(line for line in md.splitlines() if line.startswith("| claim_id"))
    assert [h.strip() for h in header.strip("|").split("|")][:len(COLUMNS)] == COLUMNS


# -- claim files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, message", [
    ({"paper": "sagun2019"}, "key 'paper': 'sagun2019' is not one of"),
    ({"check": {"op": "~=", "value": 1}}, "key 'check.op'"),
    ({"check": {"op": "between", "value": 3}}, "key 'check.value'"),
    ({"check": {"op": "between", "value": [3, 1]}}, "between needs lo <= hi"),
    ({"metric": "no_section"}, "key 'metric'"),
    ({"tolerence": "typo"}, "unknown key 'tolerence'"),
])
def test_malformed_claim_file_is_one_line_naming_file_and_claim(tmp_path: Path, bad: dict[str, Any],
                                                                 message: str) -> None:
    path = _write_claims(tmp_path, "broken.yaml", [_claim(id_=1), _claim(id_=7, **bad)])
    with pytest.raises(ClaimError) as info:
        load_claim_file(path)
    text = str(info.value)
    assert "\n" not in text and "broken.yaml" in text and "claim 7" in text and message in text


def test_missing_key_duplicate_ids_and_bad_yaml(tmp_path: Path) -> None:
    entry = _claim(id_=3)
    del entry["tolerance"]
    with pytest.raises(ClaimError, match=r"claim 3.*'tolerance' is a required property"):
        load_claim_file(_write_claims(tmp_path, "a.yaml", [entry]))
    a = _write_claims(tmp_path / "dup", "a.yaml", [_claim(id_=5)])
    b = _write_claims(tmp_path / "dup", "b.yaml", [_claim(id_=5)])
    with pytest.raises(ClaimError, match="claim 5: id already used in a.yaml"):
        load_claims(files=[a, b])
    (tmp_path / "bad.yaml").write_text("- id: 1\n  paper: [unclosed\n")
    with pytest.raises(ClaimError, match="bad.yaml line .* not valid YAML"):
        load_claim_file(tmp_path / "bad.yaml")


def test_malformed_metrics_file(tmp_path: Path) -> None:
    (tmp_path / "demo.json").write_text("{not json")
    with pytest.raises(MetricsError, match="demo.json: not valid JSON"):
        load_metrics([tmp_path / "demo.json"])
    with pytest.raises(MetricsError, match="metric 'hits'.*'values' list"):
        parse_metrics({"hits": [1, 2]}, "demo.json")
    with pytest.raises(MetricsError, match="3 values but 2 seeds"):
        parse_metrics({"hits": {"values": [1, 2, 3], "seeds": [0, 1]}}, "demo.json")
    with pytest.raises(MetricsError, match="not a number"):
        parse_metrics({"hits": {"values": ["many"]}}, "demo.json")


def test_repository_claim_files_are_valid() -> None:
    """Every claim file in the package loads; the predecessor claims 20-23 are all there."""
    claims = load_claims(CLAIMS_DIR)
    ids = {str(c.id) for c in claims}
    assert {"20", "21a", "21b", "22a", "22b", "23"} <= ids
    for claim in claims:
        assert claim.paper_value_source in ("stated", "figure", "derived", "default")
        assert 0 < claim.seed_fraction <= 1


def test_predecessor_claims_are_not_run_without_their_experiment(tmp_path: Path) -> None:
    card = build_scorecard([], claim_files=[CLAIMS_DIR / "predecessor.yaml"])
    assert set(card.frame["status"]) == {"not_run"}


# -- the Snakemake rule, `rule all`, the report and the audit, on a copy of the workflow -----------------
DEMO_RULES = '''
METRICS.append(result("metrics/p0.json"))


rule demo_p0_metrics:
    output:
        result("metrics/p0.json"),
    log:
        logfile("demo_p0_metrics"),
    benchmark:
        benchfile("demo_p0_metrics")
    threads: 1
    resources:
        mem_mb=100,
        runtime=1,
    params:
        code=code_version("nnspectra.pipeline.io"),
        cfg=config_subset(config, "scorecard", "run_name"),   # as every metrics rule: run_name is the scale
    run:
        import json
        from nnspectra.pipeline.provenance import build_record, write_sidecar

        record = {
            "lambda_max_ratio_std1_std02": {"values": [25, 30, 40, 10, 22], "seeds": [0, 1, 2, 3, 4],
                                            "evidence": {"stds": [0.2, 0.4, 0.6, 0.8, 1.0], "n_per_blob": 100,
                                                         "grad_norm_tol": [0.0001], "width": [14]}},
            "init_width_ratio_mnist_random": {"values": [1.5, 2.0, 4.0, 1.0, 2.5], "seeds": [0, 1, 2, 3, 4],
                                              "evidence": {"n_train": 1000, "input_dim": [784]}},
        }
        with open(output[0], "w") as handle:
            json.dump(record, handle)
        write_sidecar(build_record(step=rule, output=output[0], params={"cfg": params.cfg}, code=params.code),
                      output[0])
'''


@pytest.mark.workflow
def test_scorecard_rule_report_and_audit_on_a_workflow_copy(tmp_path: Path, repo_root: Path) -> None:
    """`snakemake` ends with the scorecard; the report builds; the audit is clean, then catches 3 faults."""
    import os
    import re
    import shutil
    import subprocess
    import sys

    for name in ("Snakefile", "config", "workflow"):
        src = repo_root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    snakefile = tmp_path / "Snakefile"
    text = re.sub(r'^include: "workflow/rules/(?!common|scorecard)\w+\.smk"\n', "", snakefile.read_text(), flags=re.M)
    text = text.replace('include: "workflow/rules/scorecard.smk"',
                        'include: "workflow/rules/demo.smk"\ninclude: "workflow/rules/scorecard.smk"')
    snakefile.write_text(text)
    (tmp_path / "workflow" / "rules" / "demo.smk").write_text(DEMO_RULES)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)

    smoke = ("--configfile", "config/smoke.yaml")
    proc = run("snakemake", "--cores", "1", *smoke)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / "results" / "smoke"
    card = pd.read_csv(results / "scorecard.csv", dtype={"claim_id": str}).set_index("claim_id")
    assert card.loc["22b", "status"] == "pass" and card.loc["22b", "measured_value"] == 25
    assert card.loc["23", "status"] == "fail" and card.loc["20", "status"] == "not_run"
    assert "smoke preset" in (results / "scorecard.md").read_text()

    proc = run("snakemake", "--report", "results/smoke/report.html", *smoke)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (results / "report.html").read_text()
    assert "Replication scorecard" in html and "<strong>Summary:</strong> 1 pass / 1 fail /" in html  # 22b, 23

    audit_cmd = ("nnspectra.cli", "audit", "--configfile", "config/smoke.yaml")
    proc = run(*audit_cmd)
    assert proc.returncode == 0 and "4 ok; OK" in proc.stdout, proc.stdout + proc.stderr  # p0, scorecard x 3

    (results / "scorecard.csv").write_text("tampered\n")                     # corrupt
    (results / "scorecard.md.prov.json").unlink()                            # missing sidecar
    proc = run(*audit_cmd, "--config", "scorecard.setting=another label")  # changed config value
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("results/")}
    assert "corrupt" in rows["results/smoke/scorecard.csv"]
    assert "missing-sidecar" in rows["results/smoke/scorecard.md"]
    assert "stale-config" in rows["results/smoke/metrics/p0.json"]
