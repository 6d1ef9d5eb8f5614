"""`snakemake --report`: the compact claims table, the captions, and the smoke report in a real browser.

Fast tests check :mod:`nnspectra.report` (rounding, escaping, the reStructuredText it writes) and that
every caption in ``workflow/report/`` renders without docutils warnings. The ``workflow`` tests build
reports from the real Snakefile in a temporary copy: the smoke preset's report (``fig2`` run for real,
the scorecard rule on hand-written metrics) opened in headless Chromium at 1,400 x 1,000 px through the
DevTools protocol, and, for every preset, a report over placeholder outputs (every figure and caption).
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import math
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from docutils.core import publish_doctree, publish_parts
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment, StrictUndefined

from nnspectra.claims import CLAIMS_DIR, load_claims
from nnspectra.pipeline.provenance import build_record, write_sidecar
from nnspectra.report import (
    CLAIM_CHARS,
    COMPACT_COLUMNS,
    NOTE_CHARS,
    PAPER_CHARS,
    compact_frame,
    compact_rst,
    one_line,
    rst_escape,
    significant,
    write_compact_rst,
)
from nnspectra.scorecard import build_scorecard

REPORT_DIR = Path(__file__).resolve().parents[1] / "workflow" / "report"
PRESETS = {"paper": [], "cpu": ["config/cpu.yaml"], "smoke": ["config/smoke.yaml"]}
N_CLAIMS = len(load_claims(CLAIMS_DIR))
DOCUTILS_PROBLEMS = ("System Message", "Undefined substitution", "(ERROR/", "(WARNING/", "(SEVERE/",
                     "Unknown target name", "Inline substitution_reference")


def _results(preset: str) -> str:
    """Where a preset's run writes its results, relative to the workflow root."""
    return f"results/{preset}"


def _render_rst(text: str) -> tuple[str, str]:
    """HTML body of ``text`` as Snakemake renders captions, and docutils' warnings."""
    warnings = io.StringIO()
    html = publish_parts(text, writer="html", settings_overrides={"warning_stream": warnings})["html_body"]
    return html, warnings.getvalue()


# -- nnspectra.report ------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "text"), [
    (0.6533333333333333, "0.653"), (6.9e-18, "6.9e-18"), (-6.9e-18, "-6.9e-18"), (12345.0, "12300"),
    (2.0, "2"), (0.001, "0.001"), (0.000123456, "1.23e-4"), (0.0009999, "0.001"), (99999.0, "1e5"), (1.7976931348623157e308, "1.8e308"), (123456789.0, "1.23e8"),
    (-0.05249, "-0.0525"), (0.0, "0"), (float("nan"), ""), (float("inf"), "inf"), (None, ""), ("≈0.6", "≈0.6"),
    (7, "7"), (True, "true"),
])
def test_significant_keeps_three_digits(value: Any, text: str) -> None:
    assert significant(value) == text


@given(st.floats(min_value=1e-300, max_value=1.7e308) | st.floats(min_value=-1.7e308, max_value=-1e-300))
@settings(max_examples=300, deadline=None)
def test_significant_rounds_to_at_most_three_digits(x: float) -> None:
    text = significant(x)
    digits = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0").rstrip("0")   # 12300: zeros pad
    assert 1 <= len(digits) <= 3, (x, text)
    assert math.isclose(float(text), x, rel_tol=5e-3 + 1e-12), (x, text)


def test_one_line_cuts_at_a_word_boundary() -> None:
    assert one_line("a  b\n c", 80) == "a b c"
    cut = one_line("The negative eigenvalues of LB and SB are much smaller than their top eigenvalues", 40)
    assert len(cut) <= 40 and cut.endswith("…") and cut[:-1] in "The negative eigenvalues of LB and SB are"
    assert one_line(float("nan"), 10) == "" and one_line(None, 10) == ""


@given(st.text(alphabet=st.sampled_from("ab |*_`\\-+.:=<>[](){}#~^'\"/1λ‖\n"), min_size=1, max_size=40)
       .filter(lambda s: s.strip()))
