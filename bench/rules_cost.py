"""Benchmark: cost and exactness of slogen's period/budget rules vs Sloth's period rule, same data, same run.

    python -m bench.rules_cost            # 100 SLOs × 30 days of 1-minute data (a few minutes)
    python -m bench.rules_cost --smoke    # 3 SLOs × 7 days, groups every 5s (seconds)

Data, per SLO: two raw counters (2xx, 5xx) every minute with diurnal traffic and an incident,
written up to "now" and backfilled (OpenMetrics, --max-block-duration=744h). Recording rules do
not run on history, so the series each side's period rule reads are backfilled too, computed here
from the same counters: slogen's hourly tiles (the 1h rates at every whole hour), and Sloth's
`slo:sli_error:ratio_rate5m` every minute (Sloth's SLI group at Prometheus' default 1m interval).

One Prometheus then evaluates, for every SLO, slogen's rendered `tiles` and `period` groups (tiles;
1d/3d/7d windows, period ratio, budget metadata, policy alerts) and Sloth's documented meta group
(`sum_over_time(r5m[30d]) / count_over_time(r5m[30d])`, burn rate, budget remaining, objective…),
all every minute for the measurement (slogen really runs tiles every 1h and period every 2m, Sloth
at the global interval, 1m by default). Figures per SLO: per-evaluation seconds of groups and of
the period-ratio rules (median over evaluations, from /api/v1/rules: the same numbers as
`prometheus_rule_group_last_duration_seconds`), the same per minute at the real intervals,
`stats=all` samples and eval time of the period expression alone, and each side's period ratio
against the true event ratio. Writes bench/results/rules_cost.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from prom import backfill, prometheus
from slogen import conventions as c
from slogen import windows
from slogen.render import rules
from slogen.spec import loads

OUT = Path(__file__).resolve().parent / "results" / "rules_cost.json"
SLOTH_R5M = "slo:sli_error:ratio_rate5m"


def _spec(n: int, days: int) -> str:
    slos = "".join(f"""  - name: svc{i:03d}
    slos:
      - name: availability
        objective: 99.9
        window: {days}d
        sli:
          ratio:
            errors: http_requests_total{{job="svc{i:03d}",code="500"}}
            total: http_requests_total{{job="svc{i:03d}"}}
""" for i in range(n))
    return f"version: slogen/v1\nservices:\n{slos}"


def _sloth_group(i: int, days: int, every: str = "1m") -> dict[str, Any]:
    """Sloth's meta-recordings group for one SLO, as its generator writes it."""
    ids = f'sloth_id="svc{i:03d}-availability", sloth_service="svc{i:03d}", sloth_slo="availability"'
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    labels = {"sloth_id": f"svc{i:03d}-availability", "sloth_service": f"svc{i:03d}", "sloth_slo": "availability"}
    rec = [
        ("slo:sli_error:ratio_rate30d", f"sum_over_time({SLOTH_R5M}{{{ids}}}[{days}d])\n/ ignoring (sloth_window)\n"
                                        f"count_over_time({SLOTH_R5M}{{{ids}}}[{days}d])"),
        ("slo:objective:ratio", "vector(0.999)"),
        ("slo:error_budget:ratio", "vector(1-0.999)"),
        ("slo:time_period:days", f"vector({days})"),
        ("slo:current_burn_rate:ratio", f"{SLOTH_R5M}{{{ids}}} / {on} slo:error_budget:ratio{{{ids}}}"),
        ("slo:period_burn_rate:ratio", f"slo:sli_error:ratio_rate30d{{{ids}}} / {on} slo:error_budget:ratio{{{ids}}}"),
        ("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{{{ids}}}"),
        ("sloth_slo_info", "vector(1)"),
    ]
    return {"name": f"sloth-slo-meta-recordings-svc{i:03d}-availability", "interval": every,
            "rules": [{"record": r, "expr": e, "labels": labels} for r, e in rec]}


