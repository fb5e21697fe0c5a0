"""Benchmark: evaluation work of ALL of slogen's rules vs Sloth's documented rules, 1,000 SLOs, 30 days.

    python -m bench.rules_scale             # 1,000 SLOs (100 services × 10) × 30 days (~25 minutes)
    python -m bench.rules_scale --smoke     # 4 SLOs × 2 days, intervals ÷ 15 (< 60 s)

Data (one Prometheus, both rule sets, same run): per SLO two raw counters (`code="200"`,
`code="500"`) with diurnal traffic and one 2h incident, at 1-minute resolution for the last
`--recent-days` (4: every raw window either side reads, ≤ 3d, sees 1m data) and every 5 minutes
before (only the backfill below reads it); the series each side's rules read are backfilled
too, computed from the same per-minute counters: slogen's short tiles (3m rates every 3m, over
the recent days: the alerts sum them over ≤ 3d), its hour tiles (1h rates every 30m, the whole
history: the budget reads one per whole hour) and Sloth's `slo:sli_error:ratio_rate5m` every
minute (Sloth's SLI group at the global 1m interval). History ends at the minute of generation;
a small exporter on 127.0.0.1 then serves the same counters, continuing them, scraped every 15s,
so the raw windows are live while rules run.

Rules: slogen's six rendered stages at their rendered intervals (`sli` and `alerts` 1m, `budget`
and `state` 2m); `tiles` (3m) and `hours` (30m) are measured in copies evaluated every 1m that
record under other names (so the real tiles the other rules read are untouched), and counted at
their real evaluations per minute (1/3, 1/30). Sloth: per SLO its three groups (SLI recordings
5m…3d from raw + the optimized 30d rule, meta recordings, page/ticket alerts, as Sloth's
generator writes them) with no `interval:`, so Prometheus' global 1m. Figures: median
`prometheus_rule_group_last_duration_seconds` per group over the evaluations seen (the first of
each group dropped: cold), summed per cycle by group kind; work per minute = Σ duration ×
evaluations per minute; samples touched per evaluation = Σ `stats=all` `totalQueryableSamples`
of every rule expression of one SLO at "now". Kinds: *alerting* = slogen `sli` + `tiles` +
`alerts` vs Sloth's 30m…3d ratios + alerts group; *period/budget* = slogen `hours` + `budget` +
`state` vs Sloth's 30d rule, its input `ratio_rate5m` (charged here, once) and meta group.
Sloth's SLI group is split between them by the rules' own `evaluationTime` (/api/v1/rules).
Writes bench/results/rules_scale.json. Measurements, not tests.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import requests
import yaml

from slogen import conventions as c
from slogen.render import rules as render_rules
from slogen.spec.load import loads

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from prom import PROMTOOL, free_port, prometheus  # noqa: E402 - the tests' throwaway-Prometheus helpers

OUT = ROOT / "bench" / "results" / "rules_scale.json"
R5M = "slo:sli_error:ratio_rate5m"
SLOTH_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLOTH_RATIO = "slo:sli_error:ratio_rate"


def sloth_period_rule(record: str) -> bool:
    """Sloth's period rule or the 5m ratio it averages: charged to the period/budget kind."""
    return record.startswith(SLOTH_RATIO) and record.removeprefix(SLOTH_RATIO) not in SLOTH_WINDOWS[1:]

BUDGET = "0.0009999999999999432"  # Sloth's (100 - 99.9) / 100 in float64
PROBE = "bench:probe_"  # tiles/hours copies record bench:probe_<name>, so the real tiles keep their grid
PROBED = (c.STAGE_TILES, c.STAGE_HOURS)
SLOGEN_KINDS = {"alerting": (c.STAGE_SLI, c.STAGE_TILES, c.STAGE_ALERTS),
                "period": (c.STAGE_HOURS, c.STAGE_BUDGET, c.STAGE_STATE)}
SLOTH_KINDS = {"alerting": ("sloth sli windows", "sloth alerts"), "period": ("sloth sli period", "sloth meta")}
INSTANCE = "bench"


def _slos(services: int, per: int) -> list[tuple[str, str]]:
    return [(f"svc-{s:03d}", f"r{i:02d}") for s in range(services) for i in range(per)]