@settings(max_examples=300, deadline=None)
def test_rst_escape_renders_any_text_literally(text: str) -> None:
    """Escaped text is one paragraph whose text is the input (whitespace collapsed), with no warnings."""
    warnings = io.StringIO()
    tree = publish_doctree(rst_escape(text), settings_overrides={"warning_stream": warnings, "report_level": 1})
    assert warnings.getvalue() == ""
    assert tree.astext() == " ".join(text.split())
    assert [node.tagname for node in tree.children] == ["paragraph"]


def _metrics_file(folder: Path, section: str, values: dict[str, list[float]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{section}.json"
    path.write_text(json.dumps({name: {"values": v, "seeds": list(range(len(v)))} for name, v in values.items()}))
    return path


def _hand_made_metrics(folder: Path) -> list[Path]:
    """Long floats for claims 6a and 7b (blobs; 7b's "at the end of GD" recorded as evidence); every other
    claim is not_run."""
    claims = {str(c.id): c for c in load_claims(CLAIMS_DIR)}
    values = {claims["6a"].metric_name: [0.6533333333333333] * 5, claims["7b"].metric_name: [6.9e-18] * 5}
    path = _metrics_file(folder, "blobs", values)
    record = json.loads(path.read_text())
    for cid in ("6a", "7b"):   # the evidence the claims require (the Fig. 1 net, 5 seeds, GD to 1e-4)
        record[claims[cid].metric_name]["evidence"] = {key: list(v) if isinstance(v, tuple) else v
                                                       for key, v in claims[cid].requires}
    path.write_text(json.dumps(record))
    return [path] + [_metrics_file(folder, s, {}) for s in ("alignment", "evolution", "realdata", "p0")]


def test_compact_table_of_every_real_claim_renders_cleanly(tmp_path: Path) -> None:
    card = build_scorecard(_hand_made_metrics(tmp_path), setting="smoke | *x* `y` _z_", run_name="smoke")
    compact = compact_frame(card.frame)
    n_claims = len(load_claims(CLAIMS_DIR))
    assert list(compact.columns) == COMPACT_COLUMNS and len(compact) == len(card.frame) == n_claims
    row = compact.set_index("id")
    assert row.loc["6a", "ours"] == "0.653" and row.loc["7b", "ours"] == "6.9e-18"
    assert row.loc["6a", "verdict"] == card.frame.set_index("claim_id").loc["6a", "status"]
    assert row.loc["1a", "verdict"] == "not_run" and row.loc["1a", "ours"] == ""
    assert (compact["note"].str.len() <= NOTE_CHARS).all() and (compact["claim"].str.len() <= CLAIM_CHARS).all()
    assert (compact["paper"].str.len() <= PAPER_CHARS).all()
    assert not compact["note"].str.contains("\n").any()

    html, warnings = _render_rst(compact_rst(card.frame, card.setting))
    assert warnings == "", warnings
    assert not any(p in html for p in DOCUTILS_PROBLEMS)
    assert "smoke | *x* `y` _z_" in html                                    # the setting, literally
    assert f"0 pass / 2 fail / {n_claims - 2} not_run (of {n_claims} claims)" in html  # 6a, 7b miss their checks
    assert "almost all |lambda|" in html                                    # claim 6b's paper value
    assert "||W_T - W_0||_op" in html                                      # claim 34a's statement
    ids = re.findall(r"<tr><td>(\d+[a-z]?)</td>", html)
    assert ids == [str(i) for i in card.frame["claim_id"]]
    assert html.count("<table") == 4                                        # one table per paper
    assert "0.6533333" not in html and ">0.653<" in html and ">6.9e-18<" in html


def test_note_says_how_many_seeds_pass_when_the_scorecard_has_no_note() -> None:
    frame = pd.DataFrame([{"claim_id": "1", "statement": "s", "paper_value": 0.02449, "measured_value": 3.14159,
                           "status": "pass", "note": "", "n_seeds": 5, "n_seeds_pass": 4}])
    row = compact_frame(frame).iloc[0]
    assert (row["paper"], row["ours"], row["note"]) == ("0.0245", "3.14", "4/5 seeds meet the check")
    with pytest.raises(KeyError, match="measured_value"):
        compact_frame(frame.drop(columns="measured_value"))


# -- captions ----------------------------------------------------------------------------------------
def _preset_config(repo_root: Path, files: list[str]) -> dict[str, Any]:
    """The config the report sees: the preset's files merged and validated (schema defaults filled in)."""
    from nnspectra.pipeline.config import load_config_files, validate_config

    return validate_config(load_config_files([repo_root / name for name in ["config/config.yaml", *files]]))


def _evolution_figures(repo_root: Path) -> list[str]:
    """The figure names rule evolution_figure accepts (its wildcard constraint)."""
    text = (repo_root / "workflow" / "rules" / "evolution.smk").read_text()
    rule = text[text.index("rule evolution_figure:"):]
    return re.search(r'figure="([^"]+)"', rule).group(1).split("|")  # type: ignore[union-attr]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_caption_renders_without_docutils_warnings(repo_root: Path, preset: str) -> None:
    config = _preset_config(repo_root, PRESETS[preset])
    env = Environment(trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)  # as Snakemake's, but strict
    captions = sorted(p for p in REPORT_DIR.glob("*.rst") if p.name != "workflow.rst")
    assert captions
    for path in captions:
        figures = _evolution_figures(repo_root) if path.name == "evolution_figure.rst" else [""]
        for figure in figures:
            # the wildcards of the rules whose captions read them (evolution_figure, analyze_<study>)
            snakemake = SimpleNamespace(config=config, wildcards=SimpleNamespace(figure=figure, study="digits_mlp"))
            html, warnings = _render_rst(env.from_string(path.read_text()).render(snakemake=snakemake))
            assert warnings == "", f"{path.name} ({figure or preset}): {warnings}"
            assert len(re.sub(r"<[^>]+>", "", html).strip()) > 40, path.name


def test_each_evolution_figure_has_its_own_caption(repo_root: Path) -> None:
    """One caption file serves the wildcard rule; each figure gets its own text, never the fallback."""
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string((REPORT_DIR / "evolution_figure.rst").read_text())
    figures = _evolution_figures(repo_root)
    texts = {f: template.render(snakemake=SimpleNamespace(wildcards=SimpleNamespace(figure=f))) for f in figures}
    assert len(figures) == 4 and len(set(texts.values())) == 4
    assert not any("no caption written" in t for t in texts.values())
    expected = {"evolution_invariance": "Spectral invariance", "evolution_spike": "Large learning rates",
                "evolution_heavytail": "Adam", "evolution_realdata": "Real-data variant"}
    for figure, text in texts.items():
        assert text.lstrip().startswith(expected[figure]), (figure, text[:80])
    evolution_smk = (repo_root / "workflow" / "rules" / "evolution.smk").read_text()
    assert "{figure}.rst" not in evolution_smk   # Snakemake does not fill wildcards in caption paths


# -- reports built by Snakemake ---------------------------------------------------------------------
def _snakemake(cwd: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    try:
        proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                              check=False, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        tail = (err.stderr or b"")[-2000:]
        pytest.fail(f"snakemake {' '.join(args)} still running after {timeout:.0f} s; last output: {tail!r}")
    assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stderr[-4000:]}"
    return proc


def _report_parts(html_file: Path) -> tuple[str, dict[str, Any]]:
    """The landing page's HTML and the report items (path -> name, caption, ...) embedded in a report."""
    text = html_file.read_text()
    desc = re.search(r'<script id="workflow-desc">\s*var workflow_desc = (.*);\n', text)
    results = re.search(r'<script id="results">\s*var results = (.*);\n', text)
    assert desc and results, "report.html lacks the workflow_desc/results scripts of Snakemake's html_reporter"
    return json.loads(desc.group(1)), json.loads(results.group(1))


def _check_report_text(description: str, items: dict[str, Any]) -> None:
    for problem in DOCUTILS_PROBLEMS:
        assert problem not in description, f"landing page shows a docutils message ({problem!r})"
    for path, item in items.items():
        assert item["caption"].strip(), f"{path} has no caption"
        assert not any(p in item["caption"] for p in DOCUTILS_PROBLEMS), f"caption of {path}: {item['caption']}"
        assert f">{item['name']}</a>" in description, f"the landing page does not list {item['name']}"
    assert f"not_run (of {N_CLAIMS} claims)" in description


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory: pytest.TempPathFactory, copy_workflow: Callable[[Path], Path]) -> Path:
    """The smoke preset's report from the real Snakefile: fig2 run for real, the scorecard rule run on
    hand-written metrics (claims 6a and 7b measured, the rest not_run)."""
    root = copy_workflow(tmp_path_factory.mktemp("smoke_report"))
    smoke = ("--configfile", "config/smoke.yaml")
    _snakemake(root, "--cores", "1", "fig2", *smoke)
    for path in _hand_made_metrics(root / _results("smoke") / "metrics"):   # sidecars: inputs are verified
        write_sidecar(build_record(step=f"{path.stem}_metrics", output=path, params={"cfg": {"run_name": "smoke"}}),
                      path)
    # the metrics stand in for the experiments: only the scorecard rule may run
    _snakemake(root, "--cores", "1", "scorecard", "--allowed-rules", "scorecard", *smoke)
    _snakemake(root, "--report", "report.html", "fig2", "scorecard", *smoke)
    return root / "report.html"


@pytest.mark.workflow
def test_smoke_report_lists_every_item_with_its_caption(smoke_report: Path) -> None:
    description, items = _report_parts(smoke_report)
    assert {item["name"] for item in items.values()} == {"fig2.png", "scorecard.csv", "scorecard.md"}
    _check_report_text(description, items)
    assert "smoke preset" in description and f"0 pass / 2 fail / {N_CLAIMS - 2} not_run" in description


# -- headless Chromium through the DevTools protocol -------------------------------------------------
def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Chromium:
    """Headless Chromium driven over ``--remote-debugging-pipe`` (fds 3/4, NUL-separated JSON)."""

    def __init__(self, exe: str, profile: Path, width: int, height: int) -> None:
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        # move the child's ends to fds >= 10 so the shell's 3<& and 4>& cannot clobber them
        child_r, child_w = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        os.close(to_r)
        os.close(from_w)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}", "--remote-debugging-pipe",
                 "about:blank"]
        self.log = profile.with_suffix(".log")   # chromium's stderr (a file: a full pipe would stall it)
        profile.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["bash", "-c", f'exec "$@" 3<&{child_r} 4>&{child_w} {child_r}<&- {child_w}>&-', "bash", exe, *flags],
                pass_fds=(child_r, child_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        os.close(child_r)
        os.close(child_w)
        self._buffer, self._id = b"", 0
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, page=True)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_r], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise TimeoutError("chromium did not answer over the DevTools pipe")
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                err = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"chromium closed the DevTools pipe; its log ends: {err}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None, page: bool = False,
             timeout: float = 60) -> dict[str, Any]:
        self._id += 1
        request: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if page:
            request["sessionId"] = self.session
        os.write(self._to_w, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, page=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"}, page=True)["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
            self.proc.wait(timeout=20)
        except (RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._to_w)
            os.close(self._from_r)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[_Chromium]:
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); the browser check needs it")
    chrome = _Chromium(exe, tmp_path / "chromium-profile", 1400, 1000)
    yield chrome
    chrome.close()