def _data(n: int, days: int, end: int) -> tuple[str, dict[int, tuple[float, float]], list[int]]:
    """OpenMetrics for raw counters, tiles and Sloth's r5m; true (events, errors) over the period per SLO."""
    rng = random.Random(7)
    start = end - days * 86400 - 2 * 3600
    times = list(range(start, end + 1, 60))
    hours = [t for t in times if t % 3600 == 0 and t - 3600 >= start]
    lines: list[str] = ["# TYPE http_requests counter"]
    rec: list[str] = []
    truth: dict[int, tuple[float, float]] = {}
    period_start = hours[-1] - days * 86400
    for i in range(n):
        phase, peak = rng.random(), 500 + 1000 * rng.random()
        incident = start + rng.randrange(days * 86400 - 4 * 3600) + 7200
        total, bad = [1e6], [1e3]
        for t in times[1:]:
            events = peak * (0.55 + 0.45 * math.sin(2 * math.pi * (t / 86400 + phase)))
            ratio = 0.04 if incident < t <= incident + 7200 else 0.0005
            total.append(total[-1] + events)
            bad.append(bad[-1] + events * ratio)
        at = {t: k for k, t in enumerate(times)}
        job = f"svc{i:03d}"
        lines += [f'http_requests_total{{job="{job}",code="200"}} {tt - b!r} {t}' for t, tt, b in zip(times, total, bad, strict=True)]
        lines += [f'http_requests_total{{job="{job}",code="500"}} {b!r} {t}' for t, b in zip(times, bad, strict=True)]
        ident = f'service="{job}",slo="availability"'
        for name, series in ((c.EVENTS_TILE, total), (c.ERRORS_TILE, bad)):
            rec += [f"{name}{{{ident}}} {(series[at[h]] - series[at[h] - 60]) / 3600!r} {h}" for h in hours]
        sloth = f'sloth_id="{job}-availability",sloth_service="{job}",sloth_slo="availability",sloth_window="5m"'
        rec += [f"{SLOTH_R5M}{{{sloth}}} {(bad[k] - bad[k - 5]) / (total[k] - total[k - 5])!r} {t}"
                for k, t in enumerate(times) if k >= 5]
        k0, k1 = at[period_start], at[hours[-1]]
        truth[i] = (total[k1] - total[k0], bad[k1] - bad[k0])
    return "\n".join([*lines, *rec, "# EOF", ""]), truth, hours


def _query(url: str, expr: str, at: float, stats: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {"query": expr, "time": at}
    if stats:
        params["stats"] = "all"
    body = requests.get(url + "/api/v1/query", params=params, timeout=120).json()
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('error')}")
    return dict(body["data"])


