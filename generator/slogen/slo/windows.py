"""Multi-window, multi-burn-rate alert windows as data: the rows, the built-in tables, the checks.

The built-in tables live in `data/alert-windows.yaml` with their sources; a spec may replace them
with its own rows (`defaults.alert_windows`). A row spends `budget_share` of the period's error
budget when it first fires, so its burn-rate factor is `share × period / long`.

Which windows the rules read from raw counters and which they sum from short tiles also lives
here, because both follow from the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from slogen.durations import parse_duration

SEVERITIES = ("page", "ticket")
MIN_PERIOD = "1d"
MAX_PERIOD = "400d"
RAW_ALWAYS = ("5m", "1h")  # recorded from raw counters whatever the rows: dashboards and the gate read them
_SHARE_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?)\s*)?(%?)\s*$")


@dataclass(frozen=True)
class BurnWindow:
    """One alert condition: burn faster than `factor` over both `long` and `short`."""

    severity: str  # "page" or "ticket"
    long: str
    short: str
    budget_share: Fraction  # share of the period's error budget spent when it first fires
    for_: str | None = None  # pending period of this row's alert, overriding the severity's

    def factor(self, period: str) -> Fraction:
        """Burn-rate threshold for an SLO period such as `30d`."""
        return _factor(self, period)


@cache  # pure; thousands of SLOs share a handful of (row, period) pairs
def _factor(row: BurnWindow, period: str) -> Fraction:
    return row.budget_share * Fraction(seconds(period), seconds(row.long))


@cache
def seconds(duration: str) -> int:
    """Whole seconds of a window or period (cached: a handful of distinct strings, asked for per rule)."""
    return int(parse_duration(duration))


def period_problem(period: str) -> str | None:
    """Why `period` cannot be an SLO period, or None: a whole number of hours from 1d to 400d."""
    try:
        value = parse_duration(period)
    except ValueError:
        return f"{period!r} is not a duration: write e.g. 30d, 4w or 36h"
    if value % 3600:
        return f"{period!r} is not a whole number of hours"
    if not seconds(MIN_PERIOD) <= value <= seconds(MAX_PERIOD):
        return f"{period!r} is outside {MIN_PERIOD} to {MAX_PERIOD}"
    return None


def parse_share(value: Any) -> Fraction:
    """A budget share as an exact fraction: 0.02, "2%", "2/100" and "3/7" all work; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a share")
    if isinstance(value, int | float):
        return Fraction(str(value))
    match = _SHARE_TEXT.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a share: write 0.05, 5% or 1/20")
    share = Fraction(match.group(1)) / Fraction(match.group(2) or 1)
    return share / 100 if match.group(3) else share


def row_from(doc: Mapping[str, Any]) -> BurnWindow:
    """A row from its YAML form (already checked by `row_problems`)."""
    return BurnWindow(severity=doc["severity"], long=doc["long"], short=doc["short"],
                      budget_share=parse_share(doc["budget_share"]), for_=doc.get("for"))


def row_problems(doc: Any) -> list[tuple[str, str]]:
    """(key, message) for everything wrong with one row's YAML form, period aside."""
    if not isinstance(doc, dict):
        return [("", "a row is a mapping {severity, long, short, budget_share}")]
    out = []
    unknown = sorted(set(doc) - {"severity", "long", "short", "budget_share", "for"}, key=str)
    out += [(str(k), f"unknown key {k!r}: a row has severity, long, short, budget_share and for") for k in unknown]
    for key in ("severity", "long", "short", "budget_share"):
        if key not in doc:
            out.append(("", f"missing {key!r}"))
    if "severity" in doc and doc["severity"] not in SEVERITIES:
        out.append(("severity", f"severity must be page or ticket, not {doc['severity']!r}"))
    durations = {}
    for key in ("long", "short", "for"):
        if key in doc:
            try:
                durations[key] = parse_duration(doc[key])
            except ValueError:
                out.append((key, f"{doc[key]!r} is not a duration (e.g. 5m, 1h, 3d)"))
    if "long" in durations and "short" in durations and not 0 < durations["short"] < durations["long"]:
        out.append(("short", f"the short window ({doc['short']}) must be shorter than the long one ({doc['long']})"))
    if "budget_share" in doc:
        try:
            share = parse_share(doc["budget_share"])
            if not 0 < share <= 1:
                out.append(("budget_share", f"budget_share must be in (0, 1], got {doc['budget_share']!r}"))
        except ValueError as exc:
            out.append(("budget_share", str(exc)))
    return out


