"""Hostile servers (issue 14): deadlines, sizes, pages, redirects, echoed secrets, error statuses and
implausible numbers. Every server here is a stand-in on 127.0.0.1 (tests/hostile.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from grafana_standin import grafana_standin
from hostile import Reply, Request, hostile, prom_vector

from conftest import SPECS
from slogen import conventions as c
from slogen.cli import main
from slogen.clients.http import HttpError, Limits, Session, paginate, redact

MINIMAL = str(SPECS / "minimal.yaml")
REMAINING = {"__name__": c.BUDGET_REMAINING, "service": "api", "slo": "availability"}
BURN = {"__name__": c.BURN_RATE_1H, "service": "api", "slo": "availability"}


def gate(url: str, *args: str, env: dict[str, Any] | None = None):
    return CliRunner().invoke(main, ["gate", "-f", MINIMAL, "--prometheus-url", url, *args],
                              env={"PROMETHEUS_URL": None, "GITHUB_STEP_SUMMARY": None, **(env or {})})


def healthy(value: Any = "0.5", burn: Any = "0") -> dict[str, Any]:
    return prom_vector([(REMAINING, value), (BURN, burn)])


def test_a_healthy_answer_passes_the_gate() -> None:  # the control for every case below
    with hostile(lambda r: Reply(200, healthy())) as server:
        assert gate(server.url).exit_code == 0


@pytest.mark.parametrize("drip_from_body", [True, False], ids=["body", "headers"])
def test_a_dripping_server_cannot_hold_the_gate_past_its_timeout(drip_from_body: bool) -> None:
    body = json.dumps(healthy()) + " " * 100
    with hostile(lambda r: Reply(200, body, drip=0.2, drip_from_body=drip_from_body)) as server:
        started = time.monotonic()
        result = gate(server.url, "--timeout", "1.5")
        took = time.monotonic() - started
    assert result.exit_code == 99
    assert took < 4, took
    assert "did not answer within 1.5s" in result.stderr


@pytest.mark.parametrize("value", [True, 0.9, "0_9", " 0.9", "infinity", "0x1p-1", None])
def test_values_that_are_not_prometheus_float_strings_cannot_decide(value: Any) -> None:
    with hostile(lambda r: Reply(200, healthy(value))) as server:
        result = gate(server.url)
    assert result.exit_code == 99, result.output
    assert "malformed instant vector" in result.stderr


@pytest.mark.parametrize("status", [500, 503, 302, 204])
def test_a_non_2xx_status_with_a_success_body_cannot_decide(status: int) -> None:
    with hostile(lambda r: Reply(status, healthy())) as server:
        result = gate(server.url)
    assert result.exit_code == 99, result.output
    assert f"HTTP {status}" in result.stderr


@pytest.mark.parametrize("status", [500, 503])
def test_error_statuses_without_a_body_cannot_decide(status: int) -> None:
    with hostile(lambda r: Reply(status, b"")) as server:
        result = gate(server.url)
    assert result.exit_code == 99 and f"HTTP {status}" in result.stderr


@pytest.mark.parametrize("samples", [
    [(REMAINING, "0.9"), (REMAINING, "NaN"), (BURN, "0")],  # duplicates, the last NaN
    [(REMAINING, "0.9"), (REMAINING, "0.9"), (BURN, "0")],  # even equal duplicates
    [(REMAINING, "1.5"), (BURN, "0")],  # more than the whole budget left
    [(REMAINING, "NaN"), (BURN, "0")],
    [(REMAINING, "0.5"), (BURN, "-1")],
], ids=["dup-nan", "dup-equal", "above-one", "nan", "negative-burn"])
def test_implausible_numbers_cannot_decide_and_show_unknown(samples: list[tuple[dict[str, str], str]]) -> None:
    with hostile(lambda r: Reply(200, prom_vector(samples))) as server:
        result = gate(server.url)
        status = CliRunner().invoke(main, ["status", "-f", MINIMAL, "--prometheus-url", server.url],
                                    env={"PROMETHEUS_URL": None, "NO_COLOR": "1"})
    assert result.exit_code == 99, result.output
    assert "api/availability" in result.stderr and "cannot decide" in result.stderr
    assert status.exit_code == 0 and "UNKNOWN" in status.stdout


@pytest.mark.parametrize("as_json", [True, False], ids=["json-error", "text"])
def test_a_huge_error_text_is_bounded_everywhere(tmp_path: Path, as_json: bool) -> None:
    huge = "x" * (20 << 20)
    summary = tmp_path / "summary.md"
    body: Any = {"status": "error", "errorType": "execution", "error": huge} if as_json else huge
    with hostile(lambda r: Reply(422 if as_json else 500, body)) as server:
        result = gate(server.url, "--json", str(tmp_path / "gate.json"), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 99
    assert len(result.stderr) < 4000
    assert len((tmp_path / "gate.json").read_text()) < 4000
    assert summary.stat().st_size < 8000


def test_answers_larger_than_the_limit_are_refused() -> None:
    with hostile(lambda r: Reply(200, b"[" + b"1," * (1 << 20) + b"1]")) as server:
        session = Session(server.url, limits=Limits(timeout=5, retries=0, max_bytes=1 << 20))
        with pytest.raises(HttpError, match="more than the 1 MiB"):
            session.request("GET", "/x")
        small = Session(server.url, limits=Limits(timeout=5, retries=0, max_bytes=100))
        server.route = lambda r: Reply(200, b"y" * 1000, headers={"Content-Length": "50"})  # lies: only 50 read
        assert small.request("GET", "/x").content == b"y" * 50


def test_endless_pages_stop_push_prune() -> None:
    page = [{"uid": f"d{i}", "type": "dash-db", "tags": ["slogen"], "folderUid": "f"} for i in range(1000)]
    with grafana_standin(token="t") as g:
        g.fail("GET", "/api/search", 200, page, times=10_000)  # type: ignore[arg-type]
        started = time.monotonic()
        result = CliRunner().invoke(main, ["push", "-f", MINIMAL, "--prune", "--grafana-url", g.url],
                                    env={"GRAFANA_TOKEN": "t"})
    assert result.exit_code == 3, result.output
    assert "repeats items already read" in result.stderr
    assert time.monotonic() - started < 30


def test_paginate_stops_after_max_pages() -> None:
    with pytest.raises(HttpError, match="more than 3 pages"):
        paginate(lambda n: [f"{n}-{i}" for i in range(2)], page_size=2, max_pages=3, key=str, what="listing")
    assert paginate(lambda n: ["a", "b"] if n == 1 else ["c"], page_size=2, max_pages=3, key=str,
                    what="listing") == ["a", "b", "c"]


def test_credentials_never_follow_a_redirect_to_another_host_and_writes_are_not_redirected() -> None:
    with hostile(lambda r: Reply(200, {"ok": True})) as other:
        with hostile(lambda r: Reply(302 if r.method == "GET" else 307,
                                     headers={"Location": other.url + "/landing"})) as first:
            session = Session(first.url, auth="Bearer s3cret-token", limits=Limits(timeout=5, retries=0))
            assert session.request("GET", "/api/health").status_code == 200
            with pytest.raises(HttpError, match="redirected the write to another host"):
                session.request("POST", "/api/dashboards/db", json={"x": 1})
        assert first.seen[0].headers.get("authorization") == "Bearer s3cret-token"
        assert [r.method for r in other.seen] == ["GET"]  # the write never reached the other host
        assert "authorization" not in other.seen[0].headers


def test_a_health_answer_echoing_the_token_never_prints_it() -> None:
    def echo(r: Request) -> Reply:
        if r.path == "/api/health":
            return Reply(200, {"database": "ok", "version": r.headers.get("authorization", "")})
        return Reply(500, {"message": f"you sent {r.headers.get('authorization')}"})

    with hostile(echo) as server:
        result = CliRunner().invoke(main, ["push", "-f", MINIMAL, "--grafana-url", server.url, "--retries", "0"],
                                    env={"GRAFANA_TOKEN": "glsa_TOPSECRET"})
    assert result.exit_code == 3
    assert "TOPSECRET" not in result.output
    assert "version unknown" in result.stdout


def test_retries_are_visible() -> None:
    calls = []

    def flaky(r: Request) -> Reply:
        calls.append(r.path)
        if len(calls) <= 2:
            return Reply(503, {"message": "busy"}, headers={"Retry-After": "0"})
        return Reply(200, {"database": "ok", "version": "11.0.0"})

    with hostile(flaky) as server:
        result = CliRunner().invoke(main, ["push", "-f", MINIMAL, "--grafana-url", server.url, "--dry-run",
                                           "--backoff", "0.01"], env={"GRAFANA_TOKEN": "t"})
    assert result.stderr.count("retrying in 0 s (503)") == 2, result.stderr
    assert "Grafana health check: retrying" in result.stderr


def test_redaction_of_passwords_and_token_parameters() -> None:
    assert redact("http://u:p4ss@h:9090/x?access_token=abc&q=1") == "http://u:***@h:9090/x?access_token=***&q=1"
    assert redact("https://tok@h/") == "https://***@h/"
    assert redact("http://h/api?apiKey=k&page=2") == "http://h/api?apiKey=***&page=2"


def test_credentials_in_prometheus_url_reach_neither_output_nor_postmortem(tmp_path: Path) -> None:
    with hostile(lambda r: Reply(200, healthy())) as server:
        url = server.url.replace("http://", "http://reader:pa55word@")
        result = gate(url)
        assert result.exit_code == 0 and "pa55word" not in result.output
        assert server.seen[0].headers["authorization"] == "Basic cmVhZGVyOnBhNTV3b3Jk"
        pm = CliRunner().invoke(main, ["postmortem", "new", "Outage", "-f", MINIMAL, "--dir", str(tmp_path),
                                       "--from", "1700000000", "--to", "1700003600", "--prometheus-url", url])
    assert pm.exit_code == 0, pm.output
    written = next(tmp_path.glob("*.md")).read_text()
    assert "pa55word" not in written and r"reader:\*\*\*@" in written  # redacted, then Markdown-escaped
