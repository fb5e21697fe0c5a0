"""PromQL trees for one SLO's rules: exact numbers, identity selectors, SLI event expressions.

Every expression returns one series with no labels (`sum(...)` around everything, `sum by` a
grouped SLO's labels); the rule's `labels:` puts `service`, `slo` and the spec's labels back, so
all series of an SLO share one label set and `and`/`or`/`/` between them match without `on(...)`.
(`recorded` is the bare selector for a rule that reads one such series and combines it with no
label-less operand: it already has the rule's labels.) The builders return
`slogen.promql` nodes; only its printer (`render`) turns them into text.
"""

from __future__ import annotations

import functools
from fractions import Fraction

from slogen import conventions as c
from slogen.durations import format_ms, parse_duration
from slogen.model import (
    SLO,
    WINDOW_PLACEHOLDER,
    ExprRatioSLI,
    ExprSLI,
    GaugeSLI,
    LatencySLI,
    RatioSLI,
    identity_matchers,
)
from slogen.promql import (
    Agg,
    Binary,
    Call,
    Expr,
    Matcher,
    Paren,
    Range,
    Raw,
    Selector,
    agg,
    binary,
    call,
    clamp_min,
    or_,
    parse_selector,
    rate,
    sum_,
    vector,
)


def percent_text(value: Fraction) -> str:
    """A share as a short percentage for prose: 2/100 → `2%`, 3/7 → `42.9%`."""
    return f"{float(value * 100):.3g}%"


def rule_labels(slo: SLO) -> dict[str, str]:
    """The labels every recorded series of `slo` carries: identity first, then the spec's labels."""
    return {c.LABEL_SERVICE: slo.service, c.LABEL_SLO: slo.name, **dict(slo.labels)}


def id_matchers(slo: SLO) -> tuple[Matcher, ...]:
    """`service="…",slo="…"`: the matchers selecting exactly this SLO's recorded series."""
    return identity_matchers(slo.service, slo.name)


def recorded(name: str, slo: SLO) -> Selector:
    """`name{service="…",slo="…"}`: a series recorded for `slo`."""
    return Selector(name, id_matchers(slo))


def grouped_sum(slo: SLO, expr: Expr) -> Agg:
    """`sum(expr)`, or `sum by (<group_by>) (expr)` for a grouped SLO: one series per group."""
    return sum_(expr, by=slo.group_by or None)


def series(name: str, slo: SLO) -> Agg:
    """A recorded series of `slo`, summed so the result has no labels but the SLO's grouping ones
    (safe to combine)."""
    return grouped_sum(slo, recorded(name, slo))


def latency_series(sli: LatencySLI, suffix: str, *extra: Matcher) -> Selector:
    """The histogram's `_count` or `_bucket` series with the SLI's matchers (and `extra`, e.g. `le`)."""
    return Selector(sli.metric + suffix, (*sli.selector, *extra))


def le_matcher(seconds: float) -> Matcher:
    """Matcher for the bucket of a threshold in both Go (`le="2"`) and Python (`le="2.0"`) spelling."""
    text = repr(float(seconds))
    if text.endswith(".0"):
        whole = text[:-2]
        return Matcher("le", "=~", f"{whole}|{whole}\\.0")
    return Matcher("le", "=", text)


def user_expr(text: str, window: str) -> Raw:
    """An `expr` SLI's checked text (comments already stripped) for `window`, as one node."""
    return Raw(text.strip().replace(WINDOW_PLACEHOLDER, window))


def defined_ratio(sli: ExprRatioSLI, window: str) -> Paren:
    """`((R) >= 0)`: an `expr.ratio` SLI's series for `window`, without NaN (0 ÷ 0 in the user's
    expression): a tile whose ratio is undefined counts neither as errors nor as an event."""
    return Paren(binary(">=", Paren(user_expr(sli.ratio, window)), 0))


def _counter_rate(slo: SLO, selector: str, window: str) -> Agg:
    # A ratio SLI's selector is checked and stored canonically by the spec loader; parsed back
    # here (cached) so the rule holds it as a Selector, not as text.
    return grouped_sum(slo, rate(parse_selector(selector), window))


def _gauge_per_second(func: str, slo: SLO, sli: GaugeSLI, window: str) -> Binary:
    # Samples per second, so a gauge's tiles add up like a counter's rates; over window − 1 ms so
    # a sample on a tile boundary counts in one tile only.
    samples = Range(Selector(sli.metric, sli.selector), tile_range(window))
    return grouped_sum(slo, call(func, samples)) / int(parse_duration(window))