def _spec(slos: list[tuple[str, str]], window: str = "30d") -> str:
    by: dict[str, list[str]] = {}
    for svc, slo in slos:
        by.setdefault(svc, []).append(slo)
    body = "".join(f"  - name: {svc}\n    slos:\n" + "".join(
        f"      - name: {slo}\n        objective: 99.9\n        window: {window}\n        sli:\n          ratio:\n"
        f"            errors: http_requests_total{{job=\"{svc}\",route=\"/{slo}\",code=\"500\"}}\n"
        f"            total: http_requests_total{{job=\"{svc}\",route=\"/{slo}\"}}\n" for slo in names)
        for svc, names in by.items())
    return f"version: slogen/v1\nservices:\n{body}"


def sloth_groups(svc: str, slo: str, days: int = 30) -> list[dict[str, Any]]:
    """Sloth's three groups for one SLO over a `days`-day period, as its generator writes them
    (the alert factors are the 30d ones whatever the period: the cost does not depend on them)."""
    period = f"{days}d"
    sid = f"{svc}-{slo}"
    ids = f'sloth_id="{sid}", sloth_service="{svc}", sloth_slo="{slo}"'
    labels = {"sloth_id": sid, "sloth_service": svc, "sloth_slo": slo}
    err, tot = (f'http_requests_total{{job="{svc}",route="/{slo}",code="500"}}',
                f'http_requests_total{{job="{svc}",route="/{slo}"}}')
    sli = [{"record": f"slo:sli_error:ratio_rate{w}", "expr": f"(sum(rate({err}[{w}])))\n/\n(sum(rate({tot}[{w}])))",
            "labels": {**labels, "sloth_window": w}} for w in SLOTH_WINDOWS]
    sli.append({"record": SLOTH_RATIO + period, "labels": {**labels, "sloth_window": period},
                "expr": f"sum_over_time({R5M}{{{ids}}}[{period}])\n/ ignoring (sloth_window)\n"
                        f"count_over_time({R5M}{{{ids}}}[{period}])"})
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    meta = [("slo:objective:ratio", "vector(0.9990000000000001)"),
            ("slo:error_budget:ratio", "vector(1-0.9990000000000001)"),
            ("slo:time_period:days", f"vector({days})"),
            ("slo:current_burn_rate:ratio", f"{R5M}{{{ids}}}\n/ {on}\nslo:error_budget:ratio{{{ids}}}"),
            ("slo:period_burn_rate:ratio", f"{SLOTH_RATIO}{period}{{{ids}}}\n/ {on}\nslo:error_budget:ratio{{{ids}}}"),
            ("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{{{ids}}}")]
    meta_rules = [{"record": r, "expr": e, "labels": labels} for r, e in meta]
    meta_rules.append({"record": "sloth_slo_info", "expr": "vector(1)",
                       "labels": {**labels, "sloth_mode": "cli-gen-prom", "sloth_objective": "99.9"}})

    def pair(short: str, long: str, f: str) -> str:
        return (f"(\n    max(slo:sli_error:ratio_rate{short}{{{ids}}} > ({f} * {BUDGET})) without (sloth_window)\n"
                f"    and\n    max(slo:sli_error:ratio_rate{long}{{{ids}}} > ({f} * {BUDGET})) without (sloth_window)\n)")

    alerts = [{"alert": "SLOHighErrorRate", "expr": f"{pair('5m', '1h', '14.4')}\nor\n{pair('30m', '6h', '6')}",
               "labels": {"sloth_severity": "page"}},
              {"alert": "SLOHighErrorRate", "expr": f"{pair('2h', '1d', '3')}\nor\n{pair('6h', '3d', '1')}",
               "labels": {"sloth_severity": "ticket"}}]
    return [{"name": f"sloth-slo-sli-recordings-{sid}", "rules": sli},
            {"name": f"sloth-slo-meta-recordings-{sid}", "rules": meta_rules},
            {"name": f"sloth-slo-alerts-{sid}", "rules": alerts}]


