"""The demo service for real, without Docker: its knobs and metrics, and end to end with a real
Prometheus that scrapes it at 1s with the rendered rules. With the error rate high the page
alert fires; with it at zero, nothing does."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
import yaml

from conftest import ROOT
from prom import free_port, instant, needs_prometheus, prometheus
from slogen import conventions as c
from slogen.model import LatencySLI
from slogen.render import render
from slogen.spec import load as spec_loader

DEMO = ROOT / "demo"
FIRE_DEADLINE = 60.0  # seconds; the page fires about 8 s after the first scrape here


def load_demo_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"slogen_demo_{name}", DEMO / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


app = load_demo_module("app")


# ------------------------------------------------------------------ the demo on its own


def test_histogram_buckets_include_every_latency_threshold_of_the_spec() -> None:
    spec = spec_loader.load(str(ROOT / "slos.yaml"))
    thresholds = {slo.sli.threshold_seconds for slo in spec.slos if isinstance(slo.sli, LatencySLI)}
    assert thresholds == {0.5, 2.0}
    assert thresholds <= set(app.DEFAULT_BUCKETS)


def test_error_and_slow_shares_are_exact() -> None:
    demo = app.Demo(app.Knobs(error_rate=0.2, slow_rate=0.05, latency=0.0, slow_latency=9.0))
    decisions = [demo.decide() for _ in range(1000)]
    assert sum(fail for fail, _ in decisions) == 200
    assert sum(delay == 9.0 for _, delay in decisions) == 50
    demo.update({"error_rate": 0.001})
    assert sum(demo.decide()[0] for _ in range(3000)) == 3


def test_knobs_reject_bad_values() -> None:
    demo = app.Demo(app.Knobs())
    for bad in ({"error_rate": 1.5}, {"latency": -1}, {"nope": 1}, {"slow_rate": "x"}, {"error_rate": True}):
        with pytest.raises(ValueError):
            demo.update(bad)
    assert demo.knobs == app.Knobs()  # nothing applied
    with pytest.raises(ValueError, match="DEMO_ERROR_RATE"):
        app.knobs_from_env({"DEMO_ERROR_RATE": "lots"})
    assert app.knobs_from_env({"DEMO_ERROR_RATE": "0.25"}).error_rate == 0.25


def test_route_label_is_the_first_path_segment_and_bounded() -> None:
    demo = app.Demo(app.Knobs())
    assert [demo.route(p) for p in ("/pay", "/pay/now", "/cart", "/")] == ["/pay", "/pay", "/cart", "/"]
    extra = [demo.route(f"/r{i}") for i in range(app.MAX_ROUTES + 5)]
    assert len(set(extra) - {app.OTHER_ROUTE}) == app.MAX_ROUTES - 3  # /pay, /cart and / came first
    assert extra[-1] == app.OTHER_ROUTE and demo.route("/pay") == "/pay"  # known routes stay themselves


# ------------------------------------------------------------------ processes


def wait_http(url: str, deadline: float = 20.0) -> None:
    until = time.monotonic() + deadline
    while True:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code == 200:
                return
        assert time.monotonic() < until, f"{url} did not come up"
        time.sleep(0.05)


@contextlib.contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_demo(procs: list[subprocess.Popen[bytes]], service: str, log: Path) -> str:
    port = free_port()
    env = {"DEMO_HOST": "127.0.0.1", "DEMO_PORT": str(port), "DEMO_SERVICE": service,
           "DEMO_ERROR_RATE": "0", "DEMO_LATENCY": "0.002", "PATH": "/usr/bin:/bin"}
    procs.append(subprocess.Popen([sys.executable, str(DEMO / "app.py")], env=env,
                                  stdout=log.open("w"), stderr=subprocess.STDOUT))
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz")
    return url


def test_demo_process_serves_metrics_and_admin(tmp_path: Path) -> None:
    with processes() as procs:
        url = start_demo(procs, "checkout", tmp_path / "demo.log")
        assert requests.post(url + "/admin/error-rate", data="0.5", timeout=5).json()["error_rate"] == 0.5
        statuses = [requests.get(url + "/buy", timeout=5).status_code for _ in range(10)]
        assert statuses.count(500) == 5 and statuses.count(200) == 5
        bad = requests.post(url + "/admin/error-rate", data="2", timeout=5)
        assert bad.status_code == 400 and "between 0 and 1" in bad.json()["error"]
        assert requests.get(url + "/admin/config", timeout=5).json()["error_rate"] == 0.5
        metrics = requests.get(url + "/metrics", timeout=5).text
    assert 'http_requests_total{method="GET",route="/buy",status="500"} 5.0' in metrics
    assert 'http_request_duration_seconds_bucket{le="2.0",route="/buy"} 10.0' in metrics
    assert "job=" not in metrics  # Prometheus would rename it to exported_job


# ------------------------------------------------------------------ end to end


def fast_rules() -> dict[str, str]:
    """The rendered rule files with every group evaluated each second (nothing else changed)."""
    spec = spec_loader.load(str(ROOT / "slos.yaml"))
    files = {}
    for artifact in render(spec):
        if not artifact.path.startswith("rules/"):
            continue
        doc = yaml.safe_load(artifact.text)
        for group in doc["groups"]:
            group["interval"] = "1s"
        files[artifact.path] = yaml.safe_dump(doc, sort_keys=False)
    return files


def stack_config(targets: dict[str, str], rule_paths: list[str]) -> str:
    """deploy/prometheus/prometheus.yml with loopback targets, 1s scrapes and the tmp rule files."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = rule_paths
    config.pop("alerting")  # no Alertmanager here; /api/v1/alerts shows what fires
    jobs = [job for job in config["scrape_configs"] if job["job_name"] in targets]
    assert {job["job_name"] for job in jobs} == set(targets)
    for job in jobs:
        job["static_configs"] = [{"targets": [targets[job["job_name"]].removeprefix("http://")]}]
    config["scrape_configs"] = jobs
    return yaml.safe_dump(config, sort_keys=False)


