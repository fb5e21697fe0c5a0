"""The per-service render cache (services/render_cache.py) skips only work whose result it can
prove: after any change (one SLO, a default, the alert windows file, a file edited on disk, a
damaged or foreign cache) `render` writes exactly what a render without any cache writes, and
`render --check` reports exactly what it would."""

from __future__ import annotations

import dataclasses
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
from slogen.spec.load import load, load_document

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


# ---------------------------------------------------------------- the key covers every input

# One edit of the spec per leaf of the model's settings (every field of Spec but `services`, and
# every field of the dataclasses among them): each is an input of every service's rule file.
SETTINGS_EDITS: dict[str, str] = {
    "source": "",  # the spec's file name: written as another file (below)
    "default_window": "defaults:\n  window: 28d\n",
    "policy.caution": "policy:\n  caution: 70\n",
    "policy.warning": "policy:\n  warning: 40\n",
    "policy.freeze": "policy:\n  freeze: 10\n",
    "grafana.url": "grafana:\n  url: http://grafana:3000\n",
    "grafana.datasource": "grafana:\n  datasource: thanos\n",
    "grafana.folder_uid": "grafana:\n  folder:\n    uid: other\n",
    "grafana.folder_title": "grafana:\n  folder:\n    title: Other\n",
    "grafana.dashboard_uid": "grafana:\n  dashboard:\n    uid: other\n",
    "grafana.dashboard_title": "grafana:\n  dashboard:\n    title: Other\n",
    "grafana.refresh": "grafana:\n  dashboard:\n    refresh: 1m\n",
    "grafana.time": "grafana:\n  dashboard:\n    time: 1d\n",
    "grafana.tags": "grafana:\n  dashboard:\n    tags: [x]\n",
    "grafana.per_service": "grafana:\n  dashboard:\n    per_service: true\n",
    "prometheus.namespace": "prometheus:\n  namespace: monitoring\n",
    "prometheus.rule_labels": "prometheus:\n  rule_labels: {release: x}\n",
    "prometheus.partial_response_strategy": "prometheus:\n  partial_response_strategy: warn\n",
}


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf field of a dataclass value, by dotted name."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        inner = getattr(value, f.name)
        if dataclasses.is_dataclass(inner):
            out.update(_leaves(inner, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = inner
    return out


def _keyed(root: Path, text: str, name: str = "slos.yaml", fmt: str = "prometheus") -> tuple[Any, dict[str, str]]:
    (root / name).write_text(text)
    spec, doc = load_document(str(root / name))
    found = render_cache.keys(spec, doc, fmt)
    assert found is not None
    return spec, found.services


def test_the_table_of_settings_names_every_setting_of_the_model(workspace: Path) -> None:
    spec, _ = _keyed(workspace, _spec())
    settings = _leaves(dataclasses.replace(spec, services=()))
    del settings["services"]
    assert set(settings) == set(SETTINGS_EDITS)  # a new setting needs its edit here


@pytest.mark.parametrize("setting", sorted(SETTINGS_EDITS))
def test_every_setting_is_in_every_services_key(workspace: Path, setting: str) -> None:
    base_text = _spec()
    base, base_keys = _keyed(workspace, base_text)
    if setting == "source":
        changed, keys = _keyed(workspace, base_text, name="other.yaml")
    elif setting == "default_window":  # the spec has a defaults block already
        changed, keys = _keyed(workspace, base_text.replace("window: 30d", "window: 28d"))
    else:
        changed, keys = _keyed(workspace, base_text.replace("services:\n", SETTINGS_EDITS[setting] + "services:\n"))
    assert _leaves(changed)[setting] != _leaves(base)[setting]  # the edit changes that setting
    assert changed.services == base.services or setting == "default_window"
    assert set(keys) == set(base_keys) == {"a", "b", "c"}
    assert all(keys[s] != base_keys[s] for s in keys), setting


def test_the_code_the_format_and_the_alert_windows_are_in_every_key(workspace: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = _keyed(workspace, _spec(windows_file=True))
    _, operator = _keyed(workspace, _spec(windows_file=True), fmt="operator")
    (workspace / "windows.yaml").write_text(WINDOWS.replace("budget_share: 2%", "budget_share: 3%"))
    _, windows = _keyed(workspace, _spec(windows_file=True))
    (workspace / "windows.yaml").write_text(WINDOWS)
    real = render_cache.speccache.fingerprint
    monkeypatch.setattr(render_cache.speccache, "fingerprint", lambda: real() + b"another slogen")
    _, code = _keyed(workspace, _spec(windows_file=True))
    for other in (operator, windows, code):
        assert set(other) == set(base) and all(other[s] != base[s] for s in base)


def test_a_service_s_own_change_changes_its_key_alone(workspace: Path) -> None:
    _, base = _keyed(workspace, _spec())
    _, changed = _keyed(workspace, _spec(objective_b="99.5"))
    assert [s for s in base if base[s] != changed[s]] == ["b"]


def test_the_keys_are_the_same_from_the_cache_and_validated_afresh(workspace: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    text = "x-team: ops\n" + _spec(windows_file=True)
    _, fresh = _keyed(workspace, text)
    assert render_cache.speccache.get((workspace / "slos.yaml").read_bytes()) is not None
    _, cached = _keyed(workspace, text)
    monkeypatch.setattr(render_cache.speccache, "get", lambda raw: None)  # validated afresh again
    _, again = _keyed(workspace, text)
    assert fresh == cached == again


def test_no_keys_without_a_cache(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    spec, doc = load_document(str(workspace / "slos.yaml"))
    assert render_cache.keys(spec, {**doc, "services": doc["services"][:1]}, "prometheus") is None  # not its doc
    monkeypatch.setenv("SLOGEN_NO_CACHE", "1")
    assert render_cache.keys(spec, doc, "prometheus") is None


# ---------------------------------------------------------------- files kept on disk (writer.OnDisk)


def test_kept_files_are_adopted_like_rendered_ones_when_the_manifest_is_gone(workspace: Path,
                                                                            reused: list[set[str]]) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    _render(workspace)
    manifest = workspace / "out/.slogen-manifest.json"
    listed = manifest.read_text()
    manifest.unlink()
    result = _render(workspace)
    assert result.exit_code == 0 and "0 written" in result.output
    assert reused[-1] == {"a", "b", "c"}
    assert manifest.read_text() == listed and _tree(workspace / "out") == _expected(workspace)
    other = json.loads(listed)
    other["specs"] = {"../other.yaml": ["rules/a.rules.yaml"], "../slos.yaml": [
        p for p in other["specs"]["../slos.yaml"] if p != "rules/a.rules.yaml"]}
    manifest.write_text(json.dumps(other))
    result = _render(workspace)
    assert result.exit_code == 1 and "from another spec, ../other.yaml" in result.output
    assert json.loads(manifest.read_text()) == other  # nothing written


@pytest.mark.parametrize("check", [False, True])
def test_a_kept_file_that_changes_during_the_render_is_an_error_and_nothing_is_written(
        workspace: Path, monkeypatch: pytest.MonkeyPatch, check: bool) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    _render(workspace)
    (workspace / "slos.yaml").write_text(_spec(objective_b="99.5"))
    before = _tree(workspace / "out")
    target = workspace / "out/rules/a.rules.yaml"
    real = render_cache.reusable

    def then_edit(*args: Any) -> Any:
        found = real(*args)
        assert "a" in found
        target.write_text(target.read_text() + "# edited meanwhile\n")
        return found

    monkeypatch.setattr(render_cache, "reusable", then_edit)
    result = _render(workspace, *(["--check"] if check else []))
    assert result.exit_code == 1 and "a.rules.yaml changed while slogen rendered" in result.output
    assert "Traceback" not in result.output
    after = _tree(workspace / "out")
    assert after.pop("rules/a.rules.yaml").endswith("# edited meanwhile\n")
    before.pop("rules/a.rules.yaml")
    assert after == before  # b's stale file is not written either
    monkeypatch.setattr(render_cache, "reusable", real)
    assert _render(workspace).exit_code == 0
    assert _tree(workspace / "out") == _expected(workspace)


def test_a_rule_file_replaced_by_a_link_to_the_same_bytes_is_not_kept(workspace: Path,
                                                                      reused: list[set[str]]) -> None:
    (workspace / "slos.yaml").write_text(_spec())
    _render(workspace)
    target = workspace / "out/rules/a.rules.yaml"
    copy = workspace / "elsewhere.yaml"
    copy.write_text(target.read_text())
    target.unlink()
    target.symlink_to(copy)
    result = _render(workspace, "--check")
    assert reused[-1] == {"b", "c"}
    assert result.exit_code == 0  # --check compares the bytes only: the same
    result = _render(workspace)
    assert result.exit_code == 1 and "symbolic link" in result.output
