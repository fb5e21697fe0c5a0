"""Prometheus rule files, one per service: SLI recordings, budget metadata and burn-rate alerts.

Six stages, each a rule group per service (names from conventions.group_name), in the order the
data flows. No rule reads a series recorded by its own group: Prometheus shows a group's later
rules what its earlier rules recorded in the same evaluation, but vmalert and rulers that write
remotely do not, so the rules are exact on all of them only when every read crosses a group.

* `sli` (1m, raw counters): the error ratios over the fastest page pair and 5m and 1h.
* `tiles` (3m, raw): the short tiles, 3m events and errors rates; and the SLO's constants.
* `hours` (30m, raw): the hour tiles, 1h events and errors rates.
* `alerts` (1m; reads sli, tiles): the 1h burn rate; the page alert, whose 6h/30m windows are
  sums of short tiles.
* `budget` (2m; reads hours, sli, tiles, raw): budget remaining over the period and the 7d ratio,
  from one hour tile per whole hour; the share of the period they cover; the ticket alert, whose
  windows (2h to 3d) are sums of short tiles; the alert on a missing SLI.
* `state` (2m; reads budget, alerts): period ratio and burn rate, days to exhaustion, deploy
  state, policy alerts.

A stage whose rules for a service exceed MAX_RULES_PER_GROUP (Mimir's and Cortex's default
limit) is split into several groups of whole SLOs, in spec order. docs/rules.md has the
argument for each choice and what it costs.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import slogen.render.alerts as alerts
from slogen import conventions as c
from slogen.model import SLO, Policy, Service, Spec, percent_fraction
from slogen.promql import Expr, Paren, binary, clamp_min, number_text, or_, render, vector
from slogen.render import promql_builders as q
from slogen.render import rules_text, shapes
from slogen.render.artifact import Artifact, Deferred
from slogen.render.encode import with_header, yaml_text
from slogen.slo import windows
from slogen.slo.budget import thresholds

Rule = dict[str, Any]

INTERVALS = {
    c.STAGE_SLI: "1m",
    c.STAGE_TILES: c.SHORT_TILE,  # one tile per evaluation: the tiles neither overlap nor leave gaps
    c.STAGE_HOURS: c.HOUR_TILE_EVERY,
    c.STAGE_ALERTS: "1m",
    c.STAGE_BUDGET: "2m",  # below the 5m lookback, so instant queries always find a sample
    c.STAGE_STATE: "2m",
}


def generate(spec: Spec, rules_format: str = c.RULES_FORMAT_PROMETHEUS) -> list[Artifact]:
    """One rule file per service; in the operator and vmrule formats, each as a PrometheusRule or VMRule object."""
    if rules_format not in c.RULES_FORMATS:
        raise ValueError(f"unknown rules format {rules_format!r}")
    with shapes.session() as cache:  # each SLO shape's PromQL printed once for the whole spec
        templates = rules_text.Templates(spec, stage_builders())  # and each document shape's rules
        return [_service_file(service, spec, rules_format, cache, templates) for service in spec.services]


def _service_file(service: Service, spec: Spec, rules_format: str, cache: shapes.Cache,
                  templates: rules_text.Templates) -> Artifact:
    path = c.rule_path(service.name, rules_format)
    body, doc = templates.text(service, functools.partial(_document, service, spec, rules_format))
    if body is None:
        doc = doc if doc is not None else _document(service, spec, rules_format)
        return Artifact(path, yaml_text(doc, source=spec.source), doc)
    # The dicts only when read (the rules handoff, alert tests): writing needs the text alone.
    return Artifact(path, with_header(body, source=spec.source),
                    Deferred(functools.partial(_document_in, cache, service, spec, rules_format)))


def _document_in(cache: shapes.Cache, service: Service, spec: Spec, rules_format: str) -> dict[str, Any]:
    with shapes.session(cache):
        return _document(service, spec, rules_format)


def _document(service: Service, spec: Spec, rules_format: str,
              per_stage: dict[str, list[list[Any]]] | None = None) -> dict[str, Any]:
    """The rule file's document; `per_stage`: each stage's rules of each SLO, if already known."""
    if per_stage is None:
        per_stage = {stage: [build(slo, spec) for slo in service.slos] for stage, build in stage_builders().items()}
    groups = [group for stage, rules in per_stage.items() for group in _groups(service, stage, spec, rules)]
    if rules_format == c.RULES_FORMAT_OPERATOR:
        return prometheus_rule(service, spec, groups)
    if rules_format == c.RULES_FORMAT_VMRULE:
        return vm_rule(service, spec, groups)
    return {"groups": groups}


def stage_builders() -> dict[str, Callable[[SLO, Spec], list[Rule]]]:
    """Each stage's rules for one SLO, in file order (explain reads where each alert lives here)."""
    return {
        c.STAGE_SLI: sli_rules, c.STAGE_TILES: tile_rules, c.STAGE_HOURS: hour_rules,
        c.STAGE_ALERTS: alert_rules, c.STAGE_BUDGET: budget_rules, c.STAGE_STATE: state_rules,
    }


