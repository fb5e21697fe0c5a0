"""`slogen backfill` end to end: a fresh Prometheus with 3 days of raw counters and the rules just
loaded; after the backfill, moving the blocks in and a restart, `status --json` shows the budget
of the whole history.

Expected values come from the generator's cumulative counters, never from slogen: an hour tile
at the whole hour H covers (H − 1h, H], the period's picks are the whole hours of the history, so
the period ratio telescopes to (errors(H_last) − errors(START)) ÷ (events(H_last) − events(START)).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from prom import backfill as om_backfill
from prom import needs_prometheus, prometheus
from rulehist import openmetrics
from slogen import conventions as c
from slogen.render import render as render_bundle
from slogen.spec.load import loads

pytestmark = needs_prometheus

MINUTE, HOUR, DAY = 60, 3600, 86400
SPEC = """\
version: slogen/v1
services:
  - name: pay
    slos:
      - name: availability
        objective: 99.9
        window: 30d
        sli: {ratio: {errors: 'req_total{job="pay",code="500"}', total: 'req_total{job="pay"}'}}
  - name: web
    slos:
      - name: availability
        objective: 99
        window: 7d
        sli: {ratio: {good: 'req_total{job="web",code="200"}', total: 'req_total{job="web"}'}}
"""
SLOS = {"pay": (0.001, 720), "web": (0.01, 168)}  # error budget, hours in the period


class Counters:
    """Cumulative (events, errors) a minute apart: hourly varying traffic and error share, an incident."""

    def __init__(self, name: str, start: int, end: int) -> None:
        self.start = start
        self.times = list(range(start, end + 1, MINUTE))
        seed = sum(map(ord, name))
        ok, bad = [5e5], [2e3]
        for t in self.times[1:]:
            hour = (t - start) // HOUR
            rate = 20 + 15 * math.sin(hour / 3 + seed) + (seed % 7)
            share = 0.0004 * (1 + (hour * seed) % 5) + (0.03 if 30 <= hour < 33 else 0.0)
            ok.append(ok[-1] + rate * MINUTE * (1 - share))
            bad.append(bad[-1] + rate * MINUTE * share)
        self.ok, self.bad = ok, bad

    def at(self, t: int) -> tuple[float, float]:
        i = (t - self.start) // MINUTE
        assert self.times[i] == t
        return self.ok[i] + self.bad[i], self.bad[i]

    def ratio(self, t0: int, t1: int) -> float:
        (e0, b0), (e1, b1) = self.at(t0), self.at(t1)
        return (b1 - b0) / (e1 - e0)


def _env(url: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OVERRIDE_", "GITHUB_"))} | {
        "PROMETHEUS_URL": url}


def slogen(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slogen", *args], capture_output=True, text=True, env=_env(url),
                          cwd=cwd, timeout=600)


def _evaluated_since(url: str, stage: str, since: float) -> bool:
    groups = requests.get(url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    wanted = [g for g in groups if g["name"].endswith(f":{stage}")]
    assert wanted, [g["name"] for g in groups]
    return all(_rfc3339(g["lastEvaluation"]) > since for g in wanted)


def _rfc3339(text: str) -> float:
    """Prometheus' lastEvaluation (nanoseconds, a zone) as unix seconds; 0 for Go's zero time."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
    assert m, text
    moment = datetime.fromisoformat(m.group(1) + m.group(3).replace("Z", "+00:00"))
    return moment.timestamp() + float(m.group(2) or 0)


def wait_evaluated(url: str, stages: tuple[str, ...], since: float, timeout: float = 200) -> None:
    deadline = time.time() + timeout
    while not all(_evaluated_since(url, s, since) for s in stages):
        assert time.time() < deadline, f"groups {stages} did not evaluate"
        time.sleep(1)


