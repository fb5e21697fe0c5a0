"""End to end on a real Prometheus: 30 days of backfilled history, the rendered period rules, exactness.

Traffic is diurnal (10× between trough and peak, one sample a minute) with a 0.05 % error
ratio and a 2-hour 5 % incident at the trough. Recording rules never run on backfilled history,
so the hourly tiles are produced the way the rules would have: the tile rules' own rendered
expressions run as range queries against the backfilled raw counters with step = the tiles
group's interval (1h) at the group's evaluation offset, and those samples are backfilled in turn (OpenMetrics, not `create-blocks-from rules`, which takes
~13 s per rule here). Then the rendered period-ratio expression, evaluated at an explicit time,
must equal the true event ratio computed here from the generator: within 1e-12 relative when
the tiles fall on the scrape grid, 1e-3 when they do not (see TOLERANCE); a Sloth-style mean of
5m ratios on the same data must be measurably off (by more than 2 %).
"""

from __future__ import annotations

import math
import shutil
from typing import Any

import pytest
import requests
import yaml

from prom import backfill, instant, needs_prometheus, prometheus
from slogen import conventions as c
from slogen.model import Policy
from slogen.render import rules
from slogen.spec import loads

pytestmark = needs_prometheus

END = 1_764_000_000 // 3600 * 3600  # a fixed whole hour: the test is deterministic
DAY = 86_400
START = END - 30 * DAY - 3 * 3600
STOP = END + 3600
OFFSETS = {"aligned": 0, "shifted": 37}  # the tiles group's evaluation offset past the hour (seconds)
# With evaluations on the scrape grid the tiles partition the counters' increments exactly. Off
# the grid, rate() cannot see the one scrape interval that straddles each tile boundary and
# extrapolates it from the rest of the hour: a second-order error, largest when the error ratio
# jumps 100x while traffic curves (this incident at the trough): 3.0e-4 here with 1m scrapes
# (less with 15s scrapes). A mean of 5m ratios is off by percents on the same data.
TOLERANCE = {"aligned": 1e-12, "shifted": 1e-3}
INCIDENT = (END - 9 * DAY + 3 * 3600, END - 9 * DAY + 5 * 3600)  # 03:00–05:00, the trough
SPEC = """
version: slogen/v1
services:
  - name: shop
    labels: {team: core}
    slos:
""" + "".join(f"""      - name: {name}
        objective: 99.9
        sli:
          ratio:
            errors: http_requests_total{{job="shop",code="500"}}
            total: http_requests_total{{job="shop"}}
""" for name in OFFSETS)
CONFIG = "global:\n  scrape_interval: 1m\n"


def _traffic(t: int) -> tuple[float, float]:
    """(events, errors) in the minute ending at t: trough 100/min at 04:00, peak 1000/min at 16:00."""
    phase = 2 * math.pi * ((t % DAY) / DAY - 0.25 - 1 / 6)
    events = 550 + 450 * math.sin(phase)
    ratio = 0.05 if INCIDENT[0] < t <= INCIDENT[1] else 0.0005
    return events, events * ratio


def _raw() -> tuple[str, dict[int, tuple[float, float]]]:
    """OpenMetrics for the counters, and cumulative (events, errors) at every minute."""
    ok_lines, bad_lines, cumulative = [], [], {}
    total, bad = 1e6, 1e3  # non-zero starts: rate() never clamps at a counter's birth
    for t in range(START, STOP + 1, 60):
        events, errors = _traffic(t) if t > START else (0.0, 0.0)
        total, bad = total + events, bad + errors
        cumulative[t] = (total, bad)
        ok_lines.append(f'http_requests_total{{job="shop",code="200"}} {total - bad!r} {t}')
        bad_lines.append(f'http_requests_total{{job="shop",code="500"}} {bad!r} {t}')
    return "\n".join(["# TYPE http_requests counter", *ok_lines, *bad_lines, "# EOF", ""]), cumulative


def _true_ratio(cumulative: dict[int, tuple[float, float]], start: int, end: int) -> float:
    return (cumulative[end][1] - cumulative[start][1]) / (cumulative[end][0] - cumulative[start][0])


def _range(url: str, expr: str, start: int, end: int, step: int) -> list[tuple[float, str]]:
    body = requests.get(url + "/api/v1/query_range", timeout=60,
                        params={"query": expr, "start": start, "end": end, "step": step}).json()
    assert body["status"] == "success", body
    return [tuple(v) for v in body["data"]["result"][0]["values"]] if body["data"]["result"] else []


