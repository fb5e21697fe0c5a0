"""Prometheus rule files, one per service: SLI recordings, budget metadata and burn-rate alerts.

Three groups per service (names from conventions.group_name):

* `sli` (every 1m, Prometheus' default): per SLO the events rate and error ratio of the fast
  windows (5m, 1h) read from the raw counters, the 1h burn rate, then the page alert.
* `tiles` (every 1h): the hourly tiles, i.e. the 1h events and errors rates. One evaluation an
  hour at a fixed offset, so consecutive tiles cover consecutive hours exactly.
* `period` (every 2m): the slower raw windows (30m, 2h, 6h), long windows (1d, 3d, 7d) and the
  SLO period as sums of tiles, the budget metadata the dashboards and the deploy gate read, then
  the ticket and policy alerts (2m < the 5m lookback, so instant queries always find a sample).

Each raw window costs two rules: the events rate, and the error ratio reading the raw errors (or
good) counter against that recorded rate. Per SLO that is 6 rules a minute in `sli` and 21 every
2 minutes in `period`; docs/performance-rules.md has the measurements behind this split.

The period ratio is event-weighted (Σ errors ÷ Σ events over the period, never a mean of
ratios) and cheap: it reads 720 tile samples per series for 30 days instead of re-reading raw
counters or a dense 5m recording. docs/rules.md has the argument and the measurements.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import slogen.render.alerts as alerts
from slogen import conventions as c
from slogen import windows
from slogen.model import SLO, Policy, Spec
from slogen.render import promql_builders as q
from slogen.render.artifact import Artifact
from slogen.render.encode import yaml_text

# 1m, not 30s: this group is 91 % of slogen's rule cost at 1,000 SLOs (docs/performance-rules.md),
# and the page's shortest window is 5m, so a 1m grid delays detection by at most 30 s more.
SLI_INTERVAL = "1m"
TILE_INTERVAL = c.TILE_WINDOW  # one tile per evaluation: the tiles neither overlap nor leave gaps
PERIOD_INTERVAL = "2m"

Rule = dict[str, Any]


def generate(spec: Spec) -> list[Artifact]:
    """One rule file per service."""
    out = []
    for service in spec.services:
        sli_rules: list[Rule] = []
        tile_rules: list[Rule] = []
        period_rules: list[Rule] = []
        for slo in service.slos:
            sli_rules += sli_group_rules(slo, spec)
            tile_rules += tile_group_rules(slo)
            period_rules += period_group_rules(slo, spec)
        doc = {"groups": [
            {"name": c.group_name(service.name, c.STAGE_SLI), "interval": SLI_INTERVAL, "rules": sli_rules},
            {"name": c.group_name(service.name, c.STAGE_TILES), "interval": TILE_INTERVAL, "rules": tile_rules},
            {"name": c.group_name(service.name, c.STAGE_PERIOD), "interval": PERIOD_INTERVAL, "rules": period_rules},
        ]}
        out.append(Artifact(c.rule_file(service.name), yaml_text(doc, source=spec.source)))
    return out


def record(name: str, expr: str, slo: SLO, extra: dict[str, str] | None = None) -> Rule:
    """A recording rule carrying the SLO's label set."""
    return {"record": name, "expr": expr, "labels": {**q.rule_labels(slo), **(extra or {})}}


def sli_group_rules(slo: SLO, spec: Spec) -> list[Rule]:
    """The fast windows from raw counters, the 1h burn rate, then the page alert."""
    rules = [rule for w in windows.fast_windows(slo.window) for rule in window_rules(slo, w)]
    rules.append(record(c.BURN_RATE_1H, f"{q.series(c.error_ratio('1h'), slo)} / {q.num(slo.error_budget)}", slo))
    return rules + alerts.burn_rate_alerts(slo, spec, c.SEVERITY_PAGE)


