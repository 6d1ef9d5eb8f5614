"""Config validation: defaults filled, and every kind of mistake stops with one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nnspectra.pipeline.config import config_subset, deep_merge, load_config_files, load_schema, validate_config
from nnspectra.errors import ConfigError


def test_shipped_configs_validate(repo_root: Path) -> None:
    base = load_config_files([repo_root / "config" / "config.yaml"])
    cfg = validate_config(base)
    assert cfg["threads"] >= 1 and cfg["device"] in {"auto", "cpu", "cuda"}
    for preset in sorted((repo_root / "config").glob("*.yaml")):
        merged = load_config_files([repo_root / "config" / "config.yaml", preset])
        validate_config(merged)


def test_defaults_are_filled() -> None:
    cfg = validate_config({})
    assert cfg["threads"] == 1 and cfg["device"] == "auto" and cfg["data_dir"] is None
    # every section schema's defaults are complete enough to validate on their own
    for name in load_schema()["properties"]:
        assert name in cfg


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"treads": 2}, "'treads' is not recognised; did you mean 'threads'?"),
        ({"threads": "two"}, "'threads' = 'two' has the wrong type"),
        ({"threads": 0}, "'threads' = 0 is invalid"),
        ({"device": "tpu"}, "'device' = 'tpu' is not allowed; choose one of"),
        ({"memory_budget_gb": -1}, "'memory_budget_gb' = -1 is invalid"),
    ],
)
def test_errors_are_one_line_and_name_the_key(config: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_nested_unknown_key_names_full_path() -> None:
    schema = load_schema()
    sections = [name for name, sub in schema["properties"].items() if sub.get("type") == "object"]
    if not sections:
        pytest.skip("no experiment sections defined")
    name = sections[0]
    with pytest.raises(ConfigError, match=rf"'{name}\.no_such_key' is not recognised"):
        validate_config({name: {"no_such_key": 1}})


def test_deep_merge_overrides_leaves_only() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    assert deep_merge(base, {"a": {"b": 10}}) == {"a": {"b": 10, "c": 2}, "d": 3}
    assert base["a"]["b"] == 1  # input untouched


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("threads: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_files([bad])
    with pytest.raises(ConfigError, match="not found"):
        load_config_files([tmp_path / "absent.yaml"])
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match="must contain a mapping"):
        load_config_files([scalar])


def test_config_subset_is_keyed_by_dotted_path() -> None:
    cfg = {"a": {"b": {"c": 1}}, "threads": 2}
    subset = config_subset(cfg, "a.b", "threads")
    assert subset == {"a.b": {"c": 1}, "threads": 2}
    subset["a.b"]["c"] = 5
    assert cfg["a"]["b"]["c"] == 1
    with pytest.raises(ConfigError, match="'a.x' is missing"):
        config_subset(cfg, "a.x")
