"""`slogen test`: generated promtool suites pass on the rendered rules and fail when a rule is edited."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from conftest import ROOT, SPECS
from prom import needs_prometheus
from slogen.cli import main
from slogen.model import ExprRatioSLI, GaugeSLI, LatencySLI, RatioSLI
from slogen.promql import Matcher, parse_selector
from slogen.render import alert_tests as gen
from slogen.spec.load import load


def _project(tmp_path: Path, spec_file: Path) -> Path:
    spec = tmp_path / "slos.yaml"
    shutil.copy(spec_file, spec)
    result = CliRunner().invoke(main, ["render", "-f", str(spec)])
    assert result.exit_code == 0, result.output
    return spec


# What `slogen test` cannot synthesise, with the reason it prints (docs/alert-tests.md).
NOT_YET = {"expr-ratio": {"home-wifi/wifi-client-satisfaction"}, "features": {"shop/rpc"}}


def _test(spec: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["test", "-f", str(spec), *args])


# ------------------------------------------------------------------ against promtool
@needs_prometheus
@pytest.mark.slow
@pytest.mark.parametrize("spec_file", [*sorted(SPECS.glob("*.yaml")), ROOT / "tests" / "promtool" / "spec.yaml",
                                       ROOT / "slos.yaml"],
                         ids=lambda p: p.parent.name if p.stem == "spec" else p.stem)
def test_generated_suites_pass_on_the_rendered_rules(tmp_path: Path, spec_file: Path) -> None:
    spec = _project(tmp_path, spec_file)
    result = _test(spec, "--run")
    assert result.exit_code == 0, result.output
    # every classic SLI kind of the golden specs gets its cases; the newer kinds and tuned alerts say why not
    skipped = {line.split(":")[0].removeprefix("skipped ") for line in result.output.splitlines()
               if line.startswith("skipped ")}
    assert skipped == NOT_YET.get(spec_file.stem, set()), result.output
    suites = sorted((tmp_path / "slogen-tests").glob("*.test.yaml"))
    if not suites:
        assert spec_file.stem in NOT_YET  # every SLO of this spec is one slogen cannot synthesise
        return
    assert all(f"pass {s}" in result.output for s in suites)
    # each SLO has its quiet, zero-traffic (not a gauge: every sample is an event) and step cases
    names = [t["name"] for s in suites for t in yaml.safe_load(s.read_text())["tests"]]
    for slo in load(str(spec)).slos:
        if f"{slo.service}/{slo.name}" in skipped:
            continue
        mine = [n for n in names if n.startswith(f"{slo.service}/{slo.name}: ")]
        assert any("silent" in n and "steady" in n for n in mine)
        assert any("zero traffic" in n for n in mine) != isinstance(slo.sli, GaugeSLI)
        assert any(" then " in n for n in mine)
        if slo.group_by:
            assert all("only the first fires" in n for n in mine if " then " in n)
        if slo.alerting.min_events:
            assert any("no page" in n for n in mine) and any("pages" in n for n in mine)


@needs_prometheus
@pytest.mark.parametrize(("pattern", "replacement", "suite"), [
    (r"> 0\.0144\b", "> 0.0288", "api.3m"),  # page 1h/5m threshold doubled: never fires at 1.5× the real one
    (r"> 0\.0144\b", "> 0.0072", "api.3m"),  # halved: fires well before the expected time
    (r"> 0\.001(?=\n| \*)", "> 0.002", "api.1h"),  # the ticket's 3d/6h row (6h as errors > t × events)
])
def test_a_hand_edited_threshold_fails(tmp_path: Path, pattern: str, replacement: str, suite: str) -> None:
    spec = _project(tmp_path, SPECS / "minimal.yaml")
    rule_file = tmp_path / "rules" / "api.rules.yaml"
    text, count = re.subn(pattern, replacement, rule_file.read_text())
    assert count == 2  # both windows of the row
    rule_file.write_text(text)
    result = _test(spec, "--run")
    assert result.exit_code == 1, result.output
    assert "of 4 suites failed" in result.output
    assert f"FAIL {tmp_path / 'slogen-tests' / suite}.test.yaml" in result.output


def _only(tmp_path: Path, suite: str, part: str) -> subprocess.CompletedProcess[str]:
    """promtool on the cases of `suite` whose name has `part` (the rest of the suite costs time)."""
    out = tmp_path / "slogen-tests"
    doc = yaml.safe_load((out / f"{suite}.test.yaml").read_text())
    doc["tests"] = [t for t in doc["tests"] if part in t["name"]]
    assert doc["tests"], f"no case of {suite} has {part!r}"
    (out / "only.test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    promtool = shutil.which("promtool")
    assert promtool
    return subprocess.run([promtool, "test", "rules", "only.test.yaml"], cwd=out, capture_output=True,
                          text=True, timeout=300)


@needs_prometheus
@pytest.mark.parametrize(("pattern", "replacement", "count", "suite", "case", "said"), [
    # the grouped SLO's page fires for the clean group too: "only that group's alert" fails
    (r"> 0\.0672\n", ">= 0\n", 2, "shop.3m", "shop/checkout: page 1h/5m",
     'got: {method="group-a", route="group-a"} 1E+00, {method="group-b", route="group-b"} 1E+00'),
    # min_events dropped to 1: the small burst pages
    (r"(\* \d+ >= )100\n", r"\g<1>1\n", 2, "shop.3m", "shop/availability: min_events 100: 33",
     'slo=\\"availability\\"'),
    # the gauge SLO's page threshold doubled: 1.5 × the real one never fires
    (r"> 0\.2016\n", "> 0.4032\n", 2, "shop.3m", "shop/uptime: page 1h/5m", 'slo=\\"uptime\\"'),
])
def test_new_kinds_fail_on_a_hand_edited_rule(tmp_path: Path, pattern: str, replacement: str, count: int,
                                              suite: str, case: str, said: str) -> None:
    spec = _project(tmp_path, SPECS / "features.yaml")
    assert _test(spec).exit_code == 0
    assert _only(tmp_path, suite, case).returncode == 0  # as rendered, these cases pass
    rule_file = tmp_path / "rules" / "shop.rules.yaml"
    text, n = re.subn(pattern, replacement, rule_file.read_text())
    assert n >= count  # at least the page's rows (the tickets' min_events terms too)
    rule_file.write_text(text)
    failed = _only(tmp_path, suite, case)
    assert failed.returncode == 1 and said in failed.stderr, failed.stdout + failed.stderr


@needs_prometheus
def test_a_removed_for_fails(tmp_path: Path) -> None:
    """The page's `for: 30m` puts its firing 30m later: without it the alert fires before the
    "silent" check, so a rule file that lost its `for` fails."""
    spec = tmp_path / "slos.yaml"
    spec.write_text((SPECS / "minimal.yaml").read_text() + "        alerting:\n          page: {for: 30m}\n")
    result = CliRunner().invoke(main, ["render", "-f", str(spec)])
    assert result.exit_code == 0, result.output
    assert _test(spec).exit_code == 0
    names = [t["name"] for t in yaml.safe_load((tmp_path / "slogen-tests" / "api.3m.test.yaml").read_text())["tests"]]
    assert "api/availability: page 1h/5m (for 30m): clean for 6h, then 2.16% errors (1.5x its threshold 0.0144)" in names
    assert _only(tmp_path, "api.3m", "page 1h/5m (for 30m)").returncode == 0
    rule_file = tmp_path / "rules" / "api.rules.yaml"
    text, n = re.subn(r"\n    for: 30m\n", "\n", rule_file.read_text())
    assert n == 1  # the page rule (both of its rows share the `for`)
    rule_file.write_text(text)
    failed = _only(tmp_path, "api.3m", "page 1h/5m (for 30m)")
    assert failed.returncode == 1, failed.stdout + failed.stderr


EXPR_RATIO_SPEC = """version: slogen/v1
services:
  - name: api
    slos:
      - name: availability
        objective: 99.9
        sli:
          expr:
            ratio: |
              sum(rate(http_requests_total{job="api",code=~"5.."}[$window]))  # errors
              /
              sum(rate(http_requests_total{job="api"}[$window]))