def events_expr(slo: SLO, window: str) -> Agg | Binary | Call:
    """Events per second over `window` (for `expr` SLIs: the user's expression, in its own unit;
    for gauges: samples per second; for `expr.ratio` SLIs: the number of series with a defined
    ratio, so each tile weighs one)."""
    sli = slo.sli
    if isinstance(sli, ExprRatioSLI):
        return agg("count", defined_ratio(sli, window), by=slo.group_by or None)
    if isinstance(sli, RatioSLI):
        return _counter_rate(slo, sli.total, window)
    if isinstance(sli, LatencySLI):
        if sli.native:
            return call("histogram_count", native_rate(slo, sli, window))
        return grouped_sum(slo, rate(latency_series(sli, "_count"), window))
    if isinstance(sli, GaugeSLI):
        return _gauge_per_second("count_over_time", slo, sli, window)
    return grouped_sum(slo, user_expr(sli.total, window))


def native_rate(slo: SLO, sli: LatencySLI, window: str) -> Agg:
    """`sum(rate(metric{…}[window]))` of a native histogram: one histogram per SLO (or group)."""
    return grouped_sum(slo, rate(Selector(sli.metric, sli.selector), window))


def total_presence(slo: SLO) -> Expr:
    """What exists exactly while the SLI's total events are measured: `absent()` of it alerts."""
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        return parse_selector(sli.total)
    if isinstance(sli, LatencySLI):
        return Selector(sli.metric, sli.selector) if sli.native else latency_series(sli, "_count")
    if isinstance(sli, GaugeSLI):
        return Selector(sli.metric, sli.selector)
    if isinstance(sli, ExprRatioSLI):
        return user_expr(sli.ratio, "5m")
    return user_expr(sli.total, "5m")


def _good_expr(slo: SLO, window: str) -> Agg | Binary | None:
    sli = slo.sli
    if isinstance(sli, ExprRatioSLI):
        return None
    if isinstance(sli, LatencySLI):
        if sli.native:  # the share of observations at or below the threshold, times the events
            hist = native_rate(slo, sli, window)
            return call("histogram_fraction", 0, sli.threshold_seconds, hist) * call("histogram_count", hist)
        return grouped_sum(slo, rate(latency_series(sli, "_bucket", le_matcher(sli.threshold_seconds)), window))
    if isinstance(sli, GaugeSLI):
        return _gauge_per_second("sum_over_time", slo, sli, window)
    if sli.good is None:
        return None
    if isinstance(sli, RatioSLI):
        return _counter_rate(slo, sli.good, window)
    return grouped_sum(slo, user_expr(sli.good, window))


def _bad_expr(slo: SLO, window: str) -> Agg:
    sli = slo.sli
    if isinstance(sli, ExprRatioSLI):  # the ratio itself: errors ÷ events is its mean over series
        return grouped_sum(slo, defined_ratio(sli, window))
    assert isinstance(sli, RatioSLI | ExprSLI) and sli.errors is not None
    if isinstance(sli, RatioSLI):
        return _counter_rate(slo, sli.errors, window)
    return grouped_sum(slo, user_expr(sli.errors, window))


# Divisor floor: `x / clamp_min(events, FLOOR)` is exactly x ÷ events for any real traffic and 0
# (not NaN) when events is 0, without reading the events a second time for an `or 0 * events`.
NO_TRAFFIC_FLOOR = 1e-300


def _per_event(errors: Expr, events: Expr) -> Binary:
    return errors / clamp_min(events, NO_TRAFFIC_FLOOR)


def _or_zero(expr: Expr, slo: SLO, events: Expr) -> Paren:
    """`(expr or vector(0))`: absent reads as 0. Grouped, `(expr or 0 * events)`: a group with
    events and no `expr` series reads as 0 (a label-less 0 would match no group)."""
    return Paren(or_(expr, 0 * events if slo.group_by else vector(0)))


def errors_expr(slo: SLO, window: str) -> Agg | Call:
    """Bad events per second over `window`, from raw counters.

    `errors:` SLIs: absent while the errors selector has no series (a counter not yet
    incremented); readers add `or vector(0)`, and still need the events, so "no data" stays
    visible. `good:` and latency SLIs: events − good, where no good series means every event
    was bad, clamped at 0 (good and total scraped at slightly different times); absent exactly
    when the events are.
    """
    good = _good_expr(slo, window)
    if good is None:
        return _bad_expr(slo, window)
    events = events_expr(slo, window)
    return clamp_min(events - _or_zero(good, slo, events), 0)


