"""A rule's code hash comes from its script's own imports: no module list is written by hand, so none can miss one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nnspectra.pipeline import provenance
from nnspectra.pipeline.provenance import code_version

REPO = Path(__file__).resolve().parents[1]
RULE = re.compile(r"(?m)^(?=(?:local)?rule \w+:|use rule \w+ as \w+ with:)")


def _rule_blocks() -> list[tuple[str, str, str]]:
    """(file, rule header, block text) of every rule of the workflow."""
    out = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in RULE.split(smk.read_text())[1:]:
            out.append((smk.name, block.splitlines()[0], block))
    return out


def test_every_rule_hashes_its_own_script() -> None:
    """Each rule (and each `use rule ... with:` that overrides params) names exactly the script it runs."""
    checked = 0
    scripts: dict[str, str] = {}
    for name, header, block in _rule_blocks():
        script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w]+\.py)"', block)
        codes = re.findall(r"code=code\(([^)]*)\)", block)
        base = re.match(r"use rule (\w+) as (\w+)", header)
        if script:
            scripts[header.split()[1].rstrip(":")] = script.group(1)
        expected = script.group(1) if script else (scripts.get(base.group(1)) if base else None)
        for arg in codes:
            assert expected is not None, f"{name}: {header} has a code hash but no script"
            assert arg == f'"{expected}"', f"{name}: {header} hashes {arg}, but runs {expected}"
            checked += 1
        if script:
            assert codes, f"{name}: {header} runs {script.group(1)} without a code hash in params"
    assert checked >= 50


def test_a_planted_import_changes_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripts = tmp_path / "workflow" / "scripts"
    scripts.mkdir(parents=True)
    script = scripts / "demo.py"
    script.write_text("from nnspectra.models.sizes import mlp_parameter_count\n")
    monkeypatch.chdir(tmp_path)
    first = code_version("workflow/scripts/demo.py")
    assert "nnspectra.models.sizes" in first["modules"] and "nnspectra.spectra.mp" not in first["modules"]
    script.write_text(script.read_text() + "from nnspectra.spectra.mp import mp_density\n")
    second = code_version("workflow/scripts/demo.py")
    assert "nnspectra.spectra.mp" in second["modules"] and second["hash"] != first["hash"]
    # the pipeline's bookkeeping is versioned by the commit, not the hash: importing it changes nothing but the text
    script.write_text("from nnspectra.models.sizes import mlp_parameter_count\nfrom nnspectra.pipeline.step import Step\n")
    third = code_version("workflow/scripts/demo.py")
    assert third["modules"] == first["modules"]


def test_an_edit_to_an_imported_module_changes_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "src" / "nnspectra"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("X = 1\n")
    (pkg / "b.py").write_text("Y = 1\n")
    scripts = tmp_path / "workflow" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "s.py").write_text("from nnspectra.a import X\n")
    monkeypatch.setattr(provenance, "PACKAGE_DIR", pkg)
    monkeypatch.chdir(tmp_path)
    first = code_version("workflow/scripts/s.py")
    (pkg / "b.py").write_text("Y = 2\n")
    assert code_version("workflow/scripts/s.py")["hash"] == first["hash"]
    (pkg / "a.py").write_text("X = 2\n")
    assert code_version("workflow/scripts/s.py")["hash"] != first["hash"]


def test_the_rules_the_hand_lists_missed_are_covered() -> None:
    """Issue 23 found three rules whose hand-written lists missed a module their script imports."""
    lbsb = code_version("workflow/scripts/realdata_lbsb_train.py")["modules"]
    assert "nnspectra.experiments.sagun2018.mnist_training" in lbsb
    assert "nnspectra.experiments.sagun2018.mnist_training" in code_version("workflow/scripts/realdata_lbsb_spectrum.py")["modules"]
    assert "nnspectra.experiments.sagun2016.predecessor" in code_version("workflow/scripts/predecessor_fig1.py")["modules"]


def test_missing_script_is_one_line() -> None:
    with pytest.raises(ValueError, match="script 'workflow/scripts/nope.py' not found"):
        code_version("workflow/scripts/nope.py")


#: rules that train and measure in the same step (the trained network is never written): their code hash may hold
#: spectra and curvature code, never plotting or claims code
TRAINS_AND_MEASURES = {
    "evolution_run", "evolution_scaling",  # weight/CK/NTK spectra at every checkpoint of the run
    "alignment_gmm_run", "alignment_dscan_run", "alignment_xor_run",  # Hessian/G spectra along online SGD
    "analyze_run",  # the user's study: optional training, then its curvature and weight spectra
    "predecessor_blobs", "predecessor_std", "predecessor_sphere", "predecessor_mnist",  # P0: GD to a gradient norm, then the exact Hessian
}
#: pure training rules that write no network file: P0 Fig 8 trains GD and SGD side by side and keeps the losses
#: along the line between their iterates (its flat-parameter view lives in nnspectra.models.flat)
TRAINS_WITHOUT_A_MODEL_FILE = {"predecessor_interp"}
OUTPUT = re.compile(r"\n    output:\n(.*?)\n    \w+:", re.DOTALL)


def _training_rules() -> dict[str, str]:
    """rule -> script of every rule that trains: it writes a network (``.pt``), is named ``*_train``, or is listed."""
    scripts: dict[str, str] = {}
    trains: dict[str, str] = {}
    for _name, header, block in _rule_blocks():
        base = re.match(r"use rule (\w+) as (\w+)", header)
        rule = base.group(2) if base else header.split()[1].rstrip(":")
        script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w]+\.py)"', block)
        scripts[rule] = script.group(1) if script else scripts.get(base.group(1) if base else "", "")
        output = OUTPUT.search(block + "\n    end:")
        writes_model = bool(output and re.search(r'\.pt"', output.group(1)))
        if scripts[rule] and (writes_model or rule.endswith("_train") or rule in TRAINS_AND_MEASURES
                              or rule in TRAINS_WITHOUT_A_MODEL_FILE):
            trains[rule] = scripts[rule]
    return trains


TRAINING_RULES = _training_rules()


def test_the_training_rules_are_found() -> None:
    assert {"blobs_train", "realdata_mnist_train", "realdata_lbsb_train", "realdata_cifar_part1",
            "realdata_cifar_part2"} <= set(TRAINING_RULES)
    assert (TRAINS_AND_MEASURES | TRAINS_WITHOUT_A_MODEL_FILE) <= set(TRAINING_RULES), "a listed rule is gone"


@pytest.mark.parametrize("rule", sorted(TRAINING_RULES))
def test_a_training_rule_hashes_no_spectra_counting_or_plotting_code(rule: str) -> None:
    """Editing an outlier rule, a plot or a claim reruns counts, tables and figures, never training."""
    modules = code_version(f"workflow/scripts/{TRAINING_RULES[rule]}")["modules"]
    banned = ["nnspectra.plotting", "nnspectra.claims"]
    if rule not in TRAINS_AND_MEASURES:
        banned += ["nnspectra.spectra", "nnspectra.curvature"]
    found = [m for m in modules if any(m == b or m.startswith(b + ".") for b in banned)]
    assert not found, f"rule {rule} ({TRAINING_RULES[rule]}) hashes {found}: cut the import"


# -- lazy package exports: a step hashes the curvature code it runs, not the whole package --------------------

#: scripts whose steps use closed forms or batched Hessians only: none of the operator / Lanczos / SLQ code
NO_OPERATOR_CODE = {"predecessor_sphere.py": ["batched", "mlp"], "evolution_run.py": ["deep_kernels", "kernels"]}


@pytest.mark.parametrize("script", sorted(NO_OPERATOR_CODE))
def test_a_step_hashes_only_the_curvature_submodules_it_imports(script: str) -> None:
    """curvature/__init__.py imports its public names on first use (LAZY_EXPORTS), so an edit to SLQ or the
    product operators no longer reruns P0 Fig 6 or the Wang runs, which import none of that."""
    modules = code_version(f"workflow/scripts/{script}")["modules"]
    used = sorted(m.removeprefix("nnspectra.curvature.") for m in modules if m.startswith("nnspectra.curvature."))
    assert used == NO_OPERATOR_CODE[script]


def test_lazy_exports_are_read_from_the_package_without_importing_it() -> None:
    from nnspectra import curvature

    table = provenance.lazy_exports("nnspectra.curvature")
    assert table == curvature.LAZY_EXPORTS and sorted(table) == curvature.__all__
    for name, module in table.items():  # each name is defined where the table says
        assert getattr(curvature, name).__module__ == module, name
    assert provenance.lazy_exports("nnspectra.spectra") == {} and provenance.lazy_exports("nnspectra.errors") == {}


@pytest.mark.parametrize(("source", "expected", "absent"), [
    ("from nnspectra.curvature import hessian\n", {"nnspectra.curvature.dense"}, {"nnspectra.curvature.density"}),
    ("from nnspectra.curvature import slq, HessianProducts\n",
     {"nnspectra.curvature.density", "nnspectra.curvature.products"}, set()),
    ("from nnspectra.curvature.batched import batched_hessian_eigvalsh\n", {"nnspectra.curvature.batched"},
     {"nnspectra.curvature.dense", "nnspectra.curvature.products"}),
    # the package bound to a name: any export may be used through it, so all count
    ("import nnspectra.curvature as c\n", {"nnspectra.curvature.density", "nnspectra.curvature.dense"}, set()),
    ("from nnspectra import curvature\n", {"nnspectra.curvature.density", "nnspectra.curvature.dense"}, set()),
    ("def f():\n    from nnspectra.curvature import top_eigenpairs\n", {"nnspectra.curvature.eigen"},
     {"nnspectra.curvature.density"}),
])
def test_the_closure_resolves_lazy_names_to_their_submodules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             source: str, expected: set[str], absent: set[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workflow" / "scripts").mkdir(parents=True)
    (tmp_path / "workflow" / "scripts" / "x.py").write_text(source)
    modules = set(code_version("workflow/scripts/x.py")["modules"])
    assert expected <= modules and not absent & modules, sorted(modules)


@pytest.mark.parametrize("entry", ["nnspectra.experiments.sagun2016.predecessor_sphere",
                                   "nnspectra.experiments.benarous2024.alignment",
                                   "nnspectra.experiments.wang2023.evolution", "nnspectra.curvature.spectrum"])
def test_the_closure_covers_every_module_python_loads(entry: str) -> None:
    """Soundness: importing ``entry`` in a fresh interpreter loads no nnspectra module its closure misses (the
    closure may hold more: imports inside functions count before they run)."""
    import subprocess
    import sys

    probe = f"import sys, {entry}; print(' '.join(m for m in sys.modules if m.startswith('nnspectra')))"
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                cwd=REPO).stdout.split())
    assert entry in loaded
    assert loaded - set(provenance.module_closure([entry])) == set()
