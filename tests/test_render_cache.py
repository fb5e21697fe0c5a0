"""The per-service render cache (services/render_cache.py) skips only work whose result it can
prove: after any change (one SLO, a default, the alert windows file, a file edited on disk, a
damaged or foreign cache) `render` writes exactly what a render without any cache writes, and
`render --check` reports exactly what it would."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from slogen.cli import main
from slogen.render import render
from slogen.services import render_cache
from slogen.spec.load import load

WINDOWS = "rows:\n  - {severity: page, long: 1h, short: 5m, budget_share: 2%}\n" \
          "  - {severity: ticket, long: 1d, short: 2h, budget_share: 10%}\n"


def _service(name: str, objective: str = "99.9") -> str:
    return (f"  - name: {name}\n    labels: {{team: t-{name}}}\n    slos:\n"
            f"      - name: availability\n        objective: {objective}\n"
            f"        sli:\n          ratio:\n            errors: 'http_requests_total{{job=\"{name}\",code=~\"5..\"}}'\n"
            f"            total: 'http_requests_total{{job=\"{name}\"}}'\n"
            f"      - name: latency\n        objective: 99\n        window: 28d\n"
            f"        sli:\n          latency: {{metric: http_request_duration_seconds, threshold: 300ms, "
            f"selector: {{job: {name}}}}}\n")


def _spec(objective_b: str = "99.9", window: str = "30d", windows_file: bool = False) -> str:
    defaults = f"defaults:\n  window: {window}\n" + ("  alert_windows: windows.yaml\n" if windows_file else "")
    return "version: slogen/v1\n" + defaults + "services:\n" + _service("a") + _service("b", objective_b) \
        + _service("c")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("SLOGEN_CACHE_DIR", str(cache))
    (tmp_path / "windows.yaml").write_text(WINDOWS)
    return tmp_path


@pytest.fixture
def reused(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The services each render took from disk, in order."""
    calls: list[set[str]] = []
    real = render_cache.reusable

    def spy(*args: Any) -> dict[str, str]:
        found = real(*args)
        calls.append(set(found))
        return found

    monkeypatch.setattr(render_cache, "reusable", spy)
    return calls


def _render(root: Path, *extra: str) -> Any:
    result = CliRunner().invoke(main, ["render", "-f", str(root / "slos.yaml"), "-o", str(root / "out"), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != ".slogen-manifest.json"}


def _expected(root: Path, rules_format: str = "prometheus") -> dict[str, str]:
    """What a render from scratch produces (no cache involved: the pure generators)."""
    return {a.path: a.text for a in render(load(str(root / "slos.yaml")), rules_format)}


def test_an_unchanged_render_reuses_every_service_and_writes_the_same(workspace: Path, reused: list[set[str]]) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    assert _render(workspace).exit_code == 0
    first = _tree(workspace / "out")
    assert first == _expected(workspace)
    result = _render(workspace)
    assert result.exit_code == 0 and "0 written" in result.output
    assert reused == [set(), {"a", "b", "c"}]
    assert _tree(workspace / "out") == first
    assert _render(workspace, "--check").exit_code == 0


def test_one_changed_slo_rebuilds_only_its_service(workspace: Path, reused: list[set[str]]) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    _render(workspace)
    (workspace / "slos.yaml").write_text(_spec(objective_b="99.5"))
    check = _render(workspace, "--check")
    assert check.exit_code == 1 and "stale:" in check.output and "b.rules.yaml" in check.output
    assert "a.rules.yaml" not in check.output
    assert _render(workspace).exit_code == 0
    assert reused[1] == {"a", "c"} and reused[2] == {"a", "c"}
    assert _tree(workspace / "out") == _expected(workspace)
    assert "0.005" in (workspace / "out/rules/b.rules.yaml").read_text()  # the budget of 99.5 %


def test_a_file_edited_on_disk_is_rendered_again(workspace: Path, reused: list[set[str]]) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    _render(workspace)
    target = workspace / "out/rules/a.rules.yaml"
    good = target.read_text()
    target.write_text(good.replace("0.001", "0.002"))
    check = _render(workspace, "--check")
    assert check.exit_code == 1 and "stale:" in check.output and "a.rules.yaml" in check.output
    assert "a" not in reused[-1]
    _render(workspace)
    assert target.read_text() == good
    target.unlink()
    assert _render(workspace, "--check").exit_code == 1
    _render(workspace)
    assert _tree(workspace / "out") == _expected(workspace)


@pytest.mark.parametrize("change", ["default", "windows", "format"])
def test_a_changed_setting_rebuilds_everything(workspace: Path, reused: list[set[str]], change: str) -> None:
    (workspace / "slos.yaml").write_text(_spec(windows_file=change == "windows"))
    _render(workspace)
    fmt = "prometheus"
    if change == "default":
        (workspace / "slos.yaml").write_text(_spec(window="28d"))
    elif change == "windows":
        (workspace / "windows.yaml").write_text(WINDOWS.replace("budget_share: 2%", "budget_share: 3%"))
    else:
        fmt = "operator"
    assert _render(workspace, "--rules-format", fmt).exit_code == 0
    assert reused[-1] == set()
    expected = _expected(workspace, fmt)
    assert {k: v for k, v in _tree(workspace / "out").items() if k in expected} == expected


def test_a_damaged_or_foreign_cache_is_a_miss(workspace: Path, reused: list[set[str]]) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    _render(workspace)
    cache = Path(os.environ["SLOGEN_CACHE_DIR"])
    entries = sorted(cache.glob("render-*.json"))
    assert len(entries) == 1
    mac, _, body = entries[0].read_text().partition("\n")
    # A forged entry: a digest of the tampered file, with a MAC made without the secret key.
    target = workspace / "out/rules/b.rules.yaml"
    target.write_text(target.read_text() + "# edited\n")
    doc = json.loads(body)
    doc = {k: hashlib.sha256(target.read_bytes()).hexdigest() for k in doc}
    entries[0].write_text(mac + "\n" + json.dumps(doc))
    assert _render(workspace, "--check").exit_code == 1
    assert reused[-1] == set()
    entries[0].write_text("garbage")
    _render(workspace)
    assert reused[-1] == set()
    assert _tree(workspace / "out") == _expected(workspace)
    (cache / "key").write_bytes(os.urandom(32))  # another secret: every entry is foreign now
    _render(workspace)
    assert reused[-1] == set()
    assert _tree(workspace / "out") == _expected(workspace)


def test_no_cache_when_turned_off(workspace: Path, reused: list[set[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    monkeypatch.setenv("SLOGEN_NO_CACHE", "1")
    _render(workspace)
    _render(workspace)
    assert reused == [set(), set()]
    assert _tree(workspace / "out") == _expected(workspace)
