"""Packaging hygiene: environment.yml matches pyproject.toml, CI runs the README's test line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

# conda names that differ from PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = _split(dep)
            if name in {"python", "pip"}:
                continue
            conda[CONDA_TO_PYPI.get(name, name)] = spec.replace("==", "==").lstrip("=")
        elif isinstance(dep, dict):  # packages only PyPI has, installed by conda's pip (not the project itself)
            conda.update(_split(req) for req in dep.get("pip", []) if not req.startswith("-e"))
    wanted = {k: v.lstrip("=") for k, v in wanted.items()}
    assert conda == wanted


def test_ci_runs_the_readme_test_line(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    block = re.search(r"## Quickstart\s+```bash\n(.*?)```", readme, re.S)
    assert block, "README needs a Quickstart bash block"
    lines = [line.strip() for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2, "the quickstart holds exactly two copy-paste lines"
    install_run, test_line = lines
    assert "snakemake" in install_run and "pip install" in install_run
    assert "pytest" in test_line and "pip install" in test_line
    assert test_line in (repo_root / ".ci" / "run").read_text()


def test_rule_environment_matches_environment_yml(repo_root: Path) -> None:
    """`snakemake --use-conda` installs the same packages as the user environment."""
    user = yaml.safe_load((repo_root / "environment.yml").read_text())["dependencies"]
    rules = yaml.safe_load((repo_root / "workflow" / "envs" / "nnspectra.yaml").read_text())["dependencies"]
    assert [d for d in user if isinstance(d, str)] == [d for d in rules if isinstance(d, str)]
    for smk in sorted((repo_root / "workflow" / "rules").glob("*.smk")):
        for line in smk.read_text().splitlines():
            if line.strip().startswith('"../') and line.strip().endswith('.yaml"'):
                assert line.strip() == '"../envs/nnspectra.yaml"', f"{smk.name}: {line.strip()}"
