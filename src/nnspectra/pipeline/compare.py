"""Compare two results trees file by file (sha256 of the numeric outputs), e.g. the same preset before and
after a refactoring, or two machines: "the same config and seed give the same numbers"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nnspectra.pipeline.provenance import SIDECAR_SUFFIX, sha256_file

NUMERIC_SUFFIXES = (".npz", ".csv")


@dataclass
class TreeComparison:
    """Relative paths present in only one tree, and those whose bytes differ."""

    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not (self.only_a or self.only_b or self.different)

    def summary(self) -> str:
        """One line: counts and the verdict."""
        verdict = "IDENTICAL" if self.same else "DIFFERENT"
        return (f"{len(self.identical)} identical, {len(self.different)} different, {len(self.only_a)} only in A, "
                f"{len(self.only_b)} only in B: {verdict}")


def _files(root: Path, suffixes: Iterable[str], exclude: Iterable[str]) -> dict[str, Path]:
    skip = tuple(exclude)
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in tuple(suffixes) and not p.name.endswith(SIDECAR_SUFFIX)
            and not any(part in skip for part in p.relative_to(root).parts)}


def compare_trees(a: str | Path, b: str | Path, suffixes: Iterable[str] = NUMERIC_SUFFIXES,
                  exclude: Iterable[str] = ("logs",)) -> TreeComparison:
    """Compare every file with one of ``suffixes`` under ``a`` and ``b`` (provenance sidecars and the
    ``logs`` folder left out) by sha256."""
    files_a, files_b = _files(Path(a), suffixes, exclude), _files(Path(b), suffixes, exclude)
    out = TreeComparison(only_a=sorted(set(files_a) - set(files_b)), only_b=sorted(set(files_b) - set(files_a)))
    for rel in sorted(set(files_a) & set(files_b)):
        (out.identical if sha256_file(files_a[rel]) == sha256_file(files_b[rel]) else out.different).append(rel)
    return out
