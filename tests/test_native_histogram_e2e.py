"""A native-histogram latency SLI (`native: true`) on a real Prometheus scraping a loopback exporter.

The exporter (tests/native_histogram.py) writes one schema-0 native histogram in protobuf; each
tick adds 6 observations of 0.75 s, 3 of 1.5 s and 1 of 3 s. With the threshold at 2 s (a bucket
boundary of schema 0: bucket 1 is (1, 2]), one request in ten is slow, whatever the window. The
rendered rules' own expressions are evaluated by Prometheus (instant queries of the rule text)
and must give exactly that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import yaml
from native_histogram import NativeHistogram, exporter

from prom import instant, needs_prometheus, prometheus
from slogen import conventions as c
from slogen.render import render
from slogen.spec.load import loads

pytestmark = needs_prometheus

SPEC = """\
version: slogen/v1
services:
  - name: api
    slos:
      - name: latency
        objective: 95
        sli:
          latency:
            metric: rpc_duration_seconds
            selector: {job: native}
            threshold: 2s
            native: true
"""


@pytest.fixture(scope="module")
def prom_url() -> Iterator[str]:
    histogram = NativeHistogram("rpc_duration_seconds", {"method": "get"})
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            histogram.observe(0, 6, 0.75)
            histogram.observe(1, 3, 1.5)
            histogram.observe(2, 1, 3.0)
            stop.wait(0.25)

    histogram.observe(0, 6, 0.75)
    histogram.observe(1, 3, 1.5)
    histogram.observe(2, 1, 3.0)
    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        with exporter(histogram) as target:
            config = ("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: native\n"
                      f"    static_configs: [{{targets: ['{target}']}}]\n")
            with prometheus(config, extra_args=("--enable-feature=native-histograms",)) as (url, _):
                deadline = time.time() + 30
                while _scraped(url) < 4:  # rate() needs samples; four scrapes give it three intervals
                    assert time.time() < deadline, "Prometheus did not scrape the native histogram"
                    time.sleep(0.5)
                yield url
    finally:
        stop.set()
        ticker.join(timeout=5)


def _scraped(url: str) -> int:
    found = instant(url, "count_over_time(rpc_duration_seconds[1m])")
    return int(float(found[0]["value"][1])) if found else 0


def _rules() -> dict[str, str]:
    (rule_file,) = [a.text for a in render(loads(SPEC)) if a.path.startswith("rules/")]
    return {r["record"]: r["expr"] for g in yaml.safe_load(rule_file)["groups"] for r in g["rules"] if "record" in r}


def test_the_rules_read_the_native_histogram(prom_url: str) -> None:
    rules = _rules()
    assert "histogram_fraction(0, 2, sum(rate(rpc_duration_seconds{job=\"native\"}[5m])))" in \
        rules[c.error_ratio("5m")]
    for name in (c.error_ratio("5m"), c.error_ratio("1h")):
        (sample,) = instant(prom_url, rules[name])
        assert float(sample["value"][1]) == pytest.approx(0.1, rel=1e-9), name
    at = time.time()  # both at one instant: the exporter keeps counting
    (events,) = instant(prom_url, rules[c.EVENTS_TILE], at)
    (errors,) = instant(prom_url, rules[c.ERRORS_TILE], at)
    assert float(events["value"][1]) > 0
    assert float(errors["value"][1]) == pytest.approx(float(events["value"][1]) / 10, rel=1e-9)


def test_the_absent_alert_sees_the_native_series(prom_url: str) -> None:
    assert instant(prom_url, 'absent(rpc_duration_seconds{job="native"})') == []
    assert len(instant(prom_url, 'absent(rpc_duration_seconds{job="gone"})')) == 1
