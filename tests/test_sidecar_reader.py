"""One sidecar reader (issue 23 item 4): every entry point that reads ``*.prov.json`` (the audit, verify before
use, ``nnspectra timings``, the scorecard's metric files) goes through ``sidecar.read_sidecar`` and shows
the same line for a missing or corrupt sidecar; no other module parses a sidecar by hand."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from nnspectra.cli import main
from nnspectra.errors import CorruptResultError
from nnspectra.pipeline.audit import audit
from nnspectra.pipeline.provenance import build_record, code_version, sidecar_path, write_sidecar
from nnspectra.pipeline.sidecar import REPAIR_HINT, SidecarError, read_sidecar
from nnspectra.pipeline.timings import rule_timings
from nnspectra.pipeline.verify import check_file, verify_inputs
from nnspectra.scorecard import build_scorecard

ROOT = Path(__file__).resolve().parents[1]
BROKEN = {"not json": "{truncated", "not an object": "[1, 2]", "sha256 not a string": '{"sha256": 5}',
          "params not an object": '{"sha256": "ab", "params": [1]}'}


def _made(path: Path, run_name: str = "demo") -> Path:
    """A result file with the sidecar a step writes (a metrics file: its recorded run_name is its scale)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hits": {"values": [5, 5], "seeds": [0, 1]}}))
    write_sidecar(build_record(step="demo_metrics", output=path, params={"cfg": {"run_name": run_name}},
                               code=code_version("nnspectra.errors"), wall_time_s=1.0), path)
    return path


