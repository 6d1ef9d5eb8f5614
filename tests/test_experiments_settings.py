"""The seed offset has one home: :mod:`nnspectra.experiments.settings`.

Every settings dataclass with a ``seed_offset`` key derives from :class:`SeededSettings` and draws with
``seed_for``; no script or library module adds an offset to a seed by hand (``int(cfg.seed_offset) + seed``).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from pathlib import Path

import numpy as np
import pytest

from nnspectra.experiments.settings import SeededSettings, offset_seed
from nnspectra.pipeline.provenance import PACKAGE_DIR

REPO = Path(__file__).resolve().parents[1]
HOME = PACKAGE_DIR / "experiments" / "settings.py"


def test_seed_for_adds_the_offset_to_the_run_seed() -> None:
    assert SeededSettings().seed_for(3) == 3
    seeded = SeededSettings(seed_offset=1000)
    assert [seeded.seed_for(s) for s in (0, 1, 7)] == [1000, 1001, 1007]
    drawn = seeded.seed_for(np.int64(2))
    assert drawn == 1002 and type(drawn) is int  # a plain int whatever the wildcard or array gave
    assert offset_seed(500, 4) == 504
    with pytest.raises(dataclasses.FrozenInstanceError):
        seeded.seed_offset = 1  # type: ignore[misc]


def _settings_classes() -> list[type]:
    """Every dataclass defined in a module of the package."""
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        name = ".".join(("nnspectra", *path.relative_to(PACKAGE_DIR).with_suffix("").parts)).removesuffix(".__init__")
        module = importlib.import_module(name)
        found += [c for c in vars(module).values()
                  if inspect.isclass(c) and dataclasses.is_dataclass(c) and c.__module__ == name]
    return found


def test_every_seed_offset_setting_derives_from_the_fragment() -> None:
    classes = _settings_classes()
    with_offset = [c for c in classes if "seed_offset" in {f.name for f in dataclasses.fields(c)}]
    assert {c.__name__ for c in with_offset} >= {"P0Blobs", "P0Model", "BlobData", "BlobModel"}
    apart = [c.__qualname__ for c in with_offset if not issubclass(c, SeededSettings)]
    assert not apart, f"settings with a seed_offset that do not derive from SeededSettings: {apart}"


def hand_offsets(source: str) -> list[str]:
    """``a + b`` where a side is (``int(...)`` of) an attribute named ``*seed_offset``: an offset added by hand."""
    def offset(node: ast.AST) -> bool:
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "int" and len(node.args) == 1:
            node = node.args[0]
        return isinstance(node, ast.Attribute) and node.attr.endswith("seed_offset")

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            # a chain a + b + c nests as (a + b) + c: look at every term
            terms, stack = [], [node]
            while stack:
                n = stack.pop()
                if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
                    stack += [n.left, n.right]
                else:
                    terms.append(n)
            if any(offset(t) for t in terms):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_hand_offset_check_catches_each_form() -> None:
    for bad in ("s = int(data.seed_offset) + seed", "s = seed + cfg.random_seed_offset",
                "s = int(m.seed_offset) + seed + int(fig8.second_seed_offset)"):
        assert hand_offsets(bad), bad
    assert not hand_offsets("s = data.seed_for(seed)\nt = seed + 1\nu = model.seed_offset")


def test_no_seed_offset_is_added_by_hand() -> None:
    files = sorted((REPO / "workflow" / "scripts").glob("*.py")) + sorted(PACKAGE_DIR.rglob("*.py"))
    found = {str(p.relative_to(REPO)): hits for p in files if p != HOME and (hits := hand_offsets(p.read_text()))}
    assert not found, f"seed offsets added by hand (use SeededSettings.seed_for or offset_seed): {found}"
