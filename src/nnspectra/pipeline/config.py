"""Load, merge and validate the pipeline configuration against its JSON schema.

The schema lives in ``workflow/schemas/``: ``config.schema.yaml`` holds the global keys and every
``sections/<name>.schema.yaml`` describes the top-level section ``<name>`` (one per experiment), so an
experiment adds its settings without touching the others. Defaults from the schema are filled in;
any problem becomes a single :class:`ConfigError` line naming the key and what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from nnspectra.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SCHEMA_DIR = REPO_ROOT / "workflow" / "schemas"


def _extend_with_defaults(validator_class: type) -> type:
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_defaults(Draft202012Validator)


def load_schema(schema_dir: str | Path = DEFAULT_SCHEMA_DIR) -> dict[str, Any]:
    """Assemble the full schema: the global schema plus one property per section file."""
    schema_dir = Path(schema_dir)
    root_file = schema_dir / "config.schema.yaml"
    if not root_file.exists():
        raise ConfigError(f"schema file {root_file} is missing; the checkout is incomplete")
    schema = yaml.safe_load(root_file.read_text())
    schema.setdefault("properties", {})
    for section_file in sorted((schema_dir / "sections").glob("*.schema.yaml")):
        name = section_file.name.removesuffix(".schema.yaml")
        section = yaml.safe_load(section_file.read_text())
        section.setdefault("default", {})
        schema["properties"][name] = section
    return schema


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (as Snakemake merges configfiles)."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config_files(paths: Iterable[str | Path]) -> dict[str, Any]:
    """Read and deep-merge YAML config files, later files overriding earlier ones."""
    config: dict[str, Any] = {}
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} not found; pass an existing file with --configfile")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"config file {path}{where} is not valid YAML: {getattr(err, 'problem', err)}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must contain a mapping of keys, not {type(data).__name__}")
        config = deep_merge(config, data)
    return config


def _key_path(error: ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _schema_hint(error: ValidationError) -> str:
    desc = error.schema.get("description") if isinstance(error.schema, dict) else None
    return f" ({desc})" if desc else ""


def _format_error(error: ValidationError) -> str:
    key = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        bad = unknown[0] if unknown else "?"
        full = f"{key}.{bad}" if key != "<top level>" else bad
        close = difflib.get_close_matches(bad, allowed, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"config key '{full}' is not recognised{hint} Allowed keys here: {', '.join(allowed)}."
    if error.validator == "enum":
        return f"config key '{key}' = {error.instance!r} is not allowed; choose one of {error.validator_value}."
    if error.validator == "type":
        return (f"config key '{key}' = {error.instance!r} has the wrong type; expected {error.validator_value}"
                f"{_schema_hint(error)}.")
    if error.validator == "required":
        return f"config key '{key}' is missing a required entry: {error.message}."
    return f"config key '{key}' = {error.instance!r} is invalid: {error.message}{_schema_hint(error)}."


def expand_dotted_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"blobs.train.lr": 0.05}`` -> ``{"blobs": {"train": {"lr": 0.05}}}``, merged into the rest."""
    plain = {k: v for k, v in config.items() if "." not in str(k)}
    for key, value in config.items():
        if "." in str(key):
            nested: Any = value
            for part in reversed(str(key).split(".")):
                nested = {part: nested}
            plain = deep_merge(plain, nested)
    return plain


def _schema_types(node: Mapping[str, Any]) -> set[str]:
    types = node.get("type", [])
    found = set([types] if isinstance(types, str) else types)
    for option in node.get("oneOf", []) + node.get("anyOf", []):
        found |= _schema_types(option)
    if "enum" in node:
        found |= {type(v).__name__ for v in node["enum"]} & {"bool", "int", "float"}
    return found