"""


@needs_prometheus
def test_an_expr_ratio_of_counter_sums_gets_cases_that_can_fail(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(EXPR_RATIO_SPEC)
    assert CliRunner().invoke(main, ["render", "-f", str(spec)]).exit_code == 0
    result = _test(spec, "--run")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    names = [t["name"] for t in yaml.safe_load((tmp_path / "slogen-tests" / "api.3m.test.yaml").read_text())["tests"]]
    assert [n.split(": ")[1] for n in names] == ["steady errors at 0.4x the budget rate", "zero traffic",
                                                 "page 1h/5m"]
    rule_file = tmp_path / "rules" / "api.rules.yaml"
    text, n = re.subn(r"> 0\.0144\n", "> 0.0288\n", rule_file.read_text())
    assert n == 2
    rule_file.write_text(text)
    assert _only(tmp_path, "api.3m", "page 1h/5m").returncode == 1


def test_expr_ratio_feed_splits_the_counters_and_skips_other_shapes() -> None:
    spec = load(str(SPECS / "minimal.yaml"))
    slo = spec.slos[0]
    ratio = ExprRatioSLI('sum(rate(rpc_errors_total{svc="a"}[$window])) / (sum(increase(rpc_calls_total{svc="a"}[$window])))')
    f = gen.feed(type(slo)(**{**slo.__dict__, "sli": ratio}))
    assert f.all_events == ('rpc_calls_total{svc="a"}',) and f.bad == ('rpc_errors_total{svc="a"}',)
    for other in ("1 - avg_over_time(up[$window])", "sum(rate(a[$window])) / sum(rate(b[5m]))"):
        with pytest.raises(gen.Unsupported, match=r"an expr\.ratio SLI not of the form"):
            gen.feed(type(slo)(**{**slo.__dict__, "sli": ExprRatioSLI(other)}))


def test_gauge_feed_is_many_zero_one_series() -> None:
    spec = load(str(SPECS / "features.yaml"))
    uptime = next(s for s in spec.slos if isinstance(s.sli, GaugeSLI))
    f = gen.feed(uptime)
    assert len(f.gauge) == gen.events_per_minute(uptime, f) == 100 and not (f.all_events or f.bad or f.good)
    assert f.gauge[0] == 'probe_success{instance="shop",job="blackbox",slogen_test_series="0"}'
    # 3 of 100 series at 0 in the second segment: series 2 is 0 there, series 3 stays 1
    assert gen.gauge([(10, 0), (5, 3)], 2) == "1x10 0x4" and gen.gauge([(10, 0), (5, 3)], 3) == "1x10 1x4"


def test_grouped_feed_puts_each_group_on_every_series() -> None:
    spec = load(str(SPECS / "features.yaml"))
    checkout = next(s for s in spec.slos if s.group_by)
    a, b = gen.groups(checkout)
    assert a == {"route": "group-a", "method": "group-a"} and b == {"route": "group-b", "method": "group-b"}
    series = [s["series"] for s in gen.traffic(checkout, gen.feed(checkout), 1000, [(5, 10)])]
    assert len(series) == 6 and sum('route="group-a"' in s and 'method="group-a"' in s for s in series) == 3


def test_grouped_slo_on_a_label_its_selector_matches_is_skipped(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text((SPECS / "minimal.yaml").read_text().replace("        sli:\n", "        group_by: [code]\n        sli:\n"))
    assert gen.generate(load(str(spec)), "../rules").skipped == (
        ("api/availability", "a grouping label the SLI's selectors match on: slogen cannot pick two groups"),)


@needs_prometheus
def test_unedited_minimal_passes_and_second_write_changes_nothing(tmp_path: Path) -> None:
    spec = _project(tmp_path, SPECS / "minimal.yaml")
    first = _test(spec, "--run")
    assert first.exit_code == 0, first.output
    again = _test(spec)
    assert again.exit_code == 0 and "0 written" in again.output


def test_run_without_promtool_exits_3(tmp_path: Path) -> None:
    spec = _project(tmp_path, SPECS / "minimal.yaml")
    result = CliRunner().invoke(main, ["test", "-f", str(spec), "--run"], env={"PATH": str(tmp_path / "empty")})
    assert result.exit_code == 3
    assert "promtool is not on PATH" in result.output


def test_run_without_rendered_rules_says_render_first(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    shutil.copy(SPECS / "minimal.yaml", spec)
    result = _test(spec, "--run")
    assert result.exit_code == 1 and "run 'slogen render' first" in result.output


def test_invalid_spec_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text("version: slogen/v1\nservices: []\n")
    result = _test(spec)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not (tmp_path / "slogen-tests").exists()


# ------------------------------------------------------------------ series from selectors
def _ratio(errors: str, total: str) -> gen.Feed:
    spec = load(str(SPECS / "minimal.yaml"))
    slo = spec.slos[0]
    return gen.feed(type(slo)(**{**slo.__dict__, "sli": RatioSLI(total=total, errors=errors)}))


def test_feed_for_an_errors_regex_inside_the_total() -> None:
    f = _ratio('http_requests_total{job="payments",code=~"5..|429"}', 'http_requests_total{job="payments"}')
    assert f.all_events == ()
    (bad,), (good,) = f.bad, f.good
    total = parse_selector('http_requests_total{job="payments"}')
    errors = parse_selector('http_requests_total{job="payments",code=~"5..|429"}')
    bad_labels = dict(re.findall(r'(\w+)="([^"]*)"', bad))
    good_labels = dict(re.findall(r'(\w+)="([^"]*)"', good))
    assert gen.matches(total, "http_requests_total", bad_labels) and gen.matches(errors, "http_requests_total", bad_labels)
    assert gen.matches(total, "http_requests_total", good_labels)
    assert not gen.matches(errors, "http_requests_total", good_labels)


def test_feed_for_separate_error_and_total_counters() -> None:
    f = _ratio('rpc_errors_total{svc="a"}', 'rpc_calls_total{svc="a"}')
    assert f.all_events == ('rpc_calls_total{svc="a"}',) and f.bad == ('rpc_errors_total{svc="a"}',)


def test_satisfy_negative_matchers() -> None:
    labels = gen.satisfy([Matcher("code", "!~", "5..|0"), Matcher("job", "!=", "x"), Matcher("env", "=~", "prod|stag")])
    assert labels is not None
    assert not re.fullmatch("5..|0", labels.get("code", "")) and labels.get("job") != "x"
    assert labels["env"] == "prod"


def test_latency_feed_uses_the_threshold_bucket() -> None:
    spec = load(str(SPECS / "full.yaml"))
    latency = next(s for s in spec.slos if isinstance(s.sli, LatencySLI))
    f = gen.feed(latency)
    assert f.good == ('http_request_duration_seconds_bucket{job="payments",le="0.3",route="/charge"}',)
    assert 'http_request_duration_seconds_count{job="payments",route="/charge"}' in f.all_events


def test_expr_of_another_shape_is_skipped_with_a_reason(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text((SPECS / "minimal.yaml").read_text().replace(
        '          ratio:\n            errors: http_requests_total{job="api",code=~"5.."}\n'
        '            total: http_requests_total{job="api"}\n',
        '          expr:\n            errors: sum(rate(a_total[$window])) - sum(rate(b_total[$window]))\n'
        '            total: sum(rate(c_total[$window]))\n'))
    suites = gen.generate(load(str(spec)), "../rules")
    assert suites.skipped == (("api/availability", "an expr SLI not of the form sum(rate(selector[$window])) "
                                                   "or sum(increase(…))"),)
    result = _test(spec)
    assert result.exit_code == 0 and "skipped api/availability" in result.output


def test_counter_notation() -> None:
    assert gen.counter([(3, 10), (2, 4)]) == "0 10+10x2 34+4x1"
