"""`slogen check --live`: does the live Prometheus hold what each SLO's rules need?

Per SLO, with the SLI's own selectors and the rendered rules (docs/check.md has the list and the
reasoning): the total series exists and had events in the last hour; the SLO is recorded as one
series; errors (or good events) do not exceed the total; a latency SLI's threshold bucket exists;
the series are sampled often enough for the shortest alert window; retention covers the period;
the rendered rule groups are loaded and their last evaluation succeeded. Every problem carries
what to do about it. Prometheus failing is a `PrometheusError` (exit 3), never a finding.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from slogen import conventions as c
from slogen.clients.prometheus import PrometheusClient, PrometheusError, QueryRejectedError
from slogen.durations import format_duration, parse_duration
from slogen.model import SLO, ExprSLI, LatencySLI, RatioSLI, Spec
from slogen.promql import Expr, Range, Selector, call, parse_selector, rate, render, sum_
from slogen.render import promql_builders as q
from slogen.render import rules as rule_render

SCHEMA = "slogen/check/v1"
OK, PROBLEM, NOTE, PENDING, SKIPPED = "ok", "problem", "note", "pending", "skipped"
LOOKBACK = "1h"
SAMPLES_PER_WINDOW = 4  # rate() over a window wants at least four samples of it (Prometheus' own advice)
SPACING_STEP = 15  # seconds between the timestamps read to measure the sample spacing
SLACK = 1e-9  # relative: errors may equal the total; rounding must not read as "more"


@dataclass(frozen=True)
class Finding:
    """The outcome of one check of one SLO."""

    check: str
    status: str
    message: str
    fix: str = ""


@dataclass
class SLOReport:
    """Every finding for one SLO."""

    service: str
    slo: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status == PROBLEM]


@dataclass
class CheckReport:
    """The whole live check: per SLO, and the time it ran at."""

    prometheus: str
    time: float
    slos: list[SLOReport] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return sum(len(s.problems) for s in self.slos)

    def document(self) -> dict[str, Any]:
        """The `--json` document (schema SCHEMA, docs/check.md)."""
        return {"schema": SCHEMA, "prometheus": self.prometheus, "time": self.time, "ok": self.problems == 0,
                "problems": self.problems,
                "slos": [{"service": s.service, "slo": s.slo, "ok": not s.problems,
                          "checks": [{"check": f.check, "status": f.status, "message": f.message, "fix": f.fix}
                                     for f in s.findings]} for s in self.slos]}


# ------------------------------------------------------------------------------ expressions


def _total_selector(slo: SLO) -> Selector | None:
    """The total's series for ratio and latency SLIs (those the absent alert watches); None for others."""
    if isinstance(slo.sli, RatioSLI | LatencySLI):
        found = q.total_presence(slo)
        assert isinstance(found, Selector)
        return found
    return None


def _per_second(selector: Selector, window: str = LOOKBACK) -> Expr:
    return sum_(rate(selector, window))


def _part(slo: SLO) -> tuple[str, Expr]:
    """The SLI's other side over the last hour: ("errors" | "good", events per second)."""
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        if sli.errors is not None:
            return "errors", _per_second(parse_selector(sli.errors))
        assert sli.good is not None
        return "good", _per_second(parse_selector(sli.good))
    if isinstance(sli, LatencySLI):
        if sli.native:  # no bucket series: the errors as the rules compute them
            return "errors", q.errors_expr(slo, LOOKBACK)
        return "good", _per_second(q.latency_series(sli, "_bucket", q.le_matcher(sli.threshold_seconds)))
    assert isinstance(sli, ExprSLI)
    if sli.errors is not None:
        return "errors", sum_(q.user_expr(sli.errors, LOOKBACK))
    assert sli.good is not None
    return "good", sum_(q.user_expr(sli.good, LOOKBACK))


def _scalar(client: PrometheusClient, expr: Expr, at: float) -> float | None:
    samples = client.query(render(expr), at=at).samples
    return samples[0].value if samples else None


