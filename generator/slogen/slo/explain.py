"""What each alert of an SLO means, in numbers: thresholds, detection and reset times, budget spent.

Pure maths over the model, the window table (`slogen.windows`) and the rule layout
(`slogen.render.rules`: which group holds each alert, each group's interval, which windows are
recorded from raw counters and which are sums of short tiles). docs/explain.md states every
formula; in short, for one row (long window L, short window S, factor f, budget b, period P),
threshold t = f·b, and errors at ratio r starting on clean, steady traffic:

* the ratio over a window W, τ after the errors start, is r·min(τ, W)/W, so the row fires when
  both windows exceed t: at τ = t·L/r (the long window binds), never when r ≤ t;
* the budget spent by then is r·τ/(b·P) = f·L/P, the row's share of the budget, whatever r;
* after errors that filled both windows stop, the short window drops to t first: the row resets
  S·(1 − t/r) later;
* a live server sees all of this late by at most the lag of the window's recording (one interval
  of the group that records it) plus one interval of the alert's own group.

Policy alerts read budget remaining R = 1 − (period ratio)/b: from a clean period, R falls below
the freeze threshold F after (1 − F)·b·P/r and below 0 after b·P/r; R is built from whole-hour
tiles, so it lags by up to one hour plus one hours-group interval, then the budget and state
groups, then the alert's `for`; and it moves once an hour, so a burn that spends more than the
freeze band in an hour can jump over it (`may_skip`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from slogen import conventions as c
from slogen.durations import parse_duration
from slogen.model import SLO, Spec
from slogen.render import alerts as alert_rules
from slogen.render import rules
from slogen.slo import windows

SCHEMA = "slogen/explain/v1"
FULL_OUTAGE = "full_outage"  # every request fails
BURN_10X = "burn_10x"  # errors at ten times the budget rate (capped at 100 % errors)
BURN_10X_FACTOR = 10
RAW, TILES = "raw", "tiles"  # where a window's ratio comes from


@dataclass(frozen=True)
class Scenario:
    """Errors at a constant ratio, starting on clean traffic."""

    name: str
    error_ratio: Fraction
    burn_rate: Fraction  # error_ratio ÷ budget


@dataclass(frozen=True)
class Timing:
    """When something happens after its cause, earliest (the textbook maths, plus a fixed `for`)
    and latest (plus the rules' worst evaluation lag); None for both means never."""

    seconds: float | None
    seconds_max: float | None

    @property
    def never(self) -> bool:
        """Whether it never happens."""
        return self.seconds is None


NEVER = Timing(None, None)


@dataclass(frozen=True)
class Outcome:
    """One alert (or one of its rows) under one scenario."""

    scenario: Scenario
    detect: Timing  # after the errors start
    budget_spent: Timing  # share of the period's budget spent when it fires (as a Timing of shares)
    reset: Timing  # after the errors stop
    # The freeze alert reads R, which moves once an hour (whole-hour tiles): when an hour of these
    # errors moves R by more than the freeze band (0 ≤ R < freeze), R can jump over the band, and
    # the alert fires only if a whole hour happens to land inside it.
    may_skip: bool = False


@dataclass(frozen=True)
class Condition:
    """One row of a burn-rate alert: both windows above the threshold."""

    severity: str
    alert: str
    long: str
    short: str
    long_source: str  # RAW (recorded by the sli group) or TILES (summed from short tiles)
    short_source: str
    factor: Fraction
    threshold: Fraction  # on the error ratio: factor × budget
    budget_share: Fraction  # of the period's budget, spent when it first fires at any rate above factor
    lag_seconds: float  # worst evaluation lag: the windows' recording plus the alert's group
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class AlertExplanation:
    """One alert rule: where it is evaluated and, per scenario, when it fires and resets."""

    alert: str
    severity: str
    stage: str
    group_interval: str
    for_: str | None
    fires_when: str
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class SLOExplanation:
    """Every alert of one SLO, explained."""

    service: str
    slo: str
    objective: Fraction
    window: str
    error_budget: Fraction
    budget_minutes: float  # the budget as minutes of full outage over the period
    conditions: tuple[Condition, ...]
    alerts: tuple[AlertExplanation, ...]
    disabled: tuple[str, ...]  # alerts the spec turns off
    group_by: tuple[str, ...] = ()  # a grouped SLO: every figure holds for each group on its own


def scenarios(error_budget: Fraction) -> tuple[Scenario, ...]:
    """A full outage, and ten times the budget rate (at most 100 % errors), for an SLO's budget."""
    ten = min(Fraction(1), BURN_10X_FACTOR * error_budget)
    return (Scenario(FULL_OUTAGE, Fraction(1), 1 / error_budget), Scenario(BURN_10X, ten, ten / error_budget))


def _seconds(duration: str) -> float:
    return parse_duration(duration)


def _exact(duration: str) -> Fraction:
    return Fraction(parse_duration(duration))


def window_source(slo: SLO, window: str) -> str:
    """RAW when the sli group records the window's ratio, TILES when the alert sums short tiles
    (the same split `render.alerts.window_ratio` makes)."""
    return RAW if window in windows.raw_windows(slo.windows) else TILES


def recording_lag(source: str) -> float:
    """How old, at most, the newest recorded value of a window can be: one interval of the group
    that records it (the sli group for RAW windows, the tiles group for TILES)."""
    stage = c.STAGE_SLI if source == RAW else c.STAGE_TILES
    return _seconds(rules.INTERVALS[stage])


def _timing(seconds: float | None, lag: float, fixed: float = 0.0) -> Timing:
    return NEVER if seconds is None else Timing(seconds + fixed, seconds + fixed + lag)


def _spent(timing: Timing, scenario: Scenario, slo: SLO) -> Timing:
    if timing.seconds is None or timing.seconds_max is None:
        return NEVER
    per_second = scenario.burn_rate / _exact(slo.window)
    return Timing(float(Fraction(timing.seconds) * per_second), float(Fraction(timing.seconds_max) * per_second))


def pending(slo: SLO, row: windows.BurnWindow) -> str | None:
    """The row's `for:` (its own, else its severity's): the condition must hold that long to fire."""
    override = alert_rules.override_of(slo, row.severity)
    return row.for_ or override.for_


def _row_outcome(slo: SLO, row: windows.BurnWindow, scenario: Scenario, lag: float) -> Outcome:
    threshold = row.factor(slo.window) * slo.error_budget
    r = scenario.error_ratio
    if r <= threshold:
        return Outcome(scenario, NEVER, NEVER, NEVER)
    hold = pending(slo, row)
    detect = _timing(float(threshold * _exact(row.long) / r), lag, _seconds(hold) if hold else 0.0)
    reset = _timing(float((1 - threshold / r) * _exact(row.short)), lag)
    return Outcome(scenario, detect, _spent(detect, scenario, slo), reset)


def _min_timing(timings: list[Timing]) -> Timing:
    real = [t for t in timings if not t.never]
    if not real:
        return NEVER
    return Timing(min(t.seconds for t in real if t.seconds is not None),
                  min(t.seconds_max for t in real if t.seconds_max is not None))


def _max_timing(timings: list[Timing]) -> Timing:
    real = [t for t in timings if not t.never]
    if not real:
        return NEVER
    return Timing(max(t.seconds for t in real if t.seconds is not None),
                  max(t.seconds_max for t in real if t.seconds_max is not None))


def _alert_stage(slo: SLO, spec: Spec, alert: str) -> str | None:
    return rules.stage_of(slo, spec, "alert", alert)


def _row_lag(slo: SLO, row: windows.BurnWindow, stage: str) -> float:
    sources = window_source(slo, row.long), window_source(slo, row.short)
    return max(recording_lag(s) for s in sources) + _seconds(rules.INTERVALS[stage])


def _conditions(slo: SLO, spec: Spec, severity: str, alert: str, stage: str) -> list[Condition]:
    out = []
    for row in slo.windows:
        if row.severity != severity:
            continue
        sources = window_source(slo, row.long), window_source(slo, row.short)
        lag = _row_lag(slo, row, stage)
        out.append(Condition(
            severity, alert, row.long, row.short, *sources, row.factor(slo.window),
            row.factor(slo.window) * slo.error_budget, row.budget_share, lag,
            tuple(_row_outcome(slo, row, s, lag) for s in scenarios(slo.error_budget))))
    return out


def _burn_alert(slo: SLO, alert: str, severity: str, stage: str, rows: list[Condition]) -> AlertExplanation:
    outcomes = []
    for i, scenario in enumerate(scenarios(slo.error_budget)):
        per_row = [row.outcomes[i] for row in rows]
        detect = _min_timing([o.detect for o in per_row])
        outcomes.append(Outcome(scenario, detect, _spent(detect, scenario, slo),
                                _max_timing([o.reset for o in per_row])))
    text = " or ".join(f"ratio({r.long}) > {float(r.threshold):.6g} and ratio({r.short}) > {float(r.threshold):.6g}"
                       for r in rows)
    override = alert_rules.override_of(slo, severity)
    return AlertExplanation(alert, severity, stage, rules.INTERVALS[stage], override.for_, text, tuple(outcomes))


BURN_ALERTS = {c.SEVERITY_PAGE: c.ALERT_PAGE, c.SEVERITY_TICKET: c.ALERT_TICKET}


def burn_outcome(slo: SLO, spec: Spec, severity: str, error_ratio: Fraction) -> Outcome | None:
    """When the page or ticket of `slo` fires and resets at `error_ratio` (None: disabled)."""
    stage = _alert_stage(slo, spec, BURN_ALERTS[severity])
    if stage is None:
        return None
    scenario = Scenario("custom", error_ratio, error_ratio / slo.error_budget)
    per_row = [_row_outcome(slo, row, scenario, _row_lag(slo, row, stage))
               for row in slo.windows if row.severity == severity]
    detect = _min_timing([o.detect for o in per_row])
    return Outcome(scenario, detect, _spent(detect, scenario, slo), _max_timing([o.reset for o in per_row]))


def budget_lag() -> float:
    """Worst lag of budget remaining R behind the raw counters, and of the state group reading it:
    R sums whole hours' tiles (up to one hour plus one hours-group interval old), the budget group
    records R, the state group (where the policy alerts live) reads it a group later."""
    hours = _seconds(c.HOUR_TILE) + _seconds(rules.INTERVALS[c.STAGE_HOURS])
    return hours + _seconds(rules.INTERVALS[c.STAGE_BUDGET]) + _seconds(rules.INTERVALS[c.STAGE_STATE])


def _policy_alert(slo: SLO, spec: Spec, alert: str, stage: str) -> AlertExplanation:
    freeze = Fraction(str(spec.policy.freeze)) / 100
    level = 1 - freeze if alert == c.ALERT_FREEZE else Fraction(1)  # share of the budget spent when R crosses
    period = _seconds(slo.window)
    hold = _seconds(alert_rules.POLICY_FOR)
    lag = budget_lag()
    outcomes = []
    for scenario in scenarios(slo.error_budget):
        crossing = float(level * slo.error_budget / scenario.error_ratio * _exact(slo.window))
        detect = _timing(crossing, lag, hold)
        hourly = scenario.burn_rate * _exact(c.HOUR_TILE) / _exact(slo.window)  # R's step per whole hour
        skips = alert == c.ALERT_FREEZE and hourly > freeze
        # R climbs back only as the errors leave the period: at most one period after they stop.
        outcomes.append(Outcome(scenario, detect, _spent(detect, scenario, slo), Timing(period, period + lag), skips))
    when = (f"0 <= budget remaining < {float(freeze):.4g}" if alert == c.ALERT_FREEZE
            else "budget remaining < 0")
    return AlertExplanation(alert, c.SEVERITY_TICKET, stage, rules.INTERVALS[stage], alert_rules.POLICY_FOR,
                            when, tuple(outcomes))


def explain_slo(slo: SLO, spec: Spec) -> SLOExplanation:
    """Every alert of `slo`: burn-rate rows, the page and ticket, the policy alerts."""
    conditions: list[Condition] = []
    explained: list[AlertExplanation] = []
    disabled: list[str] = []
    for severity, alert in BURN_ALERTS.items():
        stage = _alert_stage(slo, spec, alert)
        if stage is None:
            disabled.append(alert)
            continue
        rows = _conditions(slo, spec, severity, alert, stage)
        conditions.extend(rows)
        explained.append(_burn_alert(slo, alert, severity, stage, rows))
    for alert in (c.ALERT_FREEZE, c.ALERT_EXHAUSTED):
        stage = _alert_stage(slo, spec, alert)
        if stage is None:
            disabled.append(alert)
            continue
        explained.append(_policy_alert(slo, spec, alert, stage))
    minutes = float(slo.error_budget) * _seconds(slo.window) / 60
    return SLOExplanation(slo.service, slo.name, slo.objective, slo.window, slo.error_budget, minutes,
                          tuple(conditions), tuple(explained), tuple(disabled), slo.group_by)


def explain(spec: Spec, slos: tuple[SLO, ...]) -> tuple[SLOExplanation, ...]:
    """`explain_slo` for each of `slos` (all of the spec's, or a selection of them)."""
    return tuple(explain_slo(slo, spec) for slo in slos)


# ------------------------------------------------------------------ the JSON document (slogen/explain/v1)
def _number(value: float | None) -> float | None:
    # 12 significant digits: the maths is exact in fractions; this drops float noise (0.0999…97).
    return None if value is None else float(f"{value:.12g}")


def _timing_doc(t: Timing, unit: str = "seconds") -> dict[str, float | None]:
    return {unit: _number(t.seconds), f"{unit}_max": _number(t.seconds_max)}


def _outcome_doc(o: Outcome) -> dict[str, object]:
    return {"scenario": o.scenario.name, "error_ratio": float(o.scenario.error_ratio),
            "burn_rate": float(o.scenario.burn_rate), "fires": not o.detect.never, "may_skip": o.may_skip,
            "detect": _timing_doc(o.detect), "budget_spent": _timing_doc(o.budget_spent, "share"),
            "reset": _timing_doc(o.reset)}


def _grouping_doc(e: SLOExplanation) -> dict[str, object]:
    # Only grouped SLOs carry the key, as in `status --json`.
    return {"group_by": list(e.group_by)} if e.group_by else {}


def document(explained: tuple[SLOExplanation, ...]) -> dict[str, object]:
    """The `--json` document; its schema is in docs/explain.md."""
    return {"schema": SCHEMA, "slos": [{
        "service": e.service, "slo": e.slo, **_grouping_doc(e), "objective": float(e.objective), "window": e.window,
        "error_budget": float(e.error_budget), "budget_minutes": e.budget_minutes,
        "disabled": list(e.disabled),
        "conditions": [{
            "alert": r.alert, "severity": r.severity, "long": r.long, "short": r.short,
            "long_source": r.long_source, "short_source": r.short_source, "factor": float(r.factor),
            "threshold": float(r.threshold), "budget_share": float(r.budget_share),
            "lag_seconds": r.lag_seconds, "outcomes": [_outcome_doc(o) for o in r.outcomes],
        } for r in e.conditions],
        "alerts": [{
            "alert": a.alert, "severity": a.severity, "stage": a.stage, "interval": a.group_interval,
            "for": a.for_, "fires_when": a.fires_when, "outcomes": [_outcome_doc(o) for o in a.outcomes],
        } for a in e.alerts],
    } for e in explained]}
