"""The README's results tables are generated from one results tree's scorecard (issue 20, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnspectra.claims import CLAIMS_DIR, load_claims
from nnspectra.cli import main
from nnspectra.errors import ConfigError
from nnspectra.pipeline.provenance import build_record, write_sidecar
from nnspectra.scorecard import build_scorecard
from nnspectra.scorecard_readme import BEGIN, END, readme_section, replace_section

README = Path(__file__).resolve().parents[1] / "README.md"


def _planted_tree(root: Path) -> Path:
    """results/<root>/metrics/p0.json with one claim passing (22b), one failing (23), one short of seeds (20)."""
    folder = root / "metrics"
    folder.mkdir(parents=True)
    gd = {"n_per_blob": 100, "grad_norm_tol": [0.0001]}
    record = {
        "lambda_max_ratio_std1_std02": {"values": [25, 30, 40, 21, 22], "seeds": [0, 1, 2, 3, 4],
                                        "evidence": {**gd, "stds": [0.2, 0.4, 0.6, 0.8, 1.0], "width": [14]}},
        "init_width_ratio_mnist_random": {"values": [1.5, 2.0, 4.0, 1.0, 2.5], "seeds": [0, 1, 2, 3, 4],
                                          "evidence": {"n_train": 1000, "input_dim": [784]}},
        "isolated_pair_widths": {"values": [5.0], "seeds": [0],
                                 "evidence": {**gd, "widths": [2, 6, 10, 14, 18], "blob_std": [0.1]}},
    }
    (folder / "p0.json").write_text(json.dumps(record))
    # the sidecar the metrics step writes: its recorded run_name is the rows' scale
    write_sidecar(build_record(step="predecessor_metrics", output=folder / "p0.json", params={"cfg": {"run_name": "paper"}}),
                  folder / "p0.json")
    return root


def test_section_counts_ids_fails_and_reasons(tmp_path: Path) -> None:
    tree = _planted_tree(tmp_path / "results" / "paper")
    frame = build_scorecard([tree / "metrics" / "p0.json"]).frame
    block = readme_section(frame, [str(tree)])
    assert block.startswith(BEGIN) and block.rstrip().endswith(END)
    n = len(load_claims(CLAIMS_DIR))
    assert f"| **all** | **1** | **1** | **{n - 2}** |" in block
    assert "| sagun2016 | 1 | 1 | 4 |" in block                       # 20-23: 22b pass, 23 fail, the rest not_run
    assert "* **pass**: 22b (paper)" in block
    assert "* **fail**: 23 (paper)" in block
    assert "| 23 | 2 |" in block and "undecided: the MNIST / random-input width ratio is 1.5, 2, 4, 1, 2.5" in block
    assert "* 20 (paper): needs ≥ 5 seeds, this run has 1" in block
    assert "no metrics file <results>/metrics/blobs.json" in block


def test_readme_round_trip_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _planted_tree(tmp_path / "results" / "paper")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{BEGIN}\nold hand-typed table\n{END}\n\nafter\n")
    assert main(["scorecard", "--results", str(tree), "--readme", str(readme)]) == 0
    first = readme.read_text()
    assert first.startswith("# Title\n\nbefore\n\n") and first.endswith(f"{END}\n\nafter\n")
    assert "old hand-typed table" not in first and "| **all** | **1** | **1** |" in first
    assert main(["scorecard", "--results", str(tree), "--readme", str(readme)]) == 0   # idempotent
    assert readme.read_text() == first
    capsys.readouterr()
    assert main(["scorecard", "--results", str(tree), "--readme-section"]) == 0
    printed = capsys.readouterr().out
    assert printed in first                                            # the printed block is what was inserted
    assert replace_section(first, printed) == first


def test_missing_markers_are_one_readable_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="README.md: needs exactly one"):
        replace_section("# no markers\n", f"{BEGIN}\n{END}\n")
    with pytest.raises(ConfigError, match="exactly one"):
        replace_section(f"{END}\n{BEGIN}\n", f"{BEGIN}\n{END}\n")
    tree = _planted_tree(tmp_path / "results" / "paper")
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    assert main(["scorecard", "--results", str(tree), "--readme", str(readme)]) == 2
    assert "needs exactly one" in capsys.readouterr().err and readme.read_text() == "# no markers\n"


def test_the_repository_readme_has_the_markers() -> None:
    text = README.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1 and text.index(BEGIN) < text.index(END)
