"""Warnings about a valid spec: things that render fine but will not behave as the author expects."""

from __future__ import annotations

from fractions import Fraction
from functools import cache

from slogen.model import SLO, ExprRatioSLI, ExprSLI, GaugeSLI, LatencySLI, RatioSLI, Spec
from slogen.promql import PromQLSyntaxError, Selector, parse_expression, parse_selector
from slogen.promql.check import selector_text_utf8_names, selector_utf8_names
from slogen.slo.windows import BurnWindow

_OPERATOR_PREFIXES = ('=~"', '!~"', '!="', '="')


def warnings(spec: Spec) -> list[str]:
    """Human-readable warnings, one per finding, in spec order."""
    out = []
    # The rows that have a finding, per (rows, period, objective). Keyed on the identity of the rows
    # and the objective: SLOs share those objects (load.py builds each distinct objective once,
    # windows_for one tuple per period), and hashing their Fractions for every SLO and row cost
    # more than the lint itself. The entry holds both, so the ids stay theirs.
    flagged_by: dict[tuple[int, str, int], tuple[object, object, tuple[BurnWindow, ...]]] = {}
    for slo in spec.slos:
        out += _promql_notes(slo)
        out += _group_notes(slo)
        rows = slo.windows
        key = (id(rows), slo.window, id(slo.objective))
        entry = flagged_by.get(key)
        if entry is None:
            entry = flagged_by[key] = (rows, slo.objective, tuple(
                row for row in rows if any(_row_findings(row, slo.window, slo.objective))))
        for row in entry[2]:
            threshold = row.factor(slo.window) * slo.error_budget
            if threshold >= 1:
                out.append(
                    f"{slo.service}/{slo.name}: the {row.severity} alert over {row.long}/{row.short} can never "
                    f"fire: burning {float(row.factor(slo.window)):g}x a {float(slo.error_budget):.3%} budget needs "
                    f"an error ratio of {float(threshold):.0%}; raise the objective or shorten the window"
                )
            elif slo.alert_rows is not None and row.factor(slo.window) < 1:
                out.append(
                    f"{slo.service}/{slo.name}: the {row.severity} row {row.long}/{row.short} has a burn-rate factor "
                    f"of {float(row.factor(slo.window)):.3g} on a {slo.window} period: it fires while the budget would "
                    f"still last the period; raise its budget_share to at least {row.long}/{slo.window}"
                )
    return out


@cache  # thousands of SLOs share a handful of (row, period, objective) triples
def _row_findings(row: BurnWindow, window: str, objective: Fraction) -> tuple[bool, bool]:
    """(the row's alert can never fire, its factor is below 1) for an SLO of `window` and `objective`."""
    factor = row.factor(window)
    return factor * (1 - objective) >= 1, factor < 1


def _fixed_labels(slo: SLO) -> set[str]:
    """Labels the SLI's selectors match with `=`: one value each, so grouping by them makes one group."""
    sli = slo.sli
    selectors: list[Selector] = []
    if isinstance(sli, RatioSLI):
        selectors = [parse_selector(t) for t in (sli.total, sli.errors, sli.good) if t is not None]
    elif isinstance(sli, LatencySLI | GaugeSLI):
        selectors = [Selector(sli.metric, sli.selector)]
    fixed = [{m.name for m in s.matchers if m.op == "="} for s in selectors]
    return set.intersection(*fixed) if fixed else set()


def _group_notes(slo: SLO) -> list[str]:
    if not slo.group_by:
        return []
    fixed = _fixed_labels(slo)
    return [f"{slo.service}/{slo.name}: group_by {label!r} is fixed to one value by the SLI's selectors "
            "(label=\"…\"): the SLO has one group; drop it from group_by or widen the selector"
            for label in slo.group_by if label in fixed]


def _promql_notes(slo: SLO) -> list[str]:
    """UTF-8 names (Prometheus 3 only), functions newer than Prometheus 2.42, and latency selector
    values that look like matchers."""
    sli = slo.sli
    names: set[str] = set()
    functions: set[str] = set()
    try:
        if isinstance(sli, RatioSLI):
            for text in (sli.total, sli.errors, sli.good):
                if text is not None:
                    names.update(selector_text_utf8_names(text))
        elif isinstance(sli, ExprSLI | ExprRatioSLI):
            texts = (sli.ratio,) if isinstance(sli, ExprRatioSLI) else (sli.total, sli.errors, sli.good)
            for text in texts:
                if text is not None:
                    parsed = parse_expression(text.replace("$window", "5m"), want=None)
                    names.update(parsed.utf8_names)
                    functions.update(parsed.new_functions)
    except PromQLSyntaxError:
        pass  # the spec was validated; nothing to add
    out = []
    if functions:
        out.append(f"{slo.service}/{slo.name}: calls {', '.join(f + '()' for f in sorted(functions))}, unknown to "
                   "Prometheus 2.42 and older: make sure your Prometheus has it")
    if isinstance(sli, LatencySLI):
        if sli.native:
            out.append(f"{slo.service}/{slo.name}: a native histogram SLI needs Prometheus 2.40 or newer started "
                       "with --enable-feature=native-histograms (it scrapes them as protobuf); VictoriaMetrics "
                       "1.79 cannot read them")
        names.update(selector_utf8_names(Selector(sli.metric, sli.selector)))
        for m in sli.selector:
            if m.op == "=" and m.value.startswith(_OPERATOR_PREFIXES):
                out.append(f"{slo.service}/{slo.name}: latency selector value {m.value!r} of {m.name!r} is matched "
                           f"literally; for another matcher write the selector as a string, e.g. "
                           f"'{{{m.name}{m.value}}}'")
    if names:
        out.append(f"{slo.service}/{slo.name}: uses UTF-8 metric or label names ({', '.join(sorted(names))}): "
                   "Prometheus 3 reads them; Prometheus 2.x and vmalert/VictoriaMetrics without Prometheus 3's "
                   "UTF-8 syntax (such as 1.79) reject them")
    return out
