"""Every typed settings dataclass agrees with the schema of the config section it is built from.

The pairs are read from the code itself: every ``settings(Class, cfg["a.b"])`` call in the workflow scripts
and the library, so a new pair is checked without editing this test. For each pair the section's keys must
be exactly the dataclass's fields, and each field's default must equal the schema's default for that key
(or the dataclass field has no default). Two copies of one fact may not drift apart unnoticed.

Scripts and plots read those typed settings only: a script that indexes, binds or hands on a config section
other than through ``settings(Class, cfg["a.b"])``, or a plot that indexes its settings by key, fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path
from typing import Any

import pytest

from nnspectra.pipeline.config import load_schema, validate_config
from nnspectra.pipeline.provenance import PACKAGE_DIR

REPO = Path(__file__).resolve().parents[1]


BENCHMARKS = REPO / "benchmarks"  # the curvature benchmark's settings live in its harness (imported from here)


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """name -> module for every ``from nnspectra.x import name`` (or ``from <benchmark harness> import name``)."""
    harnesses = {p.stem for p in BENCHMARKS.glob("*.py")}
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module.startswith("nnspectra")
                                                                 or node.module in harnesses):
            out.update({alias.asname or alias.name: node.module for alias in node.names})
    return out


def _key(node: ast.AST) -> str | None:
    """The dotted config key of ``cfg["a.b"]`` or ``cfg[f"a.{name}.b"]`` (a named entry's part as ``*``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
    return None


#: settings built from a user's entry rather than by a settings(Class, cfg[...]) call
BUILT_ELSEWHERE = {("nnspectra.analyze.run", "StudyTrain", "analyze.studies.*.train")}


def _pairs() -> list[tuple[str, str, str]]:
    """(module, class name, dotted config key) of every settings(Class, cfg["key"]) call."""
    files = sorted((REPO / "workflow" / "scripts").glob("*.py")) + sorted(PACKAGE_DIR.rglob("*.py"))
    found: set[tuple[str, str, str]] = set()
    for path in files:
        tree = ast.parse(path.read_text())
        names = _imported_names(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "settings" and len(node.args) == 2):
                continue
            cls, section = node.args
            if isinstance(cls, ast.Name) and isinstance(section, ast.Subscript) and cls.id in names:
                key = _key(section.slice)
                if key is not None:
                    found.add((names[cls.id], cls.id, key))
    return sorted(found | BUILT_ELSEWHERE)


PAIRS = _pairs()
DEFAULTS = validate_config({})


NO_DEFAULT = object()


def _schema_value(key: str) -> Any:
    """The defaults of the section ``key``; for a named entry (``evolution.runs.*``) those its schema gives
    (:data:`NO_DEFAULT` for a required key)."""
    if "*" not in key:
        value: Any = DEFAULTS
        for part in key.split("."):
            value = value[part]
        return value
    node: Any = load_schema()
    for part in key.split("."):
        if part == "*":
            extra = node.get("additionalProperties")
            node = extra if isinstance(extra, dict) else next(iter(node["patternProperties"].values()))
        else:
            node = node["properties"][part]
    return {name: prop.get("default", NO_DEFAULT) for name, prop in node["properties"].items()}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def test_the_pairs_are_found() -> None:
    keys = {key for _m, _c, key in PAIRS}
    assert {"realdata.mnist.curvature", "realdata.lbsb.train", "blobs.train", "evolution.model"} <= keys
    assert len(PAIRS) >= 15


@pytest.mark.parametrize(("module", "name", "key"), PAIRS, ids=[f"{c}<-{k}" for _m, c, k in PAIRS])
def test_dataclass_defaults_equal_the_schema_defaults(module: str, name: str, key: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    cls = getattr(importlib.import_module(module), name)
    section = _schema_value(key)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(section) == set(fields), f"{name} fields vs schema keys of {key}: {set(section) ^ set(fields)}"
    drift = {}
    for field_name, field in fields.items():
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = field.default_factory()  # type: ignore[misc]
        else:
            continue
        if not _same(default, section[field_name]):
            drift[field_name] = (default, section[field_name])
    assert not drift, f"{name} defaults differ from the schema of {key} (dataclass, schema): {drift}"


# -- scripts and plots read typed settings ---------------------------------------------------------------------------
GLOBAL_KEYS = set(DEFAULTS) - {k for k, v in DEFAULTS.items() if isinstance(v, dict)}
#: where a raw config section may still go, and why
RAW_SECTION_USES = {
    "override": "EvoModel.override merges evolution.datasets.<name>.model (a partial section) over the typed model",
    "run_study": "analyze.studies.<name> is a user's free-form study; nnspectra.analyze validates and types it",
}


def _is_config(node: ast.AST, names: set[str]) -> bool:
    """``step.params["cfg"]`` or a name bound to it."""
    if isinstance(node, ast.Name):
        return node.id in names
    return (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "cfg"
            and isinstance(node.value, ast.Attribute) and node.value.attr == "params")


def _is_section(key: ast.AST) -> bool:
    """Whether a config key names a section (a mapping) rather than a global or a single value."""
    if isinstance(key, ast.JoinedStr):  # f"evolution.runs.{w['run']}": a section of a named entry
        return True
    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)) or key.value in GLOBAL_KEYS:
        return False
    try:
        return isinstance(_schema_value(key.value), dict)
    except KeyError:
        return False