def active_alerts(url: str) -> list[dict[str, Any]]:
    body = requests.get(url + "/api/v1/alerts", timeout=5).json()
    assert body["status"] == "success"
    return list(body["data"]["alerts"])


def page_firing(alerts: list[dict[str, Any]], service: str) -> bool:
    return any(a["labels"].get("alertname") == c.ALERT_PAGE and a["state"] == "firing"
               and a["labels"].get(c.LABEL_SERVICE) == service for a in alerts)


@needs_prometheus
@pytest.mark.slow
def test_page_fires_on_a_high_error_rate_and_not_on_a_clean_one(tmp_path: Path) -> None:
    rules = fast_rules()
    with processes() as procs:
        urls = {name: start_demo(procs, name, tmp_path / f"{name}.log") for name in ("checkout", "search")}
        procs.append(subprocess.Popen(
            [sys.executable, str(DEMO / "loadgen.py"), "--rps", "40", "--concurrency", "4",
             urls["checkout"] + "/checkout", urls["search"] + "/search"],
            stdout=(tmp_path / "loadgen.log").open("w"), stderr=subprocess.STDOUT))
        with prometheus(stack_config(urls, sorted(rules)), files=rules) as (prom_url, _):
            # Clean traffic: wait until the rules have recorded a (zero) error ratio from live
            # scrapes, then watch ten more evaluations: nothing may be pending or firing.
            ratio = f'{c.error_ratio("5m")}{{service="checkout",slo="availability"}}'
            events = f'{c.EVENTS_TILE}{{service="checkout",slo="availability"}}'
            until = time.monotonic() + FIRE_DEADLINE
            while not (instant(prom_url, f"{events} > 0") and instant(prom_url, ratio)):
                assert time.monotonic() < until, "the rules never recorded the checkout traffic"
                time.sleep(0.5)
            assert float(instant(prom_url, ratio)[0]["value"][1]) == 0.0
            quiet_until = time.monotonic() + 10
            while time.monotonic() < quiet_until:
                assert active_alerts(prom_url) == []
                time.sleep(0.5)

            # 50 % errors on checkout (budget 0.1 %): a 500x burn; the page must fire, for checkout only.
            assert requests.post(urls["checkout"] + "/admin/error-rate", data="0.5", timeout=5).ok
            until = time.monotonic() + FIRE_DEADLINE
            while not page_firing(alerts := active_alerts(prom_url), "checkout"):
                assert time.monotonic() < until, f"no page within {FIRE_DEADLINE}s: {json.dumps(alerts)}"
                time.sleep(0.5)
            pages = [a for a in alerts if a["labels"]["alertname"] == c.ALERT_PAGE and a["state"] == "firing"]
            assert {(a["labels"][c.LABEL_SERVICE], a["labels"][c.LABEL_SLO], a["labels"][c.LABEL_SEVERITY])
                    for a in pages} == {("checkout", "availability", c.SEVERITY_PAGE)}
            assert not any(a["labels"].get(c.LABEL_SERVICE) == "search" for a in alerts)
    assert all(proc.poll() is not None for proc in procs)


