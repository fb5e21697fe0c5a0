"""Multi-window, multi-burn-rate alert windows, per SLO period, as data.

The 30-day rows (where they come from: docs/rules.md): page at 2 % of the budget spent in
1 h (5 m short window) or 5 % in 6 h (30 m); ticket at 10 % in 1 d (2 h) or 10 % in 3 d (6 h).

A row is kept as the *share of the period's budget* it spends, so the burn-rate factor is
`share × period / long window`: 14.4, 6, 3, 1 for 30 d; 13.44, 5.6, 2.8, 0.9333… for 28 d;
43.2, 18, 9, 3 for 90 d. On 7 d and 14 d those factors drop below 1 for tickets (an alert that
fires while the budget would still last the period), so, like Sloth's 7 d catalog, short periods
get their own shares: pages keep a factor of 13.44 over 1 h, and the slow ticket is set to exactly
a factor of 1 over 3 d (it spends 3/7 or 3/14 of the budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from slogen.durations import parse_duration


@dataclass(frozen=True)
class BurnWindow:
    """One alert condition: burn faster than `factor` over both `long` and `short`."""

    severity: str  # "page" or "ticket"
    long: str
    short: str
    budget_share: Fraction  # share of the period's error budget spent when it first fires

    def factor(self, period: str) -> Fraction:
        """Burn-rate threshold for an SLO period such as `30d`."""
        return self.budget_share * Fraction(int(parse_duration(period)), int(parse_duration(self.long)))


def _row(severity: str, long: str, short: str, share: Fraction) -> BurnWindow:
    return BurnWindow(severity, long, short, share)


_GOOGLE = (
    _row("page", "1h", "5m", Fraction(2, 100)),
    _row("page", "6h", "30m", Fraction(5, 100)),
    _row("ticket", "1d", "2h", Fraction(10, 100)),
    _row("ticket", "3d", "6h", Fraction(10, 100)),
)

WINDOWS: dict[str, tuple[BurnWindow, ...]] = {
    "30d": _GOOGLE,
    "28d": _GOOGLE,
    "90d": _GOOGLE,
    # Short periods: Sloth's 7d catalog shares (8 %, 12.5 %, 20 %), the slow ticket at factor 1.
    "7d": (
        _row("page", "1h", "5m", Fraction(8, 100)),
        _row("page", "6h", "30m", Fraction(125, 1000)),
        _row("ticket", "1d", "2h", Fraction(20, 100)),
        _row("ticket", "3d", "6h", Fraction(3, 7)),
    ),
    "14d": (
        _row("page", "1h", "5m", Fraction(4, 100)),
        _row("page", "6h", "30m", Fraction(10, 100)),
        _row("ticket", "1d", "2h", Fraction(20, 100)),
        _row("ticket", "3d", "6h", Fraction(3, 14)),
    ),
}

SUPPORTED_PERIODS = tuple(sorted(WINDOWS, key=parse_duration))


def windows_for(period: str) -> tuple[BurnWindow, ...]:
    """The alert windows of an SLO period."""
    return WINDOWS[period]


def alert_windows(period: str) -> tuple[str, ...]:
    """Every distinct window the alerts of `period` read, shortest first."""
    names = {w for row in WINDOWS[period] for w in (row.long, row.short)}
    return tuple(sorted(names, key=parse_duration))


def raw_windows(period: str) -> tuple[str, ...]:
    """Windows recorded from raw counters every minute: the fastest page pair (1h and 5m), which
    sets how soon a fast burn pages, and 1h, whose burn rate dashboards and the gate read."""
    page = min((r for r in WINDOWS[period] if r.severity == "page"), key=lambda r: parse_duration(r.long))
    return tuple(sorted({page.long, page.short, "1h"}, key=parse_duration))


def tiled_windows(period: str) -> tuple[str, ...]:
    """The other alert windows (30m to 3d): alerts sum the short tiles over them."""
    raw = raw_windows(period)
    return tuple(w for w in alert_windows(period) if w not in raw)