def _evaluations(url: str, n: int, rounds: int, timeout: float) -> dict[tuple[str, str], list[float]]:
    """Seconds of each distinct evaluation of every (group, rule) and (group, "") for the whole group,
    polled from /api/v1/rules until every group has been seen `rounds` times (or timeout)."""
    seen: dict[tuple[str, str], dict[str, float]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(url + "/api/v1/rules", timeout=60).json()
        for group in body["data"]["groups"]:
            if not group.get("lastEvaluation", "").startswith("0001"):
                seen.setdefault((group["name"], ""), {})[group["lastEvaluation"]] = group["evaluationTime"]
            for rule in group["rules"]:
                if not rule.get("lastEvaluation", "").startswith("0001"):
                    key = (group["name"], rule["name"])
                    seen.setdefault(key, {})[rule["lastEvaluation"]] = rule["evaluationTime"]
        groups = [v for (g, r), v in seen.items() if r == ""]
        if len(groups) >= 3 * n and all(len(v) >= rounds for v in groups):
            break
        time.sleep(1)
    return {k: list(v.values()) for k, v in seen.items()}


def _median_query(url: str, expr: str, at: float) -> tuple[float, int]:
    runs = [_query(url, expr, at, stats=True)["stats"] for _ in range(5)]
    ms = statistics.median(r["timings"]["evalTotalTime"] for r in runs) * 1000
    return ms, int(runs[0]["samples"]["totalQueryableSamples"])


def _seconds(interval: str) -> float:
    return {"s": 1, "m": 60, "h": 3600}[interval[-1]] * float(interval[:-1])


PERIOD_RULES = {"slogen": (c.ERROR_RATIO_PERIOD, c.ERRORS_TILE, c.EVENTS_TILE), "sloth": ("slo:sli_error:ratio_rate30d",)}


def _costs(durations: dict[tuple[str, str], list[float]], real_interval: dict[str, float], n: int) -> dict[str, Any]:
    """Per SLO: seconds per evaluation and per minute at the real intervals, whole groups and period rules."""
    out: dict[str, dict[str, float]] = {k: {"slogen": 0.0, "sloth": 0.0} for k in (
        "group_seconds_per_eval", "group_seconds_per_minute", "period_rule_seconds_per_eval",
        "period_rule_seconds_per_minute")}
    per_rule: dict[str, list[float]] = {}
    for (group, rule), values in durations.items():
        side = "slogen" if group.startswith("slogen:") else "sloth"
        seconds = statistics.median(values) / n
        per_minute = seconds * 60 / real_interval.get(group, 60)
        if rule == "":
            out["group_seconds_per_eval"][side] += seconds
            out["group_seconds_per_minute"][side] += per_minute
            continue
        per_rule.setdefault(f"{side} {rule}", []).append(statistics.median(values) * 1000)
        if rule in PERIOD_RULES[side]:
            out["period_rule_seconds_per_eval"][side] += seconds
            out["period_rule_seconds_per_minute"][side] += per_minute
    return {**out, "rule_ms_median": {k: statistics.median(v) for k, v in sorted(per_rule.items())}}


def measure(n: int, days: int, rounds: int, every: str = "1m") -> dict[str, Any]:
    """Run the whole benchmark for `n` SLOs over `days` days, every group evaluated each `every`."""
    end = int(time.time()) // 60 * 60
    started = time.perf_counter()
    text, truth, hours = _data(n, days, end)
    generated = time.perf_counter() - started
    spec = loads(_spec(n, days))
    slogen_groups = [g for a in rules.generate(spec) for g in yaml.safe_load(a.text)["groups"]
                     if not g["name"].endswith(":sli")]
    # The period/budget rules only, like for like with Sloth's meta group and 30d rule: `period` also
    # holds the slower raw windows (30m, 2h, 6h) and the ticket alert reading them, which Sloth keeps
    # in its SLI and alert groups; bench.rules_scale compares every rule of both.
    raw = {name for slo in spec.slos for w in windows.slow_windows(slo.window)
           for name in (c.events_rate(w), c.error_ratio(w))}
    for g in slogen_groups:
        g["rules"] = [r for r in g["rules"] if r.get("record") not in raw and r.get("alert") != c.ALERT_TICKET]
    real_interval = {g["name"]: _seconds(g["interval"]) for g in slogen_groups}
    for g in slogen_groups:
        g["interval"] = every  # measured like Sloth's; normalised to the real intervals below
    period_rule = {g["name"]: next(r for r in g["rules"] if r.get("record") == c.ERROR_RATIO_PERIOD)
                   for g in slogen_groups if g["name"].endswith(":period")}
    work = Path(tempfile.mkdtemp(prefix="slogen-bench-"))
    try:
        started = time.perf_counter()
        backfill(text, work / "data")
        backfilled = time.perf_counter() - started
        del text
        files = {"slogen.rules.yaml": yaml.safe_dump({"groups": slogen_groups}, sort_keys=False),
                 "sloth.rules.yaml": yaml.safe_dump({"groups": [_sloth_group(i, days, every) for i in range(n)]},
                                                    sort_keys=False)}
        config = f"global:\n  evaluation_interval: {every}\nrule_files: [slogen.rules.yaml, sloth.rules.yaml]\n"
        with prometheus(config, data_dir=work / "data", files=files) as (url, _):
            durations = _evaluations(url, n, rounds, timeout=_seconds(every) * (rounds + 1.5) + 10)
            metrics = requests.get(url + "/metrics", timeout=30).text
            at = hours[-1]
            first = next(iter(period_rule.values()))
            ours_ms, ours_samples = _median_query(url, first["expr"], at)
            sloth_expr = _sloth_group(0, days)["rules"][0]["expr"]
            sloth_ms, sloth_samples = _median_query(url, sloth_expr, at)
            errors: dict[str, list[float]] = {"slogen": [], "sloth": []}
            for i in range(n):
                want = truth[i][1] / truth[i][0]
                ours = float(_query(url, period_rule[c.group_name(f"svc{i:03d}", c.STAGE_PERIOD)]["expr"], at)
                             ["result"][0]["value"][1])
                sloth = float(_query(url, _sloth_group(i, days)["rules"][0]["expr"], at)["result"][0]["value"][1])
                errors["slogen"].append(abs(ours - want) / want)
                errors["sloth"].append(abs(sloth - want) / want)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"slos": n, "days": days, "generate_s": round(generated, 1), "backfill_s": round(backfilled, 1),
            "evaluations_per_group": min((len(v) for (g, r), v in durations.items() if r == ""), default=0),
            "groups_seen": sum(1 for (g, r) in durations if r == ""),
            **_costs(durations, real_interval, n),
            "prometheus_rule_group_last_duration_seconds_per_slo": {
                side: sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                          if line.startswith("prometheus_rule_group_last_duration_seconds{")
                          and (";slogen:" in line) == (side == "slogen")) / n
                for side in ("slogen", "sloth")},
            "period_expr_ms": {"slogen": ours_ms, "sloth": sloth_ms},
            "period_expr_samples": {"slogen": ours_samples, "sloth": sloth_samples},
            "relative_error_max": {k: max(v) for k, v in errors.items()},
            "relative_error_median": {k: statistics.median(v) for k, v in errors.items()}}


