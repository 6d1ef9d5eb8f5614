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


def _conda_specs(deps: list) -> dict[str, str]:
    specs = {}
    for dep in deps:
        if isinstance(dep, str):
            name, spec = _split(dep)
            if name not in {"python", "pip"}:
                specs[CONDA_TO_PYPI.get(name, name)] = spec.lstrip("=")
    return specs


def test_rule_environment_is_the_run_time_dependencies(repo_root: Path) -> None:
    """`snakemake --use-conda` installs pyproject's run-time dependencies only: no test tools, no pip install
    of the repository (the Snakefile puts this checkout's src/ on the jobs' path); every rule uses it."""
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((repo_root / "workflow" / "envs" / "nnspectra.yaml").read_text())["dependencies"]
    assert _conda_specs(env) == {k: v.lstrip("=") for k, v in (_split(r) for r in project["dependencies"])}
    assert not any(isinstance(d, dict) for d in env), "no pip section (an editable install) in the rule environment"
    test_only = {_split(r)[0] for r in project["optional-dependencies"]["test"]}
    assert not test_only & set(_conda_specs(env))
    snakefile = (repo_root / "Snakefile").read_text()
    assert 'SRC = str(Path(workflow.basedir, "src"))' in snakefile and "PYTHONPATH" in snakefile
    for smk in sorted((repo_root / "workflow" / "rules").glob("*.smk")):
        for line in smk.read_text().splitlines():
            if line.strip().startswith('"../') and line.strip().endswith('.yaml"'):
                assert line.strip() == '"../envs/nnspectra.yaml"', f"{smk.name}: {line.strip()}"


def test_catalog_files(repo_root: Path) -> None:
    """What the Snakemake workflow catalog reads: a licence matching pyproject, config/README.md describing
    every preset and section, the usage file; and `nnspectra --version` says pyproject's version."""
    import subprocess
    import sys

    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT" and (repo_root / "LICENSE").read_text().startswith("MIT License")
    guide = (repo_root / "config" / "README.md").read_text()
    for preset in sorted((repo_root / "config").glob("*.yaml")):
        assert f"config/{preset.name}" in guide, f"config/README.md does not describe {preset.name}"
    schema = yaml.safe_load((repo_root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    sections = [f.name.removesuffix(".schema.yaml") for f in (repo_root / "workflow" / "schemas" / "sections").glob("*")]
    assert sections
    for key in [*schema["properties"], *sections]:
        assert f"`{key}`" in guide, f"config/README.md does not describe the key (group) {key}"
    usage = yaml.safe_load((repo_root / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert usage["software-stack-deployment"]["conda"] is True and usage["report"] is True
    version = subprocess.run([sys.executable, "-m", "nnspectra.cli", "--version"], capture_output=True, text=True,
                             timeout=60, check=True)
    assert version.stdout.strip() == f"nnspectra {project['version']}"