class Traffic:
    """Per-minute counters of every SLO (deterministic): events and errors, cumulative, from `start`."""

    def __init__(self, n: int, start: int, minutes: int) -> None:
        rng = np.random.default_rng(7)
        t = start + 60 * np.arange(minutes + 1, dtype=np.int64)
        self.start, self.times = start, t
        phase, peak = rng.random(n), 500 + 1000 * rng.random(n)
        incident = rng.integers(120, max(121, minutes - 240), n)
        self.total = np.empty((n, minutes + 1))
        self.bad = np.empty((n, minutes + 1))
        k = np.arange(minutes + 1)
        for i in range(n):
            events = peak[i] * (0.55 + 0.45 * np.sin(2 * np.pi * (t / 86400 + phase[i])))
            ratio = np.where((k > incident[i]) & (k <= incident[i] + 120), 0.04, 0.0005)
            events[0] = 1e6  # counters start non-zero (rate's zero clamp never kicks in)
            errors = events * ratio
            errors[0] = 1e3
            self.total[i], self.bad[i] = np.cumsum(events), np.cumsum(errors)
        self.last_rate = (self.total[:, -1] - self.total[:, -2]) / 60, (self.bad[:, -1] - self.bad[:, -2]) / 60


def _lines(name: str, values: np.ndarray, times: np.ndarray) -> str:
    return "".join(f"{name} {v!r} {ts}\n" for v, ts in zip(values.tolist(), times.tolist(), strict=True))


def _tiles(times: np.ndarray, every: int, length: int, since: float) -> np.ndarray:
    """Indices of the minutes a tile of `length` minutes is recorded at: every `every` s from `since`."""
    k = np.arange(len(times))
    return np.nonzero((times % every == 0) & (k >= length) & (times >= since))[0]


def write_history(path: Path, slos: list[tuple[str, str]], tr: Traffic, recent_days: float, raw_step: int) -> int:
    """OpenMetrics: raw counters, slogen's short and hour tiles and Sloth's 1m r5m, all from `tr`;
    returns samples written. Short tiles only over the recent days (no rule reads them beyond 3d)."""
    t = tr.times
    recent = t[-1] - recent_days * 86400
    raw = (t >= recent) | (t % raw_step == 0)
    short_minutes = int(c.SHORT_TILE.removesuffix("m"))
    tiles = (("short", _tiles(t, 60 * short_minutes, short_minutes, recent), short_minutes,
              (c.EVENTS_TILE, c.ERRORS_TILE)),
             ("hour", _tiles(t, 60 * int(c.HOUR_TILE_EVERY.removesuffix("m")), 60, float(t[0])), 60,
              (c.EVENTS_HOUR, c.ERRORS_HOUR)))
    samples = 0
    with path.open("w") as out:
        out.write("# TYPE http_requests counter\n")
        for i, (svc, slo) in enumerate(slos):
            sel = f'job="{svc}",route="/{slo}",instance="{INSTANCE}"'
            out.write(_lines(f'http_requests_total{{{sel},code="200"}}', (tr.total[i] - tr.bad[i])[raw], t[raw]))
            out.write(_lines(f'http_requests_total{{{sel},code="500"}}', tr.bad[i][raw], t[raw]))
            samples += 2 * int(raw.sum())
        for i, (svc, slo) in enumerate(slos):
            ident = f'service="{svc}",slo="{slo}"'
            for _, at, minutes, names in tiles:
                for name, series in zip(names, (tr.total[i], tr.bad[i]), strict=True):
                    out.write(_lines(f"{name}{{{ident}}}", (series[at] - series[at - minutes]) / (60 * minutes), t[at]))
                samples += 2 * len(at)
            sloth = f'sloth_id="{svc}-{slo}",sloth_service="{svc}",sloth_slo="{slo}",sloth_window="5m"'
            ratio = (tr.bad[i][5:] - tr.bad[i][:-5]) / (tr.total[i][5:] - tr.total[i][:-5])
            out.write(_lines(f"{R5M}{{{sloth}}}", ratio, t[5:]))
            samples += len(ratio)
        out.write("# EOF\n")
    return samples