@pytest.fixture(params=["missing", *BROKEN])
def bad(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """A results tree ``results/demo`` with one good metrics file and ``metrics/demo.json`` whose sidecar is
    missing or broken; returns the bad file and the one line every entry point must show for it."""
    tree = tmp_path / "results" / "demo"
    _made(tree / "metrics" / "good.json")
    path = _made(tree / "metrics" / "demo.json")
    if request.param == "missing":
        sidecar_path(path).unlink()
    else:
        sidecar_path(path).write_text(BROKEN[request.param])
    with pytest.raises(SidecarError) as info:
        read_sidecar(path)
    err = info.value
    assert err.kind == ("missing" if request.param == "missing" else "corrupt")
    assert str(err) == f"{path} {err.detail}" and "\n" not in str(err)
    assert err.detail.startswith(f"{err.problem}, so nobody can say which config, seed or code made it; ")
    assert err.detail.endswith(f"rebuild it with: {REPAIR_HINT}")
    assert "demo.json.prov.json" in err.problem
    return path, err.problem


def test_the_reader_gives_one_line_naming_the_sidecar_and_why(tmp_path: Path) -> None:
    path = _made(tmp_path / "x.json")
    record = read_sidecar(path)
    assert record.step == "demo_metrics" and record.run_name == "demo" and record.wall_time_s == 1.0
    sidecar_path(path).write_text("{truncated")
    with pytest.raises(SidecarError, match=r"x.json has an unreadable provenance sidecar x.json.prov.json "
                                           r"\(not valid JSON: Expecting property name .* at line 1\), so nobody"):
        read_sidecar(path)
    sidecar_path(path).write_text('{"sha256": 5}')
    with pytest.raises(SidecarError, match=r"x.json.prov.json \('sha256' is not a string\)"):
        read_sidecar(path)
    sidecar_path(path).unlink()
    with pytest.raises(CorruptResultError, match=r"x.json has no provenance sidecar x.json.prov.json, so nobody"):
        read_sidecar(path)


def test_audit_shows_the_line(bad: tuple[Path, str]) -> None:
    path, problem = bad
    report = audit(path.parents[1])
    entry = next(e for e in report.entries if e.file.endswith("metrics/demo.json"))
    assert entry.status in ("missing-sidecar", "corrupt") and not report.ok
    assert entry.headline().startswith(problem) and REPAIR_HINT in entry.headline()
    assert all(e.status == "ok" for e in report.entries if e is not entry)


def test_verify_shows_the_line(bad: tuple[Path, str]) -> None:
    path, problem = bad
    verdict = check_file(path)
    assert verdict is not None and verdict.detail.startswith(problem)
    with pytest.raises(CorruptResultError) as info:
        verify_inputs([path], repair="nnspectra audit --repair demo", require_sidecar=True)
    line = str(info.value)
    assert f"cached file {path} " in line and problem in line and line.endswith("with: nnspectra audit --repair demo")
    assert "\n" not in line


def test_timings_shows_the_line_for_a_corrupt_sidecar(bad: tuple[Path, str], capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    path, problem = bad
    results = path.parents[1]
    if not sidecar_path(path).exists():
        # timings reads the sidecars that exist (it sums Snakemake's benchmark files); a file without one
        # is simply not counted there, and the audit names it (above)
        assert rule_timings(results).set_index("rule").loc["demo_metrics", "jobs"] == 1
        return
    with pytest.raises(SidecarError, match="demo.json.prov.json"):
        rule_timings(results)
    assert main(["timings", "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"nnspectra timings: {path} {problem}, so nobody can say which config, seed or code made it; " \
                  f"rebuild it with: {REPAIR_HINT}"


def test_scorecard_shows_the_line(bad: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    path, problem = bad
    with pytest.raises(SidecarError) as info:
        build_scorecard([path])
    assert str(info.value).startswith(f"{path} {problem}, so nobody") and "--run-name NAME" in str(info.value)
    assert main(["scorecard", "--metrics-dir", str(path.parent)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"nnspectra scorecard: {info.value}"
    if problem.startswith("has no provenance sidecar"):   # a hand-made file: its run named explicitly
        assert main(["scorecard", "--metrics-dir", str(path.parent), "--run-name", "by hand"]) == 0
    else:                                                  # a corrupt sidecar is never papered over
        assert main(["scorecard", "--metrics-dir", str(path.parent), "--run-name", "by hand"]) == 2


# -- no module parses a sidecar by hand ------------------------------------------------------------
SIDECAR_MARKERS = ("SIDECAR_SUFFIX", "sidecar", "prov.json")


def _json_loads(tree: ast.Module) -> list[ast.Call]:
    """Every call of json.load / json.loads (also through ``from json import load(s) [as x]``)."""
    bare = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            and node.module == "json" for alias in node.names if alias.name in ("load", "loads")}
    calls = []
    for call in ast.walk(tree):
        if isinstance(call, ast.Call):
            func = call.func
            if (isinstance(func, ast.Attribute) and func.attr in ("load", "loads") and isinstance(func.value, ast.Name)
                    and func.value.id == "json") or (isinstance(func, ast.Name) and func.id in bare):
                calls.append(call)
    return calls


def _sidecar_names(scope: ast.AST, source: str) -> set[str]:
    """Names bound (assigned, loop or ``with`` targets) in ``scope`` to something that mentions a sidecar,
    directly or through another such name."""
    bindings = []
    for node in ast.walk(scope):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bindings += [(t, node.value) for t in targets]
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            bindings.append((node.target, node.iter))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            bindings.append((node.optional_vars, node.context_expr))
    tainted: set[str] = set()
    while True:
        grown = set(tainted)
        for target, value in bindings:
            text = ast.get_source_segment(source, value) or ""
            used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
            if any(m in text for m in SIDECAR_MARKERS) or used & tainted:
                grown |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        if grown == tainted:
            return tainted
        tainted = grown


def hand_parsed_sidecars(source: str, filename: str = "<module>") -> list[str]:
    """``file:line function`` of every json.load(s) whose argument is a sidecar: it mentions one, uses a name
    bound to one, or the call sits under an ``if``/``while`` that tests for one."""
    tree = ast.parse(source, filename=filename)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for call in _json_loads(tree):
        scope: ast.AST = tree
        node: ast.AST = call
        guarded = False
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.If, ast.While)) and any(
                    m in (ast.get_source_segment(source, node.test) or "") for m in SIDECAR_MARKERS):
                guarded = True
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and scope is tree:
                scope = node
        args = [*call.args, *(k.value for k in call.keywords)]
        text = " ".join(ast.get_source_segment(source, a) or "" for a in args)
        used = {n.id for a in args for n in ast.walk(a) if isinstance(n, ast.Name)}
        if guarded or any(m in text for m in SIDECAR_MARKERS) or used & _sidecar_names(scope, source):
            found.append(f"{filename}:{call.lineno} {getattr(scope, 'name', '<module level>')}")
    return found


BEFORE = {  # the hand-written readers this file replaced, as they were
    "timings": """
def _sidecar_jobs(results):
    for sidecar in sorted(results.rglob(f"*{SIDECAR_SUFFIX}")):
        record = json.loads(sidecar.read_text())
""",
    "verify": """
def check_file(path):
    sidecar = sidecar_path(path)
    record = json.loads(sidecar.read_text())
""",
    "metric files": """
from json import loads as parse
def metric_scale(path):
    side = sidecar_path(path)
    name = parse(side.read_text()).get("params", {})
""",
    "audit orphans": """
def audit(paths):
    for path in paths:
        if path.name.endswith(SIDECAR_SUFFIX):
            record = json.loads(path.read_text())
""",
    "smoke budget": """
def _sidecar_cpu(work, output):
    path = work / f"{output}.prov.json"
    with open(path) as handle:
        return json.load(handle)
""",
}


def test_the_detector_finds_the_hand_parsing_it_replaced() -> None:
    for what, source in BEFORE.items():
        assert hand_parsed_sidecars(source), what
    # other JSON files are fine, even in a function that also deals with sidecars
    assert not hand_parsed_sidecars('''
def analyze(work):
    """Reads run.json, then each X.prov.json through the reader."""
    record = json.loads((work / "run.json").read_text())
    step = _sidecar_cpu(work, record["output"])
''')


def test_no_module_parses_a_sidecar_by_hand() -> None:
    files = [*sorted((ROOT / "src" / "nnspectra").rglob("*.py")), *sorted((ROOT / "workflow" / "scripts").glob("*.py")),
             *sorted((ROOT / "benchmarks").glob("*.py"))]
    reader = ROOT / "src" / "nnspectra" / "pipeline" / "sidecar.py"
    found = []
    for path in files:
        hits = hand_parsed_sidecars(path.read_text(), str(path.relative_to(ROOT)))
        if path == reader:
            assert [h.rsplit(" ", 1)[1] for h in hits] == ["read_sidecar"], hits   # the one reader
        else:
            found += hits
    assert not found, f"sidecars parsed beside sidecar.read_sidecar: {found}"
