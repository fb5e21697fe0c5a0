"""Alert rules of one SLO: multi-window multi-burn-rate page and ticket, and the policy alerts.

Burn-rate alerts follow the window table of slo/windows.py (sources in docs/rules.md): a severity fires when
the error ratio exceeds `factor × budget` over both the long and the short window of any of
its rows. Zero traffic records a ratio of 0, which never exceeds a threshold, so it fires
nothing. Policy alerts (tickets) read the budget remaining: below the freeze threshold, and
exhausted; they wait 15m so a value hovering at the threshold does not flap.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from slogen import conventions as c
from slogen.model import SLO, AlertOverride, Spec, percent_fraction
from slogen.promql import Expr, Paren, and_, binary, gotemplate, number_text, or_, render
from slogen.render import promql_builders as q
from slogen.slo import windows

POLICY_FOR = "15m"


def dashboard_link(slo: SLO, spec: Spec) -> str:
    """The Grafana dashboard showing `slo`, with its service and SLO variables preselected."""
    gr = spec.grafana
    uid = c.service_dashboard_uid(gr.dashboard_uid, slo.service) if gr.per_service else gr.dashboard_uid
    query = urlencode({f"var-{c.LABEL_SERVICE}": slo.service, f"var-{c.LABEL_SLO}": slo.name})
    return f"{c.dashboard_url(gr.url, uid)}?{query}"


def _override(slo: SLO, severity: str) -> AlertOverride:
    return slo.alerting.page if severity == c.SEVERITY_PAGE else slo.alerting.ticket


def alert_labels(slo: SLO, severity: str) -> dict[str, str]:
    """service, slo, severity, the service's labels, then the spec's alert labels and the severity's
    own (which may override `severity`). Burn-rate expressions are summed to no labels, so the
    rule's labels are the alert's whole identity."""
    # the service's labels are data: Prometheus would expand them as templates, so keep them literal
    service_labels = {k: gotemplate.literal(v) for k, v in slo.labels.items()}
    return {c.LABEL_SERVICE: slo.service, c.LABEL_SLO: slo.name, c.LABEL_SEVERITY: severity, **service_labels,
            **dict(slo.alerting.labels), **dict(_override(slo, severity).labels)}


def _annotations(slo: SLO, spec: Spec, severity: str, summary: str, description: str) -> dict[str, str]:
    return {"summary": summary, "description": description, "dashboard": dashboard_link(slo, spec),
            **dict(slo.alerting.annotations), **dict(_override(slo, severity).annotations)}


def window_ratio(slo: SLO, window: str) -> Expr:
    """The error ratio over `window` as the alerts read it: the sli group's recording for the raw
    windows, else summed from the short tiles. Summed so every row has the same (empty) label set."""
    if window in windows.raw_windows(slo.window):
        return q.series(c.error_ratio(window), slo)
    return q.tiled_ratio(slo, window)


def burn_condition(slo: SLO, row: windows.BurnWindow) -> Paren:
    """`(ratio(long) > t and ratio(short) > t)` with t = factor × budget printed exactly."""
    threshold = row.factor(slo.window) * slo.error_budget
    return Paren(and_(binary(">", window_ratio(slo, row.long), threshold),
                      binary(">", window_ratio(slo, row.short), threshold)))


def _describe(slo: SLO, rows: list[windows.BurnWindow]) -> str:
    parts = [f"{float(r.factor(slo.window)):.4g}× over {r.long} and {r.short} "
             f"({q.percent_text(r.budget_share)} of the budget in {r.long})" for r in rows]
    return (f"{slo.service}/{slo.name} ({number_text(slo.objective * 100)}% over {slo.window}) burns its error "
            f"budget at more than {' or '.join(parts)}. "
            "Error ratio over the long window: {{ $value | humanizePercentage }}.")


def burn_rate_alerts(slo: SLO, spec: Spec, severity: str) -> list[dict[str, Any]]:
    """The page or ticket alert of `slo` (none if the spec disables it)."""
    if _override(slo, severity).disable:
        return []
    name, speed = (c.ALERT_PAGE, "fast") if severity == c.SEVERITY_PAGE else (c.ALERT_TICKET, "steadily")
    rows = [r for r in windows.windows_for(slo.window) if r.severity == severity]
    summary = f"{slo.service}/{slo.name} is burning its {slo.window} error budget {speed}"
    return [{
        "alert": name,
        "expr": render(or_(*(burn_condition(slo, r) for r in rows)), layout="lines"),
        "labels": alert_labels(slo, severity),
        "annotations": _annotations(slo, spec, severity, summary, _describe(slo, rows)),
    }]


def policy_alerts(slo: SLO, spec: Spec) -> list[dict[str, Any]]:
    """Budget below the deploy policy's freeze threshold, and budget exhausted (both tickets,
    controlled by the ticket override: the burn-rate page already covers urgency)."""
    if slo.alerting.ticket.disable:
        return []
    freeze = spec.policy.freeze
    remaining = q.recorded(c.BUDGET_REMAINING, slo)
    below_freeze = and_(binary("<", remaining, percent_fraction(freeze)), binary(">=", remaining, 0))
    who = f"{slo.service}/{slo.name}"
    return [
        {"alert": c.ALERT_FREEZE, "expr": render(below_freeze), "for": POLICY_FOR,
         "labels": alert_labels(slo, c.SEVERITY_TICKET),
         "annotations": _annotations(
             slo, spec, c.SEVERITY_TICKET, f"{who}: error budget below the {freeze:g}% freeze threshold",
             f"{who} has {{{{ $value | humanizePercentage }}}} of its {slo.window} error budget left, below the "
             f"deploy policy's freeze threshold of {freeze:g}%: releases should stop except fixes.")},
        {"alert": c.ALERT_EXHAUSTED, "expr": render(binary("<", remaining, 0)), "for": POLICY_FOR,
         "labels": alert_labels(slo, c.SEVERITY_TICKET),
         "annotations": _annotations(
             slo, spec, c.SEVERITY_TICKET, f"{who}: error budget exhausted",
             f"{who} has spent more than its whole {slo.window} error budget (remaining "
             "{{ $value | humanizePercentage }}); the objective is currently missed.")},
    ]