@contextlib.contextmanager
def exporter(slos: list[tuple[str, str]], tr: Traffic) -> Iterator[int]:
    """Serve the same counters live on 127.0.0.1, continuing the history at its last minute's rates."""
    end, total0, bad0 = int(tr.times[-1]), tr.total[:, -1], tr.bad[:, -1]
    ev, er = tr.last_rate

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            dt = time.time() - end
            total, bad = total0 + ev * dt, bad0 + er * dt
            body = "".join(f'http_requests_total{{job="{s}",route="/{o}",code="200"}} {total[i] - bad[i]!r}\n'
                           f'http_requests_total{{job="{s}",route="/{o}",code="500"}} {bad[i]!r}\n'
                           for i, (s, o) in enumerate(slos)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def scrape_config(port: int, scale: float = 1.0) -> str:
    """prometheus.yml scraping the exporter every 15s (÷ scale), rules every 1m (÷ scale); the
    rule files go in place of RULE_FILES."""
    scrape = _fmt_seconds(15 / scale)
    return (f"global: {{scrape_interval: {scrape}, evaluation_interval: {_fmt_seconds(60 / scale)}}}\n"
            f"scrape_configs:\n- job_name: bench\n  honor_labels: true\n  scrape_timeout: {scrape}\n"
            f"  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
            f"  relabel_configs: [{{target_label: instance, replacement: {INSTANCE}}}]\n"
            "rule_files: RULE_FILES\n")


def wait_live(url: str, n: int, timeout: float) -> None:
    """Until every raw series of the `n` SLOs has two live scrapes in its last 5 minutes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = requests.get(url + "/api/v1/query", timeout=60, params={
            "query": "count(count_over_time(http_requests_total[5m]) >= 2)"}).json()["data"]["result"]
        if got and int(got[0]["value"][1]) == 2 * n:
            return
        time.sleep(1)


def slogen_groups(slos: list[tuple[str, str]], scale: float, window: str = "30d",
                   every: str | None = None) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """slogen's rendered groups, `tiles` and `hours` copied as probes evaluated every 1m (or every
    group every `every`); and each group's real evaluations per minute."""
    groups = [g for a in render_rules.generate(loads(_spec(slos, window))) for g in yaml.safe_load(a.text)["groups"]]
    per_minute: dict[str, float] = {}
    for g in groups:
        real = _seconds(g["interval"])
        if stage(g["name"]) in PROBED:
            g["interval"] = "1m"
            for r in g["rules"]:  # probes read raw counters only: no expression names a recorded series
                r["record"] = PROBE + r["record"].replace(":", "_")
        per_minute[g["name"]] = 60 / real
        g["interval"] = _fmt_seconds(_seconds(every or g["interval"]) / scale)
    return groups, per_minute


def stage(group: str) -> str:
    """The stage of a slogen group name (`slogen:<service>:<stage>[:<chunk>]`), or "" for others."""
    parts = group.split(":")
    return parts[2] if parts[0] == c.NAMESPACE and len(parts) >= 3 else ""


def _seconds(interval: str) -> float:
    return {"s": 1, "m": 60, "h": 3600}[interval[-1]] * float(interval[:-1])


def _fmt_seconds(s: float) -> str:
    return f"{int(s * 1000)}ms"


METRIC = re.compile(r'^prometheus_rule_group_(last_duration_seconds|last_evaluation_timestamp_seconds)'
                    r'\{rule_group="[^;]*;([^"]+)"\} (\S+)$', re.M)


def _poll(url: str, seconds: float, state: dict[str, Any]) -> dict[str, dict[float, float]]:
    """Every distinct evaluation of every group: {group: {eval timestamp: last_duration}}, polling /metrics."""
    seen: dict[str, dict[float, float]] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = requests.get(url + "/metrics", timeout=30).text
        durations: dict[str, float] = {}
        stamps: dict[str, float] = {}
        for kind, group, value in METRIC.findall(text):
            (durations if kind == "last_duration_seconds" else stamps)[group] = float(value)
        for group, stamp in stamps.items():
            if stamp > 0 and group in durations:
                seen.setdefault(group, {})[stamp] = durations[group]
        rss = re.search(r"^process_resident_memory_bytes (\S+)$", text, re.M)
        if rss:
            state["prometheus_peak_rss_mib"] = max(state.get("prometheus_peak_rss_mib", 0.0), float(rss[1]) / 2**20)
        time.sleep(2)
    return seen


def _kind(group: str) -> str:
    if stage(group):
        return f"slogen {stage(group)}"
    return "sloth " + group.split("-")[2]  # sloth-slo-<sli|meta|alerts>-...


