"""Numbers for people, in one place: percents, percentage points, burn rates, days left, durations."""

from __future__ import annotations

import math

from slogen import conventions as c
from slogen.slo.budget import SLOBudget


def percent(ratio: float | None, *, sep: str = "") -> str:
    """A ratio as a percent with two decimals: `41.25%` (`41.25 %` with sep=" " in prose); `no data` if unknown."""
    return "no data" if ratio is None or not math.isfinite(ratio) else f"{ratio * 100:.2f}{sep}%"


def points(value: float | None) -> str:
    """Percentage points of an error budget: `41.00 pp`; `n/a` if unknown."""
    return "n/a" if value is None else f"{value:.2f} pp"


def budget_text(b: SLOBudget) -> str:
    """Budget remaining, and how much of the period it covers while that is less than all of it."""
    text = percent(b.remaining)
    if b.remaining is not None and b.coverage is not None and b.coverage < 1:
        hours = round(b.coverage * b.window_days * 24)
        covered = f"{hours // 24}d" if hours >= 48 else f"{hours}h"
        text += f" (budget over {covered} of {b.window})"
    return text


def days_left(budget: SLOBudget) -> str:
    """Days to exhaustion for people."""
    if budget.state == c.UNKNOWN:
        return "no data"
    value = budget.days_to_exhaustion
    return "never (no burn)" if value is None else f"{value:.1f}"


def rate(value: float | None) -> str:
    """A burn rate for people."""
    return "no data" if value is None else f"{value:.2f}x"


def duration(seconds: float) -> str:
    """A span of time to the minute: `2h 05m`, `45m`, `1d 3h 00m`."""
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days}d"] if days else []) + ([f"{hours}h"] if hours or days else []) + [f"{mins:02d}m"]
    return " ".join(parts) if hours or days else f"{mins}m"
