"""Error-budget state of every SLO: the math (docs/status-and-gate.md, "States"), one batched read of the series.

The math here is the one definition `status`, `gate` and anything else in Python uses:

- state on R% (R = budget remaining × 100) with the spec's policy: NORMAL R > caution;
  CAUTION warning ≤ R ≤ caution; WARNING freeze ≤ R < warning; FREEZE 0 ≤ R < freeze;
  EXHAUSTED R < 0; UNKNOWN when there is no value (absent, NaN or +Inf, which no real budget
  can be: R never exceeds 100 %). R% is rounded to 1e-9 percentage points first so float noise
  such as 0.7999999999999999 lands on the boundary the user meant (80 → CAUTION).
- days to exhaustion = R × window days ÷ burn rate (1h); 0 once R ≤ 0 (even with no burn);
  None (never) when the 1h burn rate is 0; None when R or the burn rate is unknown.

`fetch` reads the recorded series with ONE instant query, whatever the number of SLOs,
and groups the answer by (service, slo) in Python.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from typing import TypeVar

from slogen import conventions as c
from slogen.errors import SlogenError
from slogen.model import SLO, Policy, Spec
from slogen.prometheus import PrometheusClient
from slogen.promql.ast import Matcher, Selector, render

STATE_ORDER = (*c.STATES, c.UNKNOWN)  # best first; UNKNOWN is worst: the gate cannot decide
_RANK = {state: rank for rank, state in enumerate(STATE_ORDER)}
_PERCENT_DIGITS = 9
_SLACK = 1e-9  # float noise above R = 1 (an untouched budget) is still 1
T = TypeVar("T")

# The series `fetch` reads, by role. Names come from the conventions module only. The period's
# error ratio is not read: the rules record R = 1 − ratio ÷ budget from it in the same evaluation,
# so ratio = (1 − R) × budget, and leaving it out cuts the answer (and Prometheus' work) by a
# third: 20,000 series instead of 30,000 for 10,000 SLOs.
SERIES = {"remaining": c.BUDGET_REMAINING, "burn_1h": c.BURN_RATE_1H, "coverage": c.PERIOD_COVERAGE}

# Why an SLO without an implausible answer is UNKNOWN: its rules are not in Prometheus at all (no
# SLO_INFO series, which the rules record from their first minutes), or they are and have no data.
RULES_NOT_LOADED = "rules not loaded"
NO_DATA = "no data"


class UnknownSLOError(SlogenError):
    """`--service`/`--slo` named something the spec does not declare."""

    exit_code = 2


def state_for(remaining: float | None, policy: Policy) -> str:
    """Deploy state for budget remaining `remaining` (a ratio: 1 untouched, 0 spent, < 0 overspent)."""
    if remaining is None or math.isnan(remaining) or remaining == math.inf:
        return c.UNKNOWN
    if remaining == -math.inf:
        return "EXHAUSTED"
    percent = round(remaining * 100, _PERCENT_DIGITS)
    if percent > policy.caution:
        return "NORMAL"
    if percent >= policy.warning:
        return "CAUTION"
    if percent >= policy.freeze:
        return "WARNING"
    if percent >= 0:
        return "FREEZE"
    return "EXHAUSTED"


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
    return max(states, key=_RANK.__getitem__, default="NORMAL")


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
        """`service/slo`, as messages name an SLO."""
        return f"{self.service}/{self.slo}"


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


def select(spec: Spec, service: str | None = None, slo: str | None = None) -> tuple[SLO, ...]:
    """The spec's SLOs narrowed by service and/or SLO name; UnknownSLOError when nothing matches."""
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
    return chosen


def budget_query(service: str | None = None, slo: str | None = None) -> str:
    """The one PromQL selector that returns every series `fetch` needs (narrowed when asked)."""
    names = sorted(SERIES.values())
    for name in names:  # metric names need no regex escaping; refuse a convention that would
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
            raise ValueError(f"not a metric name: {name!r}")
    return render(Selector(None, (Matcher("__name__", "=~", "|".join(names)), *_narrowing(service, slo))))


