"""Every typed settings dataclass agrees with the schema of the config section it is built from.

The pairs are read from the code itself: every ``settings(Class, cfg["a.b"])`` call in the workflow scripts
and the library, so a new pair is checked without editing this test. For each pair the section's keys must
be exactly the dataclass's fields, and each field's default must equal the schema's default for that key
(or the dataclass field has no default). Two copies of one fact may not drift apart unnoticed.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path
from typing import Any

import pytest

from nnspectra.pipeline.config import validate_config
from nnspectra.pipeline.provenance import PACKAGE_DIR

REPO = Path(__file__).resolve().parents[1]


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """name -> module for every ``from nnspectra.x import name`` in a file."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nnspectra"):
            out.update({alias.asname or alias.name: node.module for alias in node.names})
    return out


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
            if (isinstance(cls, ast.Name) and isinstance(section, ast.Subscript)
                    and isinstance(section.slice, ast.Constant) and isinstance(section.slice.value, str)
                    and cls.id in names):
                found.add((names[cls.id], cls.id, section.slice.value))
    return sorted(found)


PAIRS = _pairs()
DEFAULTS = validate_config({})


def _schema_value(key: str) -> Any:
    value: Any = DEFAULTS
    for part in key.split("."):
        value = value[part]
    return value


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
def test_dataclass_defaults_equal_the_schema_defaults(module: str, name: str, key: str) -> None:
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
