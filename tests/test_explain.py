"""`slogen explain`: its numbers against the SRE workbook's definitions, and against promtool.

The workbook (ch. 5, "Alerting on SLOs"): burn rate b is how fast the budget burns relative to
the SLO; an alert on burn rate `factor` over window W spends `factor × W / period` of the budget,
and at an error ratio e detects after `(1 − SLO) × W × factor / e`. The expectations below are
typed from the workbook's table 5-8 (30d: 14.4 over 1h, 6 over 6h, 3 over 1d, 1 over 3d) and from
docs/rules.md's layout table (group intervals), never read from slogen.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, SPECS
from prom import needs_prometheus, promtool
from slogen.cli import main
from slogen.render import render
from slogen.slo import explain as ex
from slogen.spec.load import load

MINIMAL = SPECS / "minimal.yaml"  # api/availability: 99.9 % over 30d
SUITE_SPEC = Path(__file__).resolve().parent / "promtool" / "spec.yaml"


def _explained(spec_file: Path = MINIMAL, index: int = 0) -> ex.SLOExplanation:
    spec = load(str(spec_file))
    return ex.explain(spec, spec.slos)[index]


def _outcome(outcomes: tuple[ex.Outcome, ...], scenario: str) -> ex.Outcome:
    return next(o for o in outcomes if o.scenario.name == scenario)


# The workbook's table 5-8 for a 30-day SLO: (long, short, factor, share of budget).
WORKBOOK_30D = [("1h", "5m", 14.4, 0.02), ("6h", "30m", 6.0, 0.05), ("1d", "2h", 3.0, 0.10), ("3d", "6h", 1.0, 0.10)]
HOUR = 3600.0
WINDOW_SECONDS = {"5m": 300.0, "30m": 1800.0, "1h": HOUR, "2h": 2 * HOUR, "6h": 6 * HOUR, "1d": 24 * HOUR,
                  "3d": 72 * HOUR}
# docs/rules.md: the page's 1h/5m pair is recorded by `sli` (1m) and read by `alerts` (1m); other
# windows are sums of 3m tiles (`tiles`, every 3m) read by `alerts` (page, 1m) or `budget` (ticket, 2m).
WORST_LAG = {"1h": 60 + 60, "6h": 180 + 60, "1d": 180 + 120, "3d": 180 + 120}


def test_budget_minutes_and_thresholds_match_the_workbook() -> None:
    e = _explained()
    assert e.budget_minutes == pytest.approx(0.001 * 30 * 24 * 60)  # 43.2 minutes of full outage
    assert [(r.long, r.short) for r in e.conditions] == [(w[0], w[1]) for w in WORKBOOK_30D]
    for row, (_long, _short, factor, share) in zip(e.conditions, WORKBOOK_30D, strict=True):
        assert float(row.factor) == pytest.approx(factor)
        assert float(row.threshold) == pytest.approx(factor * 0.001)
        assert float(row.budget_share) == pytest.approx(share)
        # the workbook's "budget consumed" = factor × window / period
        assert float(row.budget_share) == pytest.approx(factor * WINDOW_SECONDS[row.long] / (30 * 24 * HOUR))


def test_detection_times_match_the_workbook_plus_the_layouts_lag() -> None:
    e = _explained()
    for row, (long, _short, factor, share) in zip(e.conditions, WORKBOOK_30D, strict=True):
        full = _outcome(row.outcomes, ex.FULL_OUTAGE)
        expected = 0.001 * WINDOW_SECONDS[long] * factor / 1.0  # error ratio 1
        assert full.detect.seconds == pytest.approx(expected)
        assert full.detect.seconds_max == pytest.approx(expected + WORST_LAG[long])
        assert full.budget_spent.seconds == pytest.approx(share)
        ten = _outcome(row.outcomes, ex.BURN_10X)
        assert ten.scenario.error_ratio == pytest.approx(0.01)
        if factor >= 10:
            assert ten.detect.never and ten.reset.never
        else:
            assert ten.detect.seconds == pytest.approx(0.001 * WINDOW_SECONDS[long] * factor / 0.01)
            assert ten.budget_spent.seconds == pytest.approx(share)  # the same share at any rate above factor
    page_1h, page_6h = e.conditions[0], e.conditions[1]
    # the figures: ~52 s and ~2.2 min of errors
    assert _outcome(page_1h.outcomes, ex.FULL_OUTAGE).detect.seconds == pytest.approx(51.84)
    assert _outcome(page_6h.outcomes, ex.FULL_OUTAGE).detect.seconds == pytest.approx(2.16 * 60)
    page = next(a for a in e.alerts if a.alert == "SLOErrorBudgetBurnPage")
    assert _outcome(page.outcomes, ex.FULL_OUTAGE).detect.seconds == pytest.approx(51.84)
    assert _outcome(page.outcomes, ex.BURN_10X).detect.seconds == pytest.approx(6 * 0.001 * 6 * HOUR / 0.01)


def test_reset_times_after_windows_full_of_errors() -> None:
    # The AND of the two windows fails when the short one drops to the threshold: S × (1 − t/e).
    e = _explained()
    for row, (_long, short, factor, _share) in zip(e.conditions, WORKBOOK_30D, strict=True):
        full = _outcome(row.outcomes, ex.FULL_OUTAGE)
        assert full.reset.seconds == pytest.approx(WINDOW_SECONDS[short] * (1 - factor * 0.001))
    ticket = next(a for a in e.alerts if a.alert == "SLOErrorBudgetBurnTicket")
    assert _outcome(ticket.outcomes, ex.FULL_OUTAGE).reset.seconds == pytest.approx(6 * HOUR * (1 - 0.001))


def test_policy_alerts_from_budget_remaining() -> None:
    # Default policy: freeze below 20 % remaining. A full outage spends the budget (43.2 min) at
    # rate 1: 80 % of it after 34.56 min; then `for: 15m`. R lags by up to 1h + 30m (hour tiles),
    # then 2m (budget) and 2m (state).
    e = _explained()
    freeze = next(a for a in e.alerts if a.alert == "SLOErrorBudgetFreeze")
    exhausted = next(a for a in e.alerts if a.alert == "SLOErrorBudgetExhausted")
    full = _outcome(freeze.outcomes, ex.FULL_OUTAGE)
    assert full.detect.seconds == pytest.approx(0.8 * 43.2 * 60 + 900)
    assert full.detect.seconds_max == pytest.approx(0.8 * 43.2 * 60 + 900 + 5400 + 240)
    assert _outcome(exhausted.outcomes, ex.FULL_OUTAGE).detect.seconds == pytest.approx(43.2 * 60 + 900)
    assert _outcome(exhausted.outcomes, ex.BURN_10X).detect.seconds == pytest.approx(3 * 86400 + 900)
    assert freeze.for_ == "15m" and freeze.stage == "state"
    # R moves once an hour: a full outage moves it by 60/43.2 budgets, past the 20 % band; 10× by 1.4 %.
    assert full.may_skip and not _outcome(freeze.outcomes, ex.BURN_10X).may_skip
    assert not _outcome(exhausted.outcomes, ex.FULL_OUTAGE).may_skip


def test_alert_stages_and_intervals_agree_with_the_rendered_files() -> None:
    for spec_file in [*sorted(SPECS.glob("*.yaml")), ROOT / "slos.yaml", SUITE_SPEC]:
        spec = load(str(spec_file))
        files = {a.path: yaml.safe_load(a.text) for a in render(spec) if a.path.startswith("rules/")}
        for e in ex.explain(spec, spec.slos):
            groups = files[f"rules/{e.service}.rules.yaml"]["groups"]
            for a in e.alerts:
                holding = [g for g in groups if any(r.get("alert") == a.alert and r["labels"]["slo"] == e.slo
                                                    for r in g["rules"])]
                assert len(holding) == 1
                assert holding[0]["name"].split(":")[2] == a.stage
                assert holding[0]["interval"] == a.group_interval


def test_disabled_ticket_is_listed_and_its_rows_are_gone() -> None:
    spec = load(str(SPECS / "full.yaml"))
    latency = next(e for e in ex.explain(spec, spec.slos) if e.slo == "latency")
    assert set(latency.disabled) == {"SLOErrorBudgetBurnTicket", "SLOErrorBudgetFreeze", "SLOErrorBudgetExhausted"}
    assert {r.severity for r in latency.conditions} == {"page"}


def test_a_page_that_cannot_fire_says_never() -> None:
    # 90d at 99.5 %: 43.2 × 0.005 = 0.216 < 1, fires; 10× is 5 % errors, below 43.2 × 0.5 % = 21.6 %.
    spec = load(str(SPECS / "full.yaml"))
    delivery = next(e for e in ex.explain(spec, spec.slos) if e.slo == "delivery")
    first = delivery.conditions[0]
    assert _outcome(first.outcomes, ex.BURN_10X).detect.never
    assert _outcome(first.outcomes, ex.FULL_OUTAGE).detect.seconds == pytest.approx(0.216 * HOUR)


# ------------------------------------------------------------------ CLI
def test_cli_json_schema_and_table() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["explain", "-f", str(MINIMAL), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == "slogen/explain/v1"
    slo = doc["slos"][0]
    assert slo["budget_minutes"] == pytest.approx(43.2)
    first = slo["conditions"][0]
    assert (first["long"], first["short"], first["long_source"]) == ("1h", "5m", "raw")
    full = next(o for o in first["outcomes"] if o["scenario"] == "full_outage")
    assert full["detect"]["seconds"] == pytest.approx(51.84) and full["fires"] is True
    never = next(o for o in first["outcomes"] if o["scenario"] == "burn_10x")
    assert never["fires"] is False and never["detect"] == {"seconds": None, "seconds_max": None}
    text = runner.invoke(main, ["explain", "-f", str(MINIMAL)])
    assert text.exit_code == 0
    assert "43.2 min of full outage" in text.output and "52s–2m52s" in text.output


def test_cli_unknown_service_and_invalid_spec(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(main, ["explain", "-f", str(MINIMAL), "--service", "nope"])
    assert unknown.exit_code == 2 and "unknown service 'nope'" in unknown.output
    bad = tmp_path / "slos.yaml"
    bad.write_text("version: slogen/v1\nservices: 3\n")
    invalid = runner.invoke(main, ["explain", "-f", str(bad)])
    assert invalid.exit_code == 1 and "Traceback" not in invalid.output


# ------------------------------------------------------------------ against promtool
GOT = re.compile(r"got:\s*(nil|\[\]|\{[^}]*\}\s*(\S+))")


def first_firing(rules_dir: Path, name: str, alert: str, history_min: int, error_ratio: float,
                 run_min: int, evaluation_interval: str, service: str = "api") -> float | None:
    """Seconds after the errors start until promtool's rules first fire `alert`, or None.

    1000 requests a minute, one sample a minute: clean for `history_min` minutes, then
    `error_ratio` of them fail from the next minute on (the errors start at `history_min`).
    promtool writes ALERTS like a server, so one run finds the first firing sample: the earliest
    timestamp of ALERTS{alertstate="firing"} (asked against a sentinel expectation, read from
    promtool's "got" line).
    """
    bad = round(1000 * error_ratio)
    total = history_min + run_min
    series = [
        {"series": 'http_requests_total{job="api",code="200"}',
         "values": f"0+1000x{history_min} {1000 * history_min + 1000 - bad}+{1000 - bad}x{run_min - 1}"},
        {"series": 'http_requests_total{job="api",code="500"}',
         "values": f"0+0x{history_min} {bad}+{bad}x{run_min - 1}"},
    ]
    doc = yaml.safe_load((rules_dir / f"{service}.rules.yaml").read_text())
    onset = history_min * 60
    expr = (f'min_over_time(timestamp(ALERTS{{alertname="{alert}",alertstate="firing"}})[{total}m:1m])'
            f" - {onset}")
    suite = {"rule_files": [f"{service}.rules.yaml"], "evaluation_interval": evaluation_interval,
             "group_eval_order": [g["name"] for g in doc["groups"]],
             "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [
                 {"expr": expr, "eval_time": f"{total}m", "exp_samples": [{"labels": "{}", "value": -1e9}]}]}]}
    path = rules_dir / f"{name}.test.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False, width=1_000_000))
    result = promtool("test", "rules", str(path))
    match = GOT.search(result.stdout + result.stderr)
    assert result.returncode == 1 and match, result.stdout + result.stderr
    return None if match.group(1) in ("[]", "nil") else float(match.group(2))


@pytest.fixture(scope="module")
def api_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("explain-rules")
    for artifact in render(load(str(SUITE_SPEC))):
        if artifact.path.startswith("rules/"):
            (out / Path(artifact.path).name).write_text(artifact.text)
    return out


CASES = [
    # alert, scenario, clean history (min): the alert's longest window, run (min), promtool's step
    ("SLOErrorBudgetBurnPage", ex.FULL_OUTAGE, 6 * 60, 10, "1m"),
    ("SLOErrorBudgetBurnPage", ex.BURN_10X, 6 * 60, 4 * 60, "1m"),
    ("SLOErrorBudgetBurnTicket", ex.FULL_OUTAGE, 3 * 24 * 60, 15, "3m"),
    ("SLOErrorBudgetBurnTicket", ex.BURN_10X, 3 * 24 * 60, 8 * 60, "3m"),
]


@needs_prometheus
@pytest.mark.parametrize(("alert", "scenario", "history", "run_min", "step"), CASES,
                         ids=[f"{c[0][13:]}-{c[1]}" for c in CASES])
def test_detection_times_agree_with_promtool(api_rules: Path, alert: str, scenario: str, history: int,
                                             run_min: int, step: str) -> None:
    # promtool evaluates every group at every step, in file order, so it has none of a server's
    # lag: it fires on the first step at or after explain's earliest time. Allowed: one step of
    # promtool's grid, and one scrape interval (1m) by which rate() over sampled counters sees a
    # window's errors early (it extrapolates W − 1m of samples to W).
    explained = ex.explain_slo(load(str(SUITE_SPEC)).slos[0], load(str(SUITE_SPEC)))
    predicted = _outcome(next(a for a in explained.alerts if a.alert == alert).outcomes, scenario)
    assert predicted.detect.seconds is not None
    fired = first_firing(api_rules, f"{alert}-{scenario}", alert, history, float(predicted.scenario.error_ratio),
                         run_min, step)
    assert fired is not None, "promtool never fired"
    step_s = {"1m": 60, "3m": 180}[step]
    assert predicted.detect.seconds - 60 <= fired <= predicted.detect.seconds + step_s + 60, (fired, predicted)
    assert fired <= predicted.detect.seconds_max  # the documented worst case holds too



POLICY_CASES = [
    # the 7d SLO of tests/promtool/spec.yaml (99.9 %, freeze below 20 %): a clean period, then errors
    # from a whole hour on. A full outage spends 5.95 budgets an hour: at the first whole hour R is
    # already below 0, so the freeze is skipped (explain: may_skip) and the exhausted ticket fires.
    ("SLOErrorBudgetFreeze", ex.FULL_OUTAGE, 2 * 60),
    ("SLOErrorBudgetExhausted", ex.FULL_OUTAGE, 2 * 60),
    ("SLOErrorBudgetFreeze", ex.BURN_10X, 16 * 60),  # 6 % of the budget an hour: crosses 80 % at 13.44h
]


@needs_prometheus
@pytest.mark.slow
@pytest.mark.parametrize(("alert", "scenario", "run_min"), POLICY_CASES,
                         ids=[f"{c[0][14:]}-{c[1]}" for c in POLICY_CASES])
def test_policy_alert_times_agree_with_promtool(api_rules: Path, alert: str, scenario: str, run_min: int) -> None:
    # Budget remaining sums whole hours' tiles: on promtool's 5m grid the newest whole hour ends up
    # to 1h before the step, so R fires from explain's earliest (crossing + for: 15m) to 1h later,
    # plus one step and one scrape.
    spec = load(str(SUITE_SPEC))
    seven = next(s for s in spec.slos if s.service == "seven")
    predicted = _outcome(next(a for a in ex.explain_slo(seven, spec).alerts if a.alert == alert).outcomes, scenario)
    assert predicted.detect.seconds is not None and predicted.detect.seconds_max is not None
    fired = first_firing(api_rules, f"{alert}-{scenario}", alert, 7 * 24 * 60, float(predicted.scenario.error_ratio),
                         run_min, "5m", service="seven")
    if alert == "SLOErrorBudgetFreeze" and scenario == ex.FULL_OUTAGE:
        assert predicted.may_skip and fired is None
        return
    assert not predicted.may_skip
    assert fired is not None, "promtool never fired"
    assert predicted.detect.seconds - 60 <= fired <= predicted.detect.seconds + 3600 + 300 + 60, (fired, predicted)
    assert fired <= predicted.detect.seconds_max


def test_for_adds_its_pending_period_to_detection() -> None:
    from fractions import Fraction

    from slogen.spec.load import loads
    text = """\
version: slogen/v1
services:
  - name: api
    slos:
      - name: plain
        objective: 99.9
        sli: {ratio: {errors: 'e_total', total: 't_total'}}
      - name: held
        objective: 99.9
        sli: {ratio: {errors: 'e_total', total: 't_total'}}
        alerting: {page: {for: 2m}}
"""
    spec = loads(text)
    plain, held = (ex.burn_outcome(slo, spec, "page", Fraction(1)) for slo in spec.slos)
    assert plain is not None and held is not None
    # a full outage: 0.0144 × 3600 s = 51.84 s of errors, then the 2m pending period
    assert plain.detect.seconds == pytest.approx(51.84)
    assert held.detect.seconds == pytest.approx(51.84 + 120)
    assert held.reset == plain.reset  # an alert resolves as soon as its condition is false


def test_a_grouped_slo_says_its_figures_hold_per_group(tmp_path: Path) -> None:
    spec_file = tmp_path / "slos.yaml"
    spec_file.write_text("""\
version: slogen/v1
services:
  - name: api
    slos:
      - name: plain
        objective: 99.9
        sli: {ratio: {errors: 'e_total', total: 't_total'}}
      - name: routed
        objective: 99.9
        group_by: [route, method]
        sli: {ratio: {errors: 'e_total', total: 't_total'}}
""")
    runner = CliRunner()
    doc = json.loads(runner.invoke(main, ["explain", "-f", str(spec_file), "--json"]).output)
    plain, routed = doc["slos"]
    assert "group_by" not in plain  # only grouped SLOs carry the key, as in `status --json`
    assert routed["group_by"] == ["route", "method"]
    # Grouping changes no figure: each group is an SLO of its own with the same objective.
    assert routed["conditions"] == plain["conditions"]
    text = runner.invoke(main, ["explain", "-f", str(spec_file)]).output
    assert "api/routed (each route, method on its own): 99.9% over 30d" in text
    assert "api/plain: 99.9% over 30d" in text
