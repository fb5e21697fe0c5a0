"""The Prometheus client and the status/gate fault paths, against a real Prometheus and real sockets:
connection refused, a server that never answers, PromQL errors, HTTP errors, warnings, no data."""

from __future__ import annotations

import contextlib
import http.server
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prom import free_port, needs_prometheus, prometheus
from slogen import conventions as c
from slogen.clients.prometheus import PrometheusClient, PrometheusError, display_url

SPEC = """
version: slogen/v1
services:
  - name: alpha
    slos:
      - name: availability
        objective: 99.9
        sli: {ratio: {errors: 'http_requests_total{job="alpha",code=~"5.."}', total: 'http_requests_total{job="alpha"}'}}
  - name: beta
    slos:
      - name: availability
        objective: 99
        sli: {ratio: {errors: 'http_requests_total{job="beta",code=~"5.."}', total: 'http_requests_total{job="beta"}'}}
"""


def _live_rules(budgets: dict[str, float]) -> str:
    """A rule file that records the budget series for the given services (live, every second)."""
    rules = []
    for service, remaining in budgets.items():
        labels = {c.LABEL_SERVICE: service, c.LABEL_SLO: "availability"}
        for name, value in ((c.BUDGET_REMAINING, remaining), (c.BURN_RATE_1H, 1.0),
                            (c.ERROR_RATIO_PERIOD, (1 - remaining) * 0.001)):
            rules.append({"record": name, "expr": f"vector({value!r})", "labels": labels})
    return json.dumps({"groups": [{"name": "fault-test", "interval": "1s", "rules": rules}]})


@contextlib.contextmanager
def _prometheus_with(budgets: dict[str, float], *extra: str) -> Iterator[str]:
    config = "global: {evaluation_interval: 1s}\nrule_files: [rules.json]\n"
    with prometheus(config, files={"rules.json": _live_rules(budgets)}, extra_args=extra) as (url, _):
        deadline = time.monotonic() + 30
        probe = PrometheusClient(url, timeout=5)
        while len(probe.query(c.BUDGET_REMAINING).samples) < len(budgets):
            assert time.monotonic() < deadline, "rules never evaluated"
            time.sleep(0.2)
        yield url


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "slos.yaml"
    path.write_text(SPEC)
    return path


def slogen(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OVERRIDE_", "GITHUB_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "slogen", *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd, timeout=120)


@contextlib.contextmanager
def _silent_server() -> Iterator[str]:
    """A socket that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


@contextlib.contextmanager
def _black_hole() -> Iterator[str]:
    """A port whose accept queue is full and never drained: new connections hang in SYN."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        server.close()


