"""End to end: every panel query of the rendered dashboards, on a real Prometheus fed live traffic.

A `prometheus_client` exporter on 127.0.0.1 serves a request counter and a latency histogram
that grow in lockstep (2 % of requests fail, 10 % are slower than 250 ms), so every SLO
number the dashboards show is known in advance. Prometheus scrapes it and evaluates the
rendered rules every second; then each panel's PromQL, with the template variables
substituted as Grafana would, is run through the HTTP API and its values are checked.

Two test-only compressions of time, both applied to a temporary copy of the rule files:
group intervals become 1s, and the hourly tile gate (`minute() == 0`) holds on every
evaluation, so the period ratios exist after seconds instead of at the next full hour.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from prom import instant, needs_prometheus, prometheus
from slogen import conventions as c
from slogen.render import render
from slogen.spec.load import loads

SPEC = """\
version: slogen/v1
defaults: {window: 30d}
grafana: {dashboard: {uid: e2e, per_service: true}}
services:
  - name: shop
    slos:
      - name: availability
        objective: 95
        sli:
          ratio:
            errors: e2e_requests_total{app="shop",code=~"5.."}
            total: e2e_requests_total{app="shop"}
        alerting: {annotations: {runbook_url: "https://runbooks.example/shop"}}
      - name: latency
        objective: 75
        sli:
          latency: {metric: e2e_request_duration_seconds, selector: {app: shop}, threshold: 250ms}
"""
# Expected, computed by hand from the traffic below (budget = 1 − objective):
#   availability: error ratio 1/50 = 0.02, budget 0.05 → burn 0.4, remaining 0.6
#   latency:      error ratio 1/10 = 0.10, budget 0.25 → burn 0.4, remaining 0.6
#   both: days to exhaustion 0.6 × 30 / 0.4 = 45; state CAUTION (0.5 ≤ 0.6 ≤ 0.8)
#   p95: rank 9.5 of 10 falls halfway into the (0.25, 0.5] bucket → 0.375 s
EXPECTED = {
    ("shop", "availability"): {"objective": 95.0, "sli": 98.0},
    ("shop", "latency"): {"objective": 75.0, "sli": 90.0},
}
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0)


class Traffic(Collector):
    """Counters that grow in lockstep; collected under the same lock, so every scrape is consistent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ticks = 0

    def tick(self) -> None:
        with self.lock:
            self.ticks += 1

    def collect(self) -> Iterator[Any]:
        with self.lock:
            n = self.ticks
        requests_total = CounterMetricFamily("e2e_requests", "Requests.", labels=["app", "code"])
        requests_total.add_metric(["shop", "200"], 49 * n)
        requests_total.add_metric(["shop", "500"], 1 * n)
        yield requests_total
        # Per tick: 9 requests of 0.1 s and 1 of 0.4 s.
        counts = [0 if b < 0.1 else 9 * n if b < 0.4 else 10 * n for b in BUCKETS]
        hist = HistogramMetricFamily("e2e_request_duration_seconds", "Latency.", labels=["app"])
        hist.add_metric(["shop"], [(repr(b), float(v)) for b, v in zip(BUCKETS, counts, strict=True)]
                        + [("+Inf", float(10 * n))], sum_value=1.3 * n)
        yield hist


def serve(registry: CollectorRegistry) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def compressed(rule_text: str) -> str:
    """Rule groups every 1s; every evaluation counts as an hourly tile boundary."""
    text = re.sub(r"(?m)^(\s*)interval: .*$", r"\1interval: 1s", rule_text)
    return text.replace("minute()", "(0 * minute())")


def substitute(expr: str, doc: dict[str, Any]) -> str:
    """The query Grafana sends: variables with their selected value (All → its allValue)."""
    values = {"__rate_interval": "1m", "__interval": "1m", "__range": "1m"}
    for variable in doc["templating"]["list"]:
        if variable["type"] == "constant":
            values[variable["name"]] = variable["query"]
        elif variable["type"] == "query":
            values[variable["name"]] = variable["allValue"]
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    assert "$" not in expr, expr
    return expr


def ident(sample: dict[str, Any]) -> tuple[str, str]:
    return sample["metric"].get("service", ""), sample["metric"].get("slo", "")


