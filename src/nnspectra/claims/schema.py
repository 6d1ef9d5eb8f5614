"""Structure of a replication claim (one entry of ``SPEC.md`` §4) and its machine-checkable test.

A claim file ``src/nnspectra/claims/<part>.yaml`` is a YAML list of mappings (format in
``claims/README.md``). :func:`parse_claims` validates one file with a JSON schema and turns every
entry into a :class:`Claim`; any problem becomes one :class:`ClaimError` line naming the file and
the claim id. :class:`Check` evaluates one number against the claim's tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from nnspectra.errors import ConfigError

PAPERS = ("sagun2018", "sagun2016", "benarous2024", "wang2023")
VALUE_SOURCES = ("stated", "figure", "derived", "default")
OPERATORS = (">=", ">", "<=", "<", "==", "between")
DEFAULT_SEED_FRACTION = 0.7  # SPEC §4: "passes if the median meets the tolerance and >= 70 % of seeds do"

_NUMBER = {"type": ["number", "boolean"]}

CLAIM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "paper", "figure", "target", "statement", "measure", "tolerance",
                 "paper_value", "paper_value_source", "metric", "check"],
    "properties": {
        "id": {"description": "SPEC §4 claim number; a letter suffix (21a, 21b) splits a claim with several checks",
               "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": r"^[1-9][0-9]*[a-z]$"}]},
        "paper": {"enum": list(PAPERS)},
        "figure": {"type": "string", "minLength": 1, "description": "the paper's figure or table"},
        "target": {"type": "string", "minLength": 1, "description": "snakemake target that produces the metric"},
        "statement": {"type": "string", "minLength": 1},
        "measure": {"type": "string", "minLength": 1, "description": "how the metric is computed per seed"},
        "tolerance": {"type": "string", "minLength": 1, "description": "the tolerance in words"},
        "paper_value": {"type": ["string", "number", "null"], "description": "the paper's value, if any"},
        "paper_value_source": {"enum": list(VALUE_SOURCES)},
        "metric": {"type": "string", "pattern": r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_.\-]+$",
                   "description": "<section>.<name> in results/metrics/<section>.json"},
        "check": {
            "type": "object",
            "additionalProperties": False,
            "required": ["op", "value"],
            "properties": {"op": {"enum": list(OPERATORS)}, "value": {}},
            "if": {"properties": {"op": {"const": "between"}}},
            "then": {"properties": {"value": {"type": "array", "items": {"type": "number"},
                                              "minItems": 2, "maxItems": 2}}},
            "else": {"properties": {"value": _NUMBER}},
        },
        "seed_fraction": {"type": "number", "minimum": 0, "maximum": 1},
        "requires": {
            "description": "sample requirements from SPEC's tolerance text, checked against the metric's evidence: "
                           "a number is a minimum (of a count, or of a list's length), a list must all be present",
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "patternProperties": {r"^[A-Za-z][A-Za-z0-9_]*$": {"oneOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "array", "minItems": 1, "items": {"type": ["number", "string"]}},
            ]}},
        },
        "diagnosis": {"type": "string", "minLength": 1,
                      "description": "one-line reason shown when the claim fails; placeholders such as {values}, "
                                     "{median} or {<section>.<metric>:range} are filled from the row's own metrics "
                                     "(nnspectra.claims.diagnosis)"},
        "diagnosis_run": {"type": "string", "minLength": 1,
                          "description": "the run (run_name) a diagnosis quoting fixed numbers was written for: it "
                                         "is shown only on rows of that run, others get one computed from their data"},
        "notes": {"type": "string"},
    },
}

_VALIDATOR = Draft202012Validator(CLAIM_SCHEMA)


class ClaimError(ConfigError):
    """A claim file is malformed (one line naming the file, the claim id and the key)."""


@dataclass(frozen=True)
class Check:
    """A comparison ``x <op> value`` (``between``: ``lo <= x <= hi``, both ends included)."""

    op: str
    value: float | tuple[float, float]

    def __call__(self, x: float) -> bool:
        """Whether ``x`` meets the check; NaN never does."""
        if x is None or not math.isfinite(x):
            return False
        if self.op == "between":
            lo, hi = self.value  # type: ignore[misc]
            return lo <= x <= hi
        v = float(self.value)  # type: ignore[arg-type]
        if self.op == ">=":
            return x >= v
        if self.op == ">":
            return x > v
        if self.op == "<=":
            return x <= v
        if self.op == "<":
            return x < v
        if self.op == "==":
            return math.isclose(x, v, rel_tol=1e-9, abs_tol=1e-12)
        raise ClaimError(f"unknown check operator '{self.op}'; use one of {OPERATORS}")

    def describe(self) -> str:
        """Short text such as ``>= 4`` or ``in [0.5, 3]``."""
        if self.op == "between":
            lo, hi = self.value  # type: ignore[misc]
            return f"in [{lo:g}, {hi:g}]"
        return f"{self.op} {float(self.value):g}"  # type: ignore[arg-type]


@dataclass(frozen=True)
class Claim:
    """One checkable claim of ``SPEC.md`` §4 (fields as in ``claims/README.md``)."""

    id: int | str
    paper: str
    figure: str
    target: str
    statement: str
    measure: str
    tolerance: str
    paper_value: str | None
    paper_value_source: str
    metric: str
    check: Check
    seed_fraction: float = DEFAULT_SEED_FRACTION
    requires: tuple[tuple[str, float | tuple[float | str, ...]], ...] = ()
    diagnosis: str = ""
    diagnosis_run: str = ""
    notes: str = ""
    source_file: str = ""

    @property
    def sort_key(self) -> tuple[int, str]:
        """Order by claim number, then suffix: 20 < 21a < 21b < 22."""
        text = str(self.id)
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        return int(digits), text[len(digits):]

    @property
    def section(self) -> str:
        """Metric section: the ``<section>`` of ``results/metrics/<section>.json``."""
        return self.metric.split(".", 1)[0]

    @property
    def metric_name(self) -> str:
        """Key inside the section's metrics file."""
        return self.metric.split(".", 1)[1]


