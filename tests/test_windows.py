"""The burn-rate window table against the SRE workbook (ch. 5, table 5-8) and its scaling rules."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from conftest import ROOT
from slogen import conventions as c
from slogen.durations import parse_duration
from slogen.slo import windows

# The workbook's 30-day table, written out independently: (severity, long, short, factor, budget %).
WORKBOOK_30D = [("page", "1h", "5m", 14.4, 2), ("page", "6h", "30m", 6, 5),
                ("ticket", "1d", "2h", 3, 10), ("ticket", "3d", "6h", 1, 10)]


def _factors(period: str) -> list[Fraction]:
    return [row.factor(period) for row in windows.windows_for(period)]


def test_30d_is_the_workbook_table() -> None:
    rows = windows.windows_for("30d")
    assert [(r.severity, r.long, r.short) for r in rows] == [w[:3] for w in WORKBOOK_30D]
    assert _factors("30d") == [Fraction(str(w[3])) for w in WORKBOOK_30D]
    assert [r.budget_share * 100 for r in rows] == [w[4] for w in WORKBOOK_30D]


def test_budget_share_is_factor_times_long_over_period() -> None:
    # The defining identity: a burn of `factor` for `long` spends `share` of the period's budget.
    for period in windows.SUPPORTED_PERIODS:
        for row in windows.windows_for(period):
            spent = row.factor(period) * Fraction(int(parse_duration(row.long)), int(parse_duration(period)))
            assert spent == row.budget_share


@pytest.mark.parametrize(("period", "expected"), [
    ("28d", ["13.44", "5.6", "2.8", "14/15"]),   # Google shares scaled: 0.9333… for the slow ticket
    ("90d", ["43.2", "18", "9", "3"]),
    ("7d", ["13.44", "3.5", "1.4", "1"]),        # own table: tickets would fall below 1 when scaled
    ("14d", ["13.44", "5.6", "2.8", "1"]),
])
def test_scaled_factors(period: str, expected: list[str]) -> None:
    assert _factors(period) == [Fraction(e) for e in expected]


def test_short_window_is_a_twelfth_of_the_long_one() -> None:
    for period in windows.SUPPORTED_PERIODS:
        for row in windows.windows_for(period):
            assert parse_duration(row.short) * 12 == parse_duration(row.long)


def test_short_periods_never_ticket_below_burn_rate_1() -> None:
    for period in ("7d", "14d"):
        assert min(_factors(period)) == 1


def test_pages_are_faster_than_tickets() -> None:
    for period in windows.SUPPORTED_PERIODS:
        rows = windows.windows_for(period)
        pages = [r.factor(period) for r in rows if r.severity == "page"]
        tickets = [r.factor(period) for r in rows if r.severity == "ticket"]
        assert min(pages) > max(tickets)


def test_window_lists() -> None:
    assert windows.alert_windows("30d") == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    for period in windows.SUPPORTED_PERIODS:  # every minute from raw counters: the fastest page pair
        assert windows.raw_windows(period) == ("5m", "1h")
        assert windows.tiled_windows(period) == ("30m", "2h", "6h", "1d", "3d")  # sums of short tiles
    assert windows.SUPPORTED_PERIODS == ("7d", "14d", "28d", "30d", "90d")


def test_tiled_windows_hold_whole_tiles() -> None:
    tile = parse_duration(c.SHORT_TILE)
    for period in windows.SUPPORTED_PERIODS:
        for w in windows.tiled_windows(period):
            assert parse_duration(w) % tile == 0, w


def test_the_json_schema_offers_exactly_the_supported_periods() -> None:
    # The periods are data in slo/windows.py; the schema lists them twice (defaults and per SLO).
    schema = json.loads((ROOT / "generator/slogen/data/slos.schema.json").read_text())
    enums: list[list[str]] = []

    def walk(node: object, key: str = "") -> None:
        if isinstance(node, dict):
            if key == "window" and "enum" in node:
                enums.append(node["enum"])
            for name, value in node.items():
                walk(value, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, key)

    walk(schema)
    assert len(enums) == 2
    assert all(enum == list(windows.SUPPORTED_PERIODS) for enum in enums)
