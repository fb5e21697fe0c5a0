"""`promtool test rules` suites that prove a service's rendered rule file behaves (slogen test).

One suite per service, `<service>.test.yaml`, reading the rule file the user deployed (so a
hand edit or a broken upgrade fails it). For each SLO it feeds the SLI's own raw series, built
from the SLI kind (counters for ratio SLIs, `_bucket`/`_count` for latency, the selectors inside
`sum(rate|increase(sel[$window]))` for expr SLIs and for an expr.ratio SLI that divides two such
sums, 0/1 samples of many series for gauge SLIs), 1000 events a minute:

* steady errors below the budget rate: no alert, policy alerts included;
* zero traffic (counters that exist and do not move): no alert;
* per alert row: clean traffic over every window that can fire, then a step to 1.5 × its threshold
  (at most halfway to 100 % errors): the row's severity is silent shortly before the time
  `slogen.slo.explain` predicts (which includes the row's `for:`) and firing shortly after it
  (docs/alert-tests.md has the slack); a severity that cannot fire at that ratio is silent;
* a grouped SLO (`group_by`) has two groups and only one steps up: only its alerts fire, with its
  labels;
* `min_events`: a burst of 100 % errors too small to reach it does not page; a large one does.

Every group runs at every step of promtool's grid (`group_eval_order` is the file's order), every
3m: the tiles then abut as on a live server. An SLO whose series cannot be synthesised (an expr
SLI of another shape, a regex with no example, a native histogram) gets no cases and is listed
in `skipped`.
"""

from __future__ import annotations

import math
import re
import re._parser as sre_parse  # the stdlib's own regex parser, to write a string a regex matches
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import re2

from slogen import conventions as c
from slogen.durations import format_duration, parse_duration
from slogen.model import SLO, ExprRatioSLI, ExprSLI, GaugeSLI, LatencySLI, RatioSLI, Spec
from slogen.promql import Matcher, PromQLSyntaxError, Selector, parse_selector
from slogen.render import rules
from slogen.render.artifact import Artifact
from slogen.render.encode import yaml_text
from slogen.render.promql_builders import le_matcher
from slogen.slo import explain, windows

SCRAPE = 60  # seconds between input samples
MIN_EVENTS_PER_MINUTE = 1000
STEP_ABOVE = Fraction(3, 2)  # the step case's error ratio, as a multiple of the row's threshold
ALERTS = (c.ALERT_PAGE, c.ALERT_TICKET, c.ALERT_FREEZE, c.ALERT_EXHAUSTED)
QUIET_MINUTES = 6 * 60
GAUGE_SERIES_MIN = 100  # 0/1 series of a gauge SLI's cases: events a minute, one sample each
GAUGE_SERIES_MAX = 1000
GAUGE_SERIES_LABEL = "slogen_test_series"  # tells the gauge series apart; no selector names it
GROUPS = ("group-a", "group-b")  # the two values of each grouping label; only the first steps up
MIN_EVENTS_LEAD = 30  # minutes of standing counters before a min_events burst
Number = int | Fraction


class Unsupported(Exception):
    """The SLI's input series cannot be synthesised; the message says why."""


@dataclass(frozen=True)
class Suites:
    """The suites, and the SLOs that got no cases with the reason."""

    artifacts: tuple[Artifact, ...]
    skipped: tuple[tuple[str, str], ...]  # ("service/slo", why)


# ------------------------------------------------------------------ label sets that match selectors
def _example(pattern: str) -> str | None:
    """A string the regex matches, written from its parse tree; None when too hard to say."""
    try:
        tree = sre_parse.parse(pattern)
    except re.error:
        return None

    def walk(items: Iterable[Any]) -> str:
        out = []
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                out.append(chr(arg))
            elif name == "ANY":
                out.append("0")
            elif name == "NOT_LITERAL":
                out.append("a" if chr(arg) != "a" else "b")
            elif name == "IN":
                out.append(_class_example(arg))
            elif name == "BRANCH":
                out.append(walk(arg[1][0]))
            elif name == "SUBPATTERN":
                out.append(walk(arg[-1]))
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, _high, body = arg
                out.append(walk(body) * max(low, 0))
            elif name == "AT":
                continue
            else:
                raise ValueError(name)
        return "".join(out)

    try:
        return walk(tree)
    except (ValueError, IndexError, TypeError):
        return None


