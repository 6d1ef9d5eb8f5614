"""The studies of `snakemake analyze` on the report's landing page: the compact table renders cleanly, and the
landing page shows its section only for a run that defines studies."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from docutils.core import publish_parts
from jinja2 import Environment

from nnspectra.pipeline.config import REPO_ROOT, load_config_files, validate_config
from nnspectra.report import studies_rst, write_rst

ROW = {"study": "my_net", "model": "module:pkg.models:make_net", "dataset": "cifar10", "P": 11181642, "N": 30,
       "C": 10, "trained_steps": 200, "method": "lanczos", "lambda_max_H": 113.2345, "lambda_max_GN": 90.1,
       "trace_H": 1234.5678, "trace_H_stderr": 56.789, "outliers_H_gap": 2, "outliers_GN_gap": None,
       "median_weight_alpha": float("nan"), "lambda_max_final_vs_2_over_lr": "113.2 / 40", "seconds": 187.46}


def _html(text: str) -> tuple[str, str]:
    warnings = io.StringIO()
    html = publish_parts(text, writer_name="html", settings_overrides={"warning_stream": warnings})["html_body"]
    return html, warnings.getvalue()


def test_studies_table_renders_cleanly() -> None:
    html, warnings = _html(studies_rst([ROW, {**ROW, "study": "b_*x*_", "outliers_GN_gap": 7}]))
    assert warnings == "", warnings
    assert html.count("<tr>") == 3 and ">make_net<" in html and ">11,181,642<" in html
    assert ">113<" in html and "1230 ± 57" in html and "2 / – vs 10" in html and "2 / 7 vs 10" in html
    assert ">b_*x*_<" in html  # escaped: rendered literally


def _landing(config: dict[str, Any], files: list[Any]) -> tuple[str, str]:
    env = Environment(trim_blocks=True, lstrip_blocks=True)  # as Snakemake renders it
    text = env.from_string((REPO_ROOT / "workflow" / "report" / "workflow.rst").read_text())
    return _html(text.render(snakemake=SimpleNamespace(config=config), categories={}, files=files))


def test_landing_page_has_a_studies_section_only_when_the_run_defines_studies(tmp_path: Path) -> None:
    config = validate_config(load_config_files([REPO_ROOT / "config" / "config.yaml",
                                                REPO_ROOT / "config" / "analyze.yaml"]))
    summary = tmp_path / "analyze" / "summary.csv"
    files = [SimpleNamespace(target="summary.csv", path=summary)]
    html, warnings = _landing(config, files)
    assert warnings == "" and "Your model, your data" in html and "No summary table yet" in html
    write_rst(studies_rst([ROW]), summary.with_name("summary_compact.rst"))
    html, warnings = _landing(config, files)
    assert warnings == "", warnings
    assert "The 3 studies of" in html and ">make_net<" in html and "No summary table yet" not in html
    assert "no compact scorecard" not in html  # an analyze-only run is not asked for a scorecard
    plain = validate_config(load_config_files([REPO_ROOT / "config" / "config.yaml"]))
    html, _ = _landing(plain, [])
    assert "Your model, your data" not in html and "no compact scorecard" in html
