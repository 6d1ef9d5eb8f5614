"""The layout of docs/architecture.md holds in the code: which room imports which, and no room too big."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nnspectra.pipeline.provenance import PACKAGE_DIR, module_closure

MODULES = sorted(
    ".".join(("nnspectra", *p.relative_to(PACKAGE_DIR).with_suffix("").parts)).removesuffix(".__init__")
    for p in PACKAGE_DIR.rglob("*.py")
)
MAX_LINES = 350


def _imports(module: str) -> set[str]:
    """Every module (any package) that ``module`` imports, at any depth of its own source."""
    parts = module.split(".")[1:]
    path = PACKAGE_DIR.joinpath(*parts, "__init__.py")
    if not path.exists():
        path = PACKAGE_DIR.joinpath(*parts).with_suffix(".py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_library_never_imports_snakemake() -> None:
    offenders = [m for m in MODULES if any(i.split(".")[0] == "snakemake" for i in _imports(m))]
    assert not offenders, f"library modules importing snakemake: {offenders}"


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("nnspectra.plotting")])
def test_plots_import_no_experiment_or_curvature_code(module: str) -> None:
    reached = module_closure([module])
    bad = [m for m in reached if m.startswith(("nnspectra.experiments", "nnspectra.curvature", "nnspectra.training"))]
    assert not bad, f"{module} reaches {bad}; plots take arrays and tables"


@pytest.mark.parametrize("module", ["nnspectra.experiments.sagun2018.blobs_training", "nnspectra.experiments.sagun2018.mnist_training",
                                    "nnspectra.experiments.sagun2018.lbsb_training", "nnspectra.experiments.sagun2018.cifar",
                                    "nnspectra.training", "nnspectra.models.mlp", "nnspectra.data.vision"])
def test_training_code_does_not_reach_curvature(module: str) -> None:
    """So editing curvature code reruns spectra, not training (the code hash of a rule is its closure)."""
    reached = module_closure([module])
    assert not [m for m in reached if m.startswith("nnspectra.curvature")], reached


@pytest.mark.parametrize("room", ["data", "models", "spectra", "training"])
def test_lower_rooms_do_not_import_upper_ones(room: str) -> None:
    upper = ("nnspectra.experiments", "nnspectra.plotting", "nnspectra.pipeline", "nnspectra.scorecard",
             "nnspectra.cli")
    for module in (m for m in MODULES if m.startswith(f"nnspectra.{room}")):
        bad = [i for i in _imports(module) if i.startswith(upper)]
        assert not bad, f"{module} imports {bad}"


def test_no_module_does_too_much() -> None:
    too_long = {m: n for m in MODULES
                if (n := len((PACKAGE_DIR.joinpath(*m.split(".")[1:]).with_suffix(".py")).read_text().splitlines())
                    if PACKAGE_DIR.joinpath(*m.split(".")[1:]).with_suffix(".py").exists() else 0) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them by job): {too_long}"


def test_workflow_scripts_are_thin(repo_root: Path) -> None:
    """A script unpacks config and wildcards and calls the library: no function or class definitions."""
    for script in sorted((repo_root / "workflow" / "scripts").glob("*.py")):
        tree = ast.parse(script.read_text())
        defs = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defs, f"{script.name} defines {defs}; move that code into src/nnspectra"