def dump(blocks: Path, name: str) -> dict[str, list[tuple[int, float]]]:
    """`promtool tsdb dump` of one recorded name: series (labels text) → (ms, value)."""
    db = blocks.with_name(blocks.name + "-db")  # dump opens a whole TSDB: it needs a wal directory
    if not db.exists():
        shutil.copytree(blocks, db)
        (db / "wal").mkdir()
    out = subprocess.run(["promtool", "tsdb", "dump", f"--match={{__name__={name!r}}}", str(db)],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    series: dict[str, list[tuple[int, float]]] = {}
    for line in out.splitlines():
        labels, value, ms = line.rsplit(" ", 2)
        series.setdefault(labels, []).append((int(ms), float(value)))
    return {k: sorted(v) for k, v in series.items()}


def test_backfill_gives_the_whole_budget_after_a_restart(tmp_path: Path) -> None:
    now = time.time()
    if now % HOUR > HOUR - 5 * MINUTE:  # the budget after the restart must pick the same whole hours
        time.sleep(HOUR - now % HOUR + 5)
        now = time.time()
    start = int(now) // HOUR * HOUR - 72 * HOUR
    last = int(now) // MINUTE * MINUTE
    counters = {name: Counters(name, start, last) for name in SLOS}
    raw: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    for name, cnt in counters.items():
        raw[("req_total", (("code", "200"), ("job", name)))] = list(zip(cnt.times, cnt.ok, strict=True))
        raw[("req_total", (("code", "500"), ("job", name)))] = list(zip(cnt.times, cnt.bad, strict=True))
    data = tmp_path / "data"
    om_backfill(openmetrics(raw), data)
    (tmp_path / "slos.yaml").write_text(SPEC)
    rules = {a.path: a.text for a in render_bundle(loads(SPEC)) if a.path.startswith("rules/")}
    config = "global: {}\nrule_files:\n" + "".join(f"  - {p}\n" for p in sorted(rules))
    out = tmp_path / "blocks"
    with prometheus(config, data_dir=data, files=rules) as (url, _):
        loaded = time.time()
        # The rules just loaded have recorded: the backfill must hold those series back. It can only
        # hold back a point of its grid at or after the first live sample, so let the next whole
        # minute (a point of the 1m group's grid) pass first.
        wait_evaluated(url, ("sli", "tiles"), loaded)
        time.sleep(MINUTE - time.time() % MINUTE + 2)
        done = slogen(url, "backfill", "--from", str(start + HOUR), "--output-dir", str(out), cwd=tmp_path)
        assert done.returncode == 0, done.stderr + done.stdout
        assert "held back" in done.stdout  # the live rules' samples are not duplicated on another grid
    blocks = [p for p in out.iterdir() if p.is_dir()]
    assert blocks and all((b / "meta.json").is_file() for b in blocks)
    for block in blocks:
        shutil.move(str(block), data / block.name)
    with prometheus(config, data_dir=data, files=rules) as (url, _):
        restarted = time.time()
        wait_evaluated(url, ("budget",), restarted)
        status = slogen(url, "status", "--json", cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        document = json.loads(status.stdout)
        past = start + 30 * HOUR + 36 * MINUTE  # in the incident; on every grid (1m, 2m, 3m)
        past_values = {name: _instant(url, name, past) for name in
                       (c.BUDGET_REMAINING, c.BURN_RATE_PERIOD, c.PERIOD_COVERAGE, c.EVENTS_TILE)}
        tile_sum = _instant(url, f"sum_over_time({c.ERRORS_TILE}[23h59m59s999ms])", past + DAY)
    hour_now = int(now) // HOUR * HOUR
    by_service = {s["service"]: s for s in document["slos"]}
    for name, (error_budget, hours) in SLOS.items():
        cnt = counters[name]
        expected = 1 - cnt.ratio(start, hour_now) / error_budget
        got = by_service[name]
        assert got["error_budget_remaining"] == pytest.approx(expected, abs=1e-9), name
        assert got["coverage"] == pytest.approx(72 / hours, abs=1e-12), name
        # History: the backfilled recordings at a past time, each stage's value from the counters.
        at_hour = past // HOUR * HOUR
        past_remaining = 1 - cnt.ratio(start, at_hour) / error_budget
        assert past_values[c.BUDGET_REMAINING][name] == pytest.approx(past_remaining, abs=1e-9)
        assert past_values[c.BURN_RATE_PERIOD][name] == pytest.approx(1 - past_remaining, abs=1e-9)
        assert past_values[c.PERIOD_COVERAGE][name] == pytest.approx((at_hour - start) / HOUR / hours, abs=1e-12)
        events_3m = cnt.at(past)[0] - cnt.at(past - 3 * MINUTE)[0]
        assert past_values[c.EVENTS_TILE][name] == pytest.approx(events_3m / 180, rel=1e-12)
        errors_1d = cnt.at(past + DAY)[1] - cnt.at(past)[1]
        assert tile_sum[name] * 180 == pytest.approx(errors_1d, rel=1e-9)


def _instant(url: str, expr: str, at: float) -> dict[str, float]:
    body: Any = requests.get(url + "/api/v1/query", params={"query": expr, "time": at}, timeout=30).json()
    assert body["status"] == "success", body
    return {r["metric"]["service"]: float(r["value"][1]) for r in body["data"]["result"]}


def test_a_span_without_an_hour_tile_still_backfills_the_budget(tmp_path: Path) -> None:
    """The issue's edge: over a short span a 30m group may have no evaluation at all (promtool's rule
    backfill then leaves it empty and every later stage reads nothing). Here the later stages are
    computed from the raw counters, so the budget is exact anyway, and the empty group is reported."""
    start = int(time.time()) // HOUR * HOUR - 10 * HOUR
    counters = {name: Counters(name, start, start + 8 * HOUR) for name in SLOS}
    raw = {}
    for name, cnt in counters.items():
        raw[("req_total", (("code", "200"), ("job", name)))] = list(zip(cnt.times, cnt.ok, strict=True))
        raw[("req_total", (("code", "500"), ("job", name)))] = list(zip(cnt.times, cnt.bad, strict=True))
    data = tmp_path / "data"
    om_backfill(openmetrics(raw), data)
    (tmp_path / "slos.yaml").write_text(SPEC)
    span = (start + 5 * HOUR + 5 * MINUTE, start + 5 * HOUR + 25 * MINUTE)  # no :00 or :30 inside
    out = tmp_path / "blocks"
    with prometheus("global: {}\n", data_dir=data) as (url, _):
        done = slogen(url, "backfill", "--from", str(span[0]), "--to", str(span[1]), "--output-dir", str(out),
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    assert re.search(r"note: slogen:pay:hours has no evaluation", done.stdout), done.stdout
    assert dump(out, c.EVENTS_HOUR) == {}
    budgets = dump(out, c.BUDGET_REMAINING)
    assert len(budgets) == 2
    for labels, points in budgets.items():
        name = re.search(r'service="(\w+)"', labels).group(1)  # type: ignore[union-attr]
        error_budget = SLOS[name][0]
        assert [ms // 1000 for ms, _ in points] == list(range(span[0] + MINUTE, span[1], 2 * MINUTE))
        expected = 1 - counters[name].ratio(start, start + 5 * HOUR) / error_budget  # hours 1 to 5
        assert all(v == pytest.approx(expected, abs=1e-9) for _, v in points), (name, points[:2], expected)