_CATEGORIES = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_WORD": r"\w",
               "CATEGORY_NOT_WORD": r"\W", "CATEGORY_SPACE": r"\s", "CATEGORY_NOT_SPACE": r"\S"}


def _in_class(ch: str, items: Any) -> bool:
    for op, arg in items:
        name = str(op)
        if name == "LITERAL" and ch == chr(arg):
            return True
        if name == "RANGE" and arg[0] <= ord(ch) <= arg[1]:
            return True
        if name == "CATEGORY" and re.fullmatch(_CATEGORIES.get(str(arg), "(?!)"), ch):
            return True
    return False


def _class_example(items: Any) -> str:
    """A character in the class `[...]` (or outside it, for `[^...]`)."""
    negate = bool(items) and str(items[0][0]) == "NEGATE"
    members = items[1:] if negate else items
    for ch in "a0zZ9_-x.":
        if _in_class(ch, members) != negate:
            return ch
    for op, arg in members:  # a class of characters none of the stand-ins are in
        if not negate and str(op) in ("LITERAL", "RANGE"):
            return chr(arg if str(op) == "LITERAL" else arg[0])
    raise ValueError("class")


def _holds(m: Matcher, value: str) -> bool:
    """Prometheus' matcher semantics: regexes are anchored RE2; an absent label is the empty string."""
    if m.op == "=":
        return value == m.value
    if m.op == "!=":
        return value != m.value
    matched = re2.fullmatch(m.value, value) is not None
    return matched if m.op == "=~" else not matched


def _candidates(matchers: list[Matcher]) -> list[str]:
    out = [m.value for m in matchers if m.op == "="]
    out += [e for m in matchers if m.op == "=~" and (e := _example(m.value)) is not None]
    return [*out, "slogen-test", "0", "a", "200", ""]


def satisfy(matchers: Iterable[Matcher]) -> dict[str, str] | None:
    """Labels (without `__name__`) every matcher holds for; None when none found."""
    by_name: dict[str, list[Matcher]] = {}
    for m in matchers:
        by_name.setdefault(m.name, []).append(m)
    labels: dict[str, str] = {}
    for name, ms in sorted(by_name.items()):
        value = next((v for v in _candidates(ms) if all(_holds(m, v) for m in ms)), None)
        if value is None:
            return None
        if value:
            labels[name] = value
    return labels


def matches(selector: Selector, metric: str, labels: dict[str, str]) -> bool:
    """Whether the series `metric{labels}` is selected by `selector`."""
    if selector.metric is not None and selector.metric != metric:
        return False
    return all(_holds(m, labels.get(m.name, "")) for m in selector.matchers)


_NEGATE = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}


