"""Error-budget state of every SLO: the math (docs/status-and-gate.md, "States") and the snapshot of all of them.

The math here is the one definition `status`, `gate` and anything else in Python uses:

- state on R% (R = budget remaining × 100) with the spec's policy: NORMAL R > caution;
  CAUTION warning ≤ R ≤ caution; WARNING freeze ≤ R < warning; FREEZE 0 ≤ R < freeze;
  EXHAUSTED R < 0; UNKNOWN when there is no value (absent, NaN or +Inf, which no real budget
  can be: R never exceeds 100 %). R% is rounded to 1e-9 percentage points first so float noise
  such as 0.7999999999999999 lands on the boundary the user meant (80 → CAUTION).
- days to exhaustion = R × window days ÷ burn rate (1h); 0 once R ≤ 0 (even with no burn);
  None (never) when the 1h burn rate is 0; None when R or the burn rate is unknown.

Pure: the one batched read of the series that feeds it is `slogen.services.status.fetch`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import TypeVar

from slogen import conventions as c
from slogen.errors import SlogenError
from slogen.model import SLO, Policy, Spec, period_days

STATE_ORDER = (*c.STATES, c.UNKNOWN)  # best first; UNKNOWN is worst: the gate cannot decide
_RANK = {state: rank for rank, state in enumerate(STATE_ORDER)}
_PERCENT_DIGITS = 9
_SLACK = 1e-9  # float noise above R = 1 (an untouched budget) is still 1
T = TypeVar("T")

# Why an SLO without an implausible answer is UNKNOWN: its rules are not in Prometheus at all (no
# SLO_INFO series, which the rules record from their first minutes), or they are and have no data.
RULES_NOT_LOADED = "rules not loaded"
NO_DATA = "no data"


class UnknownSLOError(SlogenError):
    """`--service`/`--slo` named something the spec does not declare."""

    exit_code = 2


def thresholds(policy: Policy) -> tuple[tuple[str, str, float], ...]:
    """Each state worse than NORMAL with the bound on R% that enters it: (state, "<=" or "<", percent).

    In state order, so the state is STATES[how many bounds R% is under]; `rules.state_expr` records
    exactly that count as the state code, and `state_for` below computes it in Python.
    """
    return ((c.CAUTION, "<=", policy.caution), (c.WARNING, "<", policy.warning), (c.FREEZE, "<", policy.freeze),
            (c.EXHAUSTED, "<", 0.0))


def state_for(remaining: float | None, policy: Policy) -> str:
    """Deploy state for budget remaining `remaining` (a ratio: 1 untouched, 0 spent, < 0 overspent)."""
    if remaining is None or math.isnan(remaining) or remaining == math.inf:
        return c.UNKNOWN
    if remaining == -math.inf:
        return c.EXHAUSTED
    percent = round(remaining * 100, _PERCENT_DIGITS)
    under = sum(1 for _, op, bound in _thresholds(policy) if (percent <= bound if op == "<=" else percent < bound))
    return c.STATES[under]


@cache  # asked once per SLO of a status read; a spec has one policy
def _thresholds(policy: Policy) -> tuple[tuple[str, str, float], ...]:
    return thresholds(policy)


def days_to_exhaustion(remaining: float | None, window_days: float, burn_rate_1h: float | None) -> float | None:
    """Days until the budget is spent at the current 1h burn rate; None means never (or unknown)."""
    if remaining is None or math.isnan(remaining):
        return None
    if remaining <= 0:
        return 0.0
    if burn_rate_1h is None or math.isnan(burn_rate_1h) or burn_rate_1h <= 0:
        return None
    return remaining * window_days / burn_rate_1h


def worst_state(states: Iterable[str]) -> str:
    """The worst of `states` (UNKNOWN beats EXHAUSTED); NORMAL for none."""
    return max(states, key=_RANK.__getitem__, default=c.NORMAL)


def state_rank(state: str) -> int:
    """Position of `state` in STATE_ORDER (higher is worse)."""
    return _RANK[state]


@dataclass(frozen=True)
class SLOBudget:
    """The budget of one SLO as of one instant."""

    service: str
    slo: str
    objective: float  # ratio, 0.999
    window: str  # "30d"
    window_days: float
    error_ratio: float | None  # event-weighted over the window; None = no data
    remaining: float | None  # ratio
    burn_rate_1h: float | None
    days_to_exhaustion: float | None
    state: str
    implausible: str = ""  # why Prometheus' answer for this SLO was not trusted (then state is UNKNOWN)
    coverage: float | None = None  # share of the period the budget covers (1 once the history spans it)
    missing: str = ""  # UNKNOWN and not implausible: RULES_NOT_LOADED or NO_DATA
    group: tuple[tuple[str, str], ...] = ()  # a grouped SLO's (label, value) pairs, in group_by order

    @property
    def unknown_reason(self) -> str | None:
        """Why the state is UNKNOWN (None when it is not)."""
        if self.state != c.UNKNOWN:
            return None
        return self.implausible or self.missing or NO_DATA

    @property
    def sli(self) -> float | None:
        """Share of good events over the window (1 − error ratio)."""
        return None if self.error_ratio is None else 1 - self.error_ratio

    @property
    def name(self) -> str:
        """`service/slo`, or `service/slo{route=/pay}` for one group of a grouped SLO, as messages name it."""
        return f"{self.service}/{self.slo}{group_text(self.group)}"


def group_text(group: tuple[tuple[str, str], ...]) -> str:
    """`{route=/pay,method=GET}` for a group, "" for an ungrouped SLO."""
    return "{" + ",".join(f"{k}={v}" for k, v in group) + "}" if group else ""


@dataclass(frozen=True)
class Snapshot:
    """Every selected SLO's budget at `time`, plus Prometheus' warnings."""

    time: float
    slos: tuple[SLOBudget, ...]
    warnings: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """The worst state of all SLOs."""
        return worst_state(b.state for b in self.slos)

    @property
    def deciding(self) -> SLOBudget | None:
        """The SLO that sets the overall state: worst state, then least budget left."""
        worst = self.worst(1)
        return worst[0] if worst else None

    def worst(self, limit: int) -> tuple[SLOBudget, ...]:
        """The `limit` SLOs in the worst states (least budget left first within a state), worst first."""
        return tuple(heapq.nsmallest(limit, self.slos, key=_worst_first))

    @property
    def unknown(self) -> tuple[SLOBudget, ...]:
        """SLOs without data, or whose answer was implausible."""
        return tuple(b for b in self.slos if b.state == c.UNKNOWN)

    @property
    def implausible(self) -> tuple[SLOBudget, ...]:
        """SLOs whose answer was not trusted (see SLOBudget.implausible)."""
        return tuple(b for b in self.slos if b.implausible)


def select(spec: Spec, service: str | None = None, slo: str | None = None,
           group: tuple[tuple[str, str], ...] = ()) -> tuple[SLO, ...]:
    """The spec's SLOs narrowed by service, SLO name and grouping labels (`--group route=/pay` keeps
    the SLOs that group by `route`); UnknownSLOError when nothing matches."""
    services = [s.name for s in spec.services]
    if service is not None and service not in services:
        raise UnknownSLOError(f"unknown service {service!r}; the spec declares: {', '.join(services) or 'none'}")
    chosen = tuple(s for s in spec.slos if service is None or s.service == service)
    if slo is not None:
        names = sorted({s.name for s in chosen})
        chosen = tuple(s for s in chosen if s.name == slo)
        if not chosen:
            where = f"service {service!r}" if service else "any service"
            raise UnknownSLOError(f"unknown SLO {slo!r} in {where}; known: {', '.join(names) or 'none'}")
    if group:
        labels = {label for label, _ in group}
        chosen = tuple(s for s in chosen if labels <= set(s.group_by))
        if not chosen:
            raise UnknownSLOError(f"no selected SLO groups by {', '.join(sorted(labels))} (group_by in the spec)")
    return chosen


def doubt(values: dict[str, float]) -> str:
    """Why these recorded values cannot be a real budget ("" when they can)."""
    remaining, burn = values.get("remaining"), values.get("burn_1h")
    if remaining is not None and math.isnan(remaining) and "burn_1h" in values:
        return "budget remaining is NaN"
    if remaining is not None and remaining > 1 + _SLACK:
        return f"budget remaining {remaining:g} is above 1 (100 %), which no budget can be"
    if burn is not None and burn < 0:
        return f"burn rate {burn:g} is not a rate"
    return ""


def budget_of(slo: SLO, values: dict[str, float], policy: Policy, implausible: str = "",
              group: tuple[tuple[str, str], ...] = ()) -> SLOBudget:
    """One SLO's budget from its recorded values by role (`remaining`, `burn_1h`); UNKNOWN when implausible."""
    implausible = implausible or doubt(values)
    state = c.UNKNOWN if implausible else state_for(values.get("remaining"), policy)
    # Known: a finite R, or −Inf (EXHAUSTED); NaN, +Inf and absent are UNKNOWN (state_for).
    remaining = None if state == c.UNKNOWN else values["remaining"]
    burn = _finite_or(values.get("burn_1h"), None)
    objective, error_budget = _as_floats(slo.objective)
    window_days = _window_days(slo.window)
    return SLOBudget(
        service=slo.service, slo=slo.name, objective=objective, window=slo.window, window_days=window_days,
        error_ratio=None if remaining is None else _finite_or((1 - remaining) * error_budget, None),
        remaining=remaining, burn_rate_1h=burn,
        days_to_exhaustion=days_to_exhaustion(remaining, window_days, burn),
        state=state, implausible=implausible, coverage=_coverage(values.get("coverage")), group=group,
    )


def _coverage(value: float | None) -> float | None:
    """The recorded coverage, clamped to (0, 1]; None when absent or not a share."""
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return min(value, 1.0)


@cache
def _as_floats(objective: Fraction) -> tuple[float, float]:
    # Fraction arithmetic is slow next to floats, and many SLOs share a handful of objectives.
    return float(objective), float(1 - objective)


@cache  # a spec has a handful of periods
def _window_days(window: str) -> float:
    return float(period_days(window))


def _worst_first(b: SLOBudget) -> tuple[int, float]:
    return -state_rank(b.state), _finite_or(b.remaining, math.inf)


def _finite_or(value: float | None, default: T) -> float | T:
    return value if value is not None and math.isfinite(value) else default
