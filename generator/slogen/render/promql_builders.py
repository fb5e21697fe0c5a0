"""PromQL text for one SLO's rules: exact numbers, identity selectors, SLI event expressions.

Every expression returns one series with no labels (`sum(...)` around everything); the rule's
`labels:` puts `service`, `slo` and the spec labels back, so all series of an SLO share one
label set and `and`/`or`/`/` between them match without `on(...)`.
"""

from __future__ import annotations

from fractions import Fraction

from slogen import conventions as c
from slogen.durations import parse_duration
from slogen.model import SLO, ExprSLI, LatencySLI, RatioSLI
from slogen.promql import Matcher, Selector, quote, rate, render, sum_

WINDOW_PLACEHOLDER = "$window"


def num(value: Fraction | float | int) -> str:
    """A number as PromQL prints best: exact decimals from Fractions (14.4 × 0.001 → `0.0144`)."""
    f = float(value)  # float(Fraction) is correctly rounded, and repr() is the shortest round-trip
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


def percent_text(value: Fraction) -> str:
    """A share as a short percentage for prose: 2/100 → `2%`, 3/7 → `42.9%`."""
    return f"{float(value * 100):.3g}%"


def rule_labels(slo: SLO) -> dict[str, str]:
    """The labels every recorded series of `slo` carries: identity first, then the spec's labels."""
    return {c.LABEL_SERVICE: slo.service, c.LABEL_SLO: slo.name, **dict(slo.labels)}


def id_matchers(slo: SLO) -> str:
    """`{service="…",slo="…"}`: selects exactly this SLO's recorded series."""
    return f"{{{c.LABEL_SERVICE}={quote(slo.service)},{c.LABEL_SLO}={quote(slo.name)}}}"


def series(name: str, slo: SLO) -> str:
    """A recorded series of `slo`, summed so the result has no labels (safe to combine)."""
    return f"sum({name}{id_matchers(slo)})"


def _with_range(selector: str, window: str) -> str:
    return f"{selector}[{window}]"


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


def _substitute(expr: str, window: str) -> str:
    return expr.strip().replace(WINDOW_PLACEHOLDER, window)


def events_expr(slo: SLO, window: str) -> str:
    """Events per second over `window` (for `expr` SLIs: the user's expression, in its own unit)."""
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        return f"sum(rate({_with_range(sli.total, window)}))"
    if isinstance(sli, LatencySLI):
        return render(sum_(rate(latency_series(sli, "_count"), window)))
    assert isinstance(sli, ExprSLI)
    return f"sum({_substitute(sli.total, window)})"


def _good_expr(slo: SLO, window: str) -> str | None:
    sli = slo.sli
    if isinstance(sli, LatencySLI):
        return render(sum_(rate(latency_series(sli, "_bucket", le_matcher(sli.threshold_seconds)), window)))
    if sli.good is None:
        return None
    if isinstance(sli, RatioSLI):
        return f"sum(rate({_with_range(sli.good, window)}))"
    return f"sum({_substitute(sli.good, window)})"


def _bad_expr(slo: SLO, window: str) -> str:
    sli = slo.sli
    assert not isinstance(sli, LatencySLI) and sli.errors is not None
    if isinstance(sli, RatioSLI):
        return f"sum(rate({_with_range(sli.errors, window)}))"
    return f"sum({_substitute(sli.errors, window)})"


def errors_expr(slo: SLO, window: str, events: str) -> str:
    """Bad events per second over `window`, given `events` (an expression for the recorded total).

    An errors selector with no series yet means 0 errors while there are events; for `good`
    SLIs errors = events − good, with no good series meaning every event was bad. Absent only
    when `events` is absent (the total series does not exist), so "no data" stays visible.
    """
    good = _good_expr(slo, window)
    if good is None:
        return f"{_bad_expr(slo, window)} or 0 * {events}"
    # clamp: good and total scraped at slightly different times must not give negative errors.
    return f"clamp_min({events} - ({good} or 0 * {events}), 0)"


def ratio_expr(errors: str, events: str) -> str:
    """errors ÷ events; 0 when events is 0 (no traffic), absent when events is absent."""
    return f"{errors} / ({events} > 0) or 0 * {events}"


def tile_range(window: str) -> str:
    """Range holding exactly window/1h hourly tiles: 1 ms short, since 2.x ranges include both ends."""
    ms = int(parse_duration(window)) * 1000 - 1
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


def tile_sum(name: str, slo: SLO, window: str) -> str:
    """Sum of the hourly tiles of `slo` over `window` (one sample per hour, so cheap to read)."""
    return f"sum(sum_over_time({name}{id_matchers(slo)}[{tile_range(window)}]))"
