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
from slogen.render import promql_builders as q
from slogen.render import rules
from slogen.spec import load, loads


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
    assert 'slogen:sli_error:ratio_rate1h{service="checkout",slo="availability"} > 0.0144\nand\n' in expr
    assert 'slogen:sli_error:ratio_rate5m{service="checkout",slo="availability"} > 0.0144\n)' in expr
    assert 'ratio_rate6h{service="checkout",slo="availability"} > 0.006' in expr
    assert 'ratio_rate30m{service="checkout",slo="availability"} > 0.006' in expr


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
    assert page["labels"] == {"service": "payments", "slo": "availability", "severity": "critical",
                              "team": "payments", "routing_key": "payments"}
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
    assert names == {c.ALERT_PAGE}
    names = {r["alert"] for r in _rules(PAYMENTS) if r.get("alert") and r["labels"]["slo"] == "availability"}
    assert names == {c.ALERT_PAGE, c.ALERT_TICKET, c.ALERT_FREEZE, c.ALERT_EXHAUSTED}


def test_policy_alerts_use_the_policy_threshold() -> None:
    freeze = _alert(PAYMENTS, c.ALERT_FREEZE, "availability")
    assert freeze["expr"] == ('slogen:error_budget_remaining:ratio{service="payments",slo="availability"} < 0.15 and '
                              'slogen:error_budget_remaining:ratio{service="payments",slo="availability"} >= 0')
    assert freeze["for"] == "15m"
    assert _alert(PAYMENTS, c.ALERT_EXHAUSTED, "availability")["expr"].endswith("< 0")


def test_ratio_sli_forms_and_zero_traffic() -> None:
    ratio = _record(PAYMENTS, c.error_ratio("5m"), "availability")["expr"]
    events = 'sum(slogen:sli_events:rate5m{service="payments",slo="availability"})'
    assert ratio == (f'(sum(rate(http_requests_total{{job="payments",code=~"5..|429"}}[5m])) or 0 * {events}) / '
                     f"({events} > 0) or 0 * {events}")
    good = _record(BATCH, c.error_ratio("1h"), "delivery")["expr"]
    events = 'sum(slogen:sli_events:rate1h{service="batch",slo="delivery"})'
    assert good == (f'(clamp_min({events} - (sum(rate(messages_delivered_total{{queue="out"}}[1h])) or 0 * '
                    f'{events}), 0)) / ({events} > 0) or 0 * {events}')
    assert _record(BATCH, c.events_rate("1h"), "delivery")["expr"] == \
        'sum(rate(messages_published_total{queue="out"}[1h]))'


def test_latency_sli_reads_bucket_and_count() -> None:
    assert _record(PAYMENTS, c.events_rate("30m"), "latency")["expr"] == \
        'sum(rate(http_request_duration_seconds_count{job="payments",route="/charge"}[30m]))'
    ratio = _record(PAYMENTS, c.error_ratio("30m"), "latency")["expr"]
    assert 'http_request_duration_seconds_bucket{job="payments",route="/charge",le="0.3"}[30m]' in ratio
    assert 'le=~"2|2\\\\.0"' in _record(CHECKOUT, c.error_ratio("5m"), "latency")["expr"]


@pytest.mark.parametrize(("seconds", "matcher"), [
    (2.0, 'le=~"2|2\\\\.0"'), (0.3, 'le="0.3"'), (0.25, 'le="0.25"'), (10.0, 'le=~"10|10\\\\.0"')])
def test_le_matcher(seconds: float, matcher: str) -> None:
    assert str(q.le_matcher(seconds)) == matcher


def test_expr_sli_substitutes_window_and_sums() -> None:
    events = _record(BATCH, c.events_rate("2h"), "freshness")["expr"]
    assert events == 'sum(sum(increase(job_runs_total{job="etl"}[2h])))'
    ratio = _record(BATCH, c.error_ratio("2h"), "freshness")["expr"]
    assert ratio.startswith('(sum(sum(increase(job_runs_total{job="etl",result="failed"}[2h]))) or 0 * ')
    good = _record(BATCH, c.error_ratio("2h"), "weekly")["expr"]
    assert "sum(sum(rate(batch_ok_total[2h])))" in good and good.startswith("(clamp_min(")
    assert not any("$window" in r["expr"] for doc in FULL.values() for r in _rules(doc))


def test_groups_and_intervals() -> None:
    for path, doc in {**FULL, **DEMO}.items():
        service = path.removeprefix("rules/").removesuffix(".rules.yaml")
        assert [g["name"] for g in doc["groups"]] == [c.group_name(service, s) for s in ("sli", "tiles", "period")]
        sli, tiles, period = doc["groups"]
        assert sli["interval"] == "1m"
        assert tiles["interval"] == "1h"  # one tile per evaluation: consecutive tiles abut exactly
        assert period["interval"] == "2m"  # below the 5m lookback: instant queries always find a sample
        assert {r["record"] for r in tiles["rules"]} == {c.ERRORS_TILE, c.EVENTS_TILE}
        assert {r.get("record") for r in period["rules"]} >= {c.ERROR_RATIO_PERIOD, c.BUDGET_REMAINING, c.STATE,
                                                              c.DAYS_TO_EXHAUSTION, c.error_ratio("1d"),
                                                              c.error_ratio("6h"), c.error_ratio("30m")}
        assert {r.get("record") for r in sli["rules"]} >= {c.BURN_RATE_1H, c.error_ratio("5m"), c.error_ratio("1h")}
        assert {r.get("alert") for r in sli["rules"]} <= {c.ALERT_PAGE, None}
        assert {r.get("alert") for r in period["rules"]} <= {c.ALERT_TICKET, c.ALERT_FREEZE, c.ALERT_EXHAUSTED, None}


