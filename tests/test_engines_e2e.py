"""The same rendered rules give the same exact budgets on Prometheus 2.42 and on VictoriaMetrics + vmalert.

One synthetic history (1-minute counters for 6 hours, every SLI kind, each SLO with a constant
error ratio chosen for a different deploy state) is loaded into both engines:

* Prometheus: the rules' history is evaluated by Prometheus itself in dependency passes
  (tests/rulehist.py), and a Prometheus with the rule files loaded is queried at END;
* VictoriaMetrics: vmalert replays the rendered files over the last 4 hours, stage by stage (the
  stages' groups have no dependency on each other within a replay, so no rules delay is needed),
  and VictoriaMetrics is queried at END.

Expected values are computed here from the history's constants: with a constant ratio r, every
window's ratio is r, budget remaining is 1 − r ÷ budget, the 1h burn rate r ÷ budget, and the
state follows from the policy; a 3h window of short tiles, read the way the ticket reads its long
windows, holds exactly 3h of events. Both engines must agree with them within 1e-9 relative.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from prom import instant, needs_prometheus, prometheus
from rulehist import build_history
from slogen import conventions as c
from slogen.promql import render as render_expr
from slogen.render import promql_builders as q
from slogen.render import render
from slogen.spec.load import loads
from vm import import_samples, needs_victoria_metrics, query, replay, victoria_metrics

pytestmark = [needs_prometheus, needs_victoria_metrics]

HOUR, MINUTE = 3600, 60
END = (int(time.time()) // HOUR - 3) * HOUR  # a whole hour, in the past: live rules never touch it
START = END - 6 * HOUR
REPLAY_FROM = END - 4 * HOUR
EVENTS_PER_MINUTE = 1200


@dataclass(frozen=True)
class Case:
    service: str
    objective: str  # percent, as written in the spec
    error_ratio: Fraction
    state: str
    sli: str  # the spec's sli block (flow YAML)

    @property
    def budget(self) -> Fraction:
        return 1 - Fraction(self.objective) / 100


CASES = (
    Case("errors", "99.5", Fraction(3, 1000), "WARNING",  # R = 0.4
         "{ratio: {errors: 'req_total{job=\"errors\",code=\"500\"}', total: 'req_total{job=\"errors\"}'}}"),
    Case("good", "99.9", Fraction(1, 10000), "NORMAL",  # R = 0.9
         "{ratio: {good: 'req_total{job=\"good\",code=\"200\"}', total: 'req_total{job=\"good\"}'}}"),
    Case("latency", "99", Fraction(9, 1000), "FREEZE",  # R = 0.1
         "{latency: {metric: rpc_seconds, selector: {job: latency}, threshold: 250ms}}"),
    Case("expr", "99", Fraction(2, 100), "EXHAUSTED",  # R = −1
         "{expr: {errors: 'sum(increase(jobs_total{result=\"failed\"}[$window]))',"
         " total: 'sum(increase(jobs_total[$window]))'}}"),
)


def spec_text() -> str:
    lines = ["version: slogen/v1", "services:"]
    for case in CASES:
        lines += [f"  - name: {case.service}", "    slos:", "      - name: slo", f"        objective: {case.objective}",
                  f"        sli: {case.sli}"]
    return "\n".join(lines) + "\n"


def samples() -> list[tuple[str, list[tuple[int, float]]]]:
    """(series, [(time, cumulative value)]) for every raw counter, one sample a minute."""
    out: list[tuple[str, list[tuple[int, float]]]] = []
    times = range(START, END + HOUR + 1, MINUTE)
    for case in CASES:
        bad = float(EVENTS_PER_MINUTE * case.error_ratio)
        good = EVENTS_PER_MINUTE - bad
        if case.service in ("errors", "good"):
            out += [(f'req_total{{job="{case.service}",code="500"}}', [(t, 7 + bad * i) for i, t in enumerate(times)]),
                    (f'req_total{{job="{case.service}",code="200"}}', [(t, 1e4 + good * i) for i, t in enumerate(times)])]
        elif case.service == "latency":  # the threshold's bucket written the Python client's way, le="0.25"
            for le, share in (("0.1", good / 2), ("0.25", good), ("+Inf", EVENTS_PER_MINUTE)):
                out.append((f'rpc_seconds_bucket{{job="latency",le="{le}"}}', [(t, share * i) for i, t in enumerate(times)]))
            out.append(('rpc_seconds_count{job="latency"}', [(t, EVENTS_PER_MINUTE * i) for i, t in enumerate(times)]))
        else:
            out += [('jobs_total{result="failed"}', [(t, bad * i) for i, t in enumerate(times)]),
                    ('jobs_total{result="ok"}', [(t, good * i) for i, t in enumerate(times)])]
    return out


def expected(case: Case) -> dict[str, float]:
    ratio = case.error_ratio / case.budget
    return {c.BUDGET_REMAINING: float(1 - ratio), c.BURN_RATE_1H: float(ratio),
            c.STATE: float(c.STATE_CODES[case.state])}


def rule_files() -> dict[str, str]:
    return {a.path: a.text for a in render(loads(spec_text())) if a.path.startswith("rules/")}


def stage_files(files: dict[str, str], out: Path) -> list[list[Path]]:
    """The rendered groups split into replay levels: each level reads only what earlier levels wrote."""
    levels = ((c.STAGE_SLI, c.STAGE_TILES, c.STAGE_HOURS), (c.STAGE_ALERTS, c.STAGE_BUDGET), (c.STAGE_STATE,))
    paths: list[list[Path]] = []
    for n, stages in enumerate(levels):
        level = []
        for name, text in files.items():
            groups = [g for g in yaml.safe_load(text)["groups"] if g["name"].split(":")[2] in stages]
            path = out / f"level{n}-{Path(name).name}"
            path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
            level.append(path)
        paths.append(level)
    return paths


def values_by_service(result: list[dict[str, Any]]) -> dict[str, float]:
    return {r["metric"][c.LABEL_SERVICE]: float(r["value"][1]) for r in result}


def assert_exact(engine: str, got: dict[str, dict[str, float]]) -> None:
    for case in CASES:
        for name, want in expected(case).items():
            value = got[name].get(case.service)
            assert value is not None, (engine, case.service, name)
            assert value == pytest.approx(want, rel=1e-9, abs=1e-12), (engine, case.service, name, value, want)


NAMES = (c.BUDGET_REMAINING, c.BURN_RATE_1H, c.STATE)
# A long window as the ticket reads it (a sum of short tiles) over 3h, the longest the replay covers:
# on the whole hour END and 20 minutes before it.
TILED_WINDOW, TILED_AT = "3h", (END, END - 20 * MINUTE)
COUNTED = ("errors", "good", "latency")  # events in events per second (expr's tiles are increases)


def window_queries() -> dict[str, tuple[str, str]]:
    """Per service: the 3h tiled window's ratio and events (a count: Σ 3m tiles × 180 s)."""
    return {slo.service: (render_expr(q.tiled_ratio(slo, TILED_WINDOW)), render_expr(q.tiled_events(slo, TILED_WINDOW)))
            for slo in loads(spec_text()).slos}


