"""The burn-rate window table against the SRE workbook (ch. 5, table 5-8) and its scaling rules."""

from __future__ import annotations

from fractions import Fraction

import pytest

from slogen import conventions as c
from slogen.durations import parse_duration
from slogen.slo import windows

# The workbook's 30-day table, written out independently: (severity, long, short, factor, budget %).
WORKBOOK_30D = [("page", "1h", "5m", 14.4, 2), ("page", "6h", "30m", 6, 5),
                ("ticket", "1d", "2h", 3, 10), ("ticket", "3d", "6h", 1, 10)]


PERIODS = ("7d", "14d", "28d", "30d", "90d")


def _factors(period: str) -> list[Fraction]:
    return [row.factor(period) for row in windows.windows_for(period)]


def test_30d_is_the_workbook_table() -> None:
    rows = windows.windows_for("30d")
    assert [(r.severity, r.long, r.short) for r in rows] == [w[:3] for w in WORKBOOK_30D]
    assert _factors("30d") == [Fraction(str(w[3])) for w in WORKBOOK_30D]
    assert [r.budget_share * 100 for r in rows] == [w[4] for w in WORKBOOK_30D]


def test_budget_share_is_factor_times_long_over_period() -> None:
    # The defining identity: a burn of `factor` for `long` spends `share` of the period's budget.
    for period in PERIODS:
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
    for period in PERIODS:
        for row in windows.windows_for(period):
            assert parse_duration(row.short) * 12 == parse_duration(row.long)


def test_short_periods_never_ticket_below_burn_rate_1() -> None:
    for period in ("7d", "14d"):
        assert min(_factors(period)) == 1


def test_pages_are_faster_than_tickets() -> None:
    for period in PERIODS:
        rows = windows.windows_for(period)
        pages = [r.factor(period) for r in rows if r.severity == "page"]
        tickets = [r.factor(period) for r in rows if r.severity == "ticket"]
        assert min(pages) > max(tickets)


def test_window_lists() -> None:
    assert windows.alert_windows(windows.windows_for("30d")) == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    for period in PERIODS:  # every minute from raw counters: the fastest page pair
        assert windows.raw_windows(windows.windows_for(period)) == ("5m", "1h")
        assert windows.tiled_windows(windows.windows_for(period)) == ("30m", "2h", "6h", "1d", "3d")
    assert windows.table_periods() == PERIODS


def test_tiled_windows_hold_whole_tiles() -> None:
    tile = parse_duration(c.SHORT_TILE)
    for period in PERIODS:
        for w in windows.tiled_windows(windows.windows_for(period)):
            assert parse_duration(w) % tile == 0, w


# Periods without a table of their own, expected factors worked out by hand from the rule in
# docs/spec.md ("Alert windows"): the shares of the longest table period not above, factor =
# share × period ÷ long, raised to 1 where below, rows longer than the period dropped.
@pytest.mark.parametrize(("period", "expected"), [
    ("21d", [("1h", "20.16"), ("6h", "8.4"), ("1d", "4.2"), ("3d", "1.5")]),     # 14d shares 4/10/20 %, 3/14
    ("12w", [("1h", "40.32"), ("6h", "16.8"), ("1d", "8.4"), ("3d", "2.8")]),     # 84 days: the 30d (Google) shares
    ("4w", [("1h", "13.44"), ("6h", "5.6"), ("1d", "2.8"), ("3d", "14/15")]),     # = 28d: its own table
    ("400d", [("1h", "192"), ("6h", "80"), ("1d", "40"), ("3d", "40/3")]),       # 90d's (Google) shares
    ("2d", [("1h", "3.84"), ("6h", "1"), ("1d", "1")]),                         # 7d shares: 6h 0.5 → 1, 1d 0.4 → 1; 3d > 2d
    ("1d", [("1h", "1.92"), ("6h", "1"), ("1d", "1")]),
    ("36h", [("1h", "2.88"), ("6h", "1"), ("1d", "1")]),
])
def test_any_period_scales_the_nearest_shorter_table(period: str, expected: list[tuple[str, str]]) -> None:
    rows = windows.windows_for(period)
    assert [(r.long, r.factor(period)) for r in rows] == [(long, Fraction(f)) for long, f in expected]
    assert all(r.factor(period) >= 1 for r in rows) or period == "4w"  # 4w is the 28d table, kept as shipped


def test_builtin_tables_name_their_source() -> None:
    tables = windows.builtin_tables()
    assert {t.name for t in tables} == {"google", "short-7d", "short-14d"}
    assert all("Workbook" in t.source or "Sloth" in t.source or "workbook" in t.source for t in tables)


@pytest.mark.parametrize(("text", "share"), [
    (0.02, Fraction(1, 50)), ("2%", Fraction(1, 50)), ("2/100", Fraction(1, 50)), ("3/7", Fraction(3, 7)),
    ("12.5%", Fraction(1, 8)), (1, Fraction(1)),
])
def test_parse_share(text: object, share: Fraction) -> None:
    assert windows.parse_share(text) == share


@pytest.mark.parametrize(("row", "problem"), [
    ({"severity": "page", "long": "1h", "short": "1h", "budget_share": 0.02}, ("short", "must be shorter")),
    ({"severity": "warn", "long": "1h", "short": "5m", "budget_share": 0.02}, ("severity", "page or ticket")),
    ({"severity": "page", "long": "1h", "short": "5m", "budget_share": 1.5}, ("budget_share", "(0, 1]")),
    ({"severity": "page", "long": "1h", "short": "5m", "budget_share": "lots"}, ("budget_share", "not a share")),
    ({"severity": "page", "long": "1 hour", "short": "5m", "budget_share": 0.1}, ("long", "not a duration")),
    ({"severity": "page", "long": "1h", "short": "5m"}, ("", "missing 'budget_share'")),
    ({"severity": "page", "long": "1h", "short": "5m", "budget_share": 0.1, "fr": "1m"}, ("fr", "unknown key")),
])
def test_row_problems(row: dict[str, object], problem: tuple[str, str]) -> None:
    found = windows.row_problems(row)
    assert any(key == problem[0] and problem[1] in message for key, message in found), found


def test_rows_must_fit_the_period_and_the_tiles() -> None:
    rows = (windows.BurnWindow("page", "1h", "5m", Fraction(2, 100)),
            windows.BurnWindow("ticket", "2d", "10m", Fraction(1, 10)))
    problems = windows.rows_for_period_problems(rows, "1d", c.SHORT_TILE)
    assert any("longer than the 1d period" in p for p in problems)
    assert any("window 10m is not a multiple of the 3m tiles" in p for p in problems)
    assert windows.rows_for_period_problems(rows, "30d", c.SHORT_TILE) == [
        "window 10m is not a multiple of the 3m tiles the rules sum (only the fastest page pair is read from "
        "raw counters)"]
