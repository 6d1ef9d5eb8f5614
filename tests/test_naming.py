"""One name per figure group (issue 23): a stage file ``workflow/rules/<group>.smk``, its rules and scripts
(``<group>_*``), its config section (``realdata_lbsb`` -> ``realdata.lbsb``), its experiment and plotting
modules (``experiments/<paper>/<leaf>*.py`` mirrored in ``plotting/``) and its claim file
(``claims/<section>.yaml``) share one name. Outputs and user-facing targets keep the papers' own names
(``fig7``, ``table1``, ``p0_fig6``, ``appendix_mp``): alias rules that only gather the files of
that name (``TARGETS[name]`` or ``figures/<name>.png``). A rename that leaves one of these behind fails here, naming the place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "workflow" / "rules"
SRC = REPO / "src" / "nnspectra"
RULE = re.compile(r"(?m)^(?:local)?rule (\w+):")
# stage files that are not a figure group: shared helpers, the benchmark rule (config section `bench`),
# the scorecard, the analyze studies (their own package, no claims), the realdata gather (metrics + target)
NOT_A_FIGURE_GROUP = {"common", "benchmarks", "scorecard", "analyze", "realdata"}
PREFIX = {"benchmarks": "bench"}
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
GROUP_TARGETS = {"blobs", "predecessor", "realdata", "alignment", "evolution", "analyze"}


def _rules(smk: Path) -> dict[str, str]:
    """rule name -> its body, for one stage file."""
    text = smk.read_text()
    heads = list(RULE.finditer(text))
    return {head.group(1): text[head.end(): nxt.start() if nxt else len(text)]
            for head, nxt in zip(heads, heads[1:] + [None])}


def _is_alias(body: str) -> bool:
    """A rule that only gathers files (a user-facing target): an input and nothing that runs."""
    return not re.search(r"(?m)^\s+(script|shell|run|output):", body)


STAGES = sorted(p.stem for p in RULES_DIR.glob("*.smk") if p.stem != "common")


@pytest.mark.parametrize("stage", STAGES)
def test_rules_and_scripts_carry_the_stage_name(stage: str) -> None:
    prefix = PREFIX.get(stage, stage)
    for name, body in _rules(RULES_DIR / f"{stage}.smk").items():
        if _is_alias(body):
            named = (f'TARGETS["{name}"]' in body or f'result("figures/{name}.' in body
                     or f'result("tables/{name}.' in body)
            assert name in GROUP_TARGETS or named, (
                f"{stage}.smk: rule {name} only gathers files but is neither a group target nor the files it names")
            continue
        assert name == prefix or name.startswith(prefix + "_"), f"{stage}.smk: rule {name} should start with {prefix}_"
        script = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+)\.py"', body)
        if script:
            assert script.group(1).startswith(prefix), (
                f"{stage}.smk: rule {name} runs {script.group(1)}.py, which should start with {prefix}")


@pytest.mark.parametrize("stage", sorted(set(STAGES) - NOT_A_FIGURE_GROUP))
def test_each_figure_group_has_its_config_section_modules_and_claims(stage: str) -> None:
    section, _, leaf = stage.partition("_")
    node = CONFIG[section]
    if leaf:
        node = node[leaf]
    assert isinstance(node, dict), f"config section {section}.{leaf} of stage {stage}.smk is missing"
    leaf = leaf or section
    experiments = list((SRC / "experiments").glob(f"*/{leaf}.py"))
    assert len(experiments) == 1, f"stage {stage}.smk: expected one experiments/<paper>/{leaf}.py, found {experiments}"
    paper = experiments[0].parent.name
    assert (SRC / "plotting" / paper / f"{leaf}.py").exists(), f"plotting/{paper}/{leaf}.py (mirror) is missing"
    assert (SRC / "claims" / f"{section}.yaml").exists(), f"claims/{section}.yaml for stage {stage}.smk is missing"


def test_every_claim_file_is_named_after_a_config_section() -> None:
    for path in (SRC / "claims").glob("*.yaml"):
        assert path.stem in CONFIG, f"claims/{path.name} is not named after a config section"
        assert (RULES_DIR / f"{path.stem}.smk").exists(), f"claims/{path.name} has no stage file {path.stem}.smk"


def test_the_alias_check_catches_a_stray_rule(tmp_path: Path) -> None:
    """The rule parser sees a misnamed working rule (it must start with the stage name) and an alias."""
    smk = tmp_path / "blobs.smk"
    smk.write_text('rule draw_fig1:\n    output:\n        "x"\n    script:\n        "../scripts/blobs_fig1.py"\n\n'
                   'rule fig1:\n    input:\n        TARGETS["fig1"],\n')
    rules = _rules(smk)
    assert not _is_alias(rules["draw_fig1"]) and not rules["draw_fig1"].startswith("blobs")
    assert _is_alias(rules["fig1"])
