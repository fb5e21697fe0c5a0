"""`slogen push --prometheus-rules-dir DIR --reload` against a real Prometheus."""

from __future__ import annotations

from pathlib import Path

import requests
import yaml
from click.testing import CliRunner, Result
from grafana_standin import grafana_standin

from conftest import SPECS
from prom import free_port, needs_prometheus, prometheus
from slogen.cli import main
from slogen.render import render
from slogen.services.rules_handoff import write_rules
from slogen.spec import load as spec_loader

FULL = str(SPECS / "full.yaml")
FOREIGN = "# hand-written, not slogen's\ngroups:\n- name: mine\n  rules:\n  - record: my:up\n    expr: vector(1)\n"


def expected_groups(spec: str) -> dict[str, str]:
    """Group name → rule file name, read from `render`'s own rule files (independent of the handoff)."""
    out = {}
    for artifact in render(spec_loader.load(spec)):
        if artifact.path.startswith("rules/"):
            for group in yaml.safe_load(artifact.text)["groups"]:
                out[group["name"]] = Path(artifact.path).name
    return out


def config(rules_dir: Path) -> str:
    return f"global:\n  evaluation_interval: 1m\nrule_files:\n  - {rules_dir}/*.rules.yaml\n"


def loaded(url: str) -> dict[str, str]:
    groups = requests.get(url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    return {g["name"]: Path(g["file"]).name for g in groups}


def handoff(rules_dir: Path, prom_url: str, *extra: str) -> Result:
    return CliRunner().invoke(main, ["push", "-f", FULL, "--no-grafana", "--prometheus-rules-dir", str(rules_dir),
                                     "--prometheus-url", prom_url, "--backoff", "0.01", *extra],
                              env={"PROMETHEUS_URL": None})


@needs_prometheus
def test_reload_loads_every_rendered_group_and_leaves_foreign_files(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "zz-foreign.rules.yaml").write_text(FOREIGN)
    (rules_dir / "notes.txt").write_text("keep me")
    with prometheus(config(rules_dir)) as (url, _):
        assert set(loaded(url)) == {"mine"}
        result = handoff(rules_dir, url, "--reload")
        assert result.exit_code == 0, result.stderr
        expected = expected_groups(FULL)
        assert len(expected) >= 2
        assert loaded(url) == {**expected, "mine": "zz-foreign.rules.yaml"}
        assert f"reloaded; {len(expected)} groups loaded" in result.stdout
        again = handoff(rules_dir, url, "--reload")
        assert again.exit_code == 0 and "wrote 0," in again.stdout
    assert (rules_dir / "zz-foreign.rules.yaml").read_text() == FOREIGN
    assert (rules_dir / "notes.txt").read_text() == "keep me"


@needs_prometheus
def test_push_to_grafana_and_prometheus_together(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    with prometheus(config(rules_dir)) as (url, _), grafana_standin(token="tkn") as g:
        result = CliRunner().invoke(main, ["push", "-f", FULL, "--prometheus-rules-dir", str(rules_dir), "--reload"],
                                    env={"PROMETHEUS_URL": url, "GRAFANA_URL": g.url, "GRAFANA_TOKEN": "tkn"})
        assert result.exit_code == 0, result.stderr
        assert set(loaded(url)) == set(expected_groups(FULL))
        assert len(g.dashboards) == 3


@needs_prometheus
def test_without_lifecycle_api_the_error_says_so(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    with prometheus(config(rules_dir), lifecycle=False) as (url, _):
        result = handoff(rules_dir, url, "--reload")
    assert result.exit_code == 3
    line = result.stderr.strip()
    assert line.startswith(f"error: Prometheus at {url} refused the reload (HTTP 403")
    assert "Lifecycle API is not enabled" in line and "--web.enable-lifecycle" in line
    assert "Traceback" not in result.stderr


@needs_prometheus
def test_rules_dir_not_in_rule_files_names_the_missing_groups(tmp_path: Path) -> None:
    elsewhere, rules_dir = tmp_path / "elsewhere", tmp_path / "rules"
    elsewhere.mkdir()
    with prometheus(config(elsewhere)) as (url, _):
        result = handoff(rules_dir, url, "--reload")
    assert result.exit_code == 3
    for group in expected_groups(FULL):
        assert group in result.stderr
    assert "rule_files" in result.stderr


@needs_prometheus
def test_a_rejected_rule_file_fails_the_reload(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    with prometheus(config(rules_dir)) as (url, _):
        (rules_dir / "broken.rules.yaml").write_text("groups:\n- name: broken\n  rules:\n  - record: x\n    expr: sum(\n")
        result = handoff(rules_dir, url, "--reload")
    assert result.exit_code == 3
    assert "rejected the new rules (HTTP 500" in result.stderr
    assert f"{rules_dir / 'broken.rules.yaml'}: " in result.stderr  # named by promtool, with its reason


def test_unreachable_prometheus(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = handoff(tmp_path / "rules", url, "--reload", "--retries", "0")
    assert result.exit_code == 3
    assert result.stderr.strip() == f"error: reload: cannot reach Prometheus at {url}: connection refused"


def test_a_foreign_file_with_our_name_is_refused(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    name = sorted(set(expected_groups(FULL).values()))[0]
    (rules_dir / name).write_text(FOREIGN)
    result = handoff(rules_dir, "http://127.0.0.1:1")  # no --reload: Prometheus is never contacted
    assert result.exit_code == 1
    assert f"refusing to overwrite {rules_dir / name}" in result.stderr
    assert (rules_dir / name).read_text() == FOREIGN


def test_write_rules_replaces_owned_files_and_removes_stale_ones(tmp_path: Path) -> None:
    text = "# Generated by slogen from x. DO NOT EDIT.\ngroups: []\n"
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    write_rules({"old.rules.yaml": text, "a.rules.yaml": text + "# older\n"}, rules_dir)  # an earlier push
    (rules_dir / "mine.rules.yaml").write_text(FOREIGN)
    report = write_rules({"a.rules.yaml": text}, rules_dir)
    assert report.written == ["a.rules.yaml"] and report.removed == ["old.rules.yaml"]
    assert sorted(p.name for p in rules_dir.iterdir()) == [".slogen-manifest.json", "a.rules.yaml",
                                                         "mine.rules.yaml"]  # no temp files
    assert (rules_dir / "a.rules.yaml").read_text() == text
    assert write_rules({"a.rules.yaml": text}, rules_dir).unchanged == ["a.rules.yaml"]


def test_reload_needs_a_rules_dir() -> None:
    result = CliRunner().invoke(main, ["push", "-f", FULL, "--reload"])
    assert result.exit_code == 2
    assert "--reload needs --prometheus-rules-dir" in result.stderr
