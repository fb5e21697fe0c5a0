"""Numbers for people: budget percents, burn rates, days left."""

from __future__ import annotations

import math

from slogen import conventions as c
from slogen.slo.budget import SLOBudget


def percent(ratio: float | None) -> str:
    """A budget ratio as a percent for people."""
    return "no data" if ratio is None or not math.isfinite(ratio) else f"{ratio * 100:.2f}%"


def days_left(budget: SLOBudget) -> str:
    """Days to exhaustion for people."""
    if budget.state == c.UNKNOWN:
        return "no data"
    value = budget.days_to_exhaustion
    return "never (no burn)" if value is None else f"{value:.1f}"


def rate(value: float | None) -> str:
    """A burn rate for people."""
    return "no data" if value is None else f"{value:.2f}x"