# Measures the landing page as a reader sees it: the description (.prose) inside Snakemake's content pane.
MEASURE = """(() => {
  const desc = document.querySelector('.prose');
  if (!desc || !desc.querySelector('h1') || !document.querySelector('#rulegraph svg, #rulegraph canvas')) return null;
  const pane = desc.closest('.overflow-auto');
  // Tailwind's runtime styles the page after React renders it: measure only once its classes apply
  if (!pane || getComputedStyle(pane).display !== 'flex' || getComputedStyle(pane).overflowY !== 'auto') return null;
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const summary = [...desc.querySelectorAll('p')].find(p => p.textContent.startsWith('Summary:'));
  const tables = [...desc.querySelectorAll('table.nns-claims')];
  const rows = tables.flatMap(t => [...t.tBodies[0].rows]);
  const overflowing = [...desc.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > box(pane)[2] + 0.5);
  return {
    viewport: [innerWidth, innerHeight],
    title: desc.querySelector('h1').textContent, titleBox: box(desc.querySelector('h1')),
    summary: summary ? summary.textContent : null, summaryBox: summary ? box(summary) : null,
    pane: {box: box(pane), scrollWidth: pane.scrollWidth, clientWidth: pane.clientWidth,
           scrollHeight: pane.scrollHeight, clientHeight: pane.clientHeight, scrollTop: pane.scrollTop},
    descBox: box(desc), ruleGraphBox: box(document.querySelector('#rulegraph')),
    tables: tables.map(t => ({box: box(t), scrollWidth: t.scrollWidth, clientWidth: t.clientWidth})),
    rows: rows.map(r => [...r.cells].map(c => c.textContent.trim())),
    overflowing: overflowing.slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + e.textContent.slice(0, 60)),
    text: desc.innerText,
  };
})()"""