def _narrowing(service: str | None, slo: str | None) -> tuple[Matcher, ...]:
    return tuple(Matcher(label, "=", value) for label, value in ((c.LABEL_SERVICE, service), (c.LABEL_SLO, slo))
                 if value is not None)


def _narrowed(name: str, service: str | None, slo: str | None) -> str:
    return render(Selector(name, _narrowing(service, slo)))


def fetch(slos: Sequence[SLO], policy: Policy, client: PrometheusClient, at: float,
          service: str | None = None, slo: str | None = None) -> Snapshot:
    """Read the budget of `slos` as of `at` in one query; SLOs without data come back UNKNOWN."""
    result = client.query(budget_query(service, slo), at=at)
    role_of = {name: role for role, name in SERIES.items()}
    values: dict[tuple[str, str], dict[str, float]] = {}
    doubts: dict[tuple[str, str], str] = {}
    for sample in result.samples:
        key = (sample.labels.get(c.LABEL_SERVICE, ""), sample.labels.get(c.LABEL_SLO, ""))
        role = role_of.get(sample.labels.get("__name__", ""))
        if role is None:
            continue
        seen = values.setdefault(key, {})
        if role in seen:  # one series per SLO: two mean a rule file loaded twice, or a forged answer
            doubts[key] = f"several {SERIES[role]} series (is a rule file loaded twice?)"
        seen[role] = sample.value
    budgets = [budget_of(s, values.get((s.service, s.name), {}), policy, doubts.get((s.service, s.name), ""))
               for s in slos]
    if any(b.state == c.UNKNOWN and not b.implausible for b in budgets):
        # Only then a second query: which SLOs have their rules loaded at all.
        loaded = {(r.labels.get(c.LABEL_SERVICE, ""), r.labels.get(c.LABEL_SLO, ""))
                  for r in client.query(_narrowed(c.SLO_INFO, service, slo), at=at).samples}
        budgets = [replace(b, missing=NO_DATA if (b.service, b.slo) in loaded else RULES_NOT_LOADED)
                   if b.state == c.UNKNOWN and not b.implausible else b for b in budgets]
    return Snapshot(at, tuple(budgets), tuple(result.warnings))


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


def budget_of(slo: SLO, values: dict[str, float], policy: Policy, implausible: str = "") -> SLOBudget:
    """One SLO's budget from its recorded values by role (`remaining`, `burn_1h`); UNKNOWN when implausible."""
    implausible = implausible or doubt(values)
    state = c.UNKNOWN if implausible else state_for(values.get("remaining"), policy)
    # Known: a finite R, or −Inf (EXHAUSTED); NaN, +Inf and absent are UNKNOWN (state_for).
    remaining = None if state == c.UNKNOWN else values["remaining"]
    burn = _finite_or(values.get("burn_1h"), None)
    objective, error_budget = _as_floats(slo.objective)
    return SLOBudget(
        service=slo.service, slo=slo.name, objective=objective, window=slo.window, window_days=float(slo.window_days),
        error_ratio=None if remaining is None else _finite_or((1 - remaining) * error_budget, None),
        remaining=remaining, burn_rate_1h=burn,
        days_to_exhaustion=days_to_exhaustion(remaining, float(slo.window_days), burn),
        state=state, implausible=implausible, coverage=_coverage(values.get("coverage")),
    )


def _coverage(value: float | None) -> float | None:
    """The recorded coverage, clamped to (0, 1]; None when absent or not a share."""
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return min(value, 1.0)


@cache
def _as_floats(objective: Fraction) -> tuple[float, float]:
    # Fraction arithmetic costs microseconds; 10,000 SLOs share a handful of objectives.
    return float(objective), float(1 - objective)


def _worst_first(b: SLOBudget) -> tuple[int, float]:
    return -state_rank(b.state), _finite_or(b.remaining, math.inf)


def _finite_or(value: float | None, default: T) -> float | T:
    return value if value is not None and math.isfinite(value) else default

