"""The spec additions in promtool: `for`, `min_events`, `absent`, SLO labels, any period, gauge SLIs,
alert windows as data.

Rule files are rendered from tests/promtool/features.yaml. Thresholds, factors and ratios are
worked out here from the inputs and the documented rules (docs/spec.md), never read back from the
generator; alert labels and annotation prose are taken from the rendered rule.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_promtool import alerts_at, check, counters, run

from prom import needs_prometheus
from slogen import conventions as c
from slogen.render import render
from slogen.spec.load import load, loads

pytestmark = needs_prometheus

SPEC = Path(__file__).resolve().parent / "promtool" / "features.yaml"
VALUE = "{{ $value | humanizePercentage }}"


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("feature-rules")
    for artifact in render(load(str(SPEC))):
        if artifact.path.startswith("rules/"):
            (out / Path(artifact.path).name).write_text(artifact.text)
    return out


def _rules(rules_dir: Path, service: str) -> list[dict[str, Any]]:
    doc = yaml.safe_load((rules_dir / f"{service}.rules.yaml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def firing(rules_dir: Path, service: str, name: str, value: str, **series_labels: str) -> dict[str, Any]:
    """One expected alert: the rule's labels (plus those the expression's result carries), and its
    annotations with the value we expect."""
    rule = next(r for r in _rules(rules_dir, service) if r.get("alert") == name)
    return {"exp_labels": {**series_labels, **rule["labels"]},
            "exp_annotations": {k: v.replace(VALUE, value) for k, v in rule["annotations"].items()}}


def test_slo_labels_join_the_service_labels_and_the_tier_is_on_every_alert(rules_dir: Path) -> None:
    rules = _rules(rules_dir, "tuned")
    for rule in rules:
        assert rule["labels"]["tier"] == "1" and rule["labels"]["team"] == "payments", rule
    tiers = {r["alert"]: r["labels"][c.LABEL_ALERT_TIER] for r in rules if "alert" in r}
    assert tiers == {c.ALERT_PAGE: "page", c.ALERT_TICKET: "ticket", c.ALERT_FREEZE: "policy",
                     c.ALERT_EXHAUSTED: "policy", c.ALERT_ABSENT: "absent"}


def test_for_delays_the_page_by_its_duration(rules_dir: Path) -> None:
    # 2 % errors from t=0: both page ratios read 2 % > 14.4 × 0.1 % from the first minute with two
    # samples (t=1m). Untuned, the page fires at once; with `for: 10m` it is pending until 11m.
    ok, bad = "0+980x30", "0+20x30"
    run(rules_dir, "for", ["plain", "tuned"], [{
        "name": "page for 10m", "interval": "1m", "input_series": counters(ok, bad),
        "alert_rule_test": [
            alerts_at("1m", c.ALERT_PAGE, [firing(rules_dir, "plain", c.ALERT_PAGE, "2%")]),
            alerts_at("10m", c.ALERT_PAGE, [firing(rules_dir, "plain", c.ALERT_PAGE, "2%")]),
            alerts_at("11m", c.ALERT_PAGE, [firing(rules_dir, "plain", c.ALERT_PAGE, "2%"),
                                            firing(rules_dir, "tuned", c.ALERT_PAGE, "2%")]),
        ]}])


def test_min_events_silences_a_three_request_burst(rules_dir: Path) -> None:
    # Three failed requests in the first minute, nothing else: 100 % errors over every window. The
    # untuned SLO pages on them; `min_events: 100` needs 100 events in the long window. The same
    # burst of 300 requests pages both.
    def burst(n: int) -> list[dict[str, str]]:
        return counters("0+0x30", f"0 {n}+0x29")

    tuned = firing(rules_dir, "tuned", c.ALERT_PAGE, "100%")
    plain = firing(rules_dir, "plain", c.ALERT_PAGE, "100%")
    run(rules_dir, "min-events", ["plain", "tuned"], [
        {"name": "3 requests", "interval": "1m", "input_series": burst(3),
         "alert_rule_test": [alerts_at("2m", c.ALERT_PAGE, [plain]), alerts_at("20m", c.ALERT_PAGE, [plain])]},
        {"name": "300 requests", "interval": "1m", "input_series": burst(300),
         "alert_rule_test": [alerts_at("20m", c.ALERT_PAGE, [plain, tuned])]},
    ])


def test_absent_fires_when_the_total_series_disappears_not_on_zero_traffic(rules_dir: Path) -> None:
    # The counters stop at 20m. Prometheus 2 still sees a sample exactly 5m old (its lookback range is
    # closed), so absent() is true from 26m; `for: 5m` fires at 31m, the default (10m) at 36m;
    # `disable` never. (Prometheus 3's left-open lookback makes each a minute earlier.)
    gone = counters("0+10x20", "0+0x20")
    idle = counters("100+0x60", "5+0x60")
    absent = c.ALERT_ABSENT

    def alert(service: str) -> dict[str, Any]:
        rule = firing(rules_dir, service, absent, "", job="api")  # absent() keeps the selector's equality labels
        return {"exp_labels": rule["exp_labels"], "exp_annotations": rule["exp_annotations"]}

    run(rules_dir, "absent", ["plain", "tuned", "quiet"], [
        {"name": "series gone", "interval": "1m", "input_series": gone,
         "alert_rule_test": [alerts_at("25m", absent, []), alerts_at("30m", absent, []),
                             alerts_at("31m", absent, [alert("tuned")]), alerts_at("35m", absent, [alert("tuned")]),
                             alerts_at("36m", absent, [alert("plain"), alert("tuned")])]},
        {"name": "zero traffic", "interval": "1m", "input_series": idle,
         "alert_rule_test": [alerts_at("60m", absent, [])]},
    ])


def _thresholds(rule: dict[str, Any]) -> list[Fraction]:
    return [Fraction(t) for t in re.findall(r"> ([0-9.e-]+)", rule["expr"])]


@pytest.mark.parametrize(("service", "period_days", "shares"), [
    # the 14d table's shares for 21d, the 30d (Google) shares for 12w = 84d
    ("three-weeks", 21, [Fraction(4, 100), Fraction(10, 100), Fraction(20, 100), Fraction(3, 14)]),
    ("twelve-weeks", 84, [Fraction(2, 100), Fraction(5, 100), Fraction(10, 100), Fraction(10, 100)]),
])
def test_periods_without_a_table_scale_the_shares(rules_dir: Path, service: str, period_days: int,
                                                   shares: list[Fraction]) -> None:
    longs = [1, 6, 24, 72]  # hours
    factors = [max(s * period_days * 24 / h, Fraction(1)) for s, h in zip(shares, longs, strict=True)]
    budget = Fraction(1, 1000)
    rules = {r["alert"]: r for r in _rules(rules_dir, service) if "alert" in r}
    page, ticket = _thresholds(rules[c.ALERT_PAGE]), _thresholds(rules[c.ALERT_TICKET])
    # each row's threshold appears twice (long and short window)
    assert page == [f * budget for f in factors[:2] for _ in range(2)]
    assert ticket == [f * budget for f in factors[2:] for _ in range(2)]


@pytest.mark.parametrize(("service", "slow_factor"), [("three-weeks", Fraction(3, 2)), ("twelve-weeks", Fraction(28, 10))])
def test_scaled_slow_ticket_fires_just_above_its_factor(rules_dir: Path, service: str, slow_factor: Fraction) -> None:
    # A steady burn 20 % above the slow ticket's factor tickets; 20 % below it stays silent.
    def steady(burn: Fraction) -> list[dict[str, str]]:
        per_million = int(burn * 1000)  # errors per 1,000,000 requests at a 0.1 % budget
        return counters(f"0+{1_000_000 - per_million}x180", f"0+{per_million}x180")

    above, below = slow_factor * Fraction(12, 10), slow_factor * Fraction(8, 10)
    value = f"{float(above / 10):.4g}%"  # the slow row's 3d ratio, as humanizePercentage prints it
    run(rules_dir, f"period-{service}", [service], [
        {"name": "above", "interval": "1m", "input_series": steady(above),
         "alert_rule_test": [alerts_at("2h", c.ALERT_TICKET, [firing(rules_dir, service, c.ALERT_TICKET, value)]),
                             alerts_at("2h", c.ALERT_PAGE, [])]},
        {"name": "below", "interval": "1m", "input_series": steady(below),
         "alert_rule_test": [alerts_at("2h", c.ALERT_TICKET, [])]},
    ])


def test_gauge_sli_counts_samples(rules_dir: Path) -> None:
    # probe_success is 1 for t = 0..29m and 0 for 30..59m. At 59m the 1h window (59m − 1ms wide
    # past 1h ago) holds the 60 samples 0..59m, 30 of them 0: ratio 0.5; the 5m window holds
    # 55..59m, all 0: ratio 1. The 3m events tile at 30m counts samples 28, 29, 30 per 180 s.
    ident = '{service="probe",slo="success"}'
    run(rules_dir, "gauge", ["probe"], [{
        "name": "half the probes fail", "interval": "1m",
        "input_series": [{"series": 'probe_success{job="blackbox",instance="a"}', "values": "1x29 0x29"}],
        "promql_expr_test": [
            check('slogen:sli_error:ratio_rate1h{service="probe"} + 0', "59m", [(ident, 0.5)]),
            check('slogen:sli_error:ratio_rate5m{service="probe"} + 0', "59m", [(ident, 1)]),
            check('round(slogen:sli_events:tile_rate3m{service="probe"} * 180 * 1e9) / 1e9', "30m", [(ident, 3)]),
            check('round(slogen:sli_errors:tile_rate3m{service="probe"} * 180 * 1e9) / 1e9', "30m", [(ident, 1)]),
        ],
    }])


CUSTOM = """\
version: slogen/v1
defaults:
  window: 30d
  alert_windows:
    - {severity: page, long: 1h, short: 5m, budget_share: 2%}
    - {severity: page, long: 6h, short: 30m, budget_share: 5%}
    - {severity: ticket, long: 1d, short: 2h, budget_share: 20%}
    - {severity: ticket, long: 3d, short: 6h, budget_share: 10%}