def _load(browser: _Chromium, url: str, timeout: float = 60) -> dict[str, Any]:
    browser.call("Page.navigate", {"url": url}, page=True)
    deadline, previous = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        page = browser.evaluate(MEASURE)
        if page and previous and page == previous:   # rendered, styled and no longer moving
            return page
        previous = page
        time.sleep(0.3)
    raise AssertionError(f"the report's landing page (styled title and rule graph) did not settle in {timeout:.0f} s")


@pytest.mark.workflow
def test_smoke_report_reads_well_in_a_1400px_browser(smoke_report: Path, browser: _Chromium,
                                                     tmp_path: Path) -> None:
    page = _load(browser, smoke_report.as_uri())
    browser.screenshot(tmp_path / "landing_top.png")
    width, height = page["viewport"]
    assert (width, height) == (1400, 1000)

    # title and summary are on screen at the top, and the pane is scrolled to its top
    assert page["title"].startswith("nnspectra"), page["title"]
    assert page["pane"]["scrollTop"] == 0
    assert 0 <= page["titleBox"][1] and page["titleBox"][3] <= height, page["titleBox"]
    assert page["summary"] == f"Summary: 0 pass / 2 fail / {N_CLAIMS - 2} not_run (of {N_CLAIMS} claims)", page["summary"]
    assert 0 <= page["summaryBox"][1] and page["summaryBox"][3] <= height, page["summaryBox"]
    assert "smoke preset" in page["text"].split("Summary:")[0]                 # the run's setting, above

    # nothing clipped horizontally: the pane does not scroll sideways, no element sticks out of it
    pane = page["pane"]
    assert pane["scrollWidth"] <= pane["clientWidth"], pane
    assert page["overflowing"] == [], page["overflowing"]
    for table in page["tables"]:
        assert table["scrollWidth"] <= table["clientWidth"] and table["box"][2] <= pane["box"][2], table
    # the rule graph sits below the text instead of over it
    assert page["ruleGraphBox"][1] >= page["descBox"][3] - 1, (page["ruleGraphBox"], page["descBox"])

    # the compact table: every claim once, values to 3 significant digits, claim texts literal
    rows = {row[0]: row for row in page["rows"]}
    assert len(page["rows"]) == len(rows) == N_CLAIMS
    assert rows["6a"][3] == "0.653" and rows["7b"][3] == "6.9e-18"
    assert rows["6b"][2].startswith("almost all |lambda|") and rows["34a"][1].startswith("||W_T - W_0||_op")
    assert {row[COMPACT_COLUMNS.index("verdict")] for row in page["rows"]} <= {"pass", "fail", "not_run"}
    for problem in DOCUTILS_PROBLEMS:
        assert problem not in page["text"], problem
    assert not re.search(r"\d\.\d{5,}", "\n".join(row[3] for row in page["rows"]))

    # the whole page can be scrolled through: the last claim row and the rule graph come into view
    browser.evaluate("(() => { const p = document.querySelector('.prose').closest('.overflow-auto');"
                     " p.scrollTop = p.scrollHeight; })()")
    bottom = browser.evaluate(MEASURE)
    browser.screenshot(tmp_path / "landing_bottom.png")
    assert bottom["pane"]["scrollTop"] + bottom["pane"]["clientHeight"] >= bottom["pane"]["scrollHeight"] - 1
    assert bottom["ruleGraphBox"][3] <= height + 1, bottom["ruleGraphBox"]


