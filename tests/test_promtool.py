"""promtool proves the rules: lint on every rendered file, and `promtool test rules` suites for behaviour.

The suites' rule files are rendered from tests/promtool/spec.yaml into a temp dir (never copied
by hand). Expected values are computed here from the inputs and the SRE workbook, not read
back from the generator; only the alert annotations' fixed prose is taken from the rendered
rule, with `{{ $value | humanizePercentage }}` replaced by the value we expect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, SPECS
from prom import needs_prometheus, promtool
from slogen.render import render
from slogen.spec.load import load

pytestmark = needs_prometheus

SUITE_SPEC = Path(__file__).resolve().parent / "promtool" / "spec.yaml"
VALUE = "{{ $value | humanizePercentage }}"
PAGE, TICKET = "SLOErrorBudgetBurnPage", "SLOErrorBudgetBurnTicket"
ID = {"api": '{service="api",slo="availability",team="core"}'}


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rules")
    for artifact in render(load(str(SUITE_SPEC))):
        if artifact.path.startswith("rules/"):
            (out / Path(artifact.path).name).write_text(artifact.text)
    return out


def _alert_rule(rules_dir: Path, service: str, name: str) -> dict[str, Any]:
    doc = yaml.safe_load((rules_dir / f"{service}.rules.yaml").read_text())
    return next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == name)


def firing(rules_dir: Path, service: str, name: str, value_text: str) -> dict[str, Any]:
    """One expected alert: the rule's labels, and its annotations with the value we expect."""
    rule = _alert_rule(rules_dir, service, name)
    labels = dict(rule["labels"])
    if service == "api":
        labels["team"] = "core"  # from the recorded series: the service's spec labels
    notes = {k: v.replace(VALUE, value_text) for k, v in rule["annotations"].items()}
    return {"exp_labels": labels, "exp_annotations": notes}


def counters(ok: str, bad: str, job: str = "api") -> list[dict[str, str]]:
    """http_requests_total for 2xx and 5xx in promtool's expanding notation."""
    return [{"series": f'http_requests_total{{job="{job}",code="200"}}', "values": ok},
            {"series": f'http_requests_total{{job="{job}",code="500"}}', "values": bad}]


def run(rules_dir: Path, name: str, rule_files: list[str], tests: list[dict[str, Any]],
        evaluation_interval: str = "1m") -> None:
    # promtool runs groups in random order unless told; Prometheus runs them concurrently. Fix the
    # order a live server converges to within one interval: raw windows, then tiles, then sums.
    order = [g["name"] for s in rule_files for g in yaml.safe_load((rules_dir / f"{s}.rules.yaml").read_text())["groups"]]
    suite = {"rule_files": [f"{s}.rules.yaml" for s in rule_files], "evaluation_interval": evaluation_interval,
             "group_eval_order": order, "tests": tests}
    path = rules_dir / f"{name}.test.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False, width=1_000_000))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def check(expr: str, at: str, samples: list[tuple[str, float]]) -> dict[str, Any]:
    return {"expr": expr, "eval_time": at, "exp_samples": [{"labels": lab, "value": v} for lab, v in samples]}


