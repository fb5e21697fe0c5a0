"""Benchmark: cost per evaluation and per minute of slogen's rules vs Sloth's, like for like, and
the exactness of each side's period ratio; same data, same run.

    python -m bench.rules_cost            # 100 SLOs × 30 days of 1-minute data (~6 minutes)
    python -m bench.rules_cost --smoke    # 3 SLOs × 7 days, groups every 5s (under a minute)

Data: bench.rules_scale's (`Traffic`, `write_history`), one ratio SLO per service, with raw
counters at 1-minute resolution over the whole period; backfilled with them, computed from the
same counters, what each side's rules read: slogen's short tiles (3m), its hour tiles (1h rates
every 30m) and Sloth's `slo:sli_error:ratio_rate5m` every minute. Then bench.rules_scale's
exporter continues the counters live on 127.0.0.1 (scraped every 15s), so raw windows read live
samples while the rules run.

One Prometheus evaluates, for every SLO, all six of slogen's rendered stages and Sloth's three
documented groups (SLI recordings from raw 5m…3d + the 30d rule, meta recordings, alerts;
`sloth_groups` in bench/rules_scale.py), **every group every minute** during the measurement
(`tiles` and `hours` as copies recording under other names, so the tile series keep their grid).
Figures per SLO, from /api/v1/rules (the numbers behind `prometheus_rule_group_last_duration_seconds`;
median over the evaluations seen):

* period/budget rules: slogen's `hours` + `budget` + `state` rules against Sloth's period rule,
  the 5m ratio it averages (its input, charged too) and its meta group: ms per evaluation, and
  per minute at the real intervals (slogen's rendered ones, Sloth's 1m);
* whole rule set: every group of each side, ms per evaluation and per minute, by the same rule;
* the period expressions alone with `stats=all` (slogen's budget ratio over hour tiles, Sloth's
  `sum_over_time(r5m[30d]) / count_over_time(r5m[30d])`): ms and samples read;
* each side's period ratio at the last whole hour of history against the true event ratio.

Writes bench/results/rules_cost.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from bench import rules_scale as scale_bench
from slogen import conventions as c
from slogen.render import promql_builders as q
from slogen.spec.load import loads

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from prom import PROMTOOL, prometheus  # noqa: E402 - the tests' throwaway-Prometheus helpers

OUT = ROOT / "bench" / "results" / "rules_cost.json"
PERIOD_STAGES = (c.STAGE_HOURS, c.STAGE_BUDGET, c.STAGE_STATE)


def _query(url: str, expr: str, at: float, stats: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {"query": expr, "time": at}
    if stats:
        params["stats"] = "all"
    body = requests.get(url + "/api/v1/query", params=params, timeout=120).json()
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('error')}")
    return dict(body["data"])


def _value(url: str, expr: str, at: float) -> float:
    return float(_query(url, expr, at)["result"][0]["value"][1])


Key = tuple[str, int, str]  # (group, rule index in the group or -1 for the whole group, rule name)


def _evaluations(url: str, groups: int, rounds: int, timeout: float, poll: float) -> dict[Key, list[float]]:
    """Seconds of each distinct evaluation of every rule and every group, polled from /api/v1/rules
    until each of the `groups` groups has been seen evaluated `rounds` times (or timeout)."""
    seen: dict[Key, dict[str, float]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(url + "/api/v1/rules", timeout=120).json()
        for group in body["data"]["groups"]:
            if not group.get("lastEvaluation", "").startswith("0001"):
                seen.setdefault((group["name"], -1, ""), {})[group["lastEvaluation"]] = group["evaluationTime"]
            for i, rule in enumerate(group["rules"]):
                if not rule.get("lastEvaluation", "").startswith("0001"):
                    seen.setdefault((group["name"], i, rule["name"]), {})[rule["lastEvaluation"]] = rule["evaluationTime"]
        whole = [v for (g, i, r), v in seen.items() if i == -1]
        if len(whole) >= groups and all(len(v) >= rounds for v in whole):
            break
        time.sleep(poll)
    return {k: list(v.values()) for k, v in seen.items()}


def _median_query(url: str, expr: str, at: float) -> tuple[float, int]:
    runs = [_query(url, expr, at, stats=True)["stats"] for _ in range(5)]
    ms = statistics.median(r["timings"]["evalTotalTime"] for r in runs) * 1000
    return ms, int(runs[0]["samples"]["totalQueryableSamples"])


def _period_rule(group: str, record: str) -> bool:
    """A rule of the period/budget comparison: slogen's hours, budget, state; Sloth's meta group,
    its period rule and the 5m ratio that rule averages."""
    if scale_bench.stage(group):  # the ticket and missing-SLI alerts sit in `budget` but are alerts, like Sloth's
        return scale_bench.stage(group) in PERIOD_STAGES and record not in (c.ALERT_TICKET, c.ALERT_ABSENT)
    return "-meta-" in group or ("-sli-" in group and scale_bench.sloth_period_rule(record))


def _costs(durations: dict[Key, list[float]], per_minute: dict[str, float], n: int) -> dict[str, Any]:
    """Per SLO, ms per evaluation and per minute at the real intervals: period/budget rules, whole
    groups, and each kind of group."""
    out: dict[str, Any] = {k: {"slogen": 0.0, "sloth": 0.0} for k in (
        "period_rules_ms_per_eval", "period_rules_ms_per_minute", "groups_ms_per_eval", "groups_ms_per_minute")}
    kinds: dict[str, dict[str, float]] = {}
    per_rule: dict[str, float] = {}  # "<group kind> <record or alert>": where a group's time goes
    for (group, index, rule), values in durations.items():
        side = "slogen" if scale_bench.stage(group) else "sloth"
        ms = statistics.median(values) * 1000 / n
        ms_minute = ms * per_minute.get(group, 1.0)
        if index == -1:
            out["groups_ms_per_eval"][side] += ms
            out["groups_ms_per_minute"][side] += ms_minute
            kind = kinds.setdefault(scale_bench._kind(group), {"ms_per_eval": 0.0, "ms_per_minute": 0.0})
            kind["ms_per_eval"] += ms
            kind["ms_per_minute"] += ms_minute
            continue
        name = f"{scale_bench._kind(group)} {rule}"
        per_rule[name] = per_rule.get(name, 0.0) + ms
        if _period_rule(group, rule):
            out["period_rules_ms_per_eval"][side] += ms
            out["period_rules_ms_per_minute"][side] += ms_minute
    return {**out, "group_kinds_per_slo": dict(sorted(kinds.items())),
            "rules_ms_per_eval_per_slo": {k: round(v, 4) for k, v in sorted(per_rule.items())}}


def _rule_counts(slogen: list[dict[str, Any]], sloth: list[dict[str, Any]], per_minute: dict[str, float],
                 n: int) -> dict[str, Any]:
    """Rules per SLO, and rule evaluations per SLO per minute at the real intervals."""
    def count(groups: list[dict[str, Any]], period: bool | None) -> tuple[float, float]:
        rules = [(g["name"], r) for g in groups for r in g["rules"]
                 if period is None or _period_rule(g["name"], r.get("record") or r.get("alert", "")) == period]
        return len(rules) / n, sum(per_minute.get(g, 1.0) for g, _ in rules) / n

    return {f"{what}_{side}": dict(zip(("rules", "evaluations_per_minute"), count(groups, period), strict=True))
            for side, groups in (("slogen", slogen), ("sloth", sloth))
            for what, period in (("period", True), ("all", None))}


def measure(n: int, days: int, rounds: int, scale: float = 1.0) -> dict[str, Any]:
    """The whole benchmark for `n` SLOs over `days` days; every group evaluated each 1m ÷ `scale`."""
    assert PROMTOOL, "promtool is not installed"
    slos = scale_bench._slos(n, 1)
    end = int(time.time()) // 60 * 60
    started = time.perf_counter()
    tr = scale_bench.Traffic(n, end - days * 86400 - 7200, days * 1440 + 120)
    hour = end // 3600 * 3600
    k1 = (hour - int(tr.times[0])) // 60
    k0 = k1 - days * 1440
    truth = [(tr.bad[i][k1] - tr.bad[i][k0]) / (tr.total[i][k1] - tr.total[i][k0]) for i in range(n)]
    window = f"{days}d"
    spec = loads(scale_bench._spec(slos, window))
    slogen, per_minute = scale_bench.slogen_groups(slos, scale, window, every="1m")
    sloth = [g for svc, slo in slos for g in scale_bench.sloth_groups(svc, slo, days)]
    work = Path(tempfile.mkdtemp(prefix="slogen-bench-"))
    result: dict[str, Any] = {"slos": n, "days": days, "every_s": 60 / scale}
    try:
        result["samples_backfilled"] = scale_bench.write_history(work / "h.om", slos, tr, days + 1, 60)
        result["generate_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h",
                        str(work / "h.om"), str(work / "data")], check=True, capture_output=True)
        (work / "h.om").unlink()
        result["backfill_s"] = round(time.perf_counter() - started, 1)
        files = {"slogen.rules.yaml": yaml.safe_dump({"groups": slogen}, sort_keys=False),
                 "sloth.rules.yaml": yaml.safe_dump({"groups": sloth}, sort_keys=False)}
        with scale_bench.exporter(slos, tr) as port:
            del tr
            config = scale_bench.scrape_config(port, scale).replace("RULE_FILES", "[slogen.rules.yaml, sloth.rules.yaml]")
            with prometheus(config, data_dir=work / "data", files=files, ready_timeout=120) as (url, _):
                scale_bench.wait_live(url, n, 120 / scale)
                every = 60 / scale
                durations = _evaluations(url, len(slogen) + len(sloth), rounds, timeout=every * (rounds + 2) + 30,
                                         poll=max(0.5, every / 12))
                ours_expr = q.hour_ratio(spec.slos[0], window)
                sloth_expr = next(r["expr"] for r in sloth[0]["rules"] if r["record"] == scale_bench.SLOTH_RATIO + window)
                ours_ms, ours_samples = _median_query(url, ours_expr, hour)
                sloth_ms, sloth_samples = _median_query(url, sloth_expr, hour)
                errors: dict[str, list[float]] = {"slogen": [], "sloth": []}
                for i, slo in enumerate(spec.slos):
                    sloth_i = next(r["expr"] for g in sloth[3 * i: 3 * i + 1] for r in g["rules"]
                                   if r["record"] == scale_bench.SLOTH_RATIO + window)
                    errors["slogen"].append(abs(_value(url, q.hour_ratio(slo, window), hour) - truth[i]) / truth[i])
                    errors["sloth"].append(abs(_value(url, sloth_i, hour) - truth[i]) / truth[i])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {**result,
            "evaluations_per_group_min": min((len(v) for (g, i, r), v in durations.items() if i == -1), default=0),
            "groups_seen": sum(1 for (g, i, r) in durations if i == -1), "groups": len(slogen) + len(sloth),
            **_costs(durations, per_minute, n), **_rule_counts(slogen, sloth, per_minute, n),
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
            ("period/budget rules (hours+budget+state | 5m ratio, 30d rule, meta), ms per evaluation",
             "period_rules_ms_per_eval"),
            ("period/budget rules, ms per minute at real intervals", "period_rules_ms_per_minute"),
            ("whole rule set (6 stages | Sloth's 3 groups), ms per evaluation", "groups_ms_per_eval"),
            ("whole rule set, ms per minute at real intervals", "groups_ms_per_minute"))),
        row("period/budget rule evaluations per minute, per SLO", r["period_slogen"]["evaluations_per_minute"],
            r["period_sloth"]["evaluations_per_minute"]),
        row("all rule evaluations per minute, per SLO", r["all_slogen"]["evaluations_per_minute"],
            r["all_sloth"]["evaluations_per_minute"]),
        row("period ratio expr ms (1 SLO)", r["period_expr_ms"]["slogen"], r["period_expr_ms"]["sloth"]),
        row("period ratio queryable samples", r["period_expr_samples"]["slogen"], r["period_expr_samples"]["sloth"]),
        row("max relative error vs true ratio", r["relative_error_max"]["slogen"], r["relative_error_max"]["sloth"]),
    ]


def run(smoke: bool, slos: int = 100, days: int = 30) -> list[dict[str, Any]]:
    """bench.run's entry point: rows of (figure, slogen, reference = Sloth, ratio)."""
    result = measure(3, 7, 2, scale=12) if smoke else measure(slos, days, 3)
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
    print(f"{'figure':<96} {'slogen':>10} {'sloth':>10} {'ratio':>8}")
    for r in rows:
        ratio = f"{r['ratio']:.4g}" if r["ratio"] is not None else "-"
        print(f"{r['figure']:<96} {r['slogen']:>10.4g} {r['reference']:>10.4g} {ratio:>8}")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