# -- every preset ------------------------------------------------------------------------------------
PNG_1PX = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
                           "rkJggg==")


@pytest.mark.workflow
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_report_builds_for_every_preset(preset: str, tmp_path: Path,
                                        copy_workflow: Callable[[Path], Path]) -> None:
    """Every output of the preset's DAG as a placeholder (the scorecard for real, all not_run): the
    report builds, every figure and table has its caption, the landing page lists them all."""
    root = copy_workflow(tmp_path)
    config = [arg for f in PRESETS[preset] for arg in ("--configfile", f)]
    summary = _snakemake(root, "--summary", *config, timeout=600).stdout
    outputs = [line.split("\t")[0] for line in summary.splitlines()[1:] if line.strip()]
    assert len(outputs) > 50, summary[:2000]
    for name in outputs:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PNG_1PX if name.endswith(".png") else b"{}" if name.endswith(".json") else b"")
    results = root / _results(preset)
    metrics = sorted((results / "metrics").glob("*.json"))
    card = build_scorecard(metrics, setting=f"{preset} placeholder outputs", run_name=preset)  # no sidecars
    card.write(results / "scorecard.csv", results / "scorecard.md")
    if preset == "smoke":   # results of a run from before the compact table: the landing page says what to do
        (results / "scorecard_compact.rst").unlink()
        _snakemake(root, "--report", "report.html", *config, timeout=600)
        description, _ = _report_parts(root / "report.html")
        assert "no compact scorecard" in description and "<table" not in description
        assert not any(problem in description for problem in DOCUTILS_PROBLEMS), description
    write_compact_rst(card.frame, results / "scorecard_compact.rst", setting=card.setting)

    _snakemake(root, "--report", "report.html", *config, timeout=600)
    description, items = _report_parts(root / "report.html")
    _check_report_text(description, items)
    names = {item["name"] for item in items.values()}
    figures = {f"{f}.png" for f in _evolution_figures(root)}
    assert figures <= names and {"fig1.png", "fig2.png", "table1.csv", "scorecard.csv"} <= names
    captions = {item["name"]: item["caption"] for item in items.values()}
    assert len({captions[f] for f in figures}) == len(figures)           # each evolution figure its own
    assert f"{preset} placeholder outputs" in description


def test_each_analyze_figure_has_its_own_caption(repo_root: Path) -> None:
    """Every analyze study figure names its caption by the figure (a Python name, not a wildcard) and says what it
    draws; the four texts differ."""
    text = (repo_root / "workflow" / "rules" / "analyze.smk").read_text()
    names = re.search(r"AN_FIGURES = \(([^)]*)\)", text).group(1)  # type: ignore[union-attr]
    figures = re.findall(r'"(\w+)"', names)
    assert 'caption=f"../report/analyze_{name}.rst"' in text
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    texts = {f: env.from_string((REPORT_DIR / f"analyze_{f}.rst").read_text()).render(
        snakemake=SimpleNamespace(wildcards=SimpleNamespace(study="s1"))) for f in figures}
    assert len(figures) == 4 and len(set(texts.values())) == 4
    words = {"spectrum": "rank", "density": "Lanczos quadrature", "blocks": "per", "lambda_max": "2/lr"}
    for figure, caption in texts.items():
        assert "**s1**" in caption and words[figure] in caption, (figure, caption[:120])