# ------------------------------------------------------------------ seeded history

history = load_demo_module("history")


def test_history_uses_the_conventions_series_names() -> None:
    assert (history.EVENTS_HOUR, history.ERRORS_HOUR) == (c.EVENTS_HOUR, c.ERRORS_HOUR)


def _history_sums(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(metric, sorted labels) → the sum of its samples, parsed from the OpenMetrics text."""
    sums: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, value, _ = line.rsplit(" ", 2)
        metric, labels = series.split("{")
        key = (metric, tuple(sorted(re.findall(r'(\w+)="([^"]*)"', labels))))
        sums[key] = sums.get(key, 0.0) + float(value)
    return sums


def test_history_gives_each_group_of_a_grouped_slo_its_own_series(tmp_path: Path) -> None:
    out = tmp_path / "history.om"
    assert history.main(["--spec", str(ROOT / "slos.yaml"), "--days", "2", "--out", str(out)]) == 0
    spec = spec_loader.load(str(ROOT / "slos.yaml"))
    (grouped,) = [slo for slo in spec.slos if slo.group_by]
    assert (grouped.service, grouped.name, grouped.group_by) == ("checkout", "latency", ("route",))
    labelsets = {labels for metric, labels in _history_sums(out.read_text()) if metric == c.EVENTS_HOUR}
    mine = {dict(labels).get("route") for labels in labelsets
            if ("service", "checkout") in labels and ("slo", "latency") in labels}
    assert mine == {"/cart", "/pay"}  # no series without the route label: it would be a phantom group
    assert all("route" not in dict(labels) for labels in labelsets if ("slo", "latency") not in labels
               or ("service", "search") in labels)
    with pytest.raises(ValueError, match="no demo values for the grouping label 'zone'"):
        history.groups_of(["zone"])
    assert history.Incident.parse("checkout/latency{route=/pay}@6:2:10").group == (("route", "/pay"),)


@needs_prometheus
def test_seeded_history_gives_the_budget_at_once(tmp_path: Path) -> None:
    # 27 days: inside every period of slos.yaml (28d, 30d), so every tile counts whenever the
    # rules evaluate, and the expectation does not depend on the evaluation instant.
    out = tmp_path / "history.om"
    assert history.main(["--spec", str(ROOT / "slos.yaml"), "--days", "27", "--out", str(out)]) == 0
    text = out.read_text()
    sums = _history_sums(text)
    # Budget remaining per SLO, and per group of a grouped SLO, from the tiles written: keyed by
    # (service, slo, route or "").
    expected: dict[tuple[str, str, str], float] = {}
    spec = spec_loader.load(str(ROOT / "slos.yaml"))
    for slo in spec.slos:
        for (metric, labels), errors in sums.items():
            got = dict(labels)
            if metric != c.ERRORS_HOUR or (got["service"], got["slo"]) != (slo.service, slo.name):
                continue
            assert set(got) == {"service", "slo", *slo.group_by}
            ratio = errors / sums[(c.EVENTS_HOUR, labels)]
            expected[(slo.service, slo.name, got.get("route", ""))] = 1 - ratio / float(slo.error_budget)
    assert len(expected) == 5  # four SLOs, one of them by route: /cart and /pay
    # The model's intent: 10 % of the budget spent, plus the default incidents (3 h at burn 12,
    # 6 h at burn 5, 2 h at burn 10 on /pay only), weighted by diurnal traffic (x0.5..x1.5) at
    # whatever hour they fell on; /cart spends 5 %.
    assert 0.9 - 3 * 11.9 / 648 * 1.5 < expected[("checkout", "availability", "")] < 0.9 - 3 * 11.9 / 648 * 0.5
    assert 0.9 - 6 * 4.9 / 648 * 1.5 < expected[("search", "latency", "")] < 0.9 - 6 * 4.9 / 648 * 0.5
    assert 0.9 - 2 * 9.9 / 648 * 1.5 < expected[("checkout", "latency", "/pay")] < 0.9 - 2 * 9.9 / 648 * 0.5
    assert abs(expected[("checkout", "latency", "/cart")] - 0.95) < 1e-9
    assert abs(expected[("search", "availability", "")] - 0.9) < 1e-9

    from prom import backfill
    backfill(text, tmp_path / "data")
    rules = fast_rules()
    config = yaml.safe_dump({"global": {"evaluation_interval": "1s"}, "rule_files": sorted(rules)})
    with prometheus(config, data_dir=tmp_path / "data", files=rules) as (url, _):
        until = time.monotonic() + FIRE_DEADLINE
        # budget remaining is recorded by the budget group, the state (reading it) by the state group
        while len(got := instant(url, c.BUDGET_REMAINING)) < len(expected) or len(
                state := instant(url, c.STATE)) < len(expected):
            assert time.monotonic() < until, f"budget not recorded from the seeded tiles: {got}"
            time.sleep(0.5)
    values = {(r["metric"]["service"], r["metric"]["slo"], r["metric"].get("route", "")): float(r["value"][1])
              for r in got}
    assert len(got) == len(values) and values.keys() == expected.keys()  # no phantom group
    for key, want in expected.items():
        assert abs(values[key] - want) < 1e-9, (key, values[key], want)
    assert {float(r["value"][1]) for r in state} == {float(c.STATE_CODES["NORMAL"])}


def test_webhook_logs_one_line_per_alert(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "webhook.log"
    payload = {"version": "4", "status": "firing", "receiver": "page", "alerts": [
        {"status": "firing", "labels": {"alertname": c.ALERT_PAGE, "service": "checkout", "slo": "availability",
                                        "severity": "page"}, "annotations": {"summary": "burning fast"}},
        {"status": "resolved", "labels": {"alertname": c.ALERT_TICKET, "service": "search", "slo": "latency",
                                          "severity": "ticket"}, "annotations": {}}]}
    with processes() as procs:
        procs.append(subprocess.Popen([sys.executable, str(DEMO / "webhook.py")], stdout=log.open("w"),
                                      stderr=subprocess.STDOUT,
                                      env={"WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(port),
                                           "PATH": "/usr/bin:/bin"}))
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/")
        assert requests.post(url + "/page", json=payload, timeout=5).status_code == 200
        assert requests.post(url + "/page", data=b"{not json", timeout=5).status_code == 400
        received = requests.get(url + "/", timeout=5).json()
    lines = log.read_text().splitlines()
    assert (f"[page] firing {c.ALERT_PAGE} service=checkout slo=availability severity=page - burning fast"
            in lines)
    assert f"[page] resolved {c.ALERT_TICKET} service=search slo=latency severity=ticket" in lines
    assert received == [{"channel": "page", "payload": payload}]