def _message(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return f"unknown key {unknown[0] if unknown else '?'!r}; allowed keys: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {error.validator_value}"
    if error.validator == "required":
        return error.message
    return f"{error.instance!r} is invalid ({error.message})"


def parse_claims(entries: Any, source: str) -> list[Claim]:
    """Validate the parsed YAML of one claim file and return its claims.

    ``entries`` must be a list of mappings; raises :class:`ClaimError` naming ``source`` and the id.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ClaimError(f"claim file {source}: must be a YAML list of claims, not {type(entries).__name__}")
    claims: list[Claim] = []
    for index, entry in enumerate(entries):
        label = f"entry {index + 1}"
        if isinstance(entry, dict) and "id" in entry:
            label = f"claim {entry['id']!r}"
        if not isinstance(entry, dict):
            raise ClaimError(f"claim file {source}, {label}: must be a mapping of keys, not {type(entry).__name__}")
        errors = sorted(_VALIDATOR.iter_errors(entry), key=lambda e: (len(list(e.absolute_path)), str(e.path)))
        if errors:
            err = errors[0]
            key = ".".join(str(p) for p in err.absolute_path) or "<entry>"
            raise ClaimError(f"claim file {source}, {label}, key '{key}': {_message(err)}")
        raw = entry["check"]["value"]
        value: float | tuple[float, float]
        if entry["check"]["op"] == "between":
            lo, hi = (float(v) for v in raw)
            if lo > hi:
                raise ClaimError(f"claim file {source}, {label}, key 'check.value': between needs lo <= hi, got {raw}")
            value = (lo, hi)
        else:
            value = float(raw)
        paper_value = entry["paper_value"]
        claims.append(Claim(
            id=entry["id"], paper=entry["paper"], figure=entry["figure"], target=entry["target"],
            statement=" ".join(entry["statement"].split()), measure=" ".join(entry["measure"].split()),
            tolerance=" ".join(entry["tolerance"].split()),
            paper_value=None if paper_value is None else str(paper_value),
            paper_value_source=entry["paper_value_source"], metric=entry["metric"],
            check=Check(entry["check"]["op"], value),
            seed_fraction=float(entry.get("seed_fraction", DEFAULT_SEED_FRACTION)),
            requires=tuple((key, tuple(v) if isinstance(v, list) else float(v))
                           for key, v in entry.get("requires", {}).items()),
            diagnosis=" ".join(str(entry.get("diagnosis", "")).split()),
            diagnosis_run=str(entry.get("diagnosis_run", "")),
            notes=" ".join(str(entry.get("notes", "")).split()), source_file=source,
        ))
    return claims