def window_rules(slo: SLO, window: str) -> list[Rule]:
    """Events rate and error ratio over a raw-counter window (0 on no traffic, absent with no total series)."""
    events = q.series(c.events_rate(window), slo)
    errors = q.errors_expr(slo, window, events)
    return [record(c.events_rate(window), q.events_expr(slo, window), slo),
            record(c.error_ratio(window), q.ratio_expr(f"({errors})", events), slo)]


def tile_group_rules(slo: SLO) -> list[Rule]:
    """The hourly tiles: 1h events and errors rates (same zero handling as the short windows)."""
    events = q.series(c.EVENTS_TILE, slo)
    return [record(c.EVENTS_TILE, q.events_expr(slo, c.TILE_WINDOW), slo),
            record(c.ERRORS_TILE, q.errors_expr(slo, c.TILE_WINDOW, events), slo)]


def period_group_rules(slo: SLO, spec: Spec) -> list[Rule]:
    """Slow raw windows, long windows and the period from tiles, the budget metadata, then the
    ticket and policy alerts (after the series they read, so they see this cycle's values)."""
    rules = [rule for w in windows.slow_windows(slo.window) for rule in window_rules(slo, w)]
    for w in windows.long_windows(slo.window):
        rules.append(record(c.error_ratio(w), _tiled_ratio(slo, w), slo))
    rules.append(record(c.ERROR_RATIO_PERIOD, _tiled_ratio(slo, slo.window), slo))
    return (rules + metadata_rules(slo, spec.policy) + alerts.burn_rate_alerts(slo, spec, c.SEVERITY_TICKET)
            + alerts.policy_alerts(slo, spec))


def _tiled_ratio(slo: SLO, window: str) -> str:
    errors = q.tile_sum(c.ERRORS_TILE, slo, window)
    events = q.tile_sum(c.EVENTS_TILE, slo, window)
    return q.ratio_expr(errors, events)


def metadata_rules(slo: SLO, policy: Policy) -> list[Rule]:
    """Objective, budget, burn rate and budget remaining over the period, days left, state, info."""
    budget = q.num(slo.error_budget)
    remaining = q.series(c.BUDGET_REMAINING, slo)
    burn_1h = q.series(c.BURN_RATE_1H, slo)
    days = q.num(slo.window_days)
    # Exhausted (R ≤ 0) is 0 days whatever the burn; a zero burn with budget left is "never": absent.
    exhaustion = (f"clamp_min({remaining}, 0) * {days} / ({burn_1h} > 0)"
                  f" or 0 * ({remaining} <= 0)")
    info = {"objective": q.num(slo.objective * 100), "window": slo.window, "sli": slo.sli_kind}
    return [
        record(c.OBJECTIVE, f"vector({q.num(slo.objective)})", slo),
        record(c.ERROR_BUDGET, f"vector({budget})", slo),
        record(c.PERIOD_DAYS, f"vector({days})", slo),
        record(c.BURN_RATE_PERIOD, f"{q.series(c.ERROR_RATIO_PERIOD, slo)} / {budget}", slo),
        record(c.BUDGET_REMAINING, f"1 - {q.series(c.ERROR_RATIO_PERIOD, slo)} / {budget}", slo),
        record(c.DAYS_TO_EXHAUSTION, exhaustion, slo),
        record(c.STATE, state_expr(remaining, policy), slo),
        record(c.SLO_INFO, "vector(1)", slo, info),
    ]


def policy_fraction(percent: float) -> Fraction:
    """A policy threshold in percent as an exact ratio (80 → 4/5)."""
    return Fraction(str(percent)) / 100


def state_expr(remaining: str, policy: Policy) -> str:
    """STATE_CODES from budget remaining R: NORMAL R > caution, CAUTION warning ≤ R ≤ caution,
    WARNING freeze ≤ R < warning, FREEZE 0 ≤ R < freeze, EXHAUSTED R < 0 (PRODUCT §4)."""
    steps = [("<=", policy.caution), ("<", policy.warning), ("<", policy.freeze), ("<", 0.0)]
    return " + ".join(f"({remaining} {op} bool {q.num(policy_fraction(p))})" for op, p in steps)