def test_each_group_records_what_its_alerts_read_before_them() -> None:
    """Within a group, rules run in order: an alert must come after the recordings of its group it reads.
    The page in `sli` reads 30m/6h from `period` (≤ 2m old); nothing in a group reads a later rule."""
    for doc in {**FULL, **DEMO}.values():
        recorded_in: dict[str, str] = {}
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    recorded_in.setdefault(rule["record"], group["name"])
        for group in doc["groups"]:
            seen: set[str] = set()
            for rule in group["rules"]:
                for name in re.findall(r"slogen:[a-z_:0-9]+", rule["expr"]):
                    if recorded_in.get(name) == group["name"]:
                        assert name in seen, (group["name"], rule.get("record") or rule.get("alert"), name)
                    else:
                        assert name in recorded_in, name  # every series read is recorded somewhere
                if "record" in rule:
                    seen.add(rule["record"])


def test_rules_per_slo_and_evaluation() -> None:
    """Cost in rules: per 30d SLO, 6 every minute (sli) and 21 every 2 minutes (period)."""
    groups = {g["name"]: g for g in FULL["rules/payments.rules.yaml"]["groups"]}
    def count(stage: str) -> int:
        return sum(r["labels"]["slo"] == "availability" for r in groups[c.group_name("payments", stage)]["rules"])
    assert count(c.STAGE_SLI) == 2 * 2 + 1 + 1  # 5m and 1h: events + ratio; burn rate 1h; page
    assert count(c.STAGE_PERIOD) == 2 * 3 + 4 + 8 + 1 + 2  # 30m/2h/6h; 1d/3d/7d/period; metadata; ticket; policy


def test_tiles_and_period_ratio() -> None:
    tile = _record(CHECKOUT, c.EVENTS_TILE, "availability")["expr"]
    assert tile == 'sum(rate(http_requests_total{job="checkout"}[1h]))'
    errors_tile = _record(CHECKOUT, c.ERRORS_TILE, "availability")["expr"]
    assert errors_tile == ('sum(rate(http_requests_total{job="checkout",status=~"5.."}[1h])) or 0 * '
                           'sum(slogen:sli_events:tile_rate1h{service="checkout",slo="availability"})')
    period = _record(CHECKOUT, c.ERROR_RATIO_PERIOD, "latency")["expr"]  # checkout/latency is 28d
    assert 'sum(sum_over_time(slogen:sli_errors:tile_rate1h{service="checkout",slo="latency"}[27d23h59m59s999ms]))' \
        in period
    assert period.endswith('or 0 * sum(sum_over_time(slogen:sli_events:tile_rate1h{service="checkout",'
                           'slo="latency"}[27d23h59m59s999ms]))')


@pytest.mark.parametrize("window", ["1d", "3d", "7d", "14d", "28d", "30d", "90d"])
def test_tile_range_is_one_millisecond_short(window: str) -> None:
    text = q.tile_range(window)
    assert parse_duration(text) == pytest.approx(parse_duration(window) - 0.001)


def test_num_prints_fractions_exactly() -> None:
    assert q.num(Fraction(999, 1000)) == "0.999"
    assert q.num(1 - Fraction("99.9") / 100) == "0.001"
    assert q.num(Fraction("14.4") * Fraction(1, 1000)) == "0.0144"
    assert q.num(Fraction(30)) == "30"
    assert q.num(Fraction(1, 3)) == repr(1 / 3)


def test_state_expression_thresholds() -> None:
    expr = rules.state_expr("R", Policy(caution=80, warning=50, freeze=20))
    assert expr == "(R <= bool 0.8) + (R < bool 0.5) + (R < bool 0.2) + (R < bool 0)"
    assert c.STATE_CODES == {"NORMAL": 0, "CAUTION": 1, "WARNING": 2, "FREEZE": 3, "EXHAUSTED": 4}


def test_days_to_exhaustion_has_no_division_by_zero() -> None:
    expr = _record(CHECKOUT, c.DAYS_TO_EXHAUSTION, "availability")["expr"]
    assert "/ (sum(slogen:burn_rate:rate1h{service=\"checkout\",slo=\"availability\"}) > 0)" in expr
    assert expr.startswith("clamp_min(") and " * 30 / " in expr


def test_output_is_deterministic() -> None:
    spec = load(str(SPECS / "full.yaml"))
    assert rules.generate(spec) == rules.generate(load(str(SPECS / "full.yaml")))
    assert all(a.text.startswith("# " + c.generated_header("full.yaml")) for a in rules.generate(spec))