@contextlib.contextmanager
def _answering(status: int, content_type: str, body: bytes) -> Iterator[str]:
    """An HTTP server that answers every request with the same response."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def _proxy_error_server() -> contextlib.AbstractContextManager[str]:
    """Answers every request with a 502 HTML page, like a broken proxy."""
    return _answering(502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>")


# ------------------------------------------------------------------------------------ client


def test_connection_refused_is_a_clear_remote_error() -> None:
    client = PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(PrometheusError, match=r"cannot connect to Prometheus at http://127\.0\.0\.1:[0-9]+: connection refused"):
        client.query("up")
    assert client.queries == 1  # connect retries happen inside the one query
    assert PrometheusError.exit_code == 3


def test_credentials_in_the_url_are_never_shown() -> None:
    port = free_port()
    client = PrometheusClient(f"http://reader:s3cret-pw@127.0.0.1:{port}", timeout=2)
    with pytest.raises(PrometheusError) as err:
        client.query("up")
    assert "s3cret-pw" not in str(err.value)
    assert f"http://reader:***@127.0.0.1:{port}" in str(err.value)
    assert display_url("http://localhost:9090") == "http://localhost:9090"


def test_a_server_that_never_answers_times_out() -> None:
    with _silent_server() as url:
        client = PrometheusClient(url, timeout=0.5)
        with pytest.raises(PrometheusError, match=r"did not answer within 0.5s"):
            client.query("up")


def test_a_connection_that_never_completes_times_out_once_for_all_attempts(spec_file: Path) -> None:
    with _black_hole() as url:
        with pytest.raises(PrometheusError, match=r"no answer to 3 connection attempts within 0.6s"):
            PrometheusClient(url, timeout=0.6).query("up")
        gate = slogen("gate", "-f", str(spec_file), "--prometheus-url", url, "--timeout", "0.6")
        assert gate.returncode == 99 and "no answer to 3 connection attempts" in gate.stderr


def test_http_error_that_is_not_an_api_answer() -> None:
    with _proxy_error_server() as url, pytest.raises(PrometheusError, match="HTTP 502 Bad Gateway, not an API response"):
        PrometheusClient(url, timeout=2).query("up")


@pytest.mark.parametrize("element", [{"metric": {}}, {"metric": [], "value": [1, "1"]}, {"value": [1]},
                                     {"metric": {}, "value": [1, "one"]}, "up"])
def test_a_malformed_vector_is_a_clear_remote_error(element: object) -> None:
    body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [element]}}).encode()
    with _answering(200, "application/json", body) as url, \
            pytest.raises(PrometheusError, match="returned a malformed instant vector"):
        PrometheusClient(url, timeout=2).query("up")


def test_bad_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout"):
        PrometheusClient(timeout=0)


@needs_prometheus
def test_real_prometheus_results_errors_and_warnings() -> None:
    dead = free_port()  # remote_read to a closed port: Prometheus answers, with a warning
    config = f"global: {{}}\nremote_read:\n  - url: http://127.0.0.1:{dead}/read\n    read_recent: true\n"
    with prometheus(config) as (url, _):
        client = PrometheusClient(url, timeout=10)
        result = client.query('label_replace(vector(0.25), "slo", "x", "", "")', at=1_700_000_000)
        assert [(s.labels, s.value, s.timestamp) for s in result.samples] == [({"slo": "x"}, 0.25, 1_700_000_000.0)]
        assert math.isnan(client.query("vector(0) / 0").samples[0].value)
        assert client.query("scalar(vector(2))").samples[0].value == 2.0
        warned = client.query('{__name__="anything"}')
        assert warned.samples == [] and any("remote_read" in w and "connection refused" in w for w in warned.warnings)
        with pytest.raises(PrometheusError, match=r"bad_data: invalid parameter \"query\": 1:5: parse error: "
                                                  r"unclosed left parenthesis; query: sum\("):
            client.query("sum(")
        assert client.queries == 5


# ------------------------------------------------------------------------------------ CLI faults


@needs_prometheus
def test_gate_and_status_when_prometheus_is_stopped(spec_file: Path) -> None:
    with _prometheus_with({"alpha": 0.9, "beta": 0.6}) as url:
        running = slogen("gate", "-f", str(spec_file), "--prometheus-url", url, "--timeout", "2")
        assert running.returncode == 0, running.stderr
    # The same server, now stopped: its port refuses connections.
    gate = slogen("gate", "-f", str(spec_file), "--prometheus-url", url, "--timeout", "2")
    assert gate.returncode == 99, gate.stderr
    assert "connection refused" in gate.stderr and "Traceback" not in gate.stderr
    status = slogen("status", "-f", str(spec_file), "--timeout", "2", env={"PROMETHEUS_URL": url})
    assert status.returncode == 3, status.stderr
    assert f"cannot connect to Prometheus at {url}: connection refused" in status.stderr


def test_gate_and_status_when_prometheus_never_answers(spec_file: Path, tmp_path: Path) -> None:
    with _silent_server() as url:
        out = tmp_path / "gate.json"
        gate = slogen("gate", "-f", str(spec_file), "--prometheus-url", url, "--timeout", "1", "--json", str(out))
        assert gate.returncode == 99, gate.stderr
        assert "did not answer within 1s" in gate.stderr
        doc = json.loads(out.read_text())
        assert (doc["state"], doc["exit_code"], doc["allowed"]) == ("UNKNOWN", 99, False)
        assert "did not answer" in doc["error"]
        status = slogen("status", "-f", str(spec_file), "--prometheus-url", url, "--timeout", "1")
        assert status.returncode == 3 and "did not answer within 1s" in status.stderr


@needs_prometheus
def test_gate_and_status_on_a_promql_error(spec_file: Path) -> None:
    # A real execution error: the one batched query loads 6 samples; this server allows 3.
    with _prometheus_with({"alpha": 0.9, "beta": 0.9}, "--query.max-samples=3") as url:
        gate = slogen("gate", "-f", str(spec_file), "--prometheus-url", url)
        assert gate.returncode == 99, gate.stderr
        assert "execution: query processing would load too many samples into memory" in gate.stderr
        status = slogen("status", "-f", str(spec_file), "--prometheus-url", url)
        assert status.returncode == 3 and "too many samples" in status.stderr


@needs_prometheus
def test_an_slo_without_data_makes_the_gate_undecided(spec_file: Path) -> None:
    with _prometheus_with({"alpha": 0.9}) as url:  # beta has no recorded series
        gate = slogen("gate", "-f", str(spec_file), "--prometheus-url", url)
        assert gate.returncode == 99, gate.stdout + gate.stderr
        assert "rules not loaded for beta/availability" in gate.stderr  # no slogen_slo_info for it
        assert "alpha/availability: NORMAL" in gate.stdout
        only_alpha = slogen("gate", "-f", str(spec_file), "--prometheus-url", url, "--service", "alpha")
        assert only_alpha.returncode == 0, only_alpha.stderr
        # An override never applies to UNKNOWN.
        forced = slogen("gate", "-f", str(spec_file), "--prometheus-url", url,
                        env={"OVERRIDE_DEPLOY": "true", "OVERRIDE_DEPLOY_FREEZE": "true",
                             "OVERRIDE_BUDGET_EXHAUSTED": "true"})
        assert forced.returncode == 99
        status = slogen("status", "-f", str(spec_file), "--prometheus-url", url, "--json")
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert doc["state"] == "UNKNOWN"
        assert [(s["service"], s["state"], s["error_budget_remaining"]) for s in doc["slos"]] == [
            ("alpha", "NORMAL", 0.9), ("beta", "UNKNOWN", None)]


@needs_prometheus
def test_prometheus_warnings_reach_the_user(spec_file: Path) -> None:
    dead = free_port()  # a remote_read endpoint that refuses: answers come with a warning
    config = (f"global: {{evaluation_interval: 1s}}\nrule_files: [rules.json]\nremote_read:\n"
              f"  - url: http://127.0.0.1:{dead}/read\n    read_recent: true\n")
    with prometheus(config, files={"rules.json": _live_rules({"alpha": 0.3, "beta": 0.9})}) as (url, _):
        deadline = time.monotonic() + 30
        while len(PrometheusClient(url).query(c.BUDGET_REMAINING).samples) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        gate = slogen("gate", "-f", str(spec_file), "--prometheus-url", url)
        assert gate.returncode == 1, gate.stderr  # alpha is in WARNING; the warning does not block
        assert "warning: Prometheus: remote_read: error sending request" in gate.stderr


def test_gate_usage_errors_are_undecided_not_freeze(spec_file: Path) -> None:
    for args in (["--no-such-option"], ["--time", "yesterday"], ["--time", "2026-11-29T12:00:00"],
                 ["--service", "nope"], ["--slo", "latency"]):
        result = slogen("gate", "-f", str(spec_file), "--prometheus-url", "http://127.0.0.1:9", *args)
        assert result.returncode == 99, (args, result.stderr)
        assert "Traceback" not in result.stderr
    status = slogen("status", "-f", str(spec_file), "--service", "nope")
    assert status.returncode == 2 and "unknown service 'nope'; the spec declares: alpha, beta" in status.stderr


def test_gate_with_an_invalid_spec_is_undecided(tmp_path: Path) -> None:
    bad = tmp_path / "slos.yaml"
    bad.write_text("version: slogen/v1\nservices: 3\n")
    result = slogen("gate", "-f", str(bad))
    assert result.returncode == 99
    assert "slos.yaml:2:" in result.stderr and "is invalid" in result.stderr