def stage_of(slo: SLO, spec: Spec, key: str, name: str) -> str | None:
    """The stage whose rules for `slo` hold the rule with `key` (`alert`/`record`) `name`; None if
    no stage does (a disabled alert)."""
    for stage, build in stage_builders().items():
        if any(rule.get(key) == name for rule in build(slo, spec)):
            return stage
    return None


def _metadata(service: Service, spec: Spec) -> dict[str, Any]:
    target = spec.prometheus
    metadata: dict[str, Any] = {"name": c.prometheus_rule_name(service.name)}
    if target.namespace:
        metadata["namespace"] = target.namespace
    metadata["labels"] = {**target.rule_labels, c.MANAGED_BY_LABEL: c.NAMESPACE}
    return metadata


def prometheus_rule(service: Service, spec: Spec, groups: list[Rule]) -> dict[str, Any]:
    """A prometheus-operator `PrometheusRule` whose `spec` is exactly the service's rule file."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": _metadata(service, spec), "spec": {"groups": groups}}


def vm_rule(service: Service, spec: Spec, groups: list[Rule]) -> dict[str, Any]:
    """A VictoriaMetrics operator `VMRule`: the rule file's groups without Thanos' group key."""
    plain = [{k: v for k, v in g.items() if k != "partial_response_strategy"} for g in groups]
    return {"apiVersion": "operator.victoriametrics.com/v1beta1", "kind": "VMRule",
            "metadata": _metadata(service, spec), "spec": {"groups": plain}}


def _groups(service: Service, stage: str, spec: Spec, per_slo: list[list[Any]]) -> list[Rule]:
    """The stage's groups from each SLO's rules of it, in spec order."""
    chunks: list[list[Any]] = [[]]
    for rules in per_slo:
        if len(rules) > c.MAX_RULES_PER_GROUP:
            raise AssertionError(f"{stage} has {len(rules)} rules for one SLO")
        if len(chunks[-1]) + len(rules) > c.MAX_RULES_PER_GROUP:
            chunks.append([])
        chunks[-1].extend(rules)
    # Thanos Ruler: without `abort`, an answer missing a store's data would be recorded as if whole,
    # and a period budget keeps that sample for the whole period.
    strategy = {"partial_response_strategy": spec.prometheus.partial_response_strategy} \
        if spec.prometheus.partial_response_strategy else {}
    return [{"name": c.group_name(service.name, stage, i), "interval": INTERVALS[stage], **strategy, "rules": rules}
            for i, rules in enumerate(chunks) if rules]


def record(name: str, expr: Expr | str, slo: SLO, extra: dict[str, str] | None = None) -> Rule:
    """A recording rule carrying the SLO's label set (`expr` a tree, or its text from `shapes.text`)."""
    return {"record": name, "expr": expr if isinstance(expr, str) else render(expr),
            "labels": {**q.rule_labels(slo), **(extra or {})}}


# The expressions of the stages below, each a function of (slo, spec, *hashable args) so that
# shapes.text prints it once per SLO shape.

def _raw_ratio(slo: SLO, spec: Spec, window: str) -> Expr:
    return q.raw_ratio_expr(slo, window)


def _events(slo: SLO, spec: Spec, window: str) -> Expr:
    return q.events_expr(slo, window)


def _errors(slo: SLO, spec: Spec, window: str) -> Expr:
    return q.errors_expr(slo, window)


def _objective(slo: SLO, spec: Spec) -> Expr:
    return vector(slo.objective)


def _error_budget(slo: SLO, spec: Spec) -> Expr:
    return vector(slo.error_budget)


def _period_days(slo: SLO, spec: Spec) -> Expr:
    return vector(slo.window_days)


ONE = render(vector(1))


def _burn_1h(slo: SLO, spec: Spec) -> Expr:
    # bare, like the state stage's reads of R (see _remaining): the 1h ratio carries this rule's labels
    return q.recorded(c.error_ratio("1h"), slo) / slo.error_budget


def _budget_remaining(slo: SLO, spec: Spec) -> Expr:
    return 1 - Paren(q.hour_ratio(slo, slo.window)) / slo.error_budget


def _coverage(slo: SLO, spec: Spec) -> Expr:
    return q.hour_coverage(slo, slo.window)


def _hour_ratio(slo: SLO, spec: Spec, window: str) -> Expr:
    return q.hour_ratio(slo, window)


def _remaining(slo: SLO) -> Expr:
    # The state stage reads R bare, without `sum()`: R is recorded with exactly the labels the
    # state rules carry (the SLO's, and its groups' for a grouped SLO), one series per group, so
    # the result's labels are those of the rule either way, and every aggregation is an engine
    # step more per evaluation.
    return q.recorded(c.BUDGET_REMAINING, slo)


