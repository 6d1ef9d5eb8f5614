"""Replication claims of ``SPEC.md`` §4 as data: one YAML file per part of the papers.

``load_claims()`` reads every ``*.yaml`` in this folder (or another folder), validates each entry
(:mod:`nnspectra.claims.schema`) and checks that claim ids are unique across files. The scorecard
(:mod:`nnspectra.scorecard`) evaluates them against ``results/metrics/<section>.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from nnspectra.claims.schema import Check, Claim, ClaimError, parse_claims

CLAIMS_DIR = Path(__file__).resolve().parent

__all__ = ["CLAIMS_DIR", "Check", "Claim", "ClaimError", "claim_files", "load_claim_file", "load_claims"]


def claim_files(directory: str | Path = CLAIMS_DIR) -> list[Path]:
    """The claim files of ``directory`` (``*.yaml``, sorted by name)."""
    return sorted(Path(directory).glob("*.yaml"))


def load_claim_file(path: str | Path) -> list[Claim]:
    """Parse and validate one claim file; errors are one line naming the file and the claim."""
    path = Path(path)
    try:
        entries = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ClaimError(f"claim file {path} not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ClaimError(f"claim file {path.name}{where} is not valid YAML: {getattr(err, 'problem', err)}") from None
    return parse_claims(entries, path.name)


def load_claims(directory: str | Path = CLAIMS_DIR, files: Iterable[str | Path] | None = None) -> list[Claim]:
    """All claims of ``files`` (default: every ``*.yaml`` of ``directory``), sorted by id.

    Raises :class:`ClaimError` if a file is malformed or two entries share an id.
    """
    paths = [Path(f) for f in files] if files is not None else claim_files(directory)
    claims: list[Claim] = []
    seen: dict[str, str] = {}
    for path in paths:
        for claim in load_claim_file(path):
            key = str(claim.id)
            if key in seen:
                raise ClaimError(f"claim file {path.name}, claim {claim.id}: id already used in {seen[key]}; "
                                 "ids are the SPEC §4 claim numbers and must be unique")
            seen[key] = path.name
            claims.append(claim)
    return sorted(claims, key=lambda c: c.sort_key)