def _series_text(metric: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class Feed:
    """How to write one SLO's traffic: series that count all events, bad events, good events."""

    all_events: tuple[str, ...]  # each counts every event (total, +Inf bucket, _count)
    bad: tuple[str, ...]  # each counts the bad events
    good: tuple[str, ...]  # each counts the good events
    gauge: tuple[str, ...] = ()  # a gauge SLI: one 0/1 series per event of a minute


def _relabel(series: str, extra: dict[str, str]) -> str:
    selector = parse_selector(series)
    assert selector.metric is not None
    return _series_text(selector.metric, {**{m.name: m.value for m in selector.matchers}, **extra})


def in_group(f: Feed, labels: dict[str, str]) -> Feed:
    """The same feed with the grouping labels `labels` on every series (one group's traffic)."""
    return Feed(*(tuple(_relabel(s, labels) for s in part) for part in (f.all_events, f.bad, f.good, f.gauge)))


def groups(slo: SLO) -> tuple[dict[str, str], dict[str, str]]:
    """The labels of the two groups of a grouped SLO's cases: the one that burns, the one that does not."""
    return ({label: GROUPS[0] for label in slo.group_by}, {label: GROUPS[1] for label in slo.group_by})


def _split(part: Selector, total: Selector, part_is_bad: bool) -> Feed:
    """Series for a ratio of counters: `part` (errors or good) and the total."""
    if part.metric is None or total.metric is None:
        raise Unsupported("a selector without a metric name")
    part_labels = satisfy(part.matchers)
    if part_labels is None:
        raise Unsupported("no label values found that the selector matches")
    part_series = _series_text(part.metric, part_labels)
    if not matches(total, part.metric, part_labels):
        total_labels = satisfy(total.matchers)
        if total_labels is None or matches(part, total.metric, total_labels):
            raise Unsupported("no total series found that the other selector does not match")
        everything = (_series_text(total.metric, total_labels),)
        return Feed(everything, (part_series,), ()) if part_is_bad else Feed(everything, (), (part_series,))
    for m in part.matchers:
        rest_labels = satisfy([*total.matchers, Matcher(m.name, _NEGATE[m.op], m.value)])
        if rest_labels is not None and matches(total, total.metric, rest_labels) and \
                not matches(part, total.metric, rest_labels):
            rest = _series_text(total.metric, rest_labels)
            return Feed((), (part_series,), (rest,)) if part_is_bad else Feed((), (rest,), (part_series,))
    raise Unsupported("no series found that the total selects and the other selector does not")


_COUNTER_EXPR = re.compile(r"\s*sum\s*\(\s*(?:rate|increase)\s*\(\s*(.+?)\s*\[\s*\$window\s*\]\s*\)\s*\)\s*", re.S)


_EXPR_SHAPE = "an expr SLI not of the form sum(rate(selector[$window])) or sum(increase(…))"


def _expr_selector(text: str) -> Selector:
    match = _COUNTER_EXPR.fullmatch(text)
    if match is None:
        raise Unsupported(_EXPR_SHAPE)
    try:
        return parse_selector(match.group(1))
    except PromQLSyntaxError:
        raise Unsupported(_EXPR_SHAPE) from None


_NATIVE = ("a native histogram: promtool 2.42's test input series cannot write native histogram samples "
           "(the {{schema:… count:… buckets:[…]}} notation came in a later Prometheus)")
_EXPR_RATIO = ("an expr.ratio SLI not of the form sum(rate(errors[$window])) / sum(rate(total[$window])): "
               "slogen cannot know which series it reads")
_SUM = r"(sum\s*\(.+?\[\s*\$window\s*\]\s*\)\s*\))"
_RATIO_EXPR = re.compile(rf"\s*\(?\s*{_SUM}\s*\)?\s*/\s*\(?\s*{_SUM}\s*\)?\s*", re.S)


def _expr_ratio_feed(slo: SLO, sli: ExprRatioSLI) -> Feed:
    """A ratio of two counter sums is fed like a ratio SLI: at steady traffic the mean of its tiles'
    ratios (how an expr.ratio budget counts) is the ratio of the counts."""
    if slo.group_by:
        raise Unsupported("a grouped expr.ratio SLI: which labels its expression keeps is the user's own")
    if slo.alerting.min_events:
        raise Unsupported("min_events on an expr.ratio SLI counts tiles, not requests: its cases are not generated")
    match = _RATIO_EXPR.fullmatch(sli.ratio)
    if match is None:
        raise Unsupported(_EXPR_RATIO)
    try:
        errors, total = _expr_selector(match.group(1)), _expr_selector(match.group(2))
    except Unsupported:
        raise Unsupported(_EXPR_RATIO) from None
    return _split(errors, total, part_is_bad=True)


def _matched_labels(sli: RatioSLI | LatencySLI | GaugeSLI) -> set[str]:
    if isinstance(sli, RatioSLI):
        texts = [t for t in (sli.total, sli.errors, sli.good) if t is not None]
        return {m.name for t in texts for m in parse_selector(t).matchers}
    return {m.name for m in sli.selector}


def gauge_series(slo: SLO) -> int:
    """How many 0/1 series a gauge SLO's cases need: enough that 1.5 × the lowest threshold that
    can fire is at least one series at 0, and that a long window reaches `min_events`."""
    thresholds = [t for r in slo.windows if (t := r.factor(slo.window) * slo.error_budget) < 1]
    need = max(GAUGE_SERIES_MIN, math.ceil(1 / min(thresholds)) if thresholds else 0,
               math.ceil(slo.alerting.min_events / 30))
    if need > GAUGE_SERIES_MAX:
        raise Unsupported(f"a gauge SLO whose lowest alert threshold needs {need} series of 0/1 samples "
                          f"(more than {GAUGE_SERIES_MAX})")
    return need


def feed(slo: SLO) -> Feed:
    """The raw series that make up `slo`'s SLI; Unsupported when slogen cannot write them."""
    sli = slo.sli
    if isinstance(sli, ExprRatioSLI):
        return _expr_ratio_feed(slo, sli)
    if isinstance(sli, LatencySLI) and sli.native:
        raise Unsupported(_NATIVE)
    if slo.group_by:
        if isinstance(sli, ExprSLI):
            raise Unsupported("a grouped expr SLI: which labels its expressions keep is the user's own")
        if set(slo.group_by) & _matched_labels(sli):
            raise Unsupported("a grouping label the SLI's selectors match on: slogen cannot pick two groups")
    if isinstance(sli, GaugeSLI):
        base = satisfy(sli.selector)
        if base is None:
            raise Unsupported("no label values found that the gauge selector matches")
        return Feed((), (), (), tuple(_series_text(sli.metric, {**base, GAUGE_SERIES_LABEL: str(i)})
                                      for i in range(gauge_series(slo))))
    if isinstance(sli, LatencySLI):
        base = satisfy(sli.selector)
        if base is None:
            raise Unsupported("no label values found that the latency selector matches")
        le = le_matcher(sli.threshold_seconds)
        threshold = le.value.split("|")[0]
        bucket = _series_text(sli.metric + "_bucket", {**base, "le": threshold})
        every = (_series_text(sli.metric + "_bucket", {**base, "le": "+Inf"}),
                 _series_text(sli.metric + "_count", base))
        return Feed(every, (), (bucket,))
    if isinstance(sli, RatioSLI):
        total = parse_selector(sli.total)
        if sli.errors is not None:
            return _split(parse_selector(sli.errors), total, part_is_bad=True)
        assert sli.good is not None
        return _split(parse_selector(sli.good), total, part_is_bad=False)
    assert isinstance(sli, ExprSLI)
    total = _expr_selector(sli.total)
    part = sli.errors if sli.errors is not None else sli.good
    assert part is not None
    return _split(_expr_selector(part), total, part_is_bad=sli.errors is not None)


# ------------------------------------------------------------------ traffic
def _num(value: Number) -> str:
    return str(int(value)) if value == int(value) else repr(float(value))


def counter(segments: list[tuple[int, Number]]) -> str:
    """promtool's expanding notation for a counter starting at 0 and growing by `d` a minute for
    `n` minutes, segment after segment: the growth of minute k shows in the sample at k."""
    parts: list[str] = ["0"]
    value: Number = 0
    for minutes, per_minute in segments:
        if minutes <= 0:
            continue
        parts.append(f"{_num(value + per_minute)}+{_num(per_minute)}x{minutes - 1}")
        value += minutes * per_minute
    return " ".join(parts)


def gauge(segments: list[tuple[int, Number]], index: int) -> str:
    """The samples of the gauge series `index`: 0 in a minute whose bad count is above `index`, else
    1; the sample at 0 belongs to the first segment, the sample at k to minute k (as for counters)."""
    parts, first = [], True
    for minutes, bad in segments:
        if minutes <= 0:
            continue
        parts.append(f"{0 if index < bad else 1}x{minutes if first else minutes - 1}")
        first = False
    return " ".join(parts)


def events_per_minute(slo: SLO, f: Feed | None = None) -> int:
    """Traffic for `slo`'s cases: at least 1000 a minute, enough that its budget is 100 events and
    that one minute reaches `min_events`; a gauge's is its number of series."""
    if f is not None and f.gauge:
        return len(f.gauge)
    return max(MIN_EVENTS_PER_MINUTE, math.ceil(100 / slo.error_budget), slo.alerting.min_events)


def series_for(f: Feed, segments: list[tuple[int, Number, Number]]) -> list[dict[str, str]]:
    """Series for `segments` of (minutes, events a minute, bad events a minute)."""
    out = [{"series": s, "values": counter([(n, events) for n, events, _ in segments])} for s in f.all_events]
    out += [{"series": s, "values": counter([(n, bad) for n, _, bad in segments])} for s in f.bad]
    out += [{"series": s, "values": counter([(n, events - bad) for n, events, bad in segments])} for s in f.good]
    out += [{"series": s, "values": gauge([(n, bad) for n, _, bad in segments], i)} for i, s in enumerate(f.gauge)]
    return out


def input_series(f: Feed, events: int, segments: list[tuple[int, int]]) -> list[dict[str, str]]:
    """Series for `segments` of (minutes, bad events a minute) at `events` events a minute."""
    return series_for(f, [(n, events, bad) for n, bad in segments])


def traffic(slo: SLO, f: Feed, events: int, segments: list[tuple[int, int]], calm: bool = False
            ) -> list[dict[str, str]]:
    """`input_series` of an SLO: for a grouped SLO the first group carries `segments` and the second
    the same traffic, clean when `calm` (else the same errors)."""
    if not slo.group_by:
        return input_series(f, events, segments)
    burning, other = groups(slo)
    second = [(n, 0) for n, _ in segments] if calm else segments
    return [*input_series(in_group(f, burning), events, segments), *input_series(in_group(f, other), events, second)]


# ------------------------------------------------------------------ cases
Case = tuple[str, dict[str, Any]]  # (promtool evaluation interval, one test)


def step_for(long: str) -> str:
    """promtool's evaluation interval for a row: about 1/48 of its long window, never below one
    short tile (the tiles then abut as on a live server), so long rows stay cheap to run."""
    target = parse_duration(long) / 48
    return max((s for s in STEPS if parse_duration(s) <= target), key=parse_duration, default=STEPS[0])


STEPS = (c.SHORT_TILE, "6m", "15m", "30m", "1h")


def _grid(seconds: float, step: str, up: bool) -> int:
    size = parse_duration(step)
    return int((math.ceil if up else math.floor)(seconds / size) * size)


def slack(step: str) -> float:
    """How far promtool's first firing may fall from explain's time: one step of its grid and two
    scrape intervals (rate() over sampled counters sees a window's errors up to a scrape early,
    a 3m tile is written from samples a scrape apart)."""
    return parse_duration(step) + 2 * SCRAPE


def _at(seconds: int) -> str:
    return format_duration(seconds) if seconds > 0 else "0s"


def _expect(at: int, alert: str, slo: SLO, firing: bool, grouped: bool = False) -> dict[str, Any]:
    """`alert` of `slo` is firing (or not) at `at`. An alert's labels include the spec's (and
    overrides); reading ALERTS by name, service and SLO asserts what matters without restating
    them (`max`: rows with their own `for:` are rules of their own). With `grouped`, per group:
    firing means the first group's alert fires and the second's does not."""
    selector = (f'alertname="{alert}",alertstate="firing",{c.LABEL_SERVICE}="{_escape(slo.service)}",'
                f'{c.LABEL_SLO}="{_escape(slo.name)}"')
    if not grouped:
        return {"expr": f"max(ALERTS{{{selector}}})", "eval_time": _at(at),
                "exp_samples": [{"labels": "{}", "value": 1}] if firing else []}
    burning, _ = groups(slo)
    labels = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(burning.items())) + "}"
    return {"expr": f"max by ({', '.join(slo.group_by)}) (ALERTS{{{selector}}})", "eval_time": _at(at),
            "exp_samples": [{"labels": labels, "value": 1}] if firing else []}