def _period_ratio(slo: SLO, spec: Spec) -> Expr:
    return Paren(1 - _remaining(slo)) * slo.error_budget


def _period_burn(slo: SLO, spec: Spec) -> Expr:
    return 1 - _remaining(slo)


def _exhaustion(slo: SLO, spec: Spec) -> Expr:
    remaining = _remaining(slo)
    burn_1h = q.recorded(c.BURN_RATE_1H, slo)
    # Exhausted (R ≤ 0) is 0 days whatever the burn; a zero burn with budget left is "never": absent.
    return or_(clamp_min(remaining, 0) * slo.window_days / Paren(binary(">", burn_1h, 0)),
               0 * Paren(binary("<=", remaining, 0)))


def _state(slo: SLO, spec: Spec) -> Expr:
    return state_expr(_remaining(slo), spec.policy)


def sli_rules(slo: SLO, spec: Spec) -> list[Rule]:
    """The raw-counter windows' error ratios (0 on no traffic, absent with no total series)."""
    return [record(c.error_ratio(w), shapes.text(_raw_ratio, slo, spec, w), slo)
            for w in windows.raw_windows(slo.windows)]


def tile_rules(slo: SLO, spec: Spec) -> list[Rule]:
    """The short tiles, then the SLO's constants (they read nothing, so any group may hold them)."""
    info = {"objective": number_text(slo.objective * 100), "window": slo.window, "sli": slo.sli_kind}
    return [
        record(c.EVENTS_TILE, shapes.text(_events, slo, spec, c.SHORT_TILE), slo),
        record(c.ERRORS_TILE, shapes.text(_errors, slo, spec, c.SHORT_TILE), slo),
        record(c.OBJECTIVE, shapes.text(_objective, slo, spec), slo),
        record(c.ERROR_BUDGET, shapes.text(_error_budget, slo, spec), slo),
        record(c.PERIOD_DAYS, shapes.text(_period_days, slo, spec), slo),
        record(c.SLO_INFO, ONE, slo, info),
    ]


def hour_rules(slo: SLO, spec: Spec) -> list[Rule]:
    """The hour tiles: 1h events and errors rates, recorded every 30m."""
    return [record(c.EVENTS_HOUR, shapes.text(_events, slo, spec, c.HOUR_TILE), slo),
            record(c.ERRORS_HOUR, shapes.text(_errors, slo, spec, c.HOUR_TILE), slo)]


def alert_rules(slo: SLO, spec: Spec) -> list[Rule]:
    """The 1h burn rate (dashboards and the gate read it), then the page alert."""
    burn = record(c.BURN_RATE_1H, shapes.text(_burn_1h, slo, spec), slo)
    return [burn, *alerts.burn_rate_alerts(slo, spec, c.SEVERITY_PAGE)]


def budget_rules(slo: SLO, spec: Spec) -> list[Rule]:
    """Budget remaining over the period, the share of the period it covers, the 7d ratio; then the
    ticket alert (it reads the short tiles, not this group: every 2m is one minute more at most on
    windows of hours and days, and halves the alerts' largest reads) and the alert on a missing
    SLI (it reads the raw total series; its `for:` of minutes needs no evaluation every minute)."""
    return [
        record(c.BUDGET_REMAINING, shapes.text(_budget_remaining, slo, spec), slo),
        record(c.PERIOD_COVERAGE, shapes.text(_coverage, slo, spec), slo),
        record(c.error_ratio("7d"), shapes.text(_hour_ratio, slo, spec, "7d"), slo),
        *alerts.burn_rate_alerts(slo, spec, c.SEVERITY_TICKET),
        *alerts.absent_alert(slo, spec),
    ]


def state_rules(slo: SLO, spec: Spec) -> list[Rule]:
    """What follows from budget remaining R: period ratio and burn rate, days left, state, policy alerts."""
    return [
        record(c.ERROR_RATIO_PERIOD, shapes.text(_period_ratio, slo, spec), slo),
        record(c.BURN_RATE_PERIOD, shapes.text(_period_burn, slo, spec), slo),
        record(c.DAYS_TO_EXHAUSTION, shapes.text(_exhaustion, slo, spec), slo),
        record(c.STATE, shapes.text(_state, slo, spec), slo),
        *alerts.policy_alerts(slo, spec),
    ]


def state_expr(remaining: Expr, policy: Policy) -> Expr:
    """STATE_CODES from budget remaining R: NORMAL R > caution, CAUTION warning ≤ R ≤ caution,
    WARNING freeze ≤ R < warning, FREEZE 0 ≤ R < freeze, EXHAUSTED R < 0 (docs/rules.md).

    The code is the number of `slo.budget.thresholds` R is under, each a `bool` comparison."""
    flags: list[Expr] = [Paren(binary(op, remaining, percent_fraction(bound), bool_=True))
                         for _, op, bound in thresholds(policy)]
    return functools.reduce(operator.add, flags)
