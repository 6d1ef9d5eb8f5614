"""Provenance: code hashes follow imports, sidecars record what made each file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnspectra.pipeline import provenance
from nnspectra.pipeline.provenance import build_record, code_version, module_closure, sha256_file, write_sidecar
from nnspectra.pipeline.sidecar import read_sidecar


def test_module_closure_follows_intra_package_imports() -> None:
    mods = module_closure(["nnspectra.pipeline.step"])
    assert "nnspectra.pipeline.step" in mods
    assert "nnspectra.pipeline.provenance" in mods and "nnspectra.errors" in mods  # imported by step
    assert "nnspectra" in mods  # parent package __init__ runs on import
    assert all(m.startswith("nnspectra") for m in mods)


def test_unknown_module_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a module of the nnspectra package"):
        module_closure(["nnspectra.no_such_module"])


def test_code_version_changes_when_imported_source_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "nnspectra"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from nnspectra import b\n")
    (pkg / "b.py").write_text("X = 1\n")
    (pkg / "c.py").write_text("Y = 1\n")
    monkeypatch.setattr(provenance, "PACKAGE_DIR", pkg)
    first = code_version("nnspectra.a")
    assert first["modules"] == ["nnspectra", "nnspectra.a", "nnspectra.b"]
    (pkg / "c.py").write_text("Y = 2\n")  # not imported by a: same hash
    assert code_version("nnspectra.a")["hash"] == first["hash"]
    (pkg / "b.py").write_text("X = 2\n")  # imported by a: new hash
    assert code_version("nnspectra.a")["hash"] != first["hash"]


def test_sidecar_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "input.bin"
    src.write_bytes(b"abc")
    out = tmp_path / "result.npz"
    out.write_bytes(b"payload")
    record = build_record(step="demo", output=out, inputs={"data": src}, params={"cfg": {"x.y": 1}}, seed=3,
                          code=code_version("nnspectra.pipeline.io"), device="cpu", threads=1, wall_time_s=0.5)
    path = write_sidecar(record, out)
    assert path.name == "result.npz.prov.json"
    loaded = read_sidecar(out)
    assert loaded.sha256 == sha256_file(out) and loaded.bytes == len(b"payload") and loaded.step == "demo"
    assert loaded.inputs["data"]["sha256"] == sha256_file(src)
    assert loaded.seed == 3 and loaded.params == {"cfg": {"x.y": 1}} and loaded.config == {"x.y": 1}
    assert loaded.device == "cpu" and loaded.wall_time_s == 0.5 and loaded.code["hash"]
    assert loaded.record["versions"]["torch"] and loaded.record["versions"]["python"]
    for key in ("git", "device", "created", "host", "code", "wall_time_s"):
        assert key in loaded.record
    json.dumps(loaded.record)  # plain JSON
