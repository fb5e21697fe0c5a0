"""Unit tests of the rule generator: exact thresholds, labels, overrides, SLI forms, zero traffic."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import pytest
import yaml

from conftest import ROOT, SPECS
from slogen import conventions as c
from slogen.durations import parse_duration
from slogen.model import Policy
from slogen.promql import Raw, number_text, render
from slogen.render import promql_builders as q
from slogen.render import rules
from slogen.spec.load import load, loads


def _docs(spec_path: str) -> dict[str, dict[str, Any]]:
    return {a.path: yaml.safe_load(a.text) for a in rules.generate(load(spec_path))}


def _rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in doc["groups"] for r in g["rules"]]


def _alert(doc: dict[str, Any], name: str, slo: str) -> dict[str, Any]:
    return next(r for r in _rules(doc) if r.get("alert") == name and r["labels"]["slo"] == slo)


def _record(doc: dict[str, Any], name: str, slo: str) -> dict[str, Any]:
    return next(r for r in _rules(doc) if r.get("record") == name and r["labels"]["slo"] == slo)


FULL = _docs(str(SPECS / "full.yaml"))
DEMO = _docs(str(ROOT / "slos.yaml"))
PAYMENTS = FULL["rules/payments.rules.yaml"]
BATCH = FULL["rules/batch.rules.yaml"]
CHECKOUT = DEMO["rules/checkout.rules.yaml"]

ONE_SLO = """
version: slogen/v1
services:
  - name: api
    slos:
      - name: a
        objective: {objective}
        window: {window}
        sli: {{ratio: {{errors: 'e_total', total: 't_total'}}}}