services:
  - name: api
    slos:
      - name: availability
        objective: 99.9
        sli:
          ratio: {errors: 'e_total', total: 't_total'}
"""


def _alert_thresholds(text: str) -> dict[str, list[Fraction]]:
    rules = [r for a in render(loads(text)) if a.path.startswith("rules/")
             for g in yaml.safe_load(a.text)["groups"] for r in g["rules"] if "alert" in r]
    return {r["alert"]: _thresholds(r) for r in rules if r["alert"] in (c.ALERT_PAGE, c.ALERT_TICKET)}


def test_custom_windows_change_exactly_the_thresholds_they_change() -> None:
    default = _alert_thresholds(CUSTOM.replace("budget_share: 20%", "budget_share: 10%"))
    custom = _alert_thresholds(CUSTOM)
    assert default[c.ALERT_PAGE] == custom[c.ALERT_PAGE]
    budget = Fraction(1, 1000)
    # the 1d row: 20 % of a 30d budget in 1d is a burn of 0.2 × 30 = 6 (the default 10 % is 3)
    assert default[c.ALERT_TICKET] == [3 * budget, 3 * budget, 1 * budget, 1 * budget]
    assert custom[c.ALERT_TICKET] == [6 * budget, 6 * budget, 1 * budget, 1 * budget]


def test_custom_windows_from_a_file_beside_the_spec(tmp_path: Path) -> None:
    (tmp_path / "windows").mkdir()
    (tmp_path / "windows" / "fast.yaml").write_text(
        "rows:\n  - {severity: page, long: 30m, short: 2m, budget_share: 1%, for: 1m}\n"
        "  - {severity: ticket, long: 6h, short: 30m, budget_share: 5%}\n")
    spec = tmp_path / "slos.yaml"
    spec.write_text(CUSTOM.split("  alert_windows:")[0] + "  alert_windows: windows/fast.yaml\n"
                    + CUSTOM.split("budget_share: 10%}\n")[1])
    rules = {r.get("alert") or r["record"]: r for a in render(load(str(spec))) if a.path.startswith("rules/")
             for g in yaml.safe_load(a.text)["groups"] for r in g["rules"]}
    budget = Fraction(1, 1000)
    assert _thresholds(rules[c.ALERT_PAGE]) == [Fraction(1, 100) * 1440 * budget] * 2  # 1 % × 30d / 30m = 14.4
    assert rules[c.ALERT_PAGE]["for"] == "1m"
    assert _thresholds(rules[c.ALERT_TICKET]) == [Fraction(5, 100) * 120 * budget] * 2
    # the fastest page pair is read from raw counters, besides 5m and 1h
    assert {c.error_ratio(w) for w in ("2m", "5m", "30m", "1h")} <= set(rules)


BASE = """\
version: slogen/v1
services:
  - name: api
    slos:
      - name: availability
        objective: 99.9
        sli:
          ratio: {errors: 'e_total', total: 't_total'}