def _quiet_cases(slo: SLO, spec: Spec, f: Feed) -> list[Case]:
    lowest = min(row.factor(slo.window) for row in slo.windows)
    freeze = Fraction(str(spec.policy.freeze)) / 100
    burn = min(Fraction(1, 2), lowest / 2, (1 - freeze) / 2)
    events = events_per_minute(slo, f)
    bad = round(burn * slo.error_budget * events)
    who = f"{slo.service}/{slo.name}"
    steady = {"name": f"{who}: steady errors at {float(burn):.3g}x the budget rate: silent",
              "interval": "1m", "input_series": traffic(slo, f, events, [(QUIET_MINUTES, bad)]),
              "promql_expr_test": [_expect(t, a, slo, False) for t in (3600, QUIET_MINUTES * 60) for a in ALERTS]}
    if f.gauge:  # a gauge has no "no events" with its series present: every sample is an event
        return [(c.SHORT_TILE, steady)]
    every = [f] if not slo.group_by else [in_group(f, labels) for labels in groups(slo)]
    standing = [s for g in every for s in (*g.all_events, *g.bad, *g.good)]
    zero = {"name": f"{who}: zero traffic: silent", "interval": "1m",
            "input_series": [{"series": s, "values": f"{i + 5}+0x120"} for i, s in enumerate(standing)],
            "promql_expr_test": [_expect(t, a, slo, False) for t in (1800, 7200) for a in ALERTS]}
    return [(c.SHORT_TILE, steady), (c.SHORT_TILE, zero)]


