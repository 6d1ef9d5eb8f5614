"""The README's target table names, for each target, the code that makes it: rule -> script -> function.
Every cell must stay true: the rule exists and runs that script, the script imports the function from that
module, and the module defines it (a rename or move that forgets the README fails here)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CELL = re.compile(r"`(\w+)` → `(\w+\.py)` → `([\w.]+)\.(\w+)`")
RULE = re.compile(r"(?m)^(?:local)?rule (\w+):")


def _rule_scripts() -> dict[str, str]:
    """rule name -> the script it runs, from workflow/rules/*.smk."""
    out = {}
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        heads = list(RULE.finditer(text))
        for head, nxt in zip(heads, heads[1:] + [None]):
            block = text[head.end(): nxt.start() if nxt else len(text)]
            script = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+\.py)"', block)
            if script:
                out[head.group(1)] = script.group(1)
    return out


def _imports(script: Path) -> set[tuple[str, str]]:
    """(module, name) of every ``from nnspectra.x import name`` in a script."""
    tree = ast.parse(script.read_text())
    return {(node.module.removeprefix("nnspectra."), alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nnspectra")
            for alias in node.names}


def test_every_code_path_in_the_target_table_is_true() -> None:
    cells = CELL.findall((REPO / "README.md").read_text())
    assert len(cells) >= 20, "the README's target table lost its code column"
    scripts = _rule_scripts()
    for rule, script, module, function in cells:
        assert scripts.get(rule) == script, f"README: rule {rule} runs {scripts.get(rule)}, not {script}"
        assert (module, function) in _imports(REPO / "workflow" / "scripts" / script), \
            f"README: {script} does not import {function} from nnspectra.{module}"
        assert callable(getattr(importlib.import_module(f"nnspectra.{module}"), function, None)), \
            f"README: nnspectra.{module} has no function {function}"