def rows_for_period_problems(rows: Sequence[BurnWindow], period: str, tile: str) -> list[str]:
    """What makes `rows` unusable for an SLO of `period` whose rules sum tiles of `tile`."""
    out = [f"the {r.severity} row {r.long}/{r.short} is longer than the {period} period"
           for r in rows if seconds(r.long) > seconds(period)]
    raw = set(raw_windows(rows))
    for w in sorted({w for r in rows for w in (r.long, r.short)} - raw, key=seconds):
        if seconds(w) % seconds(tile):
            out.append(f"window {w} is not a multiple of the {tile} tiles the rules sum (only the fastest "
                       "page pair is read from raw counters)")
    return out


@dataclass(frozen=True)
class Table:
    """A built-in table: its name, where its shares come from, the periods it serves, its rows."""

    name: str
    source: str
    periods: tuple[str, ...]
    rows: tuple[BurnWindow, ...]


@cache
def builtin_tables() -> tuple[Table, ...]:
    """The tables shipped in data/alert-windows.yaml."""
    doc = yaml.safe_load(files("slogen").joinpath("data/alert-windows.yaml").read_text(encoding="utf-8"))
    return tuple(Table(name, t["source"], tuple(t["periods"]), tuple(row_from(r) for r in t["rows"]))
                 for name, t in doc["tables"].items())


@cache
def _by_period() -> dict[int, tuple[BurnWindow, ...]]:
    """Rows by period length (so 4w finds the 28d table)."""
    return {seconds(period): table.rows for table in builtin_tables() for period in table.periods}


def table_periods() -> tuple[str, ...]:
    """The periods with a table of their own, shortest first."""
    return tuple(sorted((p for t in builtin_tables() for p in t.periods), key=seconds))


@cache
def windows_for(period: str) -> tuple[BurnWindow, ...]:
    """The default rows of an SLO period: its table, else the scaled shares of the nearest shorter one."""
    table = _by_period()
    if seconds(period) in table:
        return table[seconds(period)]
    below = [length for length in sorted(table) if length <= seconds(period)]
    base = table[below[-1] if below else min(table)]
    out = []
    for row in base:
        if seconds(row.long) > seconds(period):
            continue
        if row.factor(period) < 1:  # a burn below 1 would alert while the budget still lasts the period
            row = BurnWindow(row.severity, row.long, row.short, Fraction(seconds(row.long), seconds(period)),
                             row.for_)
        out.append(row)
    return tuple(out)


def _sorted(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(names), key=seconds))


def alert_windows(rows: Sequence[BurnWindow]) -> tuple[str, ...]:
    """Every distinct window the rows read, shortest first."""
    return _sorted(w for row in rows for w in (row.long, row.short))


def raw_windows(rows: Sequence[BurnWindow]) -> tuple[str, ...]:
    """Windows recorded from raw counters every minute: the fastest page pair (it sets how soon a
    fast burn pages) and RAW_ALWAYS (5m and 1h, which dashboards and the gate read)."""
    pages = [r for r in rows if r.severity == "page"]
    fastest = min(pages, key=lambda r: seconds(r.long)) if pages else None
    return _sorted([*RAW_ALWAYS, *((fastest.long, fastest.short) if fastest else ())])


def tiled_windows(rows: Sequence[BurnWindow]) -> tuple[str, ...]:
    """The other alert windows: alerts sum the short tiles over them."""
    raw = raw_windows(rows)
    return tuple(w for w in alert_windows(rows) if w not in raw)
