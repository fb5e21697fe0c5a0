"""Alert rules of one SLO: multi-window multi-burn-rate page and ticket, and the policy alerts.

Burn-rate alerts follow the window table of slo/windows.py (sources in docs/rules.md): a severity fires when
the error ratio exceeds `factor × budget` over both the long and the short window of any of
its rows. Zero traffic records a ratio of 0, which never exceeds a threshold, so it fires
nothing. Policy alerts (tickets) read the budget remaining: below the freeze threshold, and
exhausted; they wait 15m so a value hovering at the threshold does not flap.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Any
from urllib.parse import urlencode

from slogen import conventions as c
from slogen.model import SLO, AlertOverride, Spec, percent_fraction
from slogen.promql import Expr, Paren, and_, binary, call, gotemplate, number_text, or_
from slogen.render import promql_builders as q
from slogen.render import shapes
from slogen.slo import windows

POLICY_FOR = "15m"


def dashboard_link(slo: SLO, spec: Spec) -> str:
    """The Grafana dashboard showing `slo`, with its service and SLO variables preselected."""
    gr = spec.grafana
    return _dashboard_link(gr.url, gr.dashboard_uid, gr.per_service, slo.service, slo.name)


@functools.lru_cache(maxsize=1 << 10)  # each SLO's alerts ask five times in a row
def _dashboard_link(url: str, dashboard_uid: str, per_service: bool, service: str, name: str) -> str:
    uid = c.service_dashboard_uid(dashboard_uid, service) if per_service else dashboard_uid
    query = urlencode({f"var-{c.LABEL_SERVICE}": service, f"var-{c.LABEL_SLO}": name})
    return f"{c.dashboard_url(url, uid)}?{query}"


def override_of(slo: SLO, severity: str) -> AlertOverride:
    """The page or ticket override of `slo`."""
    return slo.alerting.page if severity == c.SEVERITY_PAGE else slo.alerting.ticket


def alert_labels(slo: SLO, severity: str, tier: str) -> dict[str, str]:
    """service, slo, severity, the SLO's labels, then the spec's alert labels and the severity's
    own (which may override `severity`), and last the tier (which nothing overrides). Burn-rate
    expressions are summed to no labels, so the rule's labels are the alert's whole identity."""
    # the SLO's labels are data: Prometheus would expand them as templates, so keep them literal
    slo_labels = {k: gotemplate.literal(v) for k, v in slo.labels.items()}
    return {c.LABEL_SERVICE: slo.service, c.LABEL_SLO: slo.name, c.LABEL_SEVERITY: severity, **slo_labels,
            **dict(slo.alerting.labels), **dict(override_of(slo, severity).labels), c.LABEL_ALERT_TIER: tier}


def _annotations(slo: SLO, spec: Spec, severity: str, summary: str, description: str) -> dict[str, str]:
    return {"summary": summary, "description": description, "dashboard": dashboard_link(slo, spec),
            **dict(slo.alerting.annotations), **dict(override_of(slo, severity).annotations)}


def window_ratio(slo: SLO, window: str) -> Expr:
    """The error ratio over `window` as the alerts read it: the sli group's recording for the raw
    windows, else summed from the short tiles. Summed so every row has the same (empty) label set."""
    if window in windows.raw_windows(slo.windows):
        return q.series(c.error_ratio(window), slo)
    return q.tiled_ratio(slo, window)


def _short_term(slo: SLO, window: str, threshold: Fraction) -> Expr:
    # The alert's value ({{ $value }}, the long window's ratio) comes from the first term of a row;
    # a short window summed from tiles only has to hold, so it compares errors with threshold × events.
    if window in windows.raw_windows(slo.windows):
        return binary(">", window_ratio(slo, window), threshold)
    return q.tiled_above(slo, window, threshold)


def burn_condition(slo: SLO, row: windows.BurnWindow) -> Paren:
    """`(ratio(long) > t and ratio(short) > t)` with t = factor × budget printed exactly (a short
    window of tiles as `errors(short) > t × events(short)`), and with `min_events` set,
    `and events(long) >= min_events`."""
    threshold = row.factor(slo.window) * slo.error_budget
    terms: list[Expr] = [binary(">", window_ratio(slo, row.long), threshold), _short_term(slo, row.short, threshold)]
    if slo.alerting.min_events:
        terms.append(binary(">=", q.tiled_events(slo, row.long), slo.alerting.min_events))
    return Paren(and_(*terms))


def _burn_expr(slo: SLO, spec: Spec, rows_at: tuple[int, ...]) -> Expr:
    """Any of the rows `rows_at` (indices into slo.windows) burning: `(...) or (...)`."""
    return or_(*(burn_condition(slo, slo.windows[i]) for i in rows_at))


def _absent_expr(slo: SLO, spec: Spec) -> Expr:
    return call("absent", q.total_presence(slo))


def _below_freeze(slo: SLO, spec: Spec) -> Expr:
    # `(R < freeze) >= 0`: comparisons filter and keep R as the value, so one read of R does what
    # `R < freeze and R >= 0` does with two.
    below = binary("<", q.recorded(c.BUDGET_REMAINING, slo), percent_fraction(spec.policy.freeze))
    return binary(">=", Paren(below), 0)


def _exhausted(slo: SLO, spec: Spec) -> Expr:
    return binary("<", q.recorded(c.BUDGET_REMAINING, slo), 0)


def _describe(slo: SLO, rows: list[windows.BurnWindow]) -> str:
    parts = [f"{float(r.factor(slo.window)):.4g}× over {r.long} and {r.short} "
             f"({q.percent_text(r.budget_share)} of the budget in {r.long})" for r in rows]
    return (f"{slo.service}/{slo.name} ({number_text(slo.objective * 100)}% over {slo.window}) burns its error "
            f"budget at more than {' or '.join(parts)}. "
            "Error ratio over the long window: {{ $value | humanizePercentage }}.")


def burn_rate_alerts(slo: SLO, spec: Spec, severity: str) -> list[dict[str, Any]]:
    """The page or ticket alert of `slo` (none if the spec disables it or it has no rows): one rule,
    or one per distinct pending period when rows set their own `for`."""
    override = override_of(slo, severity)
    rows = [r for r in slo.windows if r.severity == severity]
    if override.disable or not rows:
        return []
    name, speed, tier = ((c.ALERT_PAGE, "fast", c.TIER_PAGE) if severity == c.SEVERITY_PAGE
                         else (c.ALERT_TICKET, "steadily", c.TIER_TICKET))
    summary = f"{slo.service}/{slo.name} is burning its {slo.window} error budget {speed}"
    by_for: dict[str | None, list[windows.BurnWindow]] = {}
    for row in rows:
        by_for.setdefault(row.for_ or override.for_, []).append(row)
    out = []
    for pending, group in by_for.items():
        rows_at = tuple(slo.windows.index(r) for r in group)
        rule: dict[str, Any] = {"alert": name, "expr": shapes.text(_burn_expr, slo, spec, rows_at, layout="lines")}
        if pending:
            rule["for"] = pending
        rule["labels"] = alert_labels(slo, severity, tier)
        if len(by_for) > 1:  # rules of one name and label set would be duplicates: name the rows
            rule["labels"][c.LABEL_ALERT_WINDOWS] = ",".join(r.long for r in group)
        rule["annotations"] = _annotations(slo, spec, severity, summary, _describe(slo, group))
        out.append(rule)
    return out


def absent_alert(slo: SLO, spec: Spec) -> list[dict[str, Any]]:
    """The alert on a missing SLI: its total series absent for `absent.for` (not on zero traffic:
    an idle counter is present). A ticket: no data is no measurement, not a burning budget."""
    if slo.alerting.absent.disable:
        return []
    who = f"{slo.service}/{slo.name}"
    return [{
        "alert": c.ALERT_ABSENT, "expr": shapes.text(_absent_expr, slo, spec),
        "for": slo.alerting.absent.for_,
        "labels": alert_labels(slo, c.SEVERITY_TICKET, c.TIER_ABSENT),
        "annotations": _annotations(
            slo, spec, c.SEVERITY_TICKET, f"{who}: the SLI's series are missing",
            f"{who} has had no series for its SLI's total events for {slo.alerting.absent.for_}: its error "
            "budget is not being measured. Check the scrape target, the metric name and the selector "
            "(`slogen check --live` lists what is missing)."),
    }]


def policy_alerts(slo: SLO, spec: Spec) -> list[dict[str, Any]]:
    """Budget below the deploy policy's freeze threshold, and budget exhausted (both tickets,
    controlled by the ticket override: the burn-rate page already covers urgency)."""
    if slo.alerting.ticket.disable:
        return []
    freeze = spec.policy.freeze
    who = f"{slo.service}/{slo.name}"
    return [
        {"alert": c.ALERT_FREEZE, "expr": shapes.text(_below_freeze, slo, spec), "for": POLICY_FOR,
         "labels": alert_labels(slo, c.SEVERITY_TICKET, c.TIER_POLICY),
         "annotations": _annotations(
             slo, spec, c.SEVERITY_TICKET, f"{who}: error budget below the {freeze:g}% freeze threshold",
             f"{who} has {{{{ $value | humanizePercentage }}}} of its {slo.window} error budget left, below the "
             f"deploy policy's freeze threshold of {freeze:g}%: releases should stop except fixes.")},
        {"alert": c.ALERT_EXHAUSTED, "expr": shapes.text(_exhausted, slo, spec), "for": POLICY_FOR,
         "labels": alert_labels(slo, c.SEVERITY_TICKET, c.TIER_POLICY),
         "annotations": _annotations(
             slo, spec, c.SEVERITY_TICKET, f"{who}: error budget exhausted",
             f"{who} has spent more than its whole {slo.window} error budget (remaining "
             "{{ $value | humanizePercentage }}); the objective is currently missed.")},
    ]