def alerts_at(at: str, name: str, expected: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": expected}


# ------------------------------------------------------------------ lint
def _rendered_rule_files() -> list[tuple[str, str, str]]:
    out = []
    for spec_file in [*sorted(SPECS.glob("*.yaml")), ROOT / "slos.yaml", SUITE_SPEC]:
        for a in render(load(str(spec_file))):
            if a.path.startswith("rules/"):
                out.append((f"{spec_file.stem}/{a.path}", a.path, a.text))
    return out


@pytest.mark.parametrize(("name", "path", "text"), _rendered_rule_files(), ids=lambda v: v if "/" in v else "")
def test_promtool_check_rules_lint_fatal(tmp_path: Path, name: str, path: str, text: str) -> None:
    target = tmp_path / Path(path).name
    target.write_text(text)
    result = promtool("check", "rules", "--lint-fatal", str(target))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# ------------------------------------------------------------------ 99.9 % over 30d, short windows
def test_page_fires_at_2_percent_with_ticket(rules_dir: Path) -> None:
    # 20 of 1000 requests a minute fail: burn rate 20 > 14.4 over 1h and 5m.
    page = firing(rules_dir, "api", PAGE, "2%")
    run(rules_dir, "page2", ["api"], [{
        "name": "2% errors page", "interval": "1m", "input_series": counters("0+980x120", "0+20x120"),
        "promql_expr_test": [
            check('round(slogen:sli_error:ratio_rate5m{service="api"} * 10000)', "1h", [(ID["api"], 200)]),
            check('round(slogen:burn_rate:rate1h{service="api"} * 1000)', "1h", [(ID["api"], 20000)]),
        ],
        "alert_rule_test": [
            alerts_at("5m", PAGE, [page]), alerts_at("2h", PAGE, [page]),
            # the ticket's windows are sums of short tiles, there from the first tile on
            alerts_at("2h", TICKET, [firing(rules_dir, "api", TICKET, "2%")]),
        ]}])


def test_silent_at_half_the_budget_rate(rules_dir: Path) -> None:
    # 5 of 10,000 fail (0.05 %): burn rate 0.5, below every factor (the lowest is 1 over 3d/6h).
    run(rules_dir, "silent", ["api"], [{
        "name": "0.05% errors silent", "interval": "1m", "input_series": counters("0+9995x360", "0+5x360"),
        "promql_expr_test": [
            check('round(slogen:sli_error:ratio_rate1h{service="api"} * 1e6)', "6h", [(ID["api"], 500)]),
            check('round(slogen:error_budget_remaining:ratio{service="api"} * 1e6)', "6h", [(ID["api"], 500000)]),
        ],
        "alert_rule_test": [alerts_at("1h", PAGE, []), alerts_at("6h", PAGE, []), alerts_at("6h", TICKET, [])],
    }])


def test_burst_pages_then_resolves_when_the_30m_window_recovers(rules_dir: Path) -> None:
    # 20 errors + 980 ok a minute for the first 30 minutes, then clean. Evaluated every 3m, so the
    # short tiles abut as on a live server. The 1h/5m pair holds while the 5m window sees the
    # burst (until 35m); after that the 6h/30m pair, both sums of tiles, holds while the 30m ratio
    # x/(29400+x), x = 20·(60−t) errors still in the window, exceeds 6 × 0.1 %: until t = 51.13m.
    # promtool evaluates `tiles` before `alerts` at each step, so the page reads this step's tiles
    # (a live server reads them up to one tile interval old): firing at 51m, resolved at 54m.
    # The alert's value is then the 6h ratio, 600 errors of 980·t + 600 events.
    def six_hour(t: int) -> str:
        return f"{100 * 600 / (980 * t + 600):.4g}%"  # Go's humanizePercentage is %.4g

    assert 180 / (29400 + 180) > 0.006 > 160 / (29400 + 160)
    run(rules_dir, "burst", ["api"], [{
        "name": "30m burst", "interval": "1m", "input_series": counters("0+980x90", "0+20x30 600+0x60"),
        "alert_rule_test": [
            alerts_at("27m", PAGE, [firing(rules_dir, "api", PAGE, "2%")]),
            *(alerts_at(f"{t}m", PAGE, [firing(rules_dir, "api", PAGE, six_hour(t))]) for t in (36, 48, 51)),
            alerts_at("54m", PAGE, []),
            alerts_at("90m", PAGE, []),
        ]}], evaluation_interval="3m")


def test_ticket_at_sustained_0_35_percent(rules_dir: Path) -> None:
    # 0.35 % = burn 3.5: above the ticket's 3 (1d/2h) and 1 (3d/6h), below the page's 6 and 14.4.
    run(rules_dir, "ticket", ["api"], [{
        "name": "0.35% ticket", "interval": "1m", "input_series": counters("0+9965x180", "0+35x180"),
        "alert_rule_test": [
            alerts_at("2h", TICKET, [firing(rules_dir, "api", TICKET, "0.35%")]),
            alerts_at("3h", TICKET, [firing(rules_dir, "api", TICKET, "0.35%")]),
            alerts_at("3h", PAGE, []),
        ]}])


def test_zero_traffic_records_zero_and_fires_nothing(rules_dir: Path) -> None:
    labels = ID["api"]
    zero = [(labels, 0)]
    run(rules_dir, "zero", ["api", "good"], [{
        "name": "counters exist, no increase", "interval": "1m",
        "input_series": counters("100+0x180", "5+0x180"),
        "promql_expr_test": [
            check('slogen:sli_error:ratio_rate5m{service="api"} + 0', "2h", zero),
            check('slogen:sli_error:ratio_rate1h{service="api"} + 0', "2h", zero),
            check('slogen:period_coverage:ratio{service="api"} * 720', "2h", [(labels, 2)]),
            check('slogen:sli_error:ratio_period{service="api"} + 0', "2h", zero),
            check('slogen:error_budget_remaining:ratio{service="api"} + 0', "2h", [(labels, 1)]),
            check('slogen:deploy_state:code{service="api"} + 0', "2h", zero),
            check('slogen:error_budget_exhaustion:days{service="api"}', "2h", []),  # never: absent
            check('slogen:sli_error:ratio_rate5m{service="good"} + 0', "2h",
                  [('{service="good",slo="availability"}', 0)]),
        ],
        "alert_rule_test": [alerts_at("2h", PAGE, []), alerts_at("2h", TICKET, [])],
    }, {
        "name": "no errors series yet means 0 errors; no good series means all bad", "interval": "1m",
        "input_series": [{"series": 'http_requests_total{job="api",code="500"}', "values": "0+10x60"},
                         {"series": 'http_requests_total{job="other",code="200"}', "values": "0+10x60"}],
        "promql_expr_test": [
            check('slogen:sli_error:ratio_rate5m{service="good"} + 0', "30m",
                  [('{service="good",slo="availability"}', 1)]),
        ],
    }, {
        "name": "no series at all: absent, so the gate can say no data", "interval": "1m",
        "input_series": [{"series": 'http_requests_total{job="other",code="200"}', "values": "0+10x60"}],
        "promql_expr_test": [
            check('slogen:sli_error:ratio_rate5m{service="api"}', "30m", []),
            check('slogen:error_budget_remaining:ratio{service="api"}', "30m", []),
            check('slogen:period_coverage:ratio{service="api"}', "30m", []),
        ],
        "alert_rule_test": [alerts_at("30m", PAGE, [])],
    }, {
        "name": "only the total series exists: errors are 0", "interval": "1m",
        "input_series": [{"series": 'http_requests_total{job="api",code="200"}', "values": "0+10x60"}],
        "promql_expr_test": [check('slogen:sli_error:ratio_rate5m{service="api"} + 0', "30m", zero)],
    }])


def test_good_sli_equals_errors_sli_on_the_same_data(rules_dir: Path) -> None:
    run(rules_dir, "good", ["api", "good"], [{
        "name": "good form", "interval": "1m", "input_series": counters("0+980x60", "0+20x60"),
        "promql_expr_test": [
            check('round(slogen:sli_error:ratio_rate1h{service="good"} * 10000)', "1h",
                  [('{service="good",slo="availability"}', 200)]),
        ],
        "alert_rule_test": [alerts_at("1h", PAGE, [firing(rules_dir, s, PAGE, "2%") for s in ("api", "good")])],
    }])


def _histogram(le_two: str, slow_per_min: int) -> list[dict[str, str]]:
    base = 'http_request_duration_seconds_{}{{job="api"{}}}'
    fast = 1000 - slow_per_min
    return [
        {"series": base.format("bucket", ',le="0.5"'), "values": f"0+{fast // 2}x60"},
        {"series": base.format("bucket", f',le="{le_two}"'), "values": f"0+{fast}x60"},
        {"series": base.format("bucket", ',le="+Inf"'), "values": "0+1000x60"},
        {"series": base.format("count", ""), "values": "0+1000x60"},
    ]


@pytest.mark.parametrize("le_two", ["2", "2.0"], ids=["go-client", "python-client"])
def test_latency_pages_when_20_percent_are_slow(rules_dir: Path, le_two: str) -> None:
    # 99 % objective: budget 1 %. 20 % slower than 2 s = burn 20 → page; 5 % = burn 5 → silent.
    lat = '{service="lat",slo="latency"}'
    run(rules_dir, f"latency-{le_two}", ["lat"], [{
        "name": "20% slow", "interval": "1m", "input_series": _histogram(le_two, 200),
        "promql_expr_test": [check('round(slogen:sli_error:ratio_rate5m{service="lat"} * 1000)', "30m",
                                   [(lat, 200)])],
        "alert_rule_test": [alerts_at("30m", PAGE, [firing(rules_dir, "lat", PAGE, "20%")])],
    }, {
        "name": "5% slow", "interval": "1m", "input_series": _histogram(le_two, 50),
        "alert_rule_test": [alerts_at("30m", PAGE, [])],
    }])


def test_expr_sli_with_increase(rules_dir: Path) -> None:
    job = '{service="job",slo="runs"}'
    series = [{"series": 'job_runs_total{result="ok"}', "values": "0+8x60"},
              {"series": 'job_runs_total{result="failed"}', "values": "0+2x60"}]
    run(rules_dir, "expr", ["job"], [{
        "name": "20% failed runs", "interval": "1m", "input_series": series,
        "promql_expr_test": [check('round(slogen:sli_error:ratio_rate1h{service="job"} * 100)', "1h", [(job, 20)])],
        "alert_rule_test": [alerts_at("1h", PAGE, [firing(rules_dir, "job", PAGE, "20%")])],
    }])


@pytest.mark.parametrize(("ok", "bad", "fires"), [
    (9942, 58, {"four", "seven"}),  # 0.58 %: above 28d's 5.6 × 0.1 % and 7d's 3.5 ×, below 30d's 6 ×
    (9960, 40, {"seven"}),          # 0.40 %: only 7d's 6h/30m factor 3.5 (12.5 % of budget in 6h)
    (9970, 30, set()),              # 0.30 %: below all of them
])
def test_scaled_page_factors_for_28d_and_7d(rules_dir: Path, ok: int, bad: int, fires: set[str]) -> None:
    share = f"{bad / 100:g}%"
    tests = [{
        "name": f"{bad / 100}% errors", "interval": "1m", "input_series": counters(f"0+{ok}x60", f"0+{bad}x60"),
        "alert_rule_test": [
            {"eval_time": "1h", "alertname": PAGE,
             "exp_alerts": [firing(rules_dir, s, PAGE, share) for s in ("four", "seven") if s in fires]},
        ]}]
    run(rules_dir, f"scaled-{bad}", ["api", "four", "seven"], tests)


# ------------------------------------------------------------------ 30-day budget maths (1h steps)
@pytest.mark.slow
def test_period_budget_is_event_weighted_over_exactly_the_period(rules_dir: Path) -> None:
    # 5m samples. Days 0–20: 1000 events per 5m, 1 error (0.1 %). Days 20–30: 10,000 events, 2 errors.
    # 30d: (5760 + 5760) / (5.76M + 28.8M) = 1/3000 → R = 2/3 (a mean of 5m ratios would give 0.267).
    # 28d (days 2–30): (5184 + 5760) / (5.184M + 28.8M) → R = 0.677966. 7d (days 23–30): 0.0002 → R = 0.8.
    ok = "0+999x5760 5764238+9998x2879"
    bad = "0+1x5760 5762+2x2879"
    lab = {s: f'{{service="{s}",slo="availability"}}' for s in ("four", "seven")}
    api = ID["api"]
    run(rules_dir, "period", ["api", "four", "seven"], [{
        "name": "30 days, traffic 10x in the last third", "interval": "5m", "input_series": counters(ok, bad),
        "promql_expr_test": [
            check('count_over_time(last_over_time(slogen:sli_errors:hour_rate1h{service="api"}[45m])'
                  '[29d23h59m59s999ms:1h])', "30d", [(api, 720)]),
            check('slogen:period_coverage:ratio{service="api"} + 0', "30d", [(api, 1)]),
            check('round(slogen:error_budget_remaining:ratio{service="api"} * 1e6)', "30d", [(api, 666667)]),
            check('round(slogen:burn_rate:period{service="api"} * 1e6)', "30d", [(api, 333333)]),
            check('slogen:deploy_state:code{service="api"} + 0', "30d", [(api, 1)]),  # CAUTION
            # R × 30 days / burn(1h) = (2/3) × 30 / 0.2
            check('round(slogen:error_budget_exhaustion:days{service="api"} * 1000)', "30d", [(api, 100000)]),
            check('round(slogen:error_budget_remaining:ratio{service="four"} * 1e6)', "30d",
                  [(lab["four"], 677966)]),
            check('round(slogen:error_budget_remaining:ratio{service="seven"} * 1e6)', "30d",
                  [(lab["seven"], 800000)]),
            check('round(slogen:sli_error:ratio_rate7d{service="api"} * 1e7)', "30d", [(api, 2000)]),
        ],
    }], evaluation_interval="1h")


def test_state_codes_and_policy_alerts(rules_dir: Path) -> None:
    # Two days of data; the period ratio covers what exists. 0.09 % → R = 10 % (FREEZE, below 20 %);
    # 0.15 % → R = −50 % (EXHAUSTED). 0.06 % → R = 40 % (WARNING).
    api = ID["api"]
    tests = []
    for bad, code, alert, value in ((9, 3, "SLOErrorBudgetFreeze", "10%"), (15, 4, "SLOErrorBudgetExhausted", "-50%"),
                                    (6, 2, None, "")):
        other = {"SLOErrorBudgetFreeze", "SLOErrorBudgetExhausted"} - {alert}
        tests.append({
            "name": f"{bad / 100}% errors for 2 days", "interval": "5m",
            "input_series": counters(f"0+{10000 - bad}x576", f"0+{bad}x576"),
            "promql_expr_test": [check('slogen:deploy_state:code{service="api"} + 0', "2d", [(api, code)])],
            "alert_rule_test": [
                *([alerts_at("2d", alert, [firing(rules_dir, "api", alert, value)])] if alert else []),
                *(alerts_at("2d", name, []) for name in sorted(other)),
            ]})
    run(rules_dir, "policy", ["api"], tests, evaluation_interval="1h")


def test_budget_from_the_first_minutes_then_from_hour_tiles(rules_dir: Path) -> None:
    # 0.05 % errors. Before the first whole hour has an hour tile, budget remaining stands on the
    # 1h ratio (R = 1 − 0.0005/0.001 = 0.5) and says it covers 1h of 720; from then on it sums
    # hour tiles, one per whole hour (2 at 2h: the hours ending at 1h and 2h).
    api = ID["api"]
    run(rules_dir, "first-minutes", ["api"], [{
        "name": "fresh rules over existing counters", "interval": "1m",
        "input_series": counters("0+9995x150", "0+5x150"),
        "promql_expr_test": [
            check('round(slogen:error_budget_remaining:ratio{service="api"} * 1e6)', "10m", [(api, 500000)]),
            check('slogen:period_coverage:ratio{service="api"} * 720', "10m", [(api, 1)]),
            check('slogen:deploy_state:code{service="api"} + 0', "10m", [(api, 1)]),  # CAUTION: 50 ≤ R ≤ 80
            check('round(slogen:error_budget_remaining:ratio{service="api"} * 1e6)', "2h", [(api, 500000)]),
            check('slogen:period_coverage:ratio{service="api"} * 720', "2h", [(api, 2)]),
        ],
    }])
