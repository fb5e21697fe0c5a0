"""The validated-spec cache: a hit skips parsing and validation and gives the same model; nothing stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from slogen import spec as spec_module
from slogen.errors import SpecError
from slogen.spec import load


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