"""


def _problems(text: str, tmp_path: Path | None = None) -> list[str]:
    from slogen.errors import SpecError
    try:
        if tmp_path is None:
            loads(text, filename="s.yaml")
        else:
            (tmp_path / "s.yaml").write_text(text)
            load(str(tmp_path / "s.yaml"))
    except SpecError as exc:
        return [f"{p.path}: {p.message}" for p in exc.problems]
    return []


@pytest.mark.parametrize(("insert", "expected"), [
    ("defaults:\n  alert_windows:\n    - {severity: page, long: 5m, short: 1h, budget_share: 2%}\n",
     "$.defaults.alert_windows[0].short: the short window (1h) must be shorter than the long one (5m)"),
    ("defaults:\n  alert_windows:\n    - {severity: page, long: 1h, short: 5m, budget_share: 0}\n",
     "$.defaults.alert_windows[0].budget_share: budget_share must be in (0, 1], got 0"),
    ("defaults:\n  alert_windows:\n    - {severity: page, long: 1h, short: 5m, budget_share: 2%}\n"
     "    - {severity: ticket, long: 1d, short: 10m, budget_share: 10%}\n",
     "$.defaults.alert_windows: api/availability: window 10m is not a multiple of the 3m tiles"),
    ("defaults:\n  window: 2d\n  alert_windows:\n    - {severity: page, long: 3d, short: 6h, budget_share: 2%}\n",
     "$.defaults.alert_windows: api/availability: the page row 3d/6h is longer than the 2d period"),
])
def test_alert_window_problems_are_located(insert: str, expected: str) -> None:
    text = BASE.replace("services:\n", insert + "services:\n")
    assert any(expected in p for p in _problems(text)), _problems(text)


def test_a_missing_or_broken_windows_file_is_named(tmp_path: Path) -> None:
    text = BASE.replace("services:\n", "defaults:\n  alert_windows: w.yaml\nservices:\n")
    assert any("$.defaults.alert_windows: w.yaml: cannot read the alert windows file" in p
               for p in _problems(text, tmp_path))
    (tmp_path / "w.yaml").write_text("rows:\n  - {severity: page, long: 1h, short: 5m}\n")
    assert any("w.yaml: rows[0]: missing 'budget_share'" in p for p in _problems(text, tmp_path))
    (tmp_path / "w.yaml").write_text("rows:\n  - {severity: page, long: 1h, short: 5m, budget_share: 2%}\n")
    assert _problems(text, tmp_path) == []
    # the spec cache must notice the file changing under an unchanged spec
    (tmp_path / "w.yaml").write_text("rows:\n  - {severity: page, long: 1h, short: 5m, budget_share: 200%}\n")
    assert any("w.yaml: rows[0].budget_share" in p for p in _problems(text, tmp_path))


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("        objective: 99.9\n", "        objective: 99.9\n        labels: {slo_alert_tier: x}\n",
     "$.services[0].slos[0].labels.slo_alert_tier: label 'slo_alert_tier' is set by slogen"),
    ("        objective: 99.9\n", "        objective: 99.9\n        alerting: {labels: {slo_alert_tier: x}}\n",
     "$.services[0].slos[0].alerting.labels.slo_alert_tier: label 'slo_alert_tier' is set by slogen"),
    ("        objective: 99.9\n", "        objective: 99.9\n        alerting: {min_events: -1}\n",
     "$.services[0].slos[0].alerting.min_events"),
    ("        objective: 99.9\n", "        objective: 99.9\n        alerting: {absent: {for: soon}}\n",
     "$.services[0].slos[0].alerting.absent.for"),
    ("          ratio: {errors: 'e_total', total: 't_total'}\n",
     "          gauge: {metric: probe_success, selector: '{__name__=\"x\"}'}\n",
     "$.services[0].slos[0].sli.gauge.selector: selector does not parse: the metric name goes in 'metric'"),
])
def test_new_fields_are_checked_at_their_place(old: str, new: str, expected: str) -> None:
    found = _problems(BASE.replace(old, new))
    assert any(expected in p for p in found), found


def test_validate_warns_about_custom_rows_below_a_burn_of_1() -> None:
    from slogen.spec.lint import warnings
    spec = loads(CUSTOM.replace("window: 30d", "window: 21d"))
    found = [w for w in warnings(spec) if "burn-rate factor" in w]
    # 10 % of a 21d budget in 3d is a burn of 0.1 × 7 = 0.7; every other row is above 1
    assert found == ["api/availability: the ticket row 3d/6h has a burn-rate factor of 0.7 on a 21d period: it "
                     "fires while the budget would still last the period; raise its budget_share to at least 3d/21d"]


def test_a_grouped_slo_alerts_only_for_the_group_that_burns(rules_dir: Path) -> None:
    # Two routes: /pay fails 2 % (burn 20 > 14.4), /home is clean, and /new has traffic but no
    # errors series at all. Every recording has one series per route; the page fires for /pay only,
    # labelled with it; /home and /new read an error ratio of 0 (not absent).
    def route(name: str, ok: str, bad: str | None) -> list[dict[str, str]]:
        out = [{"series": f'http_requests_total{{job="api",route="{name}",code="200"}}', "values": ok}]
        if bad is not None:
            out.append({"series": f'http_requests_total{{job="api",route="{name}",code="500"}}', "values": bad})
        return out

    series = [*route("/pay", "0+980x90", "0+20x90"), *route("/home", "0+1000x90", "0+0x90"),
              *route("/new", "0+500x90", None)]
    ident = 'service="routes",slo="availability"'
    run(rules_dir, "grouped", ["routes"], [{
        "name": "one route burns", "interval": "1m", "input_series": series,
        "promql_expr_test": [
            check('round(slogen:sli_error:ratio_rate1h{service="routes"} * 10000)', "60m",
                  [(f'{{route="/home",{ident}}}', 0), (f'{{route="/new",{ident}}}', 0),
                   (f'{{route="/pay",{ident}}}', 200)]),
            check('round(slogen:sli_events:tile_rate3m{service="routes"} * 60)', "60m",
                  [(f'{{route="/home",{ident}}}', 1000), (f'{{route="/new",{ident}}}', 500),
                   (f'{{route="/pay",{ident}}}', 1000)]),
        ],
        "alert_rule_test": [
            alerts_at("30m", c.ALERT_PAGE, [firing(rules_dir, "routes", c.ALERT_PAGE, "2%", route="/pay")]),
            alerts_at("30m", c.ALERT_TICKET, [firing(rules_dir, "routes", c.ALERT_TICKET, "2%", route="/pay")]),
        ]}])


@pytest.mark.parametrize(("group_by", "expected"), [
    ("[slo]", "$.services[0].slos[0].group_by[0]: cannot group by 'slo': slogen sets it"),
    ("[le]", "$.services[0].slos[0].group_by[0]: cannot group by 'le': slogen sets it"),
    ("[team]", "$.services[0].slos[0].group_by[0]: cannot group by 'team': the spec's labels set it"),
    ("[route, route]", "$.services[0].slos[0].group_by"),
    ("['a-b']", "$.services[0].slos[0].group_by[0]"),
    ("route", "$.services[0].slos[0].group_by"),
])
def test_group_by_problems_are_located(group_by: str, expected: str) -> None:
    text = BASE.replace("    slos:\n", "    labels: {team: x}\n    slos:\n").replace(
        "        objective: 99.9\n", f"        objective: 99.9\n        group_by: {group_by}\n")
    found = _problems(text)
    assert any(expected in p for p in found), found


def test_validate_warns_when_the_selector_fixes_the_grouping_label() -> None:
    from slogen.spec.lint import warnings
    spec = loads(BASE.replace("        objective: 99.9\n", "        objective: 99.9\n        group_by: [code, route]\n")
                 .replace("errors: 'e_total', total: 't_total'", "errors: 'e_total{code=\"500\"}', "
                          "total: 't_total{code=\"500\"}'"))
    assert [w for w in warnings(spec) if "group_by" in w] == [
        "api/availability: group_by 'code' is fixed to one value by the SLI's selectors (label=\"…\"): the SLO "
        "has one group; drop it from group_by or widen the selector"]
