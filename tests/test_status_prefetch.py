"""`status` and `gate` send their one query before the spec is loaded (services/status.py,
`Prefetch`): still one query, still the spec's problems first, Prometheus' failures as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile import Reply, hostile, prom_vector

from conftest import SPECS
from prom import free_port
from slogen import conventions as c
from slogen.cli import main
from slogen.clients.prometheus import PrometheusError
from slogen.services import status as status_service

LABELS = {"service": "api", "slo": "availability"}
FREEZE = prom_vector([({"__name__": c.BUDGET_REMAINING, **LABELS}, "0.1"),
                      ({"__name__": c.BURN_RATE_1H, **LABELS}, "2")])
INVALID = "version: slogen/v1\nservices:\n  - name: api\n    slos: []\n"


def _run(*args: str, spec: Path = SPECS / "minimal.yaml") -> Any:
    return CliRunner().invoke(main, [args[0], "-f", str(spec), *args[1:]],
                              env={"PROMETHEUS_URL": None, "GITHUB_STEP_SUMMARY": None, "SLOGEN_NO_CACHE": "1"})


def test_one_query_the_budget_query_for_the_gate_and_status(tmp_path: Path) -> None:
    with hostile(lambda r: Reply(200, FREEZE)) as server:
        gate = _run("gate", "--prometheus-url", server.url, "--time", "1000", "--audit-log", str(tmp_path / "a"))
        status = _run("status", "--json", "--prometheus-url", server.url, "--time", "1000")
        narrowed = _run("status", "--prometheus-url", server.url, "--service", "api", "--time", "1000")
    assert gate.exit_code == 2 and "gate: FREEZE" in gate.output
    assert status.exit_code == 0
    assert [s["state"] for s in json.loads(status.output)["slos"]] == [c.FREEZE]
    assert narrowed.exit_code == 0 and "FREEZE" in narrowed.output
    assert [(r.path, r.query["query"], r.query["time"]) for r in server.seen] == [
        ("/api/v1/query", [status_service.budget_query()], ["1000.000"]),
        ("/api/v1/query", [status_service.budget_query()], ["1000.000"]),
        ("/api/v1/query", [status_service.budget_query("api")], ["1000.000"])]


def test_the_spec_s_problems_come_before_an_unreachable_prometheus(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(INVALID)
    url = f"http://127.0.0.1:{free_port()}"
    gate = _run("gate", "--prometheus-url", url, "--timeout", "2", "--audit-log", str(tmp_path / "a"), spec=spec)
    status = _run("status", "--prometheus-url", url, "--timeout", "2", spec=spec)
    for result, code in ((gate, 99), (status, 1)):
        assert result.exit_code == code, result.output
        assert "slos" in result.stderr and "cannot connect" not in result.stderr
        assert "Traceback" not in result.output
    assert "the spec" in gate.stderr and "is invalid" in gate.stderr


def test_an_unknown_slo_is_reported_even_though_the_query_was_sent(tmp_path: Path) -> None:
    with hostile(lambda r: Reply(200, FREEZE)) as server:
        result = _run("status", "--prometheus-url", server.url, "--service", "nope")
        gate = _run("gate", "--prometheus-url", server.url, "--service", "nope", "--audit-log", str(tmp_path / "a"))
    assert result.exit_code == 2 and "unknown service 'nope'" in result.stderr
    assert gate.exit_code == 99 and "unknown service 'nope'" in gate.stderr
    unreachable = _run("status", "--prometheus-url", f"http://127.0.0.1:{free_port()}", "--service", "nope")
    assert unreachable.exit_code == 2
    assert unreachable.stderr == "error: unknown service 'nope'; the spec declares: api\n"  # no retry notice


def test_retry_notices_are_told_when_the_answer_is_read() -> None:
    told: list[tuple[float, str, str]] = []
    url = f"http://127.0.0.1:{free_port()}"
    prefetch = status_service.Prefetch(url, timeout=1, at=1000.0)
    with pytest.raises(PrometheusError, match="cannot connect"):
        prefetch.answer(lambda *notice: told.append(notice))
    assert len(told) == 2 and all(n[1:] == ("refused", "query") for n in told)  # two retries, then the error


def test_prometheus_failures_are_reported_as_without_the_prefetch(tmp_path: Path,
                                                                  monkeypatch: Any) -> None:
    answer = {"status": "error", "errorType": "bad_data", "error": "parse error"}
    with hostile(lambda r: Reply(400, answer)) as server:
        first = _run("status", "--prometheus-url", server.url, "--time", "1000")
        gate = _run("gate", "--prometheus-url", server.url, "--time", "1000", "--audit-log", str(tmp_path / "a"))
        monkeypatch.setattr(status_service.Prefetch, "answer", lambda self, on_retry: None)  # none prefetched
        monkeypatch.setattr(status_service.Prefetch, "_send", lambda self: None)
        without = _run("status", "--prometheus-url", server.url, "--time", "1000")
    assert first.exit_code == 3 == without.exit_code
    assert first.stderr == without.stderr and "parse error" in first.stderr
    assert gate.exit_code == 99 and "parse error" in gate.stderr
    assert len(server.seen) == 3  # the prefetch sent nothing in the last run: the read asked itself