def raw_ratio_expr(slo: SLO, window: str) -> Binary | Agg:
    """errors ÷ events over `window` read from the raw counters in one rule: 0 on no traffic,
    0 errors while the errors selector has no series, absent when the events are absent.
    `expr.ratio` SLIs: the user's ratio itself (averaged if it gives several series)."""
    if isinstance(slo.sli, ExprRatioSLI):
        return agg("avg", defined_ratio(slo.sli, window), by=slo.group_by or None)
    errors: Expr = errors_expr(slo, window)
    events = events_expr(slo, window)
    if _good_expr(slo, window) is None:
        errors = _or_zero(errors, slo, events)
    return _per_event(errors, events)


@functools.cache  # a handful of distinct windows, asked for by every SLO's alert and budget rules
def tile_range(window: str) -> str:
    """Range holding exactly window ÷ tile samples of a tile series: 1 ms short of `window`,
    since Prometheus 2.x ranges include both ends (3.x excludes the start: same count)."""
    return format_ms(int(parse_duration(window)) * 1000 - 1)


def _summed_over(func: str, samples: Range, slo: SLO) -> Agg:
    return grouped_sum(slo, call(func, samples))


def tiled_events(slo: SLO, window: str) -> Binary:
    """Events over `window` (a count, not a rate) as the sum of the short tiles × the tile length."""
    events = _summed_over("sum_over_time", Range(recorded(c.EVENTS_TILE, slo), tile_range(window)), slo)
    return events * int(parse_duration(c.SHORT_TILE))


def tiled_sums(slo: SLO, window: str) -> tuple[Agg, Agg]:
    """(errors, events) over `window` as sums of the short tiles' rates (each × the tile length is
    a count); the errors sum is absent while no errors tile exists in the window."""
    rng = tile_range(window)
    return (_summed_over("sum_over_time", Range(recorded(c.ERRORS_TILE, slo), rng), slo),
            _summed_over("sum_over_time", Range(recorded(c.EVENTS_TILE, slo), rng), slo))


def tiled_ratio(slo: SLO, window: str) -> Binary:
    """errors ÷ events over `window` as sums of the short tiles (at most one tile late)."""
    errors, events = tiled_sums(slo, window)
    return _per_event(_or_zero(errors, slo, events), events)


def tiled_above(slo: SLO, window: str, threshold: Fraction) -> Binary:
    """`errors > threshold × events` over `window` from the short tiles: the same condition as
    `tiled_ratio > threshold` for every real traffic, in fewer engine steps (no zero branch, no
    floor, no division). No traffic is 0 > 0, false; no errors tile is no errors, absent: neither
    fires. Its value is the errors sum, so only a condition whose value no one reads takes it."""
    errors, events = tiled_sums(slo, window)
    return binary(">", errors, binary("*", threshold, events))


# An hour tile is recorded every 30m; the subquery takes, at each whole hour, the newest one
# up to 45m old: normally the one covering the hour before it, after one skipped evaluation the
# one 30m older (the hour shifts, nothing is lost), after two in a row nothing (never twice).
HOUR_PICK = "45m"


def _hour_picks(name: str, slo: SLO, window: str) -> Range:
    """`last_over_time(name{…}[45m])[window:1h]`: one hour tile per whole hour of `window`."""
    newest = call("last_over_time", Range(recorded(name, slo), HOUR_PICK))
    return Range(newest, tile_range(window), step=c.HOUR_TILE)


def hour_ratio(slo: SLO, window: str) -> Expr:
    """errors ÷ events over `window` from one hour tile per whole hour; until the first hour tile
    exists, the 1h ratio recorded by the sli group (the budget of the history measured so far)."""
    errors = _summed_over("sum_over_time", _hour_picks(c.ERRORS_HOUR, slo, window), slo)
    events = _summed_over("sum_over_time", _hour_picks(c.EVENTS_HOUR, slo, window), slo)
    return or_(_per_event(_or_zero(errors, slo, events), events), series(c.error_ratio(c.HOUR_TILE), slo))


def hour_coverage(slo: SLO, window: str) -> Expr:
    """Share of `window` the hour tiles cover; 1h ÷ window while the 1h ratio stands in for them."""
    hours = int(parse_duration(window) // 3600)
    picks = _summed_over("count_over_time", _hour_picks(c.EVENTS_HOUR, slo, window), slo)
    fallback = 0 * series(c.error_ratio(c.HOUR_TILE), slo) + Fraction(1, hours)
    return or_(picks / hours, fallback)
