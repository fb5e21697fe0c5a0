"""The validated-spec cache: a hit skips parsing and validation and gives the same model; nothing stale."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from conftest import ROOT
from slogen import __version__
from slogen.errors import SpecError
from slogen.spec import cache as speccache
from slogen.spec import load as spec_module
from slogen.spec.load import load


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("SLOGEN_CACHE_DIR", str(directory))
    monkeypatch.delenv("SLOGEN_NO_CACHE", raising=False)
    return directory


def _copy_spec(tmp_path: Path) -> Path:
    target = tmp_path / "slos.yaml"
    target.write_text((ROOT / "slos.yaml").read_text())
    return target


def test_second_load_is_a_hit_with_the_same_model(tmp_path: Path, cache_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = _copy_spec(tmp_path)
    first = load(str(path))
    assert len(list(cache_dir.glob("spec-*.json"))) == 1

    def no_validation(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit must not parse or validate")

    monkeypatch.setattr(spec_module, "_validated", no_validation)
    assert load(str(path)) == first


def test_an_edit_misses_and_an_invalid_spec_is_never_cached(tmp_path: Path, cache_dir: Path) -> None:
    path = _copy_spec(tmp_path)
    load(str(path))
    path.write_text(path.read_text().replace("objective: 99.9", "objective: 99.95"))
    assert load(str(path)).slos[0].objective_percent == 99.95
    path.write_text(path.read_text().replace("objective: 99.95", "objective: 100"))
    with pytest.raises(SpecError, match="objective 100 is out of range"):
        load(str(path))
    with pytest.raises(SpecError):  # still invalid the second time: no entry was written for it
        load(str(path))
    assert len(list(cache_dir.glob("spec-*.json"))) == 2


def test_a_damaged_entry_is_validated_again(tmp_path: Path, cache_dir: Path) -> None:
    path = _copy_spec(tmp_path)
    expected = load(str(path))
    (entry,) = cache_dir.glob("spec-*.json")
    entry.write_text('{"services": [{"name": 1}]}')
    assert load(str(path)) == expected
    entry.write_text("not json")
    assert load(str(path)) == expected


def test_no_cache_and_unwritable_cache(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _copy_spec(tmp_path)
    monkeypatch.setenv("SLOGEN_NO_CACHE", "1")
    load(str(path))
    assert not cache_dir.exists()
    monkeypatch.delenv("SLOGEN_NO_CACHE")
    cache_dir.write_text("a file where the directory should be")
    assert load(str(path)).slos  # works, just uncached


def test_a_planted_or_edited_entry_is_a_miss(tmp_path: Path, cache_dir: Path) -> None:
    path = _copy_spec(tmp_path)
    expected = load(str(path))
    (entry,) = cache_dir.glob("spec-*.json")
    mac, _, text = entry.read_text().partition("\n")
    doc = json.loads(text)
    doc["policy"] = {"caution": 3, "warning": 2, "freeze": 1}  # would turn EXHAUSTED... into a pass
    doc["services"][0]["name"] = "../../escape"  # would render outside -o
    forged = json.dumps(doc, separators=(",", ":"))
    for planted in (f"{mac}\n{forged}", forged, f"{'0' * 64}\n{forged}"):
        entry.write_text(planted)
        os.chmod(entry, 0o600)
        assert load(str(path)) == expected


def test_entries_are_private_and_a_shared_directory_disables_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    path = _copy_spec(tmp_path)
    load(str(path))
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in cache_dir.iterdir()} == {0o600}
    for p in cache_dir.iterdir():
        p.unlink()
    os.chmod(cache_dir, 0o777)  # anyone could plant entries here: never read, never written
    load(str(path))
    assert list(cache_dir.iterdir()) == []


def test_the_key_covers_every_module_of_the_package() -> None:
    package = Path(speccache.__file__).resolve().parent.parent
    names = {p.relative_to(package).as_posix() for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    assert {"slo/budget.py", "spec/load.py", "spec/yamlpos.py", "promql/check.py", "promql/gotemplate.py", "render/rules.py",
            "cli/status.py"} <= names
    digest = hashlib.sha256(__version__.encode())
    for p in sorted(q for q in package.rglob("*") if q.is_file() and q.suffix in (".py", ".json", ".md", ".yaml")
                    and "__pycache__" not in q.parts):
        digest.update(p.relative_to(package).as_posix().encode() + b"\0" + p.read_bytes())
    assert speccache._fingerprint() == digest.digest()