def _samples(url: str, groups: list[dict[str, Any]], keep: Any, at: float) -> dict[str, int]:
    """Σ totalQueryableSamples of each rule of one SLO (rules where keep(rule)), per group kind."""
    out: dict[str, int] = {}
    for g in groups:
        for r in g["rules"]:
            if keep(r):
                body = requests.get(url + "/api/v1/query", params={"query": r["expr"], "time": at, "stats": "all"},
                                    timeout=60).json()
                n = int(body["data"]["stats"]["samples"]["totalQueryableSamples"])
                key = _kind(g["name"])
                if key == "sloth sli":
                    key = "sloth sli period" if sloth_period_rule(r["record"]) else "sloth sli windows"
                out[key] = out.get(key, 0) + n
    return out


def _split(url: str) -> float:
    """Share of Sloth's SLI-group time spent in its period rule and 5m ratio, from /api/v1/rules."""
    long = every = 0.0
    for g in requests.get(url + "/api/v1/rules", params={"type": "record"}, timeout=300).json()["data"]["groups"]:
        if g["name"].startswith("sloth-slo-sli-"):
            for r in g["rules"]:
                every += r["evaluationTime"]
                long += r["evaluationTime"] if sloth_period_rule(r["name"]) else 0.0
    return long / every if every else 0.0


ITERATIONS = re.compile(r'^prometheus_rule_group_iterations(_missed)?_total\{rule_group="([^"]+)"\} (\S+)$', re.M)


def _counters(url: str) -> tuple[float, dict[str, float], dict[str, float]]:
    """Prometheus CPU seconds; scheduled and missed iterations of every rule group."""
    text = requests.get(url + "/metrics", timeout=30).text
    found = re.search(r"^process_cpu_seconds_total (\S+)$", text, re.M)
    scheduled: dict[str, float] = {}
    missed: dict[str, float] = {}
    for kind, group, value in ITERATIONS.findall(text):
        (missed if kind else scheduled)[group] = float(value)
    return (float(found[1]) if found else 0.0), scheduled, missed


def _phase(url: str, minutes: float, state: dict[str, Any]) -> tuple[dict[str, dict[float, float]], dict[str, float]]:
    """Poll one phase: the evaluations seen, and Prometheus CPU per minute with the share of evaluations run."""
    cpu0, sched0, missed0 = _counters(url)
    seen = _poll(url, minutes * 60, state)
    cpu1, sched1, missed1 = _counters(url)
    scheduled = sum(v - sched0.get(g, 0.0) for g, v in sched1.items())
    missed = sum(v - missed0.get(g, 0.0) for g, v in missed1.items())
    return seen, {"cpu_s_per_minute": (cpu1 - cpu0) / minutes, "scheduled": scheduled, "missed": missed,
                  "completed_share": 1 - missed / scheduled if scheduled else 1.0}


