"""Recording-rule history for a real Prometheus: what the rendered rules would have recorded.

Recording rules never run on the past, so a test that needs their history evaluates them the way
Prometheus would: in passes ordered by dependency (a rule reading another recorded series runs in
a later pass), each rule's `expr` as a range query at its group's interval, aligned to multiples
of that interval, over the span its consumers need; the results are written as OpenMetrics under
the rule's `record` name and labels and backfilled with promtool. That is what Prometheus would
have recorded with an evaluation offset of 0.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from prom import backfill, prometheus
from slogen.durations import parse_duration

ROOT_SPAN = 10 * 60  # history kept for every recorded series before END
MAX_POINTS = 10_000  # Prometheus refuses range queries over 11,000 points per series


Cumulative = dict[int, tuple[float, float]]  # time → (events, errors) counters


def counter_history(traffic: Callable[[int], tuple[float, float]], start: int, stop: int,
                    job: str = "shop") -> tuple[str, Cumulative]:
    """OpenMetrics for `http_requests_total{job,code}` a minute apart from `traffic(t)` (events and
    errors in the minute before t), and the cumulative counts at every minute. The counters start
    non-zero, so rate() never clamps at a counter's birth."""
    ok_lines, bad_lines, cumulative = [], [], {}
    total, bad = 1e6, 1e3
    for t in range(start, stop + 1, 60):
        events, errors = traffic(t) if t > start else (0.0, 0.0)
        total, bad = total + events, bad + errors
        cumulative[t] = (total, bad)
        ok_lines.append(f'http_requests_total{{job="{job}",code="200"}} {total - bad!r} {t}')
        bad_lines.append(f'http_requests_total{{job="{job}",code="500"}} {bad!r} {t}')
    return "\n".join(["# TYPE http_requests counter", *ok_lines, *bad_lines, "# EOF", ""]), cumulative


def true_ratio(cumulative: Cumulative, start: int, end: int) -> float:
    """errors ÷ events between two minutes, from the counters."""
    return (cumulative[end][1] - cumulative[start][1]) / (cumulative[end][0] - cumulative[start][0])


def range_values(url: str, expr: str, start: int, end: int, step: int) -> list[tuple[float, str]]:
    """The one series of a range query as (time, value) pairs; [] when it has none."""
    body = requests.get(url + "/api/v1/query_range", timeout=60,
                        params={"query": expr, "start": start, "end": end, "step": step}).json()
    assert body["status"] == "success", body
    return [tuple(v) for v in body["data"]["result"][0]["values"]] if body["data"]["result"] else []


def openmetrics(series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]]) -> str:
    out = []
    for (name, labels), points in sorted(series.items()):
        text = ",".join(f'{k}="{v}"' for k, v in labels)
        out.extend(f"{name}{{{text}}} {_om(v)} {int(t)}" for t, v in points)
    return "\n".join(out) + "\n# EOF\n"


def _om(value: float) -> str:
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")




@dataclass(frozen=True)
class Rule:
    record: str
    expr: str
    labels: tuple[tuple[str, str], ...]
    interval: int


def recording_rules(rule_texts: list[str]) -> list[Rule]:
    rules = []
    for text in rule_texts:
        for group in yaml.safe_load(text)["groups"]:
            interval = int(parse_duration(group.get("interval", "1m")))
            rules += [Rule(r["record"], r["expr"], tuple(sorted((r.get("labels") or {}).items())), interval)
                      for r in group["rules"] if "record" in r]
    return rules


def references(rule: Rule, names: set[str]) -> dict[str, float]:
    """Recorded names `rule` reads, with the longest range it reads each over (0 for instant)."""
    found: dict[str, float] = {}
    for name in names:
        # name{…}[range] or name{…}[range:step], optionally inside f(…)[range:step] (a subquery)
        for m in re.finditer(rf"(?<![\w:]){re.escape(name)}(?![\w:])(\{{[^}}]*\}})?(\[([0-9a-z]+)(:[0-9a-z]*)?\])?"
                             r"(\)\[([0-9a-z]+):[0-9a-z]*\])?", rule.expr):
            rng = sum(parse_duration(g) for g in (m.group(3), m.group(6)) if g)
            found[name] = max(found.get(name, 0.0), rng)
    return found


def plan(rules: list[Rule], root_span: float = ROOT_SPAN) -> tuple[list[list[Rule]], dict[str, float]]:
    """Rules grouped into passes by dependency depth, and how much history each record needs."""
    names = {r.record for r in rules}
    refs = {id(r): references(r, names) for r in rules}
    level: dict[str, int] = {}
    for _ in range(len(names) + 1):
        for r in rules:
            deps = [level.get(n) for n in refs[id(r)] if n != r.record]
            if all(d is not None for d in deps):
                level[r.record] = max(level.get(r.record, 0), 1 + max((d for d in deps if d is not None), default=-1))
    assert set(level) == names, f"circular rules: {names - set(level)}"
    span = dict.fromkeys(names, float(root_span))
    for _ in range(max(level.values()) + 2):
        for r in rules:
            for name, rng in refs[id(r)].items():
                span[name] = max(span[name], span[r.record] + rng)
    passes = [[r for r in rules if level[r.record] == n] for n in range(max(level.values()) + 1)]
    return passes, span


def evaluate(url: str, rule: Rule, start: float, end: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], list]:
    """The rule's output over [start, end] at its interval, aligned to multiples of the interval."""
    step = rule.interval
    first = int(math.ceil(start / step) * step)
    out: dict[tuple[str, tuple[tuple[str, str], ...]], list] = {}
    chunk_start = first
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + (MAX_POINTS - 1) * step)
        body = requests.post(url + "/api/v1/query_range", data={"query": rule.expr, "start": chunk_start,
                                                                "end": chunk_end, "step": step}, timeout=300).json()
        assert body["status"] == "success", (rule.record, rule.expr, body)
        for item in body["data"]["result"]:
            labels = {k: v for k, v in item["metric"].items() if k != "__name__"} | dict(rule.labels)
            out.setdefault((rule.record, tuple(sorted(labels.items()))), []).extend(
                (float(t), float(v)) for t, v in item["values"])
        chunk_start = chunk_end + step
    return out


def build_history(raw: str, rule_texts: list[str], end: int, store: Path, span: float = ROOT_SPAN) -> None:
    """Backfill the raw counters, then every recording rule's output, pass by pass."""
    backfill(raw, store)
    passes, spans = plan(recording_rules(rule_texts), span)
    for rules in passes:
        data = Path(tempfile.mkdtemp(prefix="slogen-e2e-data-"))
        shutil.rmtree(data)
        shutil.copytree(store, data)
        series: dict[tuple[str, tuple[tuple[str, str], ...]], list] = {}
        with prometheus("global: {}\n", data_dir=data) as (url, _):
            for rule in rules:
                for key, points in evaluate(url, rule, end - spans[rule.record], end).items():
                    series.setdefault(key, []).extend(points)
        shutil.rmtree(data, ignore_errors=True)
        if series:
            backfill(openmetrics({k: sorted(v) for k, v in series.items()}), store)