# ------------------------------------------------------------------------------ checks


def check_traffic(client: PrometheusClient, slo: SLO, at: float) -> list[Finding]:
    """total-series, events, errors-vs-total (and, for latency, threshold-bucket); an SLI query that
    Prometheus refuses to evaluate is a problem of the SLO, not a failure of Prometheus."""
    try:
        return _traffic(client, slo, at)
    except QueryRejectedError as exc:
        return [Finding("sli-query", PROBLEM, f"Prometheus cannot evaluate the SLI's query: {exc}",
                        "fix the SLI's expression (try it in Prometheus' query page with $window = 1h)")]


def _traffic(client: PrometheusClient, slo: SLO, at: float) -> list[Finding]:
    out: list[Finding] = []
    selector = _total_selector(slo)
    if selector is not None:
        count = _scalar(client, call("count", call("count_over_time", _range(selector))), at)
        if count is None:
            return [Finding("total-series", PROBLEM, f"no series matches the total {render(selector)} in the last "
                            "hour: every window reads absent and the budget is UNKNOWN",
                            "check the selector against what Prometheus scrapes (metric name, labels), and that "
                            "the target is up")]
        out.append(Finding("total-series", OK, f"{int(count)} series match the total {render(selector)}"))
    events = _scalar(client, q.events_expr(slo, LOOKBACK), at)
    if events is None:
        return [*out, Finding("events", PROBLEM, "the SLI's total has no value over the last hour",
                              "check the total expression and that its series are scraped")]
    if events <= 0:
        return [*out, Finding("events", PROBLEM, "no events in the last hour: the SLI reads 0 % errors whatever "
                              "happens", "check that the service receives traffic and the total counts it")]
    out.append(Finding("events", OK, f"{events * 3600:.6g} events in the last hour"))
    if isinstance(slo.sli, LatencySLI) and not slo.sli.native:  # a native histogram has every threshold
        bucket = check_bucket(client, slo, slo.sli, at)
        out.append(bucket)
        if bucket.status == PROBLEM:
            return out
    kind, part_expr = _part(slo)
    part = _scalar(client, part_expr, at)
    if part is None:
        if kind == "good":
            out.append(Finding("errors-vs-total", PROBLEM, "the good selector has no series: every event reads "
                               "as an error (100 % errors)", "fix the good selector so it matches the good events"))
        else:
            out.append(Finding("errors-vs-total", NOTE, "the errors selector has no series: 0 errors (a counter "
                               "not yet incremented, or a typo slogen cannot tell from it)",
                               "if errors did happen, check the errors selector"))
    elif part > events * (1 + SLACK):
        out.append(Finding("errors-vs-total", PROBLEM, f"{kind} ({part * 3600:.6g}) exceed the total "
                           f"({events * 3600:.6g}) over the last hour: the ratio is not a share of the events",
                           f"make the {kind} selector a subset of the total (same metric and labels, plus the "
                           "matcher that picks the " + kind + " events)"))
    else:
        out.append(Finding("errors-vs-total", OK, f"{kind} {part * 3600:.6g} ≤ total {events * 3600:.6g}"))
    return out


def _range(selector: Selector, window: str = LOOKBACK) -> Range:
    return Range(selector, window)


def check_bucket(client: PrometheusClient, slo: SLO, sli: LatencySLI, at: float) -> Finding:
    """The threshold's `le` bucket exists (else every request would read as slow)."""
    le = q.le_matcher(sli.threshold_seconds)
    bucket = q.latency_series(sli, "_bucket", le)
    if _scalar(client, call("count", call("count_over_time", _range(bucket))), at) is not None:
        return Finding("threshold-bucket", OK, f"bucket {render(bucket)} exists")
    every = Selector(sli.metric + "_bucket", sli.selector)
    bounds = sorted({s.labels.get("le", "") for s in client.query(
        f"count by (le) (count_over_time({render(every)}[{LOOKBACK}]))", at=at).samples} - {""},
        key=_le_order)
    known = ", ".join(bounds) if bounds else "none (no _bucket series at all)"
    return Finding("threshold-bucket", PROBLEM, f"no bucket le={sli.threshold_seconds:g} for {sli.metric}: the "
                   "rules would read every request as slower than the threshold (100 % errors)",
                   f"set the threshold to one of the histogram's bucket bounds: {known}")


