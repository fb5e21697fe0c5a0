"""A grouped SLO (`group_by: [route]`) end to end on a real Prometheus: `status --json` lists each
route with its own exact budget, and `gate` decides on the worst route, or on one with `--group`.

The history is made as in tests/test_status_e2e.py (raw counters a minute apart, the rendered
recording rules evaluated by Prometheus itself pass by pass, backfilled with promtool; see
tests/rulehist.py). Expected budgets come from the generator's counters over the hour tiles'
span [H − 7d, H], H the last hour mark at or before END.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prom import needs_prometheus, prometheus
from rulehist import build_history, openmetrics
from slogen.render import render as render_bundle
from slogen.spec.load import loads

pytestmark = needs_prometheus

HOUR, DAY, MINUTE = 3600, 86400, 60
RATE = 10.0  # requests per second on each route
ROUTES = {"/pay": 0.006, "/home": 0.0005}  # error fraction: R = 0.4 (WARNING) and 0.95 (NORMAL) at 99 %
SPEC = """\
version: slogen/v1
services:
  - name: shop
    slos:
      - name: availability
        objective: 99
        window: 7d
        group_by: [route]
        sli:
          ratio:
            errors: http_requests_total{job="shop",code="500"}
            total: http_requests_total{job="shop"}
"""


@dataclass
class World:
    url: str
    end: int
    spec: Path
    counters: dict[str, dict[int, tuple[float, float]]]  # route → time → (events, errors)

    def remaining(self, route: str) -> float:
        mark = self.end // HOUR * HOUR
        e1, b1 = self.counters[route][mark]
        e0, b0 = self.counters[route][mark - 7 * DAY]
        return 1 - (b1 - b0) / (e1 - e0) / 0.01

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OVERRIDE_", "GITHUB_"))}
        return subprocess.run([sys.executable, "-m", "slogen", *args, "-f", str(self.spec), "--time", str(self.end)],
                              capture_output=True, text=True, env=env | {"PROMETHEUS_URL": self.url}, timeout=120)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("grouped-e2e")
    end = (int(time.time()) // HOUR - 3) * HOUR + 30 * MINUTE
    start = end - 7 * DAY - 2 * HOUR
    raw: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    counters: dict[str, dict[int, tuple[float, float]]] = {}
    for route, fraction in ROUTES.items():
        ok, bad = 5e5, 50.0  # non-zero at the start, as after a long uptime
        ok_points, bad_points, seen = [], [], {}
        for t in range(start, end + 1, MINUTE):
            if t > start:
                ok += RATE * MINUTE * (1 - fraction)
                bad += RATE * MINUTE * fraction
            ok_points.append((t, ok))
            bad_points.append((t, bad))
            seen[t] = (ok + bad, bad)
        counters[route] = seen
        labels = (("job", "shop"), ("route", route))
        raw[("http_requests_total", (*labels, ("code", "200")))] = ok_points
        raw[("http_requests_total", (*labels, ("code", "500")))] = bad_points
    spec = work / "slos.yaml"
    spec.write_text(SPEC)
    rule_files = {a.path: a.text for a in render_bundle(loads(SPEC)) if a.path.startswith("rules/")}
    store = work / "blocks"
    build_history(openmetrics(raw), list(rule_files.values()), end, store)
    config = "global: {evaluation_interval: 30s}\nrule_files:\n" + "".join(f"  - {p}\n" for p in sorted(rule_files))
    with prometheus(config, data_dir=store, files=rule_files) as (url, _):
        yield World(url, end, spec, counters)


def test_status_lists_each_group_with_its_own_budget(world: World) -> None:
    result = world.run("status", "--json")
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    by_route = {s["group"]["route"]: s for s in doc["slos"]}
    assert sorted(by_route) == sorted(ROUTES)
    for route in ROUTES:
        assert by_route[route]["error_budget_remaining"] == pytest.approx(world.remaining(route), rel=1e-9)
    assert (by_route["/pay"]["state"], by_route["/home"]["state"], doc["state"]) == ("WARNING", "NORMAL", "WARNING")
    table = world.run("status")
    assert "availability{route=/pay}" in table.stdout and "availability{route=/home}" in table.stdout


def test_gate_decides_on_the_worst_group_or_the_one_asked_for(world: World) -> None:
    assert world.run("gate").returncode == 1  # WARNING: /pay
    home = world.run("gate", "--group", "route=/home")
    assert home.returncode == 0, home.stdout + home.stderr
    assert world.run("gate", "--group", "route=/pay").returncode == 1
    unknown = world.run("gate", "--group", "region=eu")
    assert unknown.returncode == 99 and "no selected SLO groups by region" in unknown.stderr
    bad = world.run("gate", "--group", "route")
    assert bad.returncode == 99 and "is not LABEL=VALUE" in bad.stderr