def _one(url: str, expr: str, at: float) -> float:
    result = instant(url, expr, at)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A Prometheus on 30 days of raw counters plus the tiles the rules would have recorded."""
    [artifact] = rules.generate(loads(SPEC))
    records = {(r["record"], r["labels"]["slo"]): r for g in yaml.safe_load(artifact.text)["groups"]
               for r in g["rules"] if "record" in r}
    work = tmp_path_factory.mktemp("e2e")
    raw_text, cumulative = _raw()
    data = work / "data"
    backfill(raw_text, data)
    lines = []
    with prometheus(CONFIG, data_dir=data) as (url, _):
        for slo, offset in OFFSETS.items():
            for name in (c.EVENTS_TILE, c.ERRORS_TILE):
                rule = records[(name, slo)]
                labels = ",".join(f'{k}="{v}"' for k, v in rule["labels"].items())
                # the evaluations of the 1h tiles group at `offset`: hh:00:offset
                for t, v in _range(url, rule["expr"], START + 3600 + offset, STOP, 3600):
                    lines.append(f"{name}{{{labels}}} {v} {int(t)}")
    tiles = work / "tiles"
    backfill("\n".join([*lines, "# EOF", ""]), tiles)
    for block in tiles.iterdir():
        if block.is_dir():
            shutil.move(str(block), data / block.name)
    with prometheus(CONFIG, data_dir=data) as (url, _):
        yield {"url": url, "records": records, "cumulative": cumulative}


@pytest.mark.parametrize("slo", list(OFFSETS))
def test_period_ratio_is_the_true_event_ratio(setup: dict[str, Any], slo: str) -> None:
    url, records = setup["url"], setup["records"]
    at = END + 37.5  # the latest tile of either offset is at or before this instant
    count = f'count_over_time({c.ERRORS_TILE}{{slo="{slo}"}}[29d23h59m59s999ms])'
    assert _one(url, count, at) == 720  # exactly 30 days of hourly tiles, none twice
    got = _one(url, records[(c.ERROR_RATIO_PERIOD, slo)]["expr"], at)
    want = _true_ratio(setup["cumulative"], END - 30 * DAY, END)
    assert abs(got - want) / want < TOLERANCE[slo], (got, want)
    week = _one(url, records[(c.error_ratio("7d"), slo)]["expr"], at)
    want_week = _true_ratio(setup["cumulative"], END - 7 * DAY, END)
    assert abs(week - want_week) / want_week < TOLERANCE[slo], (week, want_week)


def test_mean_of_5m_ratios_is_measurably_off(setup: dict[str, Any]) -> None:
    # Sloth's period rule is sum_over_time(r5m[30d]) / count_over_time(r5m[30d]) of a 5m ratio
    # recorded every minute: the same number as this subquery over the raw counters.
    r5m = 'sum(rate(http_requests_total{job="shop",code="500"}[5m])) / sum(rate(http_requests_total{job="shop"}[5m]))'
    sloth = _one(setup["url"], f"avg_over_time(({r5m})[30d:1m])", END)
    want = _true_ratio(setup["cumulative"], END - 30 * DAY, END)
    assert abs(sloth - want) / want > 0.02, (sloth, want)  # the incident at the trough weighs too much


def test_day_window_from_tiles_tracks_the_incident(setup: dict[str, Any]) -> None:
    url, records = setup["url"], setup["records"]
    at = INCIDENT[1] + 3600  # the 1d window, at an hour boundary, holds the whole incident
    got = _one(url, records[(c.error_ratio("1d"), "aligned")]["expr"], at)
    want = _true_ratio(setup["cumulative"], at - DAY, at)
    assert abs(got - want) / want < 1e-9, (got, want)


@pytest.mark.parametrize(("remaining", "state"), [
    (1.0, "NORMAL"), (0.8000001, "NORMAL"), (0.8, "CAUTION"), (0.5, "CAUTION"), (0.4999999, "WARNING"),
    (0.2, "WARNING"), (0.1999999, "FREEZE"), (0.0, "FREEZE"), (-0.0000001, "EXHAUSTED"), (-3.0, "EXHAUSTED"),
])
def test_state_boundaries_on_prometheus(setup: dict[str, Any], remaining: float, state: str) -> None:
    expr = rules.state_expr(f"vector({remaining!r})", Policy(caution=80, warning=50, freeze=20))
    assert _one(setup["url"], expr, END) == c.STATE_CODES[state]
