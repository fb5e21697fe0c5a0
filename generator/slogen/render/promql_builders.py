"""PromQL trees for one SLO's rules: exact numbers, identity selectors, SLI event expressions.

Every expression returns one series with no labels (`sum(...)` around everything); the rule's
`labels:` puts `service`, `slo` and the spec's labels back, so all series of an SLO share one
label set and `and`/`or`/`/` between them match without `on(...)`. The builders return
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
    events = tile_sum(slo, window, c.EVENTS_TILE, c.EVENTS_EVEN_TILE, c.EVENTS_HOUR_BLOCK)
    return Paren(events) * int(parse_duration(c.SHORT_TILE))


def tiled_ratio(slo: SLO, window: str) -> Binary:
    """errors ÷ events over `window` as sums of the short tiles (at most one tile late): the same
    tiles whether summed one by one or, for windows of a day or more, mostly as hour blocks."""
    if is_long(window):
        return block_ratio(slo, window)
    events = tile_sum(slo, window, c.EVENTS_TILE, c.EVENTS_EVEN_TILE, c.EVENTS_HOUR_BLOCK)
    return _per_event(_or_zero(errors_tiles(slo, window), slo, events), events)


def block_events(slo: SLO, window: str) -> Binary:
    """The events' short tiles over `window` (whole hours, at least 3h), mostly as hour blocks."""
    return hour_block_sum(slo, window, c.EVENTS_TILE, c.EVENTS_EVEN_TILE, c.EVENTS_HOUR_BLOCK)


def block_ratio(slo: SLO, window: str) -> Binary:
    """errors ÷ events over `window` (whole hours, at least 3h) from the same short tiles as
    `tiled_ratio` sums one by one, mostly read as hour blocks (see `hour_block_sum`)."""
    errors = hour_block_sum(slo, window, c.ERRORS_TILE, c.ERRORS_EVEN_TILE, c.ERRORS_HOUR_BLOCK,
                            anchor=_recent_hour(slo, c.EVENTS_TILE))
    return _per_event(Paren(errors), Paren(block_events(slo, window)))


def errors_tiles(slo: SLO, window: str) -> Agg:
    """The errors' short tiles summed over `window`, one by one."""
    return _summed_over("sum_over_time", Range(recorded(c.ERRORS_TILE, slo), tile_range(window)), slo)


HOUR_SECONDS = 3600


def is_long(window: str) -> bool:
    """Whether `window` is read mostly from hour blocks: a whole number of hours, a day or more."""
    length = int(parse_duration(window))
    return length % HOUR_SECONDS == 0 and length >= int(parse_duration(c.LONG_WINDOW))


def _recent_hour(slo: SLO, tile: str, offset: str | None = None) -> Agg:
    """`sum(sum_over_time(tile{…}[59m59s999ms] offset …))`: the tiles of the hour before `offset`."""
    return _summed_over("sum_over_time", Range(recorded(tile, slo), tile_range(c.HOUR_TILE), offset=offset), slo)


def _hours_now(func: str) -> Call:
    # floor/ceil take a vector: the evaluation time as one, in hours
    return call(func, call("vector", call("time")) / HOUR_SECONDS)


def hour_parity() -> Call:
    """`scalar(floor(vector(time()) / 3600) % 2)`: 0 or 1, the parity of the hour index
    c = floor(t ÷ 1h), so the whole hour that ended last, ((c − 1)h, ch], has parity c % 2."""
    return call("scalar", _hours_now("floor") % 2)


def even_hour_gate() -> Call:
    """`scalar(ceil(vector(time()) / 3600) % 2 == bool 0)`: 1 while the tile being recorded lies in
    an even hour (((k − 1)h, kh] with k = ceil(t ÷ 1h) even; a tile at kh belongs to it), else 0."""
    return call("scalar", binary("==", _hours_now("ceil") % 2, 0, bool_=True))


def even_tile_expr(expr: Expr) -> Binary:
    """A short tile's expression gated to the even hours (0 in the odd ones): evaluated in the
    same group at the same instant as the tile itself, so in an even hour it is the same number."""
    return Paren(expr) * even_hour_gate()


def hour_block_expr(slo: SLO, tile: str) -> Call:
    """The sum of `tile` over the newest whole hour ending before the evaluation (at least 1 ms
    before): its short tiles were all recorded by then. The `[59m59s999ms:1h] offset 1ms` subquery
    has exactly one step, the whole hour H with t − 1h ≤ H < t, whatever the group's offset."""
    block = Range(_recent_hour(slo, tile), tile_range(c.HOUR_TILE), step=c.HOUR_TILE, offset="1ms")
    return call("last_over_time", block)


def tile_sum(slo: SLO, window: str, tile: str, even: str, block: str) -> Expr:
    """Σ of `tile` over (t − window, t]: one by one, or for long windows (`is_long`) mostly as hour blocks."""
    if is_long(window):
        return hour_block_sum(slo, window, tile, even, block)
    return _summed_over("sum_over_time", Range(recorded(tile, slo), tile_range(window)), slo)


def hour_block_sum(slo: SLO, window: str, tile: str, even: str, block: str, anchor: Expr | None = None) -> Binary:
    """Σ of the short tiles recorded in (t − window, t] (whole hours, at least 3h), without reading them all.

    With c = floor(t ÷ 1h), hour k the span ((k − 1)h, kh], and n = window ÷ 1h:

    * the tiles of the last hour, (t − 1h, t], plus those of hour c recorded in (t − 2h, t − 1h]:
      the hour before t − 1h holds tiles of hours c − 1 and c only, and they differ in parity, so
      the even tiles pick exactly hour c's (all its tiles, if c is even; the rest, if odd);
    * hours c − n + 2 … c − 1 whole, from the hour blocks: one pick per whole hour of a `[.. :1h]`
      subquery, each the newest block of the hour before it (a block recorded in (h − 1h, h] is
      the one of hour h − 1h, so either of the hour's two evaluations gives the same number);
    * the tiles of hour c − n + 1 recorded in (t − window, t − window + 1h], picked the same way.

    Together exactly the tiles of (t − window, t]. Parts that are absent read 0, except `anchor`
    (default: the last hour's tiles of `tile` itself, so the events are absent with no recent tiles)."""
    hours = int(parse_duration(window)) // HOUR_SECONDS
    if hours < 3 or hours * HOUR_SECONDS != parse_duration(window):
        raise ValueError(f"hour blocks sum whole hours, at least 3: not {window}")
    last = _recent_hour(slo, tile)
    base = anchor if anchor is not None else last

    def part(expr: Expr) -> Paren:
        return _or_zero(expr, slo, base)

    z = hour_parity()
    one_ago, even_one_ago = _recent_hour(slo, tile, "1h"), _recent_hour(slo, even, "1h")
    far = format_ms((hours - 1) * HOUR_SECONDS * 1000)
    farthest, even_farthest = _recent_hour(slo, tile, far), _recent_hour(slo, even, far)
    blocks = call("last_over_time", Range(recorded(block, slo), tile_range(c.HOUR_TILE)))
    middle = _summed_over("sum_over_time", Range(blocks, format_ms((hours - 2) * HOUR_SECONDS * 1000 - 1),
                                                 step=c.HOUR_TILE), slo)
    # parity of hour c − n + 1: that of c when n is odd, the other one when n is even
    q: Expr = Paren(z) if hours % 2 else Paren(1 - z)
    newest = last if anchor is None else part(last)
    return (newest + Paren(z) * part(one_ago) + Paren(1 - 2 * z) * part(even_one_ago)
            + q * part(farthest) + Paren(1 - 2 * q) * part(even_farthest) + part(middle))


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