def raw_config_reads(source: str) -> list[str]:
    """Places where a script reads a config section without ``settings(Class, cfg["a.b"])``: indexing it, binding
    it to a name or handing it to another function (one line each)."""
    tree = ast.parse(source)
    names = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and _is_config(node.value, set())
             for t in node.targets if isinstance(t, ast.Name)}
    names |= {e.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple)
              for t in node.targets if isinstance(t, ast.Tuple)
              for e, v in zip(t.elts, node.value.elts) if isinstance(e, ast.Name) and _is_config(v, set())}
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if func == "settings" and len(node.args) == 2:
                allowed.add(id(node.args[1]))
            elif func in RAW_SECTION_USES:
                allowed |= {id(a) for a in node.args}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Subscript) and _is_config(node.value, names) and id(node) not in allowed
                and _is_section(node.slice)):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


SCRIPTS = sorted((REPO / "workflow" / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_scripts_read_config_sections_as_typed_settings(script: Path) -> None:
    raw = raw_config_reads(script.read_text())
    assert not raw, f"{script.name} reads config sections raw (use settings(Class, cfg['a.b'])): {raw}"


def test_the_raw_read_check_catches_each_form() -> None:
    for bad in ('cfg = step.params["cfg"]\nx = cfg["blobs.fig1"]["row"]\n',
                'cfg = step.params["cfg"]\nfig1 = cfg["blobs.fig1"]\n',
                'f(step.params["cfg"]["blobs.fig1"])\n',
                'cfg, w = step.params["cfg"], step.wildcards\nplot(cfg[f"evolution.runs.{w}"])\n'):
        assert raw_config_reads(bad), bad
    for good in ('cfg = step.params["cfg"]\nfig1 = settings(Fig1, cfg["blobs.fig1"])\nd = cfg["device"]\n',
                 'cfg = step.params["cfg"]\nt = cfg["alignment.gmm.times"]\n'):
        assert not raw_config_reads(good), good


CONFIG_PARAMETERS = ("cfg", "claims", "analysis", "plot", "settings", "examples")
PLOT_MODULES = sorted((PACKAGE_DIR / "plotting").glob("*.py"))


def raw_settings_reads(source: str) -> list[str]:
    """Places where a function indexes a settings parameter (``cfg``, ``*_cfg``, ``claims``, ``plot``, ...) by a
    key: plots read typed settings (``plot.seed``), never config dicts (``plot["seed"]``)."""
    found = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        params = {a.arg for a in [*func.args.args, *func.args.kwonlyargs]
                  if a.arg in CONFIG_PARAMETERS or a.arg.endswith("_cfg")}
        for node in ast.walk(func):
            if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in params
                    and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("module", PLOT_MODULES, ids=[p.name for p in PLOT_MODULES])
def test_plots_read_typed_settings(module: Path) -> None:
    raw = raw_settings_reads(module.read_text())
    assert not raw, f"plotting/{module.name} indexes settings by key (take the typed settings): {raw}"


def test_the_plot_check_catches_a_config_dict() -> None:
    assert raw_settings_reads('def f(x, plot_cfg):\n    return plot_cfg["seed"]\n')
    assert raw_settings_reads('def f(x, claims):\n    return claims["lam"]\n')
    assert not raw_settings_reads('def f(x, plot_cfg):\n    return plot_cfg.seed + x["seed"]\n')