def measure(services: int, per: int, days: int, minutes: float, scale: float = 1.0,
            recent_days: float = 4, raw_step: int = 300, alone_minutes: float = 3) -> dict[str, Any]:
    """The whole benchmark; `scale` divides every rule/scrape interval (smoke), figures stay per real minute."""
    assert PROMTOOL, "promtool is not installed"
    slos = _slos(services, per)
    n, first = len(slos), slos[0]
    end = int(time.time()) // 60 * 60
    clock = time.perf_counter()
    tr = Traffic(n, end - days * 86400 - 7200, days * 1440 + 120)
    work = Path(tempfile.mkdtemp(prefix="slogen-scale-"))
    result: dict[str, Any] = {"slos": n, "services": services, "days": days, "scale": scale}
    try:
        result["samples_backfilled"] = write_history(work / "h.om", slos, tr, recent_days, raw_step)
        result["generate_s"] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()
        subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h",
                        str(work / "h.om"), str(work / "data")], check=True, capture_output=True)
        (work / "h.om").unlink()
        result["backfill_s"] = round(time.perf_counter() - clock, 1)
        slogen, per_minute = slogen_groups(slos, scale)
        sloth = [g for svc, slo in slos for g in sloth_groups(svc, slo)]
        files = {"slogen.rules.yaml": yaml.safe_dump({"groups": slogen}, sort_keys=False),
                 "sloth.rules.yaml": yaml.safe_dump({"groups": sloth}, sort_keys=False),
                 }
        with exporter(slos, tr) as port:
            del tr
            config = scrape_config(port, scale)
            clock = time.perf_counter()
            both = config.replace("RULE_FILES", "[slogen.rules.yaml, sloth.rules.yaml]")
            with prometheus(both, data_dir=work / "data", files=files, ready_timeout=120) as (url, workdir):
                result["prometheus_start_s"] = round(time.perf_counter() - clock, 1)
                wait_live(url, n, 120 / scale)
                warm, state = time.time(), dict[str, Any]()
                seen, phases = {}, {}
                seen["both"], phases["both"] = _phase(url, minutes, state)
                long_share = _split(url)
                at = time.time()
                samples = _samples(url, [g for g in slogen if g["name"].startswith(f"{c.NAMESPACE}:{first[0]}:")],
                                   lambda r: r["labels"]["slo"] == first[1], at)
                samples |= _samples(url, sloth_groups(*first), lambda r: True, at)
                for name, rule_files in (("sloth", ["sloth.rules.yaml"]), ("slogen", ["slogen.rules.yaml"]),
                                         ("no rules", [])):
                    (workdir / "prometheus.yml").write_text(config.replace("RULE_FILES", json.dumps(rule_files)))
                    requests.post(url + "/-/reload", timeout=300).raise_for_status()
                    time.sleep(20 / scale)
                    seen[name], phases[name] = _phase(url, alone_minutes if rule_files else alone_minutes / 3, state)
                result["prometheus_peak_rss_mib"] = round(state.get("prometheus_peak_rss_mib", 0.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["rss_peak_mib"] = {"bench": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                              "promtool": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}
    alone = {}
    for side in ("sloth", "slogen"):
        figures = _figures(seen[side], 0, per_minute, long_share, samples, n)
        alone[side] = {part: figures["summary"][part][side] for part in ("alerting", "period", "total")}
        alone[side]["kinds"] = figures["kinds"]
    return {**result, **_figures(seen["both"], warm, per_minute, long_share, samples, n), "phases": phases,
            "alone": alone}


def _figures(seen: dict[str, dict[float, float]], warm: float, per_minute: dict[str, float], long_share: float,
             samples: dict[str, int], n: int) -> dict[str, Any]:
    """Per group kind: Σ median duration per cycle, evaluations per minute, work per minute, samples."""
    kinds: dict[str, dict[str, float]] = {}
    evaluations = []
    for group, evals in seen.items():
        kept = sorted(s for s in evals if s >= warm)
        kept = kept[1:] if len(kept) > 1 else kept  # the first after the warm-up reads cold pages
        if not kept:
            continue
        evaluations.append(len(kept))
        seconds = statistics.median(evals[s] for s in kept)
        k = kinds.setdefault(_kind(group), {"groups": 0, "cycle_s": 0.0, "minute_s": 0.0})
        k["groups"] += 1
        k["cycle_s"] += seconds
        k["minute_s"] += seconds * per_minute.get(group, 1.0)
    for k in kinds.values():
        k["evaluations_per_minute"] = k["minute_s"] / k["cycle_s"] if k["cycle_s"] else 0.0
    sli = kinds.get("sloth sli", {"groups": 0, "cycle_s": 0.0, "minute_s": 0.0, "evaluations_per_minute": 1.0})
    for part, share in (("sloth sli windows", 1 - long_share), ("sloth sli period", long_share)):
        kinds[part] = {"groups": sli["groups"], "cycle_s": sli["cycle_s"] * share, "minute_s": sli["minute_s"] * share,
                       "evaluations_per_minute": 1.0}
    for name, k in kinds.items():
        k["samples_per_eval_per_slo"] = samples.get(name, 0)
        k["samples_per_minute"] = samples.get(name, 0) * n * k["evaluations_per_minute"]
    sides: dict[str, dict[str, tuple[str, ...]]] = {
        part: {"slogen": tuple(f"slogen {s}" for s in stages), "sloth": SLOTH_KINDS[part]}
        for part, stages in SLOGEN_KINDS.items()}
    sides["total"] = {side: sides["alerting"][side] + sides["period"][side] for side in ("slogen", "sloth")}
    summary = {part: {side: {f: sum(kinds.get(k, {}).get(f, 0.0) for k in ks)
                             for f in ("cycle_s", "minute_s", "samples_per_eval_per_slo", "samples_per_minute")}
                      for side, ks in by.items()} for part, by in sides.items()}
    return {"kinds": kinds, "summary": summary, "sloth_sli_period_share": long_share,
            "evaluations_per_group_min": min(evaluations, default=0),
            "evaluations_per_group_median": statistics.median(evaluations) if evaluations else 0}


def _rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    def row(figure: str, ours: float | None, ref: float | None) -> dict[str, Any]:
        return {"figure": figure, "slogen": ours, "reference": ref,
                "ratio": ours / ref if ours is not None and ref else None}

    size = f"{r['slos']} SLOs × {r['days']}d"
    out = []
    for part, label in (("alerting", "alerting (slogen sli+tiles+alerts | Sloth 30m..3d ratios + alerts)"),
                        ("period", "period/budget (slogen hours+budget+state | Sloth 5m ratio, 30d rule, meta)"),
                        ("total", "all rules")):
        s = r["summary"][part]
        out += [row(f"{label}: Σ last_duration per cycle, s ({size})", s["slogen"]["cycle_s"], s["sloth"]["cycle_s"]),
                row(f"{label}: evaluation work per minute, s", s["slogen"]["minute_s"], s["sloth"]["minute_s"]),
                row(f"{label}: samples touched per evaluation, per SLO", s["slogen"]["samples_per_eval_per_slo"],
                    s["sloth"]["samples_per_eval_per_slo"]),
                row(f"{label}: samples touched per minute", s["slogen"]["samples_per_minute"],
                    s["sloth"]["samples_per_minute"])]
    cpu = {k: v["cpu_s_per_minute"] for k, v in r["phases"].items()}
    done = {k: v["completed_share"] for k, v in r["phases"].items()}
    out += [row("one side's rules alone: evaluation work per minute, s", r["alone"]["slogen"]["total"]["minute_s"],
                r["alone"]["sloth"]["total"]["minute_s"]),
            row("one side's rules alone: period/budget work per minute, s", r["alone"]["slogen"]["period"]["minute_s"],
                r["alone"]["sloth"]["period"]["minute_s"]),
            row("one side's rules alone: Prometheus CPU s per minute minus no rules",
                cpu["slogen"] - cpu["no rules"], cpu["sloth"] - cpu["no rules"]),
            row("one side's rules alone: share of scheduled evaluations run", done["slogen"], done["sloth"]),
            row("both sides: share of scheduled evaluations run", done["both"], None)]
    return out


def run(smoke: bool, services: int = 100, per: int = 10, days: int = 30, minutes: float = 3,
        alone_minutes: float = 3) -> list[dict[str, Any]]:
    """bench.run's entry point: rows of (figure, slogen, reference = Sloth, ratio)."""
    if not (shutil.which("prometheus") and PROMTOOL):
        print("skipping rules_scale: prometheus/promtool not installed", file=sys.stderr)
        return []
    started = time.perf_counter()
    result = (measure(2, 2, 2, minutes=0.2, scale=15, recent_days=1, alone_minutes=0.1) if smoke
              else measure(services, per, days, minutes, alone_minutes=alone_minutes))
    result["wall_s"] = round(time.perf_counter() - started, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return _rows(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="4 SLOs × 2 days, intervals ÷ 15, for CI")
    parser.add_argument("--services", type=int, default=100, help="services (default 100)")
    parser.add_argument("--slos-per-service", type=int, default=10, help="SLOs per service (default 10)")
    parser.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    parser.add_argument("--minutes", type=float, default=3, help="minutes measured with both rule sets (default 3; then 3 for each alone)")
    parser.add_argument("--alone-minutes", type=float, default=3, help="minutes for each rule set alone (default 3)")
    args = parser.parse_args(argv)
    rows = run(args.smoke, args.services, args.slos_per_service, args.days, args.minutes, args.alone_minutes)
    print(f"{'figure':<90} {'slogen':>12} {'sloth':>12} {'ratio':>8}")
    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.4g}"

    for r in rows:
        print(f"{r['figure']:<90} {fmt(r['slogen']):>12} {fmt(r['reference']):>12} {fmt(r['ratio']):>8}")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