def _firing_rows(slo: SLO, severity: str, ratio: Fraction) -> list[windows.BurnWindow]:
    return [r for r in slo.windows
            if r.severity == severity and r.factor(slo.window) * slo.error_budget < ratio]


def _held(slo: SLO, severity: str) -> bool:
    """Whether a row of `severity` has a pending period (`for:`): its alert fires a grid step later
    than the condition's first true evaluation plus `for` at worst, so the firing check waits a step more."""
    return any(explain.pending(slo, r) for r in slo.windows if r.severity == severity)


def _step_case(slo: SLO, spec: Spec, f: Feed, row: windows.BurnWindow) -> Case | None:
    threshold = row.factor(slo.window) * slo.error_budget
    if threshold >= 1 or explain.burn_outcome(slo, spec, row.severity, threshold) is None:
        return None  # a row that cannot fire, or a disabled severity
    events = events_per_minute(slo, f)
    bad = round(min(threshold * STEP_ABOVE, (1 + threshold) / 2) * events)
    ratio = Fraction(bad, events)  # what the series really carry
    if ratio <= threshold:
        return None  # a gauge's series are too few to step above this row (gauge_series prevents it)
    # Clean traffic over every window of this severity that can fire at this ratio, so each reads
    # exactly the step; another severity is checked only when its windows fit in that history.
    history = int(max(parse_duration(r.long) for r in _firing_rows(slo, row.severity, ratio)))
    step = step_for(row.long)
    plan: list[tuple[str, int | None, int | None]] = []
    latest = 0
    for severity in (row.severity, *(s for s in explain.BURN_ALERTS if s != row.severity)):
        outcome = explain.burn_outcome(slo, spec, severity, ratio)
        if outcome is None:
            continue
        alert = explain.BURN_ALERTS[severity]
        if outcome.detect.seconds is None or outcome.detect.seconds_max is None:
            plan.append((alert, None, None))
            continue
        if any(parse_duration(r.long) > history for r in _firing_rows(slo, severity, ratio)):
            continue
        wait = parse_duration(step) if _held(slo, severity) else 0
        before = _grid(history + outcome.detect.seconds - slack(step), step, up=False)
        after = _grid(history + outcome.detect.seconds_max + slack(step) + wait, step, up=True)
        plan.append((alert, before, after))
        latest = max(latest, after) if severity == row.severity else latest
    grouped = bool(slo.group_by)
    tests = []
    for alert, early, late in plan:
        if early is None or late is None:
            tests.append(_expect(latest, alert, slo, False, grouped))
            continue
        if history < early <= latest:
            tests.append(_expect(early, alert, slo, False, grouped))
        if late <= latest:
            tests.append(_expect(late, alert, slo, True, grouped))
    run = (latest - history) // 60 + 1
    hold = explain.pending(slo, row)
    name = (f"{slo.service}/{slo.name}: {row.severity} {row.long}/{row.short}"
            f"{f' (for {hold})' if hold else ''}: clean for {format_duration(history)}, "
            f"then {float(ratio) * 100:.4g}% errors ({float(ratio / threshold):.3g}x its threshold "
            f"{float(threshold):.6g})")
    if grouped:
        burning, other = groups(slo)
        name += f" on {_group_text(burning)} only, {_group_text(other)} clean: only the first fires"
    return step, {"name": name, "interval": "1m",
                  "input_series": traffic(slo, f, events, [(history // 60, 0), (run, bad)], calm=True),
                  "promql_expr_test": tests}


def _group_text(labels: dict[str, str]) -> str:
    return "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"


def _min_events_cases(slo: SLO, spec: Spec, f: Feed) -> list[Case]:
    """Bursts of 100 % errors after standing counters: one whose events stay below a third of
    `min_events` in every window (rate() extrapolates a tile's count by at most half) does not page;
    one at full traffic pages within two grid steps plus its `for:`. The ticket is not checked: its
    long windows may be read from tiles that overlap on promtool's 3m grid (they abut live only)."""
    n = slo.alerting.min_events
    page_rows = [r for r in slo.windows
                 if r.severity == c.SEVERITY_PAGE and r.factor(slo.window) * slo.error_budget < 1]
    if not n or f.gauge or not page_rows or explain.burn_outcome(slo, spec, c.SEVERITY_PAGE, Fraction(1)) is None:
        return []
    step = c.SHORT_TILE
    hold = min(parse_duration(explain.pending(slo, r) or "0s") for r in page_rows)
    start = MIN_EVENTS_LEAD * 60
    check = _grid(start + 2 * parse_duration(step) + hold + 3 * SCRAPE, step, up=True)
    checks = (check, check + 1800)
    minutes = (checks[-1] - start) // 60 + 1
    if slo.group_by:
        f = in_group(f, groups(slo)[0])
    who = f"{slo.service}/{slo.name}"
    low = Fraction(n, 3 * minutes)
    high = events_per_minute(slo, f)
    quiet = {"name": f"{who}: min_events {n}: {float(low * minutes):.4g} events, all errors, over {minutes}m: no page",
             "interval": "1m", "input_series": series_for(f, [(MIN_EVENTS_LEAD, 0, 0), (minutes, low, low)]),
             "promql_expr_test": [_expect(t, c.ALERT_PAGE, slo, False) for t in checks]}
    loud = {"name": f"{who}: min_events {n}: {high} events a minute, all errors: pages",
            "interval": "1m", "input_series": series_for(f, [(MIN_EVENTS_LEAD, 0, 0), (minutes, high, high)]),
            "promql_expr_test": [_expect(t, c.ALERT_PAGE, slo, True) for t in checks]}
    return [(step, quiet), (step, loud)]


def suite_file(service: str, step: str) -> str:
    """Path of a service's suite for one evaluation interval, relative to the tests directory."""
    return f"{service}.{step}.test.yaml"


def generate(spec: Spec, rules_dir: str) -> Suites:
    """The suites of every service; `rules_dir` is where the rule files are, relative to the suites."""
    artifacts = []
    skipped: list[tuple[str, str]] = []
    rendered = {a.path: a.data for a in rules.generate(spec)}
    for service in spec.services:
        path = c.rule_file(service.name)
        order = [g["name"] for g in rendered[path]["groups"]]
        name = path.split("/", 1)[1]
        rule_file = f"{rules_dir.rstrip('/')}/{name}" if rules_dir else name
        by_step: dict[str, list[dict[str, Any]]] = {}
        for slo in service.slos:
            try:
                f = feed(slo)
            except Unsupported as exc:
                skipped.append((f"{slo.service}/{slo.name}", str(exc)))
                continue
            cases = [*_quiet_cases(slo, spec, f), *_min_events_cases(slo, spec, f),
                     *(case for row in slo.windows if (case := _step_case(slo, spec, f, row)))]
            for step, test in cases:
                by_step.setdefault(step, []).append(test)
        for step in sorted(by_step, key=parse_duration):
            suite = {"rule_files": [rule_file], "evaluation_interval": step, "group_eval_order": order,
                     "tests": by_step[step]}
            artifacts.append(Artifact(suite_file(service.name, step), yaml_text(suite, source=spec.source)))
    return Suites(tuple(artifacts), tuple(skipped))