def _rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    def row(figure: str, ours: float, ref: float) -> dict[str, Any]:
        return {"figure": figure, "slogen": ours, "reference": ref, "ratio": ours / ref if ref else None}

    size = f"{r['slos']} SLOs × {r['days']}d"
    return [
        *(row(f"{label} per SLO ({size})", r[key]["slogen"], r[key]["sloth"]) for label, key in (
            ("period-ratio rules, s per evaluation", "period_rule_seconds_per_eval"),
            ("period-ratio rules, s per minute", "period_rule_seconds_per_minute"),
            ("whole period/budget groups, s per evaluation", "group_seconds_per_eval"),
            ("whole period/budget groups, s per minute", "group_seconds_per_minute"))),
        row("period ratio expr ms (1 SLO)", r["period_expr_ms"]["slogen"], r["period_expr_ms"]["sloth"]),
        row("period ratio queryable samples", r["period_expr_samples"]["slogen"], r["period_expr_samples"]["sloth"]),
        row("max relative error vs true ratio", r["relative_error_max"]["slogen"], r["relative_error_max"]["sloth"]),
    ]


def run(smoke: bool, slos: int = 100, days: int = 30) -> list[dict[str, Any]]:
    """bench.run's entry point: rows of (figure, slogen, reference = Sloth, ratio)."""
    result = measure(3, 7, 2, every="5s") if smoke else measure(slos, days, 3)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return _rows(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="3 SLOs × 7 days, for CI")
    parser.add_argument("--slos", type=int, default=100, help="number of SLOs (default 100)")
    parser.add_argument("--days", type=int, choices=(7, 14, 28, 30, 90), default=30, help="SLO period in days")
    args = parser.parse_args(argv)
    rows = run(args.smoke, args.slos, args.days)
    print(f"{'figure':<62} {'slogen':>10} {'sloth':>10} {'ratio':>8}")
    for r in rows:
        ratio = f"{r['ratio']:.4g}" if r["ratio"] is not None else "-"
        print(f"{r['figure']:<62} {r['slogen']:>10.4g} {r['reference']:>10.4g} {ratio:>8}")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
