"""`sli.expr.ratio` on a real Prometheus: the budget is the time-weighted average of the ratio.

Seven days of counters at one sample a minute, traffic diurnal (10× between trough and peak), the
error ratio 0.1 % except a 3-hour 4 % incident near the daily peak (18:00-21:00 UTC). The SLO's ratio expression is
errors ÷ total over `$window`. The hour tiles are produced as the rules would have recorded them
(their rendered expressions as range queries at the hours group's 30m interval, backfilled), and
the rendered budget rule must give the mean of the 168 hourly ratios, computed here from the
counters; the event-weighted ratio of the same week is measurably different (the incident falls
on heavy traffic: 0.00203 against 0.00170), which shows which of the two the rules compute.
"""

from __future__ import annotations

import math
import shutil
from typing import Any

import pytest
import yaml

from prom import backfill, instant, needs_prometheus, prometheus
from rulehist import Cumulative, counter_history, range_values, true_ratio
from slogen import conventions as c
from slogen.render import rules
from slogen.spec.load import loads

pytestmark = needs_prometheus

END = 1_764_000_000 // 3600 * 3600
DAY = 86_400
START = END - 7 * DAY - 3 * 3600
STOP = END + 3600
HALF_HOUR = 1800
INCIDENT = (END - 3 * DAY + 2 * 3600, END - 3 * DAY + 5 * 3600)
SPEC = """
version: slogen/v1
services:
  - name: shop
    slos:
      - name: ratio
        objective: 99
        window: 7d
        sli:
          expr:
            ratio: |
              sum(rate(http_requests_total{job="shop",code="500"}[$window]))  # errors
              / sum(rate(http_requests_total{job="shop"}[$window]))
"""
CONFIG = "global:\n  scrape_interval: 1m\n"


def _traffic(t: int) -> tuple[float, float]:
    phase = 2 * math.pi * ((t % DAY) / DAY - 0.25 - 1 / 6)
    events = 550 + 450 * math.sin(phase)
    return events, events * (0.04 if INCIDENT[0] < t <= INCIDENT[1] else 0.001)


def _raw() -> tuple[str, Cumulative]:
    """OpenMetrics for the counters, and cumulative (events, errors) at every minute."""
    return counter_history(_traffic, START, STOP)




def _one(url: str, expr: str, at: float) -> float:
    result = instant(url, expr, at)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Any:
    [artifact] = rules.generate(loads(SPEC))
    records = {r["record"]: r for g in yaml.safe_load(artifact.text)["groups"] for r in g["rules"] if "record" in r}
    work = tmp_path_factory.mktemp("expr-ratio")
    raw_text, cumulative = _raw()
    data = work / "data"
    backfill(raw_text, data)
    lines = []
    with prometheus(CONFIG, data_dir=data) as (url, _):
        for name in (c.EVENTS_HOUR, c.ERRORS_HOUR):
            labels = ",".join(f'{k}="{v}"' for k, v in records[name]["labels"].items())
            lines += [f"{name}{{{labels}}} {v} {int(t)}"
                      for t, v in range_values(url, records[name]["expr"], START + 3600, STOP, HALF_HOUR)]
    tiles = work / "tiles"
    backfill("\n".join([*lines, "# EOF", ""]), tiles)
    for block in tiles.iterdir():
        if block.is_dir():
            shutil.move(str(block), data / block.name)
    with prometheus(CONFIG, data_dir=data) as (url, _):
        yield url, records, cumulative


def test_budget_is_the_mean_of_the_hourly_ratios(setup: Any) -> None:
    url, records, cumulative = setup
    at = END + 37.5
    hours = [END - k * 3600 for k in range(168)]
    want = sum(true_ratio(cumulative, h - 3600, h) for h in hours) / len(hours)
    got = (1 - _one(url, records[c.BUDGET_REMAINING]["expr"], at)) * 0.01
    assert abs(got - want) / want < 1e-9
    assert _one(url, records[c.PERIOD_COVERAGE]["expr"], at) == 1
    events_weighted = true_ratio(cumulative, END - 7 * DAY, END)
    assert abs(events_weighted - want) / want > 0.05  # so the test tells the two apart


def test_sli_ratio_rules_are_the_expression_itself(setup: Any) -> None:
    url, records, cumulative = setup
    at = END - 3 * DAY + 4 * 3600  # inside the incident
    for window, seconds in (("5m", 300), ("1h", 3600)):
        got = _one(url, records[c.error_ratio(window)]["expr"], at)
        assert abs(got - true_ratio(cumulative, at - seconds, at)) < 1e-9