def check_panel(title: str, refid: str, samples: list[dict[str, Any]]) -> None:
    """Plausible values for the panel, and the exact expectations where the traffic fixes them."""
    values = {ident(s): float(s["value"][1]) for s in samples}
    assert values, f"{title} {refid}: no data"
    approx = pytest.approx
    if title == "Error Budget Remaining":
        assert all(v <= 100 for v in values.values()) and values == {k: approx(60.0) for k in EXPECTED}
    elif title == "Days Until Budget Exhaustion":
        assert values == {k: approx(45.0) for k in EXPECTED}
    elif title == "Error Budget Burn Rate":
        assert all(v >= 0 for v in values.values()) and values == {k: approx(0.4) for k in EXPECTED}
    elif title == "SLO Compliance Overview":
        expected: dict[str, Any] = {
            "A": {k: approx(e["objective"]) for k, e in EXPECTED.items()},
            "B": {k: approx(e["sli"]) for k, e in EXPECTED.items()},
            "C": {k: approx(60.0) for k in EXPECTED}, "D": {k: approx(0.4) for k in EXPECTED},
            "E": {k: approx(c.STATE_CODES["CAUTION"]) for k in EXPECTED}}
        assert values == expected[refid], refid
        if refid == "E":
            assert {s["metric"]["state"] for s in samples} == {"CAUTION"}
            assert all(0 <= v <= len(c.STATES) - 1 for v in values.values())
    elif title == "SLO Compliance History":
        key = {"A": "sli", "B": "sli", "C": "objective"}[refid]
        assert values == {k: approx(e[key]) for k, e in EXPECTED.items()}, refid
    elif title == "Latency P95 vs SLO Target":
        assert list(values.values()) == [approx(0.375 if refid == "A" else 0.25)], refid
    else:
        pytest.fail(f"unexpected panel {title}")


@needs_prometheus
def test_every_panel_query_returns_the_expected_values_on_live_traffic() -> None:
    artifacts = render(loads(SPEC, filename="e2e.yaml"))
    rules = {a.path: compressed(a.text) for a in artifacts if a.path.startswith("rules/")}
    docs = [json.loads(a.text) for a in artifacts if a.path.startswith("dashboards/")]
    assert sorted(d["uid"] for d in docs) == ["e2e", c.service_dashboard_uid("e2e", "shop")]

    traffic = Traffic()
    registry = CollectorRegistry()
    registry.register(traffic)
    server = serve(registry)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            traffic.tick()
            stop.wait(0.05)

    ticker = threading.Thread(target=run, daemon=True)
    ticker.start()
    config = (
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: {json.dumps(sorted(rules))}\n"
        "scrape_configs:\n"
        f"  - job_name: e2e\n    static_configs: [{{targets: ['127.0.0.1:{server.server_address[1]}']}}]\n")
    try:
        with prometheus(config, files=rules) as (url, _):
            queries = [(d, p["title"], t["refId"], substitute(t["expr"], d))
                       for d in docs for p in d["panels"] for t in p["targets"]]
            assert len(queries) == 2 * (1 + 1 + 1 + 5 + 3 + 2)
            deadline = time.monotonic() + 30
            pending = list(queries)
            while pending and time.monotonic() < deadline:
                pending = [q for q in pending if not instant(url, q[3])]
                time.sleep(0.5)
            assert not pending, f"no data for {[(q[1], q[2], q[3]) for q in pending]}"
            for _, title, refid, expr in queries:
                check_panel(title, refid, instant(url, expr))
            # Range queries, as the timeseries panels send them, return data too.
            end = time.time()
            for doc, title, _, expr in queries:
                if next(p for p in doc["panels"] if p["title"] == title)["type"] == "timeseries":
                    params: dict[str, str | float] = {"query": expr, "start": end - 5, "end": end, "step": 1}
                    body = requests.get(url + "/api/v1/query_range", timeout=10, params=params).json()
                    assert body["status"] == "success" and body["data"]["result"], (title, expr)
            # The template variables' own queries list the spec's services and SLOs.
            body = requests.get(url + "/api/v1/label/slo/values", timeout=10,
                                params={"match[]": f'{c.SLO_INFO}{{service=~".*"}}'}).json()
            assert body["data"] == ["availability", "latency"]
    finally:
        stop.set()
        ticker.join()
        server.shutdown()
        server.server_close()