def coerce_strings(value: Any, node: Mapping[str, Any]) -> Any:
    """Parse string leaves that the schema types as number, integer, boolean, null, array or object.

    Overrides from the command line arrive as strings (``--config download=false`` gives 'false', and a
    nested ``--config 'blobs={"train": {"lr": 0.05}}'`` gives '0.05'); each such string is read as YAML
    and kept only if the result has a type the schema allows there, so a wrong value still fails
    validation with its key named.
    """
    if isinstance(value, dict):
        props = node.get("properties", {})
        patterns = node.get("patternProperties", {})
        out = {}
        for key, item in value.items():
            sub = props.get(key) or next((v for v in patterns.values()), None)
            out[key] = coerce_strings(item, sub) if isinstance(sub, Mapping) else item
        return out
    if isinstance(value, list):
        items = node.get("items")
        return [coerce_strings(v, items) for v in value] if isinstance(items, Mapping) else value
    if not isinstance(value, str):
        return value
    types = _schema_types(node)
    if not types & {"number", "integer", "boolean", "null", "array", "object"}:
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if isinstance(parsed, str) and types & {"number", "integer"}:
        try:  # YAML 1.1 reads "1e8" (no dot) as a string; a number is what the schema allows here
            number = float(parsed)
            parsed = int(number) if number.is_integer() and "integer" in types and "number" not in types else number
        except ValueError:
            pass
    ok = {"number": (int, float), "integer": (int,), "boolean": (bool,), "null": (type(None),),
          "array": (list,), "object": (dict,)}
    allowed = tuple(t for name in types if name in ok for t in ok[name])
    if isinstance(parsed, allowed) and not (isinstance(parsed, bool) and "boolean" not in types):
        return coerce_strings(parsed, node) if isinstance(parsed, (dict, list)) else parsed
    return value