def assert_tiled_window(engine: str, got: dict[tuple[str, int], tuple[float, float]]) -> None:
    # a constant ratio in every tile, and 3h of events: no tile counted twice or left out
    for case in CASES:
        for at in TILED_AT:
            ratio, events = got[(case.service, at)]
            assert ratio == pytest.approx(float(case.error_ratio), rel=1e-9), (engine, case.service, at)
            if case.service in COUNTED:
                assert events == pytest.approx(EVENTS_PER_MINUTE * 180, rel=1e-9), (engine, case.service, at)


def test_victoria_metrics_and_vmalert_give_the_exact_budgets(tmp_path: Path) -> None:
    files = rule_files()
    with victoria_metrics() as url:
        import_samples(url, [f"{series} {value!r} {t * 1000}" for series, points in samples() for t, value in points])
        for level in stage_files(files, tmp_path):
            replay(url, level, REPLAY_FROM, END, "-replay.rulesDelay=0s")
        got = {name: values_by_service(query(url, name, END)) for name in NAMES}
        coverage = values_by_service(query(url, c.PERIOD_COVERAGE, END))
        windows = {(service, at): tuple(float(query(url, expr, at)[0]["value"][1]) for expr in exprs)
                  for service, exprs in window_queries().items() for at in TILED_AT}
    assert_exact("victoria-metrics", got)
    assert_tiled_window("victoria-metrics", windows)
    # hour tiles picked at the whole hours of the replay: END − 4h … END
    assert coverage == pytest.approx({case.service: 5 / 720 for case in CASES}, rel=1e-9)


def test_prometheus_gives_the_exact_budgets(tmp_path: Path) -> None:
    files = rule_files()
    raw = [f"{series} {value!r} {t}" for series, points in samples() for t, value in points]
    store = tmp_path / "blocks"
    # every recording over the last 4h, so the 3h window finds its tiles
    build_history("\n".join(["# TYPE req counter", *raw, "# EOF", ""]), list(files.values()), END, store,
                  span=4 * HOUR)
    config = "global: {evaluation_interval: 1m}\nrule_files:\n" + "".join(f"  - {p}\n" for p in sorted(files))
    with prometheus(config, data_dir=store, files=files) as (url, _):
        got = {name: values_by_service(instant(url, name, END)) for name in NAMES}
        windows = {(service, at): tuple(float(instant(url, expr, at)[0]["value"][1]) for expr in exprs)
                  for service, exprs in window_queries().items() for at in TILED_AT}
    assert_exact("prometheus", got)
    assert_tiled_window("prometheus", windows)