"""


def _thresholds(objective: str, window: str) -> list[str]:
    [artifact] = rules.generate(loads(ONE_SLO.format(objective=objective, window=window)))
    doc = yaml.safe_load(artifact.text)
    out = []
    for name in (c.ALERT_PAGE, c.ALERT_TICKET):
        expr = _alert(doc, name, "a")["expr"]
        out += [line.split(" > ")[1] for line in expr.splitlines() if " > " in line][::2]
    return out


@pytest.mark.parametrize(("objective", "window", "expected"), [
    ("99.9", "30d", ["0.0144", "0.006", "0.003", "0.001"]),
    ("99.95", "30d", ["0.0072", "0.003", "0.0015", "0.0005"]),
    ("99", "28d", ["0.1344", "0.056", "0.028", "0.009333333333333334"]),  # 14/15 × 1 %: no finite decimal
    ("99.9", "7d", ["0.01344", "0.0035", "0.0014", "0.001"]),
    ("99.9", "14d", ["0.01344", "0.0056", "0.0028", "0.001"]),
    ("99.9", "90d", ["0.0432", "0.018", "0.009", "0.003"]),
])
def test_alert_thresholds_are_exact_decimals(objective: str, window: str, expected: list[str]) -> None:
    assert _thresholds(objective, window) == expected


def test_both_windows_of_a_row_share_the_threshold() -> None:
    expr = _alert(CHECKOUT, c.ALERT_PAGE, "availability")["expr"]
    assert 'sum(slogen:sli_error:ratio_rate1h{service="checkout",slo="availability"}) > 0.0144\nand\n' in expr
    assert 'sum(slogen:sli_error:ratio_rate5m{service="checkout",slo="availability"}) > 0.0144\n)' in expr
    tiles = 'sum(sum_over_time(slogen:sli_events:tile_rate3m{service="checkout",slo="availability"}[5h59m59s999ms]))'
    assert f"clamp_min({tiles}, 1e-300) > 0.006\nand\n" in expr


def test_metadata_numbers_print_exactly() -> None:
    assert _record(PAYMENTS, c.OBJECTIVE, "availability")["expr"] == "vector(0.9995)"
    assert _record(PAYMENTS, c.ERROR_BUDGET, "availability")["expr"] == "vector(0.0005)"
    assert _record(PAYMENTS, c.PERIOD_DAYS, "latency")["expr"] == "vector(28)"
    assert _record(CHECKOUT, c.ERROR_BUDGET, "availability")["expr"] == "vector(0.001)"
    info = _record(PAYMENTS, c.SLO_INFO, "availability")
    assert info["expr"] == "vector(1)"
    assert info["labels"] == {"service": "payments", "slo": "availability", "team": "payments", "tier": "1",
                              "objective": "99.95", "window": "30d", "sli": "ratio"}
    assert _record(PAYMENTS, c.SLO_INFO, "latency")["labels"]["sli"] == "latency"


def test_every_recorded_series_carries_identity_and_spec_labels() -> None:
    for path, doc in {**FULL, **DEMO}.items():
        for rule in _rules(doc):
            if "record" in rule:
                labels = rule["labels"]
                assert list(labels)[:2] == list(c.IDENTITY_LABELS), (path, rule["record"])
            else:
                assert {c.LABEL_SERVICE, c.LABEL_SLO, c.LABEL_SEVERITY} <= set(rule["labels"]), path
    assert _record(PAYMENTS, c.error_ratio("5m"), "latency")["labels"] == {
        "service": "payments", "slo": "latency", "team": "payments", "tier": "1"}


def test_alert_labels_and_severity_overrides() -> None:
    page = _alert(PAYMENTS, c.ALERT_PAGE, "availability")
    # the service's labels too: the expression is summed to no labels, the rule's labels are the alert's
    assert page["labels"] == {"service": "payments", "slo": "availability", "severity": "critical",
                              "team": "payments", "tier": "1", "routing_key": "payments", "slo_alert_tier": "page"}
    ticket = _alert(PAYMENTS, c.ALERT_TICKET, "availability")
    assert ticket["labels"]["severity"] == "warning"
    assert _alert(CHECKOUT, c.ALERT_PAGE, "availability")["labels"]["severity"] == c.SEVERITY_PAGE
    assert _alert(CHECKOUT, c.ALERT_TICKET, "latency")["labels"]["severity"] == "slack"


def test_annotations() -> None:
    ticket = _alert(PAYMENTS, c.ALERT_TICKET, "availability")["annotations"]
    assert ticket["runbook_url"] == "https://runbooks.example.com/payments"
    assert ticket["channel"] == "#payments"
    # per_service dashboards: the link points at the service's own dashboard, variables preselected
    uid = c.service_dashboard_uid("slo-overview", "payments")
    assert ticket["dashboard"] == f"https://grafana.example.com/d/{uid}?var-service=payments&var-slo=availability"
    assert "3× over 1d and 2h (10% of the budget in 1d)" in ticket["description"]
    assert "{{ $value | humanizePercentage }}" in ticket["description"]
    page = _alert(CHECKOUT, c.ALERT_PAGE, "availability")["annotations"]
    assert page["dashboard"] == "http://localhost:3000/d/error-budget-slo?var-service=checkout&var-slo=availability"
    assert "14.4× over 1h and 5m (2% of the budget in 1h) or 6× over 6h and 30m" in page["description"]
    seven = _alert(BATCH, c.ALERT_TICKET, "freshness")["annotations"]["description"]
    assert "1× over 3d and 6h (42.9% of the budget in 3d)" in seven


def test_disable_drops_the_alert_and_its_policy_alerts() -> None:
    names = {r["alert"] for r in _rules(PAYMENTS) if r.get("alert") and r["labels"]["slo"] == "latency"}
    assert names == {c.ALERT_PAGE, c.ALERT_ABSENT}
    names = {r["alert"] for r in _rules(PAYMENTS) if r.get("alert") and r["labels"]["slo"] == "availability"}
    assert names == {c.ALERT_PAGE, c.ALERT_TICKET, c.ALERT_FREEZE, c.ALERT_EXHAUSTED, c.ALERT_ABSENT}


def test_policy_alerts_use_the_policy_threshold() -> None:
    freeze = _alert(PAYMENTS, c.ALERT_FREEZE, "availability")
    # one read of R: the comparisons filter in turn and keep R as the alert's value
    assert freeze["expr"] == '(slogen:error_budget_remaining:ratio{service="payments",slo="availability"} < 0.15) >= 0'
    assert freeze["for"] == "15m"
    assert _alert(PAYMENTS, c.ALERT_EXHAUSTED, "availability")["expr"].endswith("< 0")


def test_ratio_sli_forms_and_zero_traffic() -> None:
    # One rule per window reads the raw counters; the divisor floor makes no traffic read 0, not NaN.
    ratio = _record(PAYMENTS, c.error_ratio("5m"), "availability")["expr"]
    assert ratio == ('(sum(rate(http_requests_total{job="payments",code=~"5..|429"}[5m])) or vector(0)) / '
                     'clamp_min(sum(rate(http_requests_total{job="payments"}[5m])), 1e-300)')
    good = _record(BATCH, c.error_ratio("1h"), "delivery")["expr"]
    events = 'sum(rate(messages_published_total{queue="out"}[1h]))'
    assert good == (f'clamp_min({events} - (sum(rate(messages_delivered_total{{queue="out"}}[1h])) or vector(0)), 0)'
                    f' / clamp_min({events}, 1e-300)')
    assert _record(BATCH, c.EVENTS_TILE, "delivery")["expr"] == 'sum(rate(messages_published_total{queue="out"}[3m]))'


def test_latency_sli_reads_bucket_and_count() -> None:
    assert _record(PAYMENTS, c.EVENTS_HOUR, "latency")["expr"] == \
        'sum(rate(http_request_duration_seconds_count{job="payments",route="/charge"}[1h]))'
    tile = _record(PAYMENTS, c.ERRORS_TILE, "latency")["expr"]
    assert 'http_request_duration_seconds_bucket{job="payments",route="/charge",le="0.3"}[3m]' in tile
    assert 'le=~"2|2\\\\.0"' in _record(CHECKOUT, c.error_ratio("5m"), "latency")["expr"]


@pytest.mark.parametrize(("seconds", "matcher"), [
    (2.0, 'le=~"2|2\\\\.0"'), (0.3, 'le="0.3"'), (0.25, 'le="0.25"'), (10.0, 'le=~"10|10\\\\.0"')])
def test_le_matcher(seconds: float, matcher: str) -> None:
    assert str(q.le_matcher(seconds)) == matcher


def test_expr_sli_substitutes_window_and_sums() -> None:
    events = _record(BATCH, c.EVENTS_TILE, "freshness")["expr"]
    assert events == 'sum(sum(increase(job_runs_total{job="etl"}[3m])))'
    errors = _record(BATCH, c.ERRORS_HOUR, "freshness")["expr"]
    assert errors == 'sum(sum(increase(job_runs_total{job="etl",result="failed"}[1h])))'
    good = _record(BATCH, c.error_ratio("1h"), "weekly")["expr"]
    assert "sum(sum(rate(batch_ok_total[1h])))" in good and good.startswith("clamp_min(")
    assert not any("$window" in r["expr"] for doc in FULL.values() for r in _rules(doc))


STAGE_INTERVALS = {c.STAGE_SLI: "1m", c.STAGE_TILES: "3m", c.STAGE_HOURS: "30m", c.STAGE_ALERTS: "1m",
                   c.STAGE_BUDGET: "2m", c.STAGE_STATE: "2m"}


def _stage(group_name: str, service: str) -> str:
    return group_name.removeprefix(f"{c.NAMESPACE}:{service}:").split(":")[0]


def test_groups_and_intervals() -> None:
    for path, doc in {**FULL, **DEMO}.items():
        service = path.removeprefix("rules/").removesuffix(".rules.yaml")
        stages = [_stage(g["name"], service) for g in doc["groups"]]
        assert stages == sorted(stages, key=c.STAGES.index) and set(stages) == set(c.STAGES)  # data-flow order
        for group in doc["groups"]:
            stage = _stage(group["name"], service)
            assert group["interval"] == STAGE_INTERVALS[stage], group["name"]
            records = {r.get("record") for r in group["rules"]} - {None}
            alerts = {r.get("alert") for r in group["rules"]} - {None}
            assert records <= {
                c.STAGE_SLI: {c.error_ratio("5m"), c.error_ratio("1h")},
                c.STAGE_TILES: {c.ERRORS_TILE, c.EVENTS_TILE, c.OBJECTIVE, c.ERROR_BUDGET, c.PERIOD_DAYS, c.SLO_INFO},
                c.STAGE_HOURS: {c.ERRORS_HOUR, c.EVENTS_HOUR},
                c.STAGE_ALERTS: {c.BURN_RATE_1H},
                c.STAGE_BUDGET: {c.BUDGET_REMAINING, c.PERIOD_COVERAGE, c.error_ratio("7d")},
                c.STAGE_STATE: {c.ERROR_RATIO_PERIOD, c.BURN_RATE_PERIOD, c.DAYS_TO_EXHAUSTION, c.STATE},
            }[stage], group["name"]
            assert alerts <= {c.STAGE_ALERTS: {c.ALERT_PAGE}, c.STAGE_BUDGET: {c.ALERT_TICKET, c.ALERT_ABSENT},
                              c.STAGE_STATE: {c.ALERT_FREEZE, c.ALERT_EXHAUSTED}}.get(stage, set()), group["name"]


def test_every_series_read_is_recorded_by_another_group() -> None:
    for doc in {**FULL, **DEMO}.values():
        recorded = {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}
        for group in doc["groups"]:
            for rule in group["rules"]:
                for name in re.findall(r"slogen:[a-z_:0-9]+", rule["expr"]):
                    assert name in recorded, name


def test_rules_per_slo_and_evaluation() -> None:
    """Cost in rules per 30d SLO: 2 + 2 every minute, 6 every 3m, 2 every 30m, 5 + 6 every 2m."""
    def count(stage: str) -> int:
        return sum(r["labels"]["slo"] == "availability" for g in PAYMENTS["groups"]
                   if _stage(g["name"], "payments") == stage for r in g["rules"])
    assert [count(s) for s in c.STAGES] == [2, 6, 2, 2, 5, 6]


def test_tiles_and_period_ratio() -> None:
    assert _record(CHECKOUT, c.EVENTS_TILE, "availability")["expr"] == \
        'sum(rate(http_requests_total{job="checkout"}[3m]))'
    # an errors selector with no series yet: the tile is absent, and readers take it as 0 errors
    assert _record(CHECKOUT, c.ERRORS_TILE, "availability")["expr"] == \
        'sum(rate(http_requests_total{job="checkout",status=~"5.."}[3m]))'
    # checkout/latency is 28d, 99 %, grouped by route: every sum keeps the route, and a route whose
    # errors tiles are missing reads 0 errors for its own events, not for one vector(0) without labels
    remaining = _record(CHECKOUT, c.BUDGET_REMAINING, "latency")["expr"]
    picks = ('last_over_time(slogen:sli_{}:hour_rate1h{{service="checkout",slo="latency"}}[45m])'
             '[27d23h59m59s999ms:1h]')
    events = f"sum by (route) (sum_over_time({picks.format('events')}))"
    assert remaining == (f"1 - ((sum by (route) (sum_over_time({picks.format('errors')})) or 0 * {events}) / "
                         f"clamp_min({events}, 1e-300) or "
                         'sum by (route) (slogen:sli_error:ratio_rate1h{service="checkout",slo="latency"})) / 0.01')
    coverage = _record(CHECKOUT, c.PERIOD_COVERAGE, "latency")["expr"]
    assert coverage.startswith(f"sum by (route) (count_over_time({picks.format('events')})) / 672 or ")
    assert coverage.endswith(" + " + repr(1 / 672))


@pytest.mark.parametrize("window", ["1d", "3d", "7d", "14d", "28d", "30d", "90d"])
def test_tile_range_is_one_millisecond_short(window: str) -> None:
    text = q.tile_range(window)
    assert parse_duration(text) == pytest.approx(parse_duration(window) - 0.001)


def test_numbers_print_fractions_exactly() -> None:
    assert number_text(Fraction(999, 1000)) == "0.999"
    assert number_text(1 - Fraction("99.9") / 100) == "0.001"
    assert number_text(Fraction("14.4") * Fraction(1, 1000)) == "0.0144"
    assert number_text(Fraction(30)) == "30"
    assert number_text(Fraction(1, 3)) == repr(1 / 3)


def test_state_expression_thresholds() -> None:
    expr = render(rules.state_expr(Raw("R", atomic=True), Policy(caution=80, warning=50, freeze=20)))
    assert expr == "(R <= bool 0.8) + (R < bool 0.5) + (R < bool 0.2) + (R < bool 0)"
    assert c.STATE_CODES == {"NORMAL": 0, "CAUTION": 1, "WARNING": 2, "FREEZE": 3, "EXHAUSTED": 4}


def test_days_to_exhaustion_has_no_division_by_zero() -> None:
    expr = _record(CHECKOUT, c.DAYS_TO_EXHAUSTION, "availability")["expr"]
    assert "/ (slogen:burn_rate:rate1h{service=\"checkout\",slo=\"availability\"} > 0)" in expr
    assert expr.startswith("clamp_min(") and " * 30 / " in expr


def test_output_is_deterministic() -> None:
    spec = load(str(SPECS / "full.yaml"))
    assert rules.generate(spec) == rules.generate(load(str(SPECS / "full.yaml")))
    assert all(a.text.startswith("# " + c.generated_header("full.yaml")) for a in rules.generate(spec))
