"""`slogen push` against the stand-in Grafana (tests/grafana_standin.py), through the real CLI."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from grafana_standin import Standin, grafana_standin

from conftest import SPECS
from prom import free_port
from slogen.cli import main
from slogen.conventions import MARKER_TAG
from slogen.render import render
from slogen.services.push_plan import CREATE, DELETE, UNCHANGED, UPDATE, compare, dashboards, normalise, prunable
from slogen.spec import load as spec_loader

TOKEN = "glsa_s3cretTOKENvalue_0123456789"
FULL = str(SPECS / "full.yaml")  # folder reliability, dashboards slo-overview(+ -payments, -batch)
MINIMAL = str(SPECS / "minimal.yaml")  # folder slo, one dashboard error-budget-slo
FULL_UIDS = {"slo-overview", "slo-overview-payments", "slo-overview-batch"}


def rendered(path: str) -> dict[str, dict[str, Any]]:
    """uid → model of the dashboards `render` writes for the spec at `path` (independent of push)."""
    out = {}
    for artifact in render(spec_loader.load(path)):
        if artifact.path.startswith("dashboards/"):
            model = json.loads(artifact.text)
            out[model["uid"]] = model
    return out


@pytest.fixture
def grafana() -> Iterator[Standin]:
    with grafana_standin(token=TOKEN, user="admin", password="pa55-w0rd-XYZ", orgs=(1, 2)) as g:
        yield g


def push(g: Standin, *args: str, spec: str = FULL, env: dict[str, str] | None = None) -> Result:
    environment = {"GRAFANA_URL": g.url, "GRAFANA_TOKEN": TOKEN, "GRAFANA_USER": None, "GRAFANA_PASSWORD": None,
                   "GRAFANA_ORG_ID": None, "GITHUB_SHA": None, "NO_PROXY": "127.0.0.1", **(env or {})}
    return CliRunner().invoke(main, ["push", "-f", spec, "--backoff", "0.01", *args], env=environment)


def saves(g: Standin) -> list[str]:
    return [s.body["dashboard"]["uid"] for s in g.requests("POST", "/api/dashboards/db")]


def one_line_error(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


# ---------------------------------------------------------------- idempotence
def test_first_push_creates_folder_and_every_dashboard(grafana: Standin) -> None:
    result = push(grafana)
    assert result.exit_code == 0, result.stderr
    assert grafana.folders["reliability"]["title"] == "Reliability"
    assert set(grafana.dashboards) == FULL_UIDS
    for uid, model in rendered(FULL).items():
        entry = grafana.dashboards[uid]
        assert entry["folderUid"] == "reliability"
        assert {k: v for k, v in entry["model"].items() if k not in ("id", "version")} == model
        assert f"created         {uid}  " in result.stdout
    for request in grafana.requests("POST", "/api/dashboards/db"):
        assert request.body["dashboard"]["id"] is None
        assert request.body["overwrite"] is True
        assert request.body["folderUid"] == "reliability"
        assert "full.yaml" in request.body["message"]
    assert "3 created, 0 updated, 0 unchanged, 0 deleted" in result.stdout


def test_second_push_writes_nothing(grafana: Standin) -> None:
    assert push(grafana).exit_code == 0
    before = len(grafana.writes())
    result = push(grafana)
    assert result.exit_code == 0, result.stderr
    assert len(grafana.writes()) == before
    assert all(grafana.dashboards[uid]["model"]["version"] == 1 for uid in FULL_UIDS)
    assert "0 created, 0 updated, 3 unchanged" in result.stdout


def test_a_change_updates_only_that_dashboard(grafana: Standin) -> None:
    assert push(grafana).exit_code == 0
    grafana.dashboards["slo-overview-batch"]["model"]["title"] = "edited in the UI"
    result = push(grafana)
    assert result.exit_code == 0, result.stderr
    assert saves(grafana)[3:] == ["slo-overview-batch"]
    assert grafana.dashboards["slo-overview-batch"]["model"]["version"] == 2
    assert grafana.dashboards["slo-overview-batch"]["model"]["title"] == rendered(FULL)["slo-overview-batch"]["title"]
    assert grafana.dashboards["slo-overview"]["model"]["version"] == 1
    assert "updated         slo-overview-batch" in result.stdout


def test_a_dashboard_in_another_folder_is_moved(grafana: Standin) -> None:
    grafana.add_folder("elsewhere", "Elsewhere")
    grafana.add_dashboard(rendered(MINIMAL)["error-budget-slo"], "elsewhere")
    result = push(grafana, spec=MINIMAL)
    assert result.exit_code == 0, result.stderr
    assert grafana.dashboards["error-budget-slo"]["folderUid"] == "slo"
    assert "move from folder elsewhere to slo" in result.stdout


def test_concurrency_overlaps_requests(grafana: Standin) -> None:
    grafana.slow("GET", "/api/dashboards/uid/", 0.3, times=3)
    assert push(grafana, "--concurrency", "3").exit_code == 0
    assert grafana.max_inflight >= 2
    grafana.max_inflight = 0
    grafana.slow("GET", "/api/dashboards/uid/", 0.1, times=3)
    assert push(grafana, "--concurrency", "1").exit_code == 0
    assert grafana.max_inflight == 1


def test_message_names_spec_and_commit(grafana: Standin) -> None:
    assert push(grafana, env={"GITHUB_SHA": "0123456789abcdef0123"}).exit_code == 0
    messages = {r.body["message"] for r in grafana.requests("POST", "/api/dashboards/db")}
    assert messages == {"slogen push from full.yaml at 0123456789ab"}
    grafana.dashboards.clear()
    assert push(grafana, "--message", "x" * 600).exit_code == 0
    assert all(len(r.body["message"]) == 500 for r in grafana.requests("POST", "/api/dashboards/db")[3:])


# ---------------------------------------------------------------- dry run and prune
def test_dry_run_writes_nothing_and_shows_a_diff(grafana: Standin) -> None:
    result = push(grafana, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert grafana.writes() == []
    assert "folder reliability: would create" in result.stdout
    assert result.stdout.count("would create    ") == 3
    assert push(grafana).exit_code == 0
    writes = len(grafana.writes())
    grafana.dashboards["slo-overview"]["model"]["refresh"] = "5s"
    result = push(grafana, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert len(grafana.writes()) == writes
    assert "would update    slo-overview  " in result.stdout
    assert '-  "refresh": "5s",' in result.stdout
    assert f'+  "refresh": "{rendered(FULL)["slo-overview"]["refresh"]}",' in result.stdout
    assert "0 would be created, 1 would be updated, 2 unchanged" in result.stdout


def test_prune_deletes_only_marked_dashboards_in_the_folder(grafana: Standin) -> None:
    grafana.add_folder("reliability", "Reliability")
    grafana.add_folder("other", "Other")
    grafana.add_dashboard({"uid": "old-slo", "title": "Old", "tags": [MARKER_TAG, "slo"]}, "reliability")
    grafana.add_dashboard({"uid": "hand-made", "title": "Mine", "tags": ["slo"]}, "reliability")
    grafana.add_dashboard({"uid": "marked-elsewhere", "title": "X", "tags": [MARKER_TAG]}, "other")
    grafana.add_dashboard({"uid": "general", "title": "Y", "tags": [MARKER_TAG]}, "")
    dry = push(grafana, "--prune", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "would delete    old-slo" in dry.stdout and "old-slo" in grafana.dashboards
    result = push(grafana, "--prune")
    assert result.exit_code == 0, result.stderr
    assert set(grafana.dashboards) == FULL_UIDS | {"hand-made", "marked-elsewhere", "general"}
    assert [r.path for r in grafana.requests("DELETE")] == ["/api/dashboards/uid/old-slo"]
    assert "deleted         old-slo" in result.stdout and "1 deleted" in result.stdout
    assert push(grafana).exit_code == 0  # without --prune nothing is deleted
    assert len(grafana.requests("DELETE")) == 1


def test_prune_rechecks_marker_even_if_search_ignores_the_filter(grafana: Standin) -> None:
    hits = [{"uid": "a", "tags": ["slo"], "folderUid": "f", "type": "dash-db"},
            {"uid": "b", "tags": [MARKER_TAG], "folderUid": "g", "type": "dash-db"},
            {"uid": "c", "tags": [MARKER_TAG], "folderUid": "f", "type": "dash-db"},
            {"uid": "d", "tags": [MARKER_TAG], "folderUid": "f", "type": "dash-db"}]
    assert [a.uid for a in prunable(hits, {"d"}, "f")] == ["c"]
    assert all(a.kind == DELETE for a in prunable(hits, set(), "f"))


# ---------------------------------------------------------------- faults
def test_503_503_200_succeeds(grafana: Standin) -> None:
    grafana.fail("POST", "/api/dashboards/db", 503, {"message": "busy"}, times=2)
    result = push(grafana, spec=MINIMAL, env={})
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in grafana.requests("POST", "/api/dashboards/db")] == [503, 503, 200]
    assert grafana.dashboards["error-budget-slo"]["model"]["version"] == 1


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried(grafana: Standin, status: int) -> None:
    grafana.fail("GET", "/api/folders/", status, times=1)
    assert push(grafana, spec=MINIMAL).exit_code == 0


def test_retries_are_bounded(grafana: Standin) -> None:
    grafana.fail("POST", "/api/dashboards/db", 503, {"message": "overloaded"}, times=100)
    result = push(grafana, "--retries", "2", spec=MINIMAL)
    assert result.exit_code == 3
    assert len(grafana.requests("POST", "/api/dashboards/db")) == 3
    assert 'dashboard error-budget-slo ("Error Budget & SLO Tracking"): HTTP 503' in one_line_error(result)
    assert '"overloaded"' in result.stderr


def test_429_honours_retry_after(grafana: Standin) -> None:
    grafana.fail("GET", "/api/dashboards/uid/", 429, {"message": "slow down"}, headers={"Retry-After": "1"})
    result = push(grafana, "--backoff", "0", spec=MINIMAL)
    assert result.exit_code == 0, result.stderr
    first, second = grafana.requests("GET", "/api/dashboards/uid/")[:2]
    assert first.status == 429 and second.status == 404
    assert second.at - first.at >= 0.9  # waited as told, although the backoff is 0


def test_bad_retry_after_falls_back_to_backoff_and_413_is_not_retried(grafana: Standin) -> None:
    grafana.fail("GET", "/api/dashboards/uid/", 429, headers={"Retry-After": "soon-ish"})
    grafana.fail("POST", "/api/dashboards/db", 413, {"message": "Dashboard is too large, max is 1 MB"},
                 headers={"Retry-After": "1"})
    result = push(grafana, spec=MINIMAL)
    assert result.exit_code == 3
    assert [r.status for r in grafana.requests("GET", "/api/dashboards/uid/")] == [429, 404]
    assert [r.status for r in grafana.requests("POST", "/api/dashboards/db")] == [413]
    assert '"Dashboard is too large, max is 1 MB"' in one_line_error(result)


ERRORS = [
    (400, {"message": "Cannot save provisioned dashboard"}, "file-provisioned"),
    (401, {"message": "Invalid API key"}, "not authenticated"),
    (403, {"message": "Quota reached", "status": "quota-reached"}, "quota reached"),
    (403, {"message": "Access denied to save dashboard"}, "not allowed"),
    (404, {"message": "Dashboard not found"}, "not found"),
    (409, {"message": "Dashboard already exists. Use overwrite flag to update."}, "conflict"),
    (412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"},
     "changed by someone else"),
    (412, {"status": "plugin-dashboard", "message": "The dashboard belongs to plugin foo."}, "belongs to a plugin"),
    (413, {"message": "Dashboard is too large, max is 10 MB"}, "too large"),
    (500, {"message": "Dashboard API error: boom"}, "internal error"),
]


@pytest.mark.parametrize(("status", "body", "hint"), ERRORS)
def test_save_errors_exit_3_naming_the_dashboard(grafana: Standin, status: int, body: dict[str, str],
                                                 hint: str) -> None:
    grafana.fail("POST", "/api/dashboards/db", status, body, times=5)
    result = push(grafana, spec=MINIMAL)
    assert result.exit_code == 3
    line = one_line_error(result)
    assert line.startswith(f'error: dashboard error-budget-slo ("Error Budget & SLO Tracking"): HTTP {status} ')
    assert hint in line and f'"{body["message"]}"' in line
    assert len(grafana.requests("POST", "/api/dashboards/db")) == 1  # 4xx/500 are not retried


def test_each_failed_dashboard_gets_a_line_and_the_others_are_reported(grafana: Standin) -> None:
    grafana.fail("POST", "/api/dashboards/db", 500, {"message": "Dashboard API error: disk full"}, times=2)
    result = push(grafana, "--concurrency", "1")
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: dashboard ")]
    assert len(errors) == 2 and all('"Dashboard API error: disk full"' in line for line in errors)
    assert len(grafana.dashboards) == 1
    assert result.stdout.count("created         ") == 1


def test_url_without_scheme_is_a_usage_error(grafana: Standin) -> None:
    result = push(grafana, env={"GRAFANA_URL": "admin:hunter2@grafana:3000"})
    assert result.exit_code == 2
    assert "--grafana-url must start with http:// or https://" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert grafana.requests() == []


def test_real_quota_and_provisioned_conflicts(grafana: Standin) -> None:
    with grafana_standin(token=TOKEN, quota=0) as g:
        result = push(g, spec=MINIMAL)
        assert result.exit_code == 3 and '"Quota reached"' in one_line_error(result)
    grafana.add_folder("slo", "SLOs")
    grafana.add_dashboard({"uid": "error-budget-slo", "title": "old"}, "slo", provisioned=True)
    result = push(grafana, spec=MINIMAL)
    assert result.exit_code == 3
    assert '"Cannot save provisioned dashboard"' in one_line_error(result)


@pytest.mark.parametrize("status", [409, 412])
def test_folder_create_race_is_handled(grafana: Standin, status: int) -> None:
    grafana.fail("POST", "/api/folders", status, {"message": "a folder with the same uid already exists"},
                 before=lambda: grafana.add_folder("slo", "SLOs"))
    result = push(grafana, spec=MINIMAL)
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in grafana.requests("GET", "/api/folders/slo")] == [404, 200]
    assert grafana.dashboards["error-budget-slo"]["folderUid"] == "slo"


def test_folder_create_refused(grafana: Standin) -> None:
    grafana.fail("POST", "/api/folders", 403, {"message": "You'll need additional permissions"})
    result = push(grafana, spec=MINIMAL)
    assert result.exit_code == 3
    assert one_line_error(result) == ('error: folder slo (SLOs): HTTP 403 not allowed: '
                                      '"You\'ll need additional permissions"')
    assert grafana.requests("POST", "/api/dashboards/db") == []


def test_slow_server_times_out(grafana: Standin) -> None:
    grafana.slow("GET", "/api/dashboards/uid/", 3.0, times=5)
    result = push(grafana, "--timeout", "0.3", "--retries", "1", spec=MINIMAL)
    assert result.exit_code == 3
    assert one_line_error(result) == (f'error: dashboard error-budget-slo ("Error Budget & SLO Tracking"): cannot '
                                      f'reach Grafana at {grafana.url}: timed out: no complete answer within 0.3s')
    assert len(grafana.requests("GET", "/api/dashboards/uid/")) == 2  # one try + one retry
    assert grafana.requests("POST", "/api/dashboards/db") == []


def test_unreachable_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["push", "-f", MINIMAL, "--grafana-url", url, "--retries", "1",
                                       "--backoff", "0"], env={"GRAFANA_TOKEN": TOKEN})
    assert result.exit_code == 3
    assert one_line_error(result) == f"error: Grafana health check: cannot reach Grafana at {url}: connection refused"


def test_unhealthy_grafana(grafana: Standin) -> None:
    grafana.healthy = False
    result = push(grafana, "--retries", "0", spec=MINIMAL)
    assert result.exit_code == 3
    assert "unhealthy: database failing" in one_line_error(result)


def test_invalid_spec_exits_1_without_contacting_grafana(grafana: Standin, tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(Path(MINIMAL).read_text().replace("objective: 99.9", "objective: 140"))
    result = push(grafana, spec=str(spec))
    assert result.exit_code == 1
    assert "objective" in result.stderr
    assert grafana.requests() == []


# ---------------------------------------------------------------- auth and secrets
@pytest.mark.parametrize("verbose", [[], ["--verbose"]])
def test_wrong_token_exit_3_and_never_printed(grafana: Standin, caplog: pytest.LogCaptureFixture,
                                              verbose: list[str]) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "glsa_WRONGtoken_abcdef987654"
    result = push(grafana, *verbose, env={"GRAFANA_TOKEN": wrong})
    assert result.exit_code == 3
    assert "HTTP 401 not authenticated" in one_line_error(result)
    assert '"Invalid API key"' in result.stderr
    for text in (result.stdout, result.stderr, caplog.text):
        assert wrong not in text
    if verbose:
        assert "trace: GET /api/folders/reliability -> 401" in result.stderr
    assert grafana.requests("GET", "/api/folders/")[0].headers["authorization"] == f"Bearer {wrong}"


def test_basic_auth_and_org_header(grafana: Standin, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {"GRAFANA_TOKEN": "", "GRAFANA_USER": "admin", "GRAFANA_PASSWORD": "pa55-w0rd-XYZ", "GRAFANA_ORG_ID": "2"}
    result = push(grafana, "--verbose", spec=MINIMAL, env=env)
    assert result.exit_code == 0, result.stderr
    assert {r.headers.get("x-grafana-org-id") for r in grafana.requests("GET", "/api/folders/")} == {"2"}
    result = push(grafana, "--verbose", spec=MINIMAL, env={**env, "GRAFANA_PASSWORD": "wrong-Pa55word"})
    assert result.exit_code == 3 and '"Invalid username or password"' in one_line_error(result)
    result = push(grafana, spec=MINIMAL, env={**env, "GRAFANA_ORG_ID": "7"})
    assert result.exit_code == 3 and '"User not a member of organization"' in one_line_error(result)
    for text in (result.stdout, result.stderr, caplog.text):
        assert "pa55-w0rd-XYZ" not in text and "wrong-Pa55word" not in text


def test_credentials_in_the_url_are_moved_to_a_header(grafana: Standin, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = grafana.url.replace("http://", "http://admin:pa55-w0rd-XYZ@")
    result = push(grafana, "--verbose", spec=MINIMAL, env={"GRAFANA_URL": url, "GRAFANA_TOKEN": ""})
    assert result.exit_code == 0, result.stderr
    assert grafana.requests("GET", "/api/folders/")[0].headers["authorization"].startswith("Basic ")
    for text in (result.stdout, result.stderr, caplog.text):
        assert "pa55-w0rd-XYZ" not in text


def test_netrc_never_replaces_the_token(grafana: Standin, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password from-netrc\n")
    netrc.chmod(0o600)
    result = push(grafana, spec=MINIMAL, env={"NETRC": str(netrc)})
    assert result.exit_code == 0, result.stderr
    assert {r.headers["authorization"] for r in grafana.requests("GET", "/api/folders/")} == {f"Bearer {TOKEN}"}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    with grafana_standin(token=TOKEN, tls=(str(cert), str(key))) as g:
        result = push(g, "--retries", "0", spec=MINIMAL)
        assert result.exit_code == 3
        assert "TLS error (use --ca-cert FILE" in one_line_error(result)
        assert g.dashboards == {}
        result = push(g, "--ca-cert", str(cert), spec=MINIMAL)
        assert result.exit_code == 0, result.stderr
        assert "warning" not in result.stderr
        g.dashboards.clear()
        result = push(g, "--insecure", spec=MINIMAL)
        assert result.exit_code == 0, result.stderr
        assert "warning: --insecure: Grafana's TLS certificate is NOT verified" in result.stderr
        assert set(g.dashboards) == {"error-budget-slo"}


# ---------------------------------------------------------------- planning, without a server
def test_compare_ignores_what_grafana_adds() -> None:
    dash = dashboards(render(spec_loader.load(MINIMAL)))[0]
    stored = {"dashboard": {**dash.model, "id": 12, "version": 7, "iteration": 3, "gnetId": None},
              "meta": {"folderUid": "slo"}}
    assert compare(dash, stored, "slo").kind == UNCHANGED
    assert compare(dash, None, "slo").kind == CREATE
    changed = {"dashboard": {**stored["dashboard"], "title": "other"}, "meta": {"folderUid": "slo"}}
    action = compare(dash, changed, "slo")
    assert action.kind == UPDATE and '-  "title": "other",' in action.diff
    assert normalise({"id": 1, "a": {"id": 2, "b": None}}) == {"a": {"id": 2}}