def _le_order(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.inf


def check_spacing(client: PrometheusClient, slo: SLO, at: float) -> Finding:
    """The total's samples are close enough for rate() over the shortest alert window."""
    selector = _total_selector(slo)
    if selector is None:
        return Finding("scrape-interval", SKIPPED, "an expr SLI has no raw selector to measure")
    shortest = min(parse_duration(w) for row in slo.windows for w in (row.short, row.long))
    series = client.query_range(f"timestamp({render(selector)})", at - 3600, at, SPACING_STEP)
    gaps = []
    for _, points in series:
        stamps = sorted({v for _, v in points})
        gaps += [b - a for a, b in itertools.pairwise(stamps)]
    if not gaps:
        return Finding("scrape-interval", SKIPPED, "too few samples in the last hour to measure their spacing")
    spacing = statistics.median(gaps)
    limit = shortest / SAMPLES_PER_WINDOW
    text = f"samples every {spacing:g}s (median); the shortest alert window is {format_duration(shortest)}"
    if spacing > limit:
        return Finding("scrape-interval", PROBLEM, text + f", which needs at most {limit:g}s",
                       f"scrape the target every {limit:g}s or less (scrape_interval in Prometheus' config)")
    return Finding("scrape-interval", OK, text)


def retention_seconds(client: PrometheusClient) -> float | None:
    """Prometheus' time retention from its flags; None when it has no such flag (not Prometheus)."""
    try:
        flags = client.api_data("/api/v1/status/flags", "flags")
    except PrometheusError:
        return None
    value = flags.get("storage.tsdb.retention.time") if isinstance(flags, dict) else None
    if not isinstance(value, str):
        return None
    try:
        seconds = parse_duration(value)
    except ValueError:
        return None
    retention = flags.get("storage.tsdb.retention") if isinstance(flags, dict) else None
    if seconds == 0 and isinstance(retention, str) and retention not in ("", "0s"):
        seconds = parse_duration(retention)  # the deprecated flag, if that is what was set
    return seconds or 15 * 86400  # neither set: Prometheus' default


def check_retention(slo: SLO, retention: float | None) -> Finding:
    """Retention covers the SLO's period and the hour before it that the first hour tile reads."""
    if retention is None:
        return Finding("retention", SKIPPED, "this server shows no storage.tsdb.retention.time flag (not Prometheus?)")
    needed = float(slo.window_days * 86400 + 3600)
    text = f"retention {format_duration(retention)}, period {slo.window}"
    if retention < needed:
        return Finding("retention", PROBLEM, text + f": the budget can cover only {format_duration(retention)} "
                       "of the period", f"set --storage.tsdb.retention.time to {format_duration(needed)} or more")
    return Finding("retention", OK, text)


def expected_groups(spec: Spec) -> dict[tuple[str, str], list[str]]:
    """The rendered rule groups holding each SLO's rules, in file order."""
    out: dict[tuple[str, str], list[str]] = {}
    for artifact in rule_render.generate(spec):
        for group in yaml.safe_load(artifact.text)["groups"]:
            for rule in group["rules"]:
                labels = rule.get("labels") or {}
                names = out.setdefault((labels.get(c.LABEL_SERVICE, ""), labels.get(c.LABEL_SLO, "")), [])
                if group["name"] not in names:
                    names.append(group["name"])
    return out


def check_rules(slo: SLO, expected: Sequence[str], loaded: Sequence[dict[str, Any]], rule_file: str) -> Finding:
    """The rendered groups of the SLO are loaded, hold its rules, and their last evaluation succeeded."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for group in loaded:
        by_name.setdefault(str(group.get("name")), []).append(group)
    missing = [g for g in expected if g not in by_name]
    if missing:
        return Finding("rules", PROBLEM, f"rule group{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                       "not loaded", f"add {rule_file} (from slogen render) to Prometheus' rule_files and reload "
                       "(or slogen push --prometheus-rules-dir DIR --reload)")
    twice = [g for g in expected if len(by_name[g]) > 1]
    if twice:
        files = sorted({str(x.get("file")) for g in twice for x in by_name[g]})
        return Finding("rules", PROBLEM, f"{', '.join(twice)} loaded from several files ({', '.join(files)})",
                       "load each rendered rule file once")
    mine = [(g, r) for name in expected for g in by_name[name] for r in g.get("rules") or []
            if isinstance(r, dict) and (r.get("labels") or {}).get(c.LABEL_SLO) == slo.name
            and (r.get("labels") or {}).get(c.LABEL_SERVICE) == slo.service]
    if not mine:
        return Finding("rules", PROBLEM, "the loaded groups hold no rules for this SLO (an older rule file?)",
                       f"re-render {rule_file} from the spec and reload Prometheus")
    failing = [(g, r) for g, r in mine if r.get("health") == "err"]
    if failing:
        group, rule = failing[0]
        name = rule.get("name") or rule.get("record")
        return Finding("rules", PROBLEM, f"{len(failing)} rule(s) failed their last evaluation, e.g. {name} in "
                       f"{group.get('name')}: {str(rule.get('lastError') or '')[:300]}",
                       "fix what the error names (a selector matching series with clashing labels, a query "
                       "limit), then wait one evaluation")
    waiting = sorted({str(g.get("name")) for g, r in mine if r.get("health") != "ok"})
    if waiting:
        return Finding("rules", PENDING, f"loaded; not evaluated yet: {', '.join(waiting)} "
                       "(groups run every 1m to 30m)")
    return Finding("rules", OK, f"{len(expected)} groups loaded, {len(mine)} rules evaluated without error")


def check_one_series(client: PrometheusClient, slo: SLO, at: float) -> Finding:
    """The SLO's recordings are one series: two label sets mean two rule sets recording it."""
    # Two recordings from groups that run at different intervals: one of two rule sets may not have
    # run its slower groups yet.
    answers = [client.query(render(call("last_over_time", _range(q.recorded(name, slo), "10m"))), at=at).samples
               for name in (c.error_ratio("5m"), c.SLO_INFO)]
    samples = max(answers, key=len)
    if len(samples) > 1:
        sets = "; ".join("{" + ", ".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()) if k != "__name__") + "}"
                         for s in samples[:3])
        return Finding("one-series", PROBLEM, f"{len(samples)} series record this SLO where one is expected: {sets}",
                       "two rule sets record it (an old rule file with other labels, or a copy): keep only the "
                       "file slogen render writes now")
    if not samples:
        return Finding("one-series", SKIPPED, "nothing recorded for this SLO yet")
    return Finding("one-series", OK, "one series per recording")


# ------------------------------------------------------------------------------ the run


def run(spec: Spec, slos: Sequence[SLO], client: PrometheusClient, at: float) -> CheckReport:
    """Every check for every SLO in `slos`, as of `at`."""
    report = CheckReport(client.shown_url, at)
    loaded = client.rule_groups()
    retention = retention_seconds(client)
    groups = expected_groups(spec)
    for slo in slos:
        entry = SLOReport(slo.service, slo.name)
        entry.findings += check_traffic(client, slo, at)
        entry.findings.append(check_spacing(client, slo, at))
        entry.findings.append(check_retention(slo, retention))
        entry.findings.append(check_rules(slo, groups.get((slo.service, slo.name), []), loaded,
                                          c.rule_file(slo.service)))
        entry.findings.append(check_one_series(client, slo, at))
        report.slos.append(entry)
    return report

