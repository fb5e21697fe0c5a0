"""`promtool test rules` suites that prove a service's rendered rule file behaves (slogen test).

One suite per service, `<service>.test.yaml`, reading the rule file the user deployed (so a
hand edit or a broken upgrade fails it). For each SLO it feeds the SLI's own raw series, built
from the SLI kind (counters for ratio SLIs, `_bucket`/`_count` for latency, the selectors inside
`sum(rate|increase(sel[$window]))` for expr SLIs), 1000 events a minute:

* steady errors below the budget rate: no alert, policy alerts included;
* zero traffic (counters that exist and do not move): no alert;
* per alert row: clean traffic over every window that can fire, then a step to 1.5 × its threshold
  (at most halfway to 100 % errors): the row's severity is silent shortly before the time
  `slogen.slo.explain` predicts and firing shortly after it (docs/alert-tests.md has the slack);
  a severity that cannot fire at that ratio is silent.

Every group runs at every step of promtool's grid (`group_eval_order` is the file's order), every
3m: the tiles then abut as on a live server. An SLO whose series cannot be synthesised (an expr
SLI of another shape, a regex with no example) gets no cases and is listed in `skipped`.
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


# Tuning that moves the firing times away from the window maths the cases are timed by.
_TUNED = "alert tuning (for, min_events) shifts its firing times; its cases are not generated yet"


def feed(slo: SLO) -> Feed:
    """The raw series that make up `slo`'s SLI; Unsupported when slogen cannot write them."""
    sli = slo.sli
    if isinstance(sli, ExprRatioSLI):
        raise Unsupported("an expr.ratio SLI: a ratio expression has no raw counters to write")
    if isinstance(sli, GaugeSLI):
        raise Unsupported("a gauge SLI: its cases are not generated yet")
    if isinstance(sli, LatencySLI) and sli.native:
        raise Unsupported("a native histogram: promtool 2.x test files cannot write native histogram samples")
    if slo.group_by:
        raise Unsupported("a grouped SLO (group_by): its cases are not generated yet")
    a = slo.alerting
    if a.min_events or a.page.for_ or a.ticket.for_ or any(r.for_ for r in slo.windows):
        raise Unsupported(_TUNED)
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
def counter(segments: list[tuple[int, int]]) -> str:
    """promtool's expanding notation for a counter starting at 0 and growing by `d` a minute for
    `n` minutes, segment after segment: the growth of minute k shows in the sample at k."""
    parts, value = ["0"], 0
    for minutes, per_minute in segments:
        if minutes <= 0:
            continue
        parts.append(f"{value + per_minute}+{per_minute}x{minutes - 1}")
        value += minutes * per_minute
    return " ".join(parts)


def events_per_minute(slo: SLO) -> int:
    """Traffic for `slo`'s cases: at least 1000 a minute, and enough that its budget is 100 events."""
    return max(MIN_EVENTS_PER_MINUTE, math.ceil(100 / slo.error_budget))


def input_series(f: Feed, events: int, segments: list[tuple[int, int]]) -> list[dict[str, str]]:
    """Series for `segments` of (minutes, bad events a minute) at `events` events a minute."""
    out = [{"series": s, "values": counter([(n, events) for n, _ in segments])} for s in f.all_events]
    out += [{"series": s, "values": counter(segments)} for s in f.bad]
    out += [{"series": s, "values": counter([(n, events - bad) for n, bad in segments])} for s in f.good]
    return out


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


def _expect(at: int, alert: str, slo: SLO, firing: bool) -> dict[str, Any]:
    # An alert's labels include the spec's (and overrides); counting ALERTS by name, service and
    # SLO asserts what matters without restating them.
    selector = (f'alertname="{alert}",alertstate="firing",{c.LABEL_SERVICE}="{_escape(slo.service)}",'
                f'{c.LABEL_SLO}="{_escape(slo.name)}"')
    return {"expr": f"count(ALERTS{{{selector}}})", "eval_time": _at(at),
            "exp_samples": [{"labels": "{}", "value": 1}] if firing else []}


def _quiet_cases(slo: SLO, spec: Spec, f: Feed) -> list[Case]:
    lowest = min(row.factor(slo.window) for row in slo.windows)
    freeze = Fraction(str(spec.policy.freeze)) / 100
    burn = min(Fraction(1, 2), lowest / 2, (1 - freeze) / 2)
    events = events_per_minute(slo)
    bad = round(burn * slo.error_budget * events)
    who = f"{slo.service}/{slo.name}"
    steady = {"name": f"{who}: steady errors at {float(burn):.3g}x the budget rate: silent",
              "interval": "1m", "input_series": input_series(f, events, [(QUIET_MINUTES, bad)]),
              "promql_expr_test": [_expect(t, a, slo, False) for t in (3600, QUIET_MINUTES * 60) for a in ALERTS]}
    zero = {"name": f"{who}: zero traffic: silent", "interval": "1m",
            "input_series": [{"series": s, "values": f"{i + 5}+0x120"}
                             for i, s in enumerate((*f.all_events, *f.bad, *f.good))],
            "promql_expr_test": [_expect(t, a, slo, False) for t in (1800, 7200) for a in ALERTS]}
    return [(c.SHORT_TILE, steady), (c.SHORT_TILE, zero)]


def _firing_rows(slo: SLO, severity: str, ratio: Fraction) -> list[windows.BurnWindow]:
    return [r for r in slo.windows
            if r.severity == severity and r.factor(slo.window) * slo.error_budget < ratio]


def _step_case(slo: SLO, spec: Spec, f: Feed, row: windows.BurnWindow) -> Case | None:
    threshold = row.factor(slo.window) * slo.error_budget
    if threshold >= 1 or explain.burn_outcome(slo, spec, row.severity, threshold) is None:
        return None  # a row that cannot fire, or a disabled severity
    events = events_per_minute(slo)
    bad = round(min(threshold * STEP_ABOVE, (1 + threshold) / 2) * events)
    ratio = Fraction(bad, events)  # what the series really carry
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
        before = _grid(history + outcome.detect.seconds - slack(step), step, up=False)
        after = _grid(history + outcome.detect.seconds_max + slack(step), step, up=True)
        plan.append((alert, before, after))
        latest = max(latest, after) if severity == row.severity else latest
    tests = []
    for alert, early, late in plan:
        if early is None or late is None:
            tests.append(_expect(latest, alert, slo, False))
            continue
        if history < early <= latest:
            tests.append(_expect(early, alert, slo, False))
        if late <= latest:
            tests.append(_expect(late, alert, slo, True))
    run = (latest - history) // 60 + 1
    name = (f"{slo.service}/{slo.name}: {row.severity} {row.long}/{row.short}: clean for {format_duration(history)}, "
            f"then {float(ratio) * 100:.4g}% errors ({float(ratio / threshold):.3g}x its threshold "
            f"{float(threshold):.6g})")
    return step, {"name": name, "interval": "1m",
                  "input_series": input_series(f, events, [(history // 60, 0), (run, bad)]),
                  "promql_expr_test": tests}


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
            cases = [*_quiet_cases(slo, spec, f),
                     *(case for row in slo.windows if (case := _step_case(slo, spec, f, row)))]
            for step, test in cases:
                by_step.setdefault(step, []).append(test)
        for step in sorted(by_step, key=parse_duration):
            suite = {"rule_files": [rule_file], "evaluation_interval": step, "group_eval_order": order,
                     "tests": by_step[step]}
            artifacts.append(Artifact(suite_file(service.name, step), yaml_text(suite, source=spec.source)))
    return Suites(tuple(artifacts), tuple(skipped))