def nonfinite_numbers(value: Any, path: str = "") -> list[tuple[str, float]]:
    """(dotted key, value) of every NaN or infinite number in a config tree (lists indexed as ``key[i]``)."""
    if isinstance(value, Mapping):
        return [hit for k, v in value.items() for hit in nonfinite_numbers(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [hit for i, v in enumerate(value) for hit in nonfinite_numbers(v, f"{path}[{i}]")]
    if isinstance(value, float) and not math.isfinite(value):
        return [(path, value)]
    return []


def validate_config(config: Mapping[str, Any], schema_dir: str | Path = DEFAULT_SCHEMA_DIR) -> dict[str, Any]:
    """Return a validated copy of ``config`` with schema defaults filled in.

    Dotted keys (``blobs.train.lr``) are expanded and string values typed by the schema first (see
    :func:`coerce_strings`). Raises :class:`ConfigError` with one line naming the offending key and what
    is allowed; problems across keys (:func:`cross_check`) come one line each.
    """
    schema = load_schema(schema_dir)
    filled = coerce_strings(expand_dotted_keys(copy.deepcopy(dict(config))), schema)
    bad = nonfinite_numbers(filled)
    if bad:
        key, value = bad[0]
        raise ConfigError(f"config key '{key}' = {value} is not a finite number; give a finite value (NaN and "
                          "infinities are refused for every numeric key: they would pass every comparison or none)")
    validator = _DefaultFillingValidator(schema)
    errors = sorted(validator.iter_errors(filled), key=lambda e: (len(list(e.absolute_path)), str(e.absolute_path)))
    if errors:
        raise ConfigError(_format_error(errors[0]))
    problems = cross_check(filled)
    if problems:
        raise ConfigError("\n".join(problems))
    return filled


def cross_check(config: Mapping[str, Any]) -> list[str]:
    """Problems between keys that a JSON schema cannot express, one line each (empty when consistent)."""
    problems: list[str] = []
    evo = config.get("evolution") or {}
    if evo and evo.get("datasets"):  # a config without datasets runs no evolution experiment
        if evo["plot"]["seed"] not in evo["seeds"]:
            problems.append(f"config key 'evolution.plot.seed' = {evo['plot']['seed']} is not one of "
                            f"evolution.seeds {evo['seeds']}")
        for name, dataset in evo["datasets"].items():
            if dataset.get("seeds") and evo["plot"]["seed"] not in dataset["seeds"]:
                problems.append(f"config key 'evolution.datasets.{name}.seeds' = {dataset['seeds']} lacks "
                                f"evolution.plot.seed {evo['plot']['seed']}; add it to the list")
            for run in dataset["runs"]:
                if run not in evo["runs"]:
                    problems.append(f"config key 'evolution.datasets.{name}.runs' names '{run}', which is not in "
                                    "evolution.runs")
        claims = evo["claims"]
        for key in ("dataset", "real_dataset"):
            if claims.get(key) and claims[key] not in evo["datasets"]:
                problems.append(f"config key 'evolution.claims.{key}' = '{claims[key]}' is not in evolution.datasets")
        for name in claims.get("also_real_datasets", []):
            if name not in evo["datasets"]:
                problems.append(f"config key 'evolution.claims.also_real_datasets' names '{name}', which is not in "
                                "evolution.datasets")
        if claims.get("dataset") in evo["datasets"]:
            for key in ("gd_small", "sgd_small", "gd_large", "adam"):
                if claims[key] not in evo["datasets"][claims["dataset"]]["runs"]:
                    problems.append(f"config key 'evolution.claims.{key}' = '{claims[key]}' is not a run of dataset "
                                    f"'{claims['dataset']}'")
        scaling = evo["scaling"]
        if scaling["dataset"] not in evo["datasets"] or scaling["run"] not in evo["runs"]:
            problems.append(f"config keys 'evolution.scaling.dataset'/'run' = '{scaling['dataset']}'/'{scaling['run']}' "
                            "must name an entry of evolution.datasets and of evolution.runs")
    aln = config.get("alignment") or {}
    if aln:
        if not any(float(lam) == float(aln["claims"]["lam"]) for lam in aln["gmm"]["lams"]):
            problems.append(f"config key 'alignment.claims.lam' = {aln['claims']['lam']} is not one of "
                            f"alignment.gmm.lams {aln['gmm']['lams']}")
        if aln["plot"]["seed"] >= min(aln["gmm"]["seeds"], aln["xor"]["seeds"]):
            problems.append(f"config key 'alignment.plot.seed' = {aln['plot']['seed']} must be below alignment.gmm.seeds "
                            "and alignment.xor.seeds")
    return problems


def section(config: Mapping[str, Any], dotted: str) -> Any:
    """Return ``config['a']['b']`` for ``dotted='a.b'``, with a clear error if absent."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(f"config key '{dotted}' is missing; add it to your config file")
        node = node[part]
    return node


#: the keys a job of one seed leaves out of the sections it records (``config_subset(..., drop=SEED_LISTS)``)
SEED_LISTS = ("seeds",)


def config_subset(config: Mapping[str, Any], *dotted_keys: str, drop: Sequence[str] = ()) -> dict[str, Any]:
    """The config entries a step uses, keyed by dotted path (``{"blobs.train": {...}}``).

    Rules pass this as ``params: cfg=config_subset(config, "blobs.train", ...)``: Snakemake reruns
    the step when any of these values changes, and the provenance sidecar records them under their
    dotted paths so ``nnspectra audit`` can compare them with the current config (a section's keys as
    recorded). ``drop`` leaves those keys out of every section: a job of one seed passes ``("seeds",)``, since
    it does not depend on which other seeds run, so adding a seed runs only the new seed's jobs.
    """
    out = {}
    for key in dotted_keys:
        value = copy.deepcopy(section(config, key))
        if isinstance(value, dict):
            for name in drop:
                value.pop(name, None)
        out[key] = value
    return out


T = TypeVar("T")


def settings(cls: type[T], section_value: Mapping[str, Any]) -> T:
    """The typed settings dataclass ``cls`` built from one validated config section.

    The section's keys must be exactly the dataclass fields (the schema and the dataclass describe the
    same thing; a test checks they agree); lists become tuples so settings stay immutable.
    """
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(section_value) - fields)
    if unknown:
        raise ConfigError(f"config keys {unknown} are not settings of {cls.__name__}; allowed: {sorted(fields)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in section_value.items()})
