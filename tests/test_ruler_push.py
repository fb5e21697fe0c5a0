"""`slogen push --ruler-url` against the stand-in Mimir ruler (tests/ruler_standin.py), through the real CLI."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from ruler_standin import RulerStandin, model_duration, ruler_standin

from conftest import SPECS
from prom import free_port
from slogen.cli import main
from slogen.render import render
from slogen.services.ruler_push import CREATE, DELETE, UNCHANGED, UPDATE, plan
from slogen.spec.load import loads

FULL_TEXT = (SPECS / "full.yaml").read_text()
PASSWORD = "Rul3r-pa55-SECRET"
TENANT = "team-a"


def rendered_groups(text: str = FULL_TEXT) -> dict[str, dict[str, Any]]:
    """name → group of the plain rule files `render` writes (independent of the ruler push)."""
    out = {}
    for artifact in render(loads(text)):
        if artifact.path.endswith(".rules.yaml"):
            for group in yaml.safe_load(artifact.text)["groups"]:
                out[group["name"]] = group
    return out


def spec_file(tmp_path: Path, text: str = FULL_TEXT) -> str:
    path = tmp_path / "slos.yaml"
    path.write_text(text)
    return str(path)


def push(r: RulerStandin, spec: str, *args: str, tenant: str | None = TENANT, url: str | None = None,
         env: dict[str, str | None] | None = None) -> Result:
    environment: dict[str, str | None] = {"RULER_URL": url or r.url, "RULER_TENANT": tenant, "NO_PROXY": "127.0.0.1",
                                          "GRAFANA_URL": None, **(env or {})}
    return CliRunner().invoke(main, ["push", "-f", spec, "--no-grafana", "--backoff", "0.01", *args],
                              env=environment)


def one_line_error(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def same_group(stored: dict[str, Any], group: dict[str, Any]) -> bool:
    """Equal as the ruler prints a group back: durations as model.Duration, nothing else changed."""
    def norm(g: dict[str, Any]) -> dict[str, Any]:
        out = dict(g)
        out["interval"] = model_duration(out["interval"])
        out["rules"] = [{**r, **({"for": model_duration(r["for"])} if "for" in r else {})} for r in g["rules"]]
        return out
    return norm(stored) == norm(group)


@pytest.fixture
def ruler() -> Any:
    with ruler_standin() as r:
        yield r


# ---------------------------------------------------------------- idempotence


def test_first_push_creates_every_group(ruler: RulerStandin, tmp_path: Path) -> None:
    expected = rendered_groups()
    result = push(ruler, spec_file(tmp_path))
    assert result.exit_code == 0, result.output
    stored = ruler.groups(TENANT, "slogen")
    assert list(stored) == list(expected)  # in rendered order: the order data flows
    assert all(same_group(stored[name], expected[name]) for name in expected)
    posts = ruler.requests("POST")
    assert len(posts) == len(expected) and {p.path for p in posts} == {"/prometheus/config/v1/rules/slogen"}
    assert all(p.headers["x-scope-orgid"] == TENANT and p.headers["content-type"] == "application/yaml"
               for p in posts)
    assert all(len(yaml.safe_load(p.body)["rules"]) <= 20 for p in posts)  # one group per request
    assert f"ruler: {len(expected)} created, 0 updated, 0 unchanged, 0 deleted" in result.stdout
    assert "created         slogen:payments:sli  (" in result.stdout


def test_second_push_writes_nothing(ruler: RulerStandin, tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    assert push(ruler, spec).exit_code == 0
    before = len(ruler.writes())
    again = push(ruler, spec)
    assert again.exit_code == 0, again.output
    assert len(ruler.writes()) == before
    assert f"0 created, 0 updated, {len(rendered_groups())} unchanged, 0 deleted" in again.stdout


def test_a_group_changed_on_the_ruler_is_put_back(ruler: RulerStandin, tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    assert push(ruler, spec).exit_code == 0
    tampered = dict(ruler.groups(TENANT, "slogen")["slogen:batch:alerts"])
    tampered["interval"] = "5m"
    ruler.add_group(TENANT, "slogen", tampered)
    before = len(ruler.writes())
    result = push(ruler, spec)
    assert result.exit_code == 0, result.output
    writes = ruler.writes()[before:]
    assert [yaml.safe_load(w.body)["name"] for w in writes] == ["slogen:batch:alerts"]
    assert ruler.groups(TENANT, "slogen")["slogen:batch:alerts"]["interval"] == "1m"
    assert "updated         slogen:batch:alerts" in result.stdout


def test_a_changed_spec_updates_only_the_groups_it_changes(ruler: RulerStandin, tmp_path: Path) -> None:
    assert push(ruler, spec_file(tmp_path)).exit_code == 0
    changed_text = FULL_TEXT.replace("objective: 99.95", "objective: 99.9", 1)
    old, new = rendered_groups(), rendered_groups(changed_text)
    differing = {name for name in new if new[name] != old.get(name)}
    assert differing and differing != set(new)  # the change touches some groups, not all
    before = len(ruler.writes())
    result = push(ruler, spec_file(tmp_path, changed_text))
    assert result.exit_code == 0, result.output
    assert {yaml.safe_load(w.body)["name"] for w in ruler.writes()[before:]} == differing


def test_removed_service_groups_are_deleted_and_foreign_ones_kept(ruler: RulerStandin, tmp_path: Path) -> None:
    assert push(ruler, spec_file(tmp_path)).exit_code == 0
    foreign = {"name": "team:latency", "interval": "1m", "rules": [{"record": "x:y", "expr": "up"}]}
    lookalike = {"name": "slogen:batch:legacy", "rules": [{"record": "a:b", "expr": "up",
                                                            "labels": {"service": "batch"}}]}
    unlabelled = {"name": "slogen:old:sli", "rules": [{"record": "a:b", "expr": "up"}]}  # no service label
    for group in (foreign, lookalike, unlabelled):
        ruler.add_group(TENANT, "slogen", group)
    ruler.add_group(TENANT, "other", {**rendered_groups()["slogen:batch:sli"]})
    without_batch = FULL_TEXT[:FULL_TEXT.index("  - name: batch")]
    assert "name: batch" not in without_batch
    result = push(ruler, spec_file(tmp_path, without_batch))
    assert result.exit_code == 0, result.output
    batch = sorted(n for n in rendered_groups() if n.startswith("slogen:batch:"))
    deleted = [w.path.rsplit("/", 1)[1] for w in ruler.requests("DELETE")]
    assert sorted(deleted) == sorted(n.replace(":", "%3A") for n in batch)
    held = ruler.groups(TENANT, "slogen")
    assert set(held) == set(rendered_groups(without_batch)) | {"team:latency", "slogen:batch:legacy",
                                                               "slogen:old:sli"}
    assert "slogen:batch:sli" in ruler.groups(TENANT, "other")  # another namespace is never touched
    assert f"{len(batch)} deleted" in result.stdout


def test_tenants_are_isolated(ruler: RulerStandin, tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    assert push(ruler, spec, tenant="a").exit_code == 0
    ruler.add_group("b", "slogen", {"name": "slogen:gone:sli", "rules": [
        {"record": "a:b", "expr": "up", "labels": {"service": "gone"}}]})
    result = push(ruler, spec, tenant="b")
    assert result.exit_code == 0, result.output
    assert f"{len(rendered_groups())} created" in result.stdout and "1 deleted" in result.stdout
    assert set(ruler.groups("a", "slogen")) == set(rendered_groups())  # tenant a untouched
    assert {s.headers.get("x-scope-orgid") for s in ruler.requests()} == {"a", "b"}


def test_dry_run_writes_nothing_and_shows_the_plan(ruler: RulerStandin, tmp_path: Path) -> None:
    ruler.add_group(TENANT, "slogen", {"name": "slogen:gone:sli", "rules": [
        {"record": "a:b", "expr": "up", "labels": {"service": "gone"}}]})
    result = push(ruler, spec_file(tmp_path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert ruler.writes() == []
    assert "would create    slogen:payments:sli" in result.stdout
    assert "would delete    slogen:gone:sli" in result.stdout
    assert f"{len(rendered_groups())} would be created, 0 would be updated, 0 unchanged, 1 would be deleted" \
        in result.stdout


def test_thanos_key_is_not_sent(ruler: RulerStandin, tmp_path: Path) -> None:
    text = FULL_TEXT.replace("services:\n", "prometheus: {partial_response_strategy: abort}\nservices:\n", 1)
    result = push(ruler, spec_file(tmp_path, text))
    assert result.exit_code == 0, result.output  # the stand-in, as Mimir, refuses unknown group keys
    assert all("partial_response_strategy" not in p.body for p in ruler.requests("POST"))


def test_cortex_prefix_and_empty_404(tmp_path: Path) -> None:
    with ruler_standin(prefix="/api/prom", cortex_empty_404=True) as r:
        result = push(r, spec_file(tmp_path), "--ruler-prefix", "/api/prom")
        assert result.exit_code == 0, result.output
        assert set(r.groups(TENANT, "slogen")) == set(rendered_groups())


def test_durations_compare_as_lengths_of_time() -> None:
    wanted = [{"name": "slogen:a:sli", "interval": "60m", "rules": [
        {"alert": "A", "expr": "up", "for": "120s", "labels": {"service": "a", "tier": "1"}}]}]
    held = [{"name": "slogen:a:sli", "interval": "1h", "rules": [
        {"alert": "A", "expr": "up", "for": "2m", "labels": {"service": "a", "tier": "1"}}]}]
    assert [a.kind for a in plan(held, wanted)] == [UNCHANGED]
    held[0]["interval"] = "59m"
    assert [a.kind for a in plan(held, wanted)] == [UPDATE]
    assert [a.kind for a in plan([], wanted)] == [CREATE]
    assert [a.kind for a in plan(held, [])] == [DELETE]


# ---------------------------------------------------------------- failures


def test_no_tenant_is_401_no_org_id(ruler: RulerStandin, tmp_path: Path) -> None:
    result = push(ruler, spec_file(tmp_path), tenant=None)
    assert result.exit_code == 3
    line = one_line_error(result)
    assert "HTTP 401 not authenticated: give the tenant (--tenant or RULER_TENANT)" in line
    assert line.endswith('"no org id"')


def test_rules_per_group_limit_is_exit_3_with_mimirs_message(tmp_path: Path) -> None:
    with ruler_standin(max_rules_per_group=4) as r:
        result = push(r, spec_file(tmp_path))
        assert result.exit_code == 3
        line = one_line_error(result)
        first, group = next(iter(rendered_groups().items()))  # rendered order: rules/batch.rules.yaml first
        biggest = len(group["rules"])
        assert biggest > 4
        assert line.startswith(f"error: rule group {first}: HTTP 400 over a limit of the ruler")
        assert f'"per-user rules per rule group limit (limit: 4 actual: {biggest}) exceeded"' in line


def test_groups_per_tenant_limit_stops_and_reports_what_was_done(tmp_path: Path) -> None:
    with ruler_standin(max_groups_per_tenant=3) as r:
        result = push(r, spec_file(tmp_path))
        assert result.exit_code == 3
        assert '"per-user rule groups limit (limit: 3 actual: 4) exceeded"' in one_line_error(result)
        assert result.stdout.count("created ") == 3 and len(r.groups(TENANT, "slogen")) == 3


def test_wrong_prefix_is_404_with_a_hint(ruler: RulerStandin, tmp_path: Path) -> None:
    result = push(ruler, spec_file(tmp_path), "--ruler-prefix", "/api/prom")
    assert result.exit_code == 3
    assert "HTTP 404 not found: check --ruler-prefix (Mimir /prometheus, Cortex /api/prom)" in one_line_error(result)


@pytest.mark.parametrize(("status", "hint"), [(403, "forbidden: these credentials may not change this tenant's rules"), (500, "still failing after 1 retries"),
                                              (503, "still failing after 1 retries")])
def test_write_errors_are_exit_3(ruler: RulerStandin, tmp_path: Path, status: int, hint: str) -> None:
    ruler.fail("POST", "/prometheus/config/v1/rules/", status, "the ruler says no", times=5)
    result = push(ruler, spec_file(tmp_path), "--retries", "1")
    assert result.exit_code == 3
    line = one_line_error(result)
    assert line == f'error: rule group {next(iter(rendered_groups()))}: HTTP {status} {hint}: "the ruler says no"'


def test_unreachable_and_timeouts_are_exit_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["push", "-f", spec_file(tmp_path), "--no-grafana", "--retries", "0",
                                       "--ruler-url", f"http://127.0.0.1:{free_port()}", "--tenant", "t"])
    assert result.exit_code == 3
    assert "cannot reach the ruler at http://127.0.0.1:" in one_line_error(result)
    assert "connection refused" in one_line_error(result)


def test_429_and_503_are_retried_then_succeed(ruler: RulerStandin, tmp_path: Path) -> None:
    ruler.fail("POST", "/prometheus/config/v1/rules/", 429, "too many requests", headers={"Retry-After": "0"})
    ruler.fail("POST", "/prometheus/config/v1/rules/", 503, "ingester unavailable")
    ruler.fail("GET", "/prometheus/config/v1/rules", 503, "starting")
    result = push(ruler, spec_file(tmp_path))
    assert result.exit_code == 0, result.output
    assert "retrying in 0 s (429)" in result.stderr and result.stderr.count("(503)") == 2
    assert set(ruler.groups(TENANT, "slogen")) == set(rendered_groups())


def test_a_ruler_that_is_not_one_is_exit_3(ruler: RulerStandin, tmp_path: Path) -> None:
    ruler.fail("GET", "/prometheus/config/v1/rules", 200, "<html>login</html>")
    result = push(ruler, spec_file(tmp_path))
    assert result.exit_code == 3
    assert "without a YAML map of namespaces to rule groups" in one_line_error(result)


def test_secrets_never_appear(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with ruler_standin(user="tenant-user", password=PASSWORD) as r:
        good = r.url.replace("http://", f"http://tenant-user:{PASSWORD}@")
        ok = push(r, spec_file(tmp_path), "--verbose", url=good)
        assert ok.exit_code == 0, ok.output
        assert all(s.headers.get("authorization", "").startswith("Basic ") for s in r.requests())
        bad = push(r, spec_file(tmp_path), "--verbose", url=good.replace(PASSWORD, PASSWORD + "x"))
        assert bad.exit_code == 3
        assert "HTTP 401" in one_line_error(bad)
        for result in (ok, bad):
            assert PASSWORD not in result.stdout + result.stderr
            assert "tenant-user:***@" in result.stdout
        assert PASSWORD not in caplog.text


def test_usage_errors(ruler: RulerStandin, tmp_path: Path) -> None:
    result = push(ruler, spec_file(tmp_path), url="mimir:8080")
    assert result.exit_code == 2 and "must start with http:// or https://" in result.output
    bad_ns = push(ruler, spec_file(tmp_path), "--ruler-namespace", "a/b")
    assert bad_ns.exit_code == 2 and "--ruler-namespace" in bad_ns.output
    assert ruler.requests() == []


def test_deletes_go_first_to_make_room_under_the_groups_limit(tmp_path: Path) -> None:
    expected = rendered_groups()
    with ruler_standin(max_groups_per_tenant=len(expected)) as r:
        for stage in ("sli", "tiles", "hours"):
            r.add_group(TENANT, "slogen", {"name": f"slogen:gone:{stage}", "rules": [
                {"record": "a:b", "expr": "up", "labels": {"service": "gone"}}]})
        result = push(r, spec_file(tmp_path))
        assert result.exit_code == 0, result.output  # creating first would hit the limit at group N - 2
        assert [w.method for w in r.writes()] == ["DELETE"] * 3 + ["POST"] * len(expected)
        assert set(r.groups(TENANT, "slogen")) == set(expected)
