"""`slogen status` and `slogen gate` end to end, on a real Prometheus holding 30 days of history.

How the history is made (nothing here writes a budget value it expects):

1. A generator writes raw counters (`http_requests_total{job,status}`, one sample a minute for
   30 days + 3 hours, diurnal traffic, background errors, an incident, a distinct last hour) for
   five services meant to land in NORMAL, CAUTION, WARNING, FREEZE and EXHAUSTED, and keeps its
   cumulative counts. A sixth service in the spec has no data at all.
2. `slogen render` produces the rule files for that spec. Their recording rules are evaluated by
   Prometheus itself, in passes ordered by dependency (a rule reading another recorded series
   runs in a later pass): each rule's `expr` runs as a range query at its group's interval,
   aligned to multiples of that interval, over the span its consumers need; the results are
   written as OpenMetrics under the rule's `record` name and labels and backfilled with promtool.
   This is what Prometheus would have recorded with an evaluation phase of 0 (recording rules are
   not retroactive, so a live server cannot produce history).
3. A final Prometheus runs on all blocks *with the rendered rule files loaded*, and the CLI is
   run against it with `--time END`.

Expected values come from the generator's counts. Window definitions (those of the rendered
rules, docs/rules.md): the period ratio sums the hourly tiles recorded at the hour marks h with
END − W < h ≤ END, each tile covering (h − 1h, h]; so the period is [H − W, H] with H the last
hour mark at or before END. The 1h burn rate covers [END − 1h, END]. Days to exhaustion is
R × window days ÷ burn rate. END is 30 minutes past an hour so both definitions are exercised.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from prom import needs_prometheus, prometheus
from rulehist import build_history, openmetrics, recording_rules
from slogen import conventions as c
from slogen.durations import parse_duration
from slogen.render import render as render_bundle
from slogen.slo.policy import POLICY
from slogen.spec.load import loads

pytestmark = needs_prometheus

HOUR, DAY, MINUTE = 3600, 86400, 60
SCRAPE = MINUTE


@dataclass(frozen=True)
class Service:
    name: str
    objective: float  # percent
    window: str
    base_rate: float  # events per second, mean
    background: float  # error fraction
    incident: float  # error fraction for 3 hours, 10 days before END
    last_hour: float  # error fraction in the last hour
    state: str
    good_form: bool = False  # `good:` instead of `errors:` in the SLI


SERVICES = (
    Service("ledger", 99.9, "30d", 40.0, 0.0001, 0.002, 0.0, "NORMAL"),
    Service("search", 99.5, "30d", 120.0, 0.0012, 0.05, 0.003, "CAUTION", good_form=True),
    Service("images", 99.0, "7d", 15.0, 0.006, 0.0, 0.02, "WARNING"),
    Service("billing", 99.9, "30d", 25.0, 0.0009, 0.0, 0.0009, "FREEZE"),
    Service("auth", 99.95, "30d", 60.0, 0.0007, 0.03, 0.0, "EXHAUSTED"),
)
GHOST = "ghost"  # declared in the spec, no data anywhere
GATE_CODES = {"NORMAL": 0, "CAUTION": 0, "WARNING": 1, "FREEZE": 2, "EXHAUSTED": 3}


def spec_text() -> str:
    lines = ["version: slogen/v1", "grafana: {url: 'http://grafana.example:3000'}", "services:"]
    for s in (*SERVICES, Service(GHOST, 99.9, "30d", 0, 0, 0, 0, "UNKNOWN")):
        bad = f'{{job="{s.name}",status=~"5.."}}'
        good = f'{{job="{s.name}",status!~"5.."}}'
        kind = f"good: 'http_requests_total{good}'" if s.good_form else f"errors: 'http_requests_total{bad}'"
        lines += [f"  - name: {s.name}", "    labels: {team: t-" + s.name + "}", "    slos:",
                  "      - name: availability", f"        objective: {s.objective}", f"        window: {s.window}",
                  f"        sli: {{ratio: {{{kind}, total: 'http_requests_total{{job=\"{s.name}\"}}'}}}}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ raw history


@dataclass
class Counts:
    times: list[int]
    ok: list[float]  # cumulative status="200"
    bad: list[float]  # cumulative status="500"

    def at(self, t: int) -> tuple[float, float]:
        """(events, errors) counters at sample time t."""
        i = (t - self.times[0]) // SCRAPE
        assert self.times[i] == t
        return self.ok[i] + self.bad[i], self.bad[i]

    def ratio(self, start: int, end: int) -> float:
        e1, b1 = self.at(end)
        e0, b0 = self.at(start)
        return (b1 - b0) / (e1 - e0)


def generate(service: Service, start: int, end: int) -> Counts:
    """Counters a minute apart: diurnal traffic (±50 %), error fraction per minute by schedule."""
    w = 2 * math.pi / DAY
    phase = sum(map(ord, service.name)) % 628 / 100  # stable across runs (unlike hash())

    def cumulative(t: int) -> float:
        return service.base_rate * ((t - start) + 0.5 / w * (math.cos(w * start + phase) - math.cos(w * t + phase)))

    times = list(range(start, end + 1, SCRAPE))
    ok, bad = [1e6], [1e3]  # counters start non-zero, as after a long uptime
    incident = (end - 10 * DAY, end - 10 * DAY + 3 * HOUR)
    for prev, t in itertools.pairwise(times):
        events = cumulative(t) - cumulative(prev)
        if t > end - HOUR:
            fraction = service.last_hour
        elif incident[0] < t <= incident[1]:
            fraction = service.incident
        else:
            fraction = service.background
        ok.append(ok[-1] + events * (1 - fraction))
        bad.append(bad[-1] + events * fraction)
    return Counts(times, ok, bad)


# ------------------------------------------------------------------------------ the fixture


@dataclass
class World:
    url: str
    end: int
    spec: Path
    work: Path
    counts: dict[str, Counts]

    def expected(self, service: Service) -> dict[str, Any]:
        counts = self.counts[service.name]
        budget = 1 - service.objective / 100
        last_hour_mark = self.end // HOUR * HOUR
        ratio = counts.ratio(last_hour_mark - int(parse_duration(service.window)), last_hour_mark)
        remaining = 1 - ratio / budget
        burn = counts.ratio(self.end - HOUR, self.end) / budget
        days = 0.0 if remaining <= 0 else (None if burn == 0 else remaining * int(service.window[:-1]) / burn)
        return {"sli": 1 - ratio, "error_budget_remaining": remaining, "burn_rate_1h": burn,
                "days_to_exhaustion": days}

    def run(self, *args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
        when = [] if "--time" in args else ["--time", str(self.end)]
        return subprocess.run([sys.executable, "-m", "slogen", *args, "-f", str(self.spec), *when],
                              capture_output=True, text=True, env=_env(self.url, env), cwd=self.work, timeout=120,
                              **kw)


def _env(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OVERRIDE_", "GITHUB_", "CI_", "BUILD_", "FORCE_COLOR", "NO_COLOR"))}
    return env | {"PROMETHEUS_URL": url} | (extra or {})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("status-e2e")
    end = (int(time.time()) // HOUR - 3) * HOUR + 30 * MINUTE  # in the past: live rules never touch it
    start = end - 30 * DAY - 3 * HOUR
    counts = {s.name: generate(s, start, end) for s in SERVICES}
    raw: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    for name, cnt in counts.items():
        for status, values in (("200", cnt.ok), ("500", cnt.bad)):
            raw[("http_requests_total", (("job", name), ("status", status)))] = list(
                zip(cnt.times, values, strict=True))
    spec_path = work / "slos.yaml"
    spec_path.write_text(spec_text())
    rule_files = {a.path: a.text for a in render_bundle(loads(spec_text())) if a.path.startswith("rules/")}
    assert len(rule_files) == len(SERVICES) + 1
    intervals = {r.interval for r in recording_rules(list(rule_files.values()))}
    # The series status reads at END must be evaluated AT END: END must fall on every sub-hourly
    # group's evaluation grid (the hourly tiles are read through ranges, so any hour mark will do).
    assert all(end % i == 0 for i in intervals if i < HOUR), f"END {end} is off the grid of {intervals}"
    store = work / "blocks"
    build_history(openmetrics(raw), list(rule_files.values()), end, store)
    config = "global: {evaluation_interval: 30s}\nrule_files:\n" + "".join(f"  - {p}\n" for p in sorted(rule_files))
    with prometheus(config, data_dir=store, files=rule_files) as (url, _):
        groups = requests.get(url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
        rendered = sum(len(yaml.safe_load(text)["groups"]) for text in rule_files.values())
        assert len(groups) == rendered  # the rendered rules load as they are
        yield World(url, end, spec_path, work, counts)


# ------------------------------------------------------------------------------ the tests


def test_generated_history_lands_in_every_state(world: World) -> None:
    # Guard the data set itself: each service is meant for one state, away from the boundaries.
    for s in SERVICES:
        remaining = world.expected(s)["error_budget_remaining"] * 100
        assert {"NORMAL": remaining > 85, "CAUTION": 55 < remaining < 75, "WARNING": 25 < remaining < 45,
                "FREEZE": 5 < remaining < 15, "EXHAUSTED": remaining < -5}[s.state], (s.name, remaining)


def test_status_json_matches_the_generator(world: World) -> None:
    result = world.run("status", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "slogen/status/v1" and doc["state"] == "UNKNOWN"  # the ghost has no data
    assert doc["time"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(world.end))
    by = {s["service"]: s for s in doc["slos"]}
    assert list(by) == [*(s.name for s in SERVICES), GHOST]
    for s in SERVICES:
        got, want = by[s.name], world.expected(s)
        assert (got["slo"], got["objective"], got["window"], got["state"]) == (
            "availability", pytest.approx(s.objective / 100, rel=1e-12), s.window, s.state)
        assert got["policy"]
        for key, value in want.items():
            if value is None:
                assert got[key] is None, (s.name, key)
            else:
                assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-12), (s.name, key, got[key], value)
    assert by["ledger"]["burn_rate_1h"] == 0 and by["ledger"]["days_to_exhaustion"] is None
    assert by["auth"]["days_to_exhaustion"] == 0
    rfc3339 = world.run("status", "--json", "--time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(world.end)))
    assert json.loads(rfc3339.stdout) == doc  # the same instant, written the other way
    ghost = by[GHOST]
    assert (ghost["state"], ghost["sli"], ghost["error_budget_remaining"], ghost["days_to_exhaustion"]) == (
        "UNKNOWN", None, None, None)


def test_rules_and_python_agree_on_days_and_state(world: World) -> None:
    # The rendered metadata rules record days and state too; Python's one definition must agree.
    doc = json.loads(world.run("status", "--json").stdout)
    by = {s["service"]: s for s in doc["slos"]}

    def recorded(expr: str) -> dict[str, float]:
        body = requests.get(world.url + "/api/v1/query", params={"query": expr, "time": world.end}, timeout=10).json()
        return {r["metric"]["service"]: float(r["value"][1]) for r in body["data"]["result"]}

    days, states = recorded(c.DAYS_TO_EXHAUSTION), recorded(c.STATE)
    # Only samples recorded AT END: backfilled blocks carry no staleness markers, so a series the
    # rule stopped producing would otherwise still show its last value for 5 minutes.
    days_at_end = recorded(f"{c.DAYS_TO_EXHAUSTION} and timestamp({c.DAYS_TO_EXHAUSTION}) == {world.end}")
    for s in SERVICES:
        assert states[s.name] == c.STATE_CODES[s.state]
        if by[s.name]["days_to_exhaustion"] is None:
            assert s.name not in days_at_end  # no burn: the rule records nothing ("never")
        else:
            assert days_at_end[s.name] == days[s.name]
            assert days[s.name] == pytest.approx(by[s.name]["days_to_exhaustion"], rel=1e-9, abs=1e-12)


def test_status_table_and_colour(world: World) -> None:
    plain = world.run("status")
    assert plain.returncode == 0, plain.stderr
    assert "\x1b[" not in plain.stdout  # not a TTY: no colour codes
    for s in SERVICES:
        assert re.search(rf"{s.name}\s+availability\s+{s.objective:g}% / {s.window}\s.*{s.state}", plain.stdout), s.name
    assert "no data yet for ghost/availability: the rules are loaded" in plain.stdout
    coloured = world.run("status", env={"FORCE_COLOR": "1"})
    assert "\x1b[32m" in coloured.stdout  # NORMAL in green
    no_color = world.run("status", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert not re.search(r"\x1b\[[0-9;]*3[0-9]", no_color.stdout)  # no foreground colours
    narrowed = json.loads(world.run("status", "--json", "--service", "images").stdout)
    assert [s["service"] for s in narrowed["slos"]] == ["images"] and narrowed["state"] == "WARNING"


def _ctrl_c_as_in_a_terminal() -> None:
    # A job started in the background by a non-interactive shell (`.ci/run &`) inherits SIGINT
    # ignored, and Python keeps it so; a terminal's Ctrl-C reaches a process with the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_status_watch_refreshes_until_ctrl_c(world: World) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "slogen", "status", "-f", str(world.spec), "--time",
                             str(world.end), "--json", "--watch", "--interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(world.url),
                            preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]  # three refreshes, one JSON document each
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert [json.loads(line)["state"] for line in lines] == ["UNKNOWN"] * 3


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_gate_exit_code_per_state(world: World, service: Service) -> None:
    result = world.run("gate", "--service", service.name)
    assert result.returncode == GATE_CODES[service.state], result.stdout + result.stderr
    assert result.stdout.startswith(f"gate: {service.state} ")
    want = world.expected(service)
    assert f"budget remaining: {want['error_budget_remaining'] * 100:.2f}%" in result.stdout
    assert f"policy: {POLICY[service.state]}" in result.stdout


def test_gate_over_everything_is_undecided_because_of_the_ghost(world: World, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    out = tmp_path / "gate.json"
    result = world.run("gate", "--json", str(out), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 99
    assert "error: no data yet for ghost/availability: the rules are loaded" in result.stderr
    doc = json.loads(out.read_text())
    assert (doc["state"], doc["exit_code"], doc["deciding_slo"]) == ("UNKNOWN", 99, {"service": GHOST,
                                                                                      "slo": "availability"})
    assert "## Deploy gate: UNKNOWN (blocked)" in summary.read_text()
    ok = world.run("gate", "--slo", "availability", "--service", "search", "--json", str(out),
                   env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert ok.returncode == 0
    doc = json.loads(out.read_text())
    want = world.expected(SERVICES[1])
    assert (doc["state"], doc["allowed"], doc["slo_target"], doc["time_window"]) == ("CAUTION", True, 0.995, "30d")
    assert doc["budget_remaining"] == pytest.approx(want["error_budget_remaining"], rel=1e-6)
    assert doc["days_to_exhaustion"] == pytest.approx(want["days_to_exhaustion"], rel=1e-6)
    text = summary.read_text()
    assert "## Deploy gate: CAUTION (allowed)" in text
    assert "[Error budget dashboard](http://grafana.example:3000/d/error-budget-slo)" in text


@pytest.mark.parametrize(("service", "var"), [("images", "OVERRIDE_DEPLOY"), ("billing", "OVERRIDE_DEPLOY_FREEZE"),
                                              ("auth", "OVERRIDE_BUDGET_EXHAUSTED")])
def test_overrides_pass_and_are_audited(world: World, tmp_path: Path, service: str, var: str) -> None:
    log = tmp_path / "audit.log"
    ci = {"GITHUB_SHA": "0123abc", "GITHUB_RUN_ID": "4242", "GITHUB_ACTOR": "octocat", "BUILD_URL": "https://ci/7"}
    result = world.run("gate", "--service", service, "--audit-log", str(log),
                       env={var: "true", "OVERRIDE_REASON": "INC-7 hotfix", **ci})
    assert result.returncode == 0, result.stderr
    assert f"OVERRIDE: {var} is set" in result.stderr
    (line,) = log.read_text().splitlines()
    record = json.loads(line)
    state = next(s.state for s in SERVICES if s.name == service)
    assert (record["override"], record["state"], record["service"], record["reason"]) == (
        var, state, service, "INC-7 hotfix")
    assert record["ci"] == ci and record["user"] and record["host"]
    assert record["budget_remaining"] == pytest.approx(
        world.expected(next(s for s in SERVICES if s.name == service))["error_budget_remaining"], rel=1e-6)
    # The wrong override does nothing (and says so); nothing is logged.
    other = "OVERRIDE_DEPLOY_FREEZE" if var != "OVERRIDE_DEPLOY_FREEZE" else "OVERRIDE_DEPLOY"
    wrong = world.run("gate", "--service", service, "--audit-log", str(tmp_path / "other.log"), env={other: "true"})
    assert wrong.returncode == GATE_CODES[state] and f"warning: {other} is set but only overrides" in wrong.stderr
    assert not (tmp_path / "other.log").exists()


def test_an_unwritable_audit_log_refuses_the_override(world: World, tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    result = world.run("gate", "--service", "billing", "--audit-log", str(tmp_path / "not-a-dir" / "audit.log"),
                       env={"OVERRIDE_DEPLOY_FREEZE": "true"})
    assert result.returncode == 99
    assert "override refused: cannot write the audit log" in result.stderr
    assert result.stdout.startswith("gate: FREEZE (deploy blocked, exit 99)")


def test_twenty_concurrent_override_gates_leave_twenty_intact_lines(world: World, tmp_path: Path) -> None:
    log = tmp_path / "deploy-overrides.log"
    procs = [subprocess.Popen([sys.executable, "-m", "slogen", "gate", "-f", str(world.spec), "--time", str(world.end),
                               "--service", "auth", "--audit-log", str(log)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=_env(world.url, {"OVERRIDE_BUDGET_EXHAUSTED": "true",
                                                   "OVERRIDE_REASON": f"run {i} " + "x" * 5000,
                                                   "GITHUB_RUN_ID": str(i)}))
             for i in range(20)]
    codes = [p.wait(timeout=120) for p in procs]
    for p in procs:
        assert p.stderr is not None
        p.stderr.close()
    assert codes == [0] * 20
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(int(r["ci"]["GITHUB_RUN_ID"]) for r in records) == list(range(20))
    assert all(r["reason"] == f"run {r['ci']['GITHUB_RUN_ID']} " + "x" * 5000 for r in records)


def test_gate_that_cannot_write_its_json_file_does_not_pass(world: World, tmp_path: Path) -> None:
    result = world.run("gate", "--service", "ledger", "--json", str(tmp_path / "missing-dir" / "gate.json"))
    assert result.returncode == 99
    assert "cannot write --json" in result.stderr and "Traceback" not in result.stderr
