"""PromQL checked before is remembered in the private cache, so a spec with one SLO changed parses
only the new PromQL; what fails to parse is never remembered and is reported as before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slogen.errors import SpecError
from slogen.promql import check
from slogen.spec import load as specload

SPEC = """\
version: slogen/v1
services:
  - name: api
    slos:
      - name: availability
        objective: {objective}
        sli:
          ratio:
            errors: 'http_requests_total{{job="api",code=~"5.."}}'
            total: 'http_requests_total{{job="api"}}'
      - name: jobs
        objective: 99
        sli:
          expr:
            errors: {errors}
            total: 'sum(rate(jobs_total[$window]))'
"""


def _write(tmp_path: Path, objective: str = "99.9", errors: str = "'sum(rate(jobs_failed_total[$window]))'") -> str:
    path = tmp_path / "slos.yaml"
    path.write_text(SPEC.format(objective=objective, errors=errors))
    return str(path)


@pytest.fixture
def parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("SLOGEN_CACHE_DIR", str(cache))
    seen: list[str] = []
    real = check._parse

    def spy(text: str) -> object:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(check, "_parse", spy)
    check.clear_caches()
    return seen


def test_a_changed_spec_parses_only_new_promql(tmp_path: Path, parses: list[str]) -> None:
    first = specload.load(_write(tmp_path))
    assert len(parses) == 5  # two selectors' shapes (promql/check.py), its regex on its own, two expressions
    check.clear_caches()
    parses.clear()
    second = specload.load(_write(tmp_path, objective="99.5"))  # new bytes: validated again
    assert parses == []
    assert second.services[0].slos[0].sli == first.services[0].slos[0].sli
    assert specload.loads(Path(tmp_path / "slos.yaml").read_text()) == second  # same model without any cache


def test_what_fails_is_reported_every_time(tmp_path: Path, parses: list[str]) -> None:
    specload.load(_write(tmp_path))
    bad = "'sum(rate(jobs_failed_total[$window])'"
    for _ in range(2):
        check.clear_caches()
        with pytest.raises(SpecError) as info:
            specload.load(_write(tmp_path, errors=bad))
        assert any("PromQL does not parse" in p.message for p in info.value.problems)


def test_no_memory_without_the_cache(tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOGEN_NO_CACHE", "1")
    specload.load(_write(tmp_path))
    check.clear_caches()
    parses.clear()
    specload.load(_write(tmp_path, objective="99.5"))
    assert len(parses) == 5
    assert not any(p.name.startswith("promql-") for p in Path(os.environ["SLOGEN_CACHE_DIR"]).iterdir())
