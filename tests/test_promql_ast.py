"""The PromQL model's printer: exact text for known trees, and every printed tree parses back to itself.

The round trip uses `promql_parser` (a faithful Rust PromQL parser): the parsed tree, with
parentheses dropped, must equal the printed tree, so a missing bracket (a regrouping) fails.
"""

from __future__ import annotations

import datetime
from fractions import Fraction
from typing import Any

import promql_parser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slogen.promql import ast as a
from slogen.promql.ast import (
    Agg,
    Binary,
    Call,
    Matcher,
    Number,
    Paren,
    Range,
    Raw,
    Selector,
    String,
    Unary,
    render,
)

X = Selector("x")
Y = Selector("y")
Z = Selector("z")


# ---------------------------------------------------------------- canonical trees (parens dropped)


def _seconds(text: str) -> float:
    sign = -1 if text.startswith("-") else 1
    return sign * float(promql_parser.parse_duration(text.removeprefix("-")).total_seconds())


def _td(value: datetime.timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def ours(node: a.Expr) -> Any:
    """Our tree as nested tuples, in the shape `theirs` gives for the parsed text."""
    if isinstance(node, Paren):
        return ours(node.expr)
    if isinstance(node, Number):
        return ("num", float(node.value))
    if isinstance(node, String):
        return ("str", node.value)
    if isinstance(node, Unary):
        inner = ours(node.expr)
        if node.op == "-" and inner[0] == "num":
            return ("num", -inner[1])
        return inner if node.op == "+" else ("neg", inner)
    if isinstance(node, Selector):
        return _named_selector(node.metric, [(m.name, m.op, m.value) for m in node.matchers],
                               None if node.offset is None else _seconds(node.offset), node.at)
    if isinstance(node, Range):
        inner = node.expr
        subquery = node.subquery or node.step is not None
        if not subquery:
            assert isinstance(inner, Selector)
            offset = node.offset or inner.offset
            return ("range", ("sel", inner.metric, ours(inner)[2], None if offset is None else _seconds(offset),
                              node.at or inner.at), _seconds(node.range))
        return ("sub", ours(inner), _seconds(node.range), None if node.step is None else _seconds(node.step),
                None if node.offset is None else _seconds(node.offset))
    if isinstance(node, Call):
        return ("call", node.func, tuple(ours(x) for x in node.args))
    if isinstance(node, Agg):
        grouping = ("by", node.by) if node.by is not None else ("without", node.without) \
            if node.without is not None else None
        return ("agg", node.op, grouping, None if node.param is None else ours(node.param), ours(node.expr))
    if isinstance(node, Binary):
        matching = ("on", node.on) if node.on is not None else ("ignoring", node.ignoring) \
            if node.ignoring is not None else None
        group = ("left", node.group_left) if node.group_left is not None else ("right", node.group_right) \
            if node.group_right is not None else None
        return ("bin", node.op, ours(node.lhs), ours(node.rhs), node.bool_, matching, group)
    raise TypeError(node)


def _named_selector(metric: str | None, matchers: list[tuple[str, str, str]], offset: float | None,
                    at: str | None) -> Any:
    # `{"my.metric"}` parses as a `__name__="my.metric"` matcher: the same selector as the name.
    names = [m for m in matchers if m[:2] == ("__name__", "=")]
    if metric is None and len(names) == 1:
        metric = names[0][2]
        matchers = [m for m in matchers if m is not names[0]]
    return ("sel", metric, tuple(sorted(matchers)), offset, at)


_MATCH = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def theirs(node: Any) -> Any:
    """promql_parser's tree as nested tuples."""
    kind = type(node).__name__
    if kind == "ParenExpr":
        return theirs(node.expr)
    if kind == "NumberLiteral":
        return ("num", node.val)
    if kind == "StringLiteral":
        return ("str", node.val)
    if kind == "UnaryExpr":
        inner = theirs(node.expr)
        return ("num", -inner[1]) if inner[0] == "num" else ("neg", inner)
    if kind == "VectorSelector":
        matchers = [(m.name, _MATCH[str(m.op)], m.value) for m in node.matchers.matchers
                    if not (m.name == "__name__" and node.name is not None)]
        at = None if node.at is None else _at(node.at)
        return _named_selector(node.name, matchers, _td(node.offset), at)
    if kind == "MatrixSelector":
        return ("range", theirs(node.vector_selector), node.range.total_seconds())
    if kind == "SubqueryExpr":
        return ("sub", theirs(node.expr), node.range.total_seconds(), _td(node.step), _td(node.offset))
    if kind == "Call":
        return ("call", node.func.name, tuple(theirs(x) for x in node.args))
    if kind == "AggregateExpr":
        mod = node.modifier
        grouping = None if mod is None else ("by" if str(mod.type).endswith("By") else "without", tuple(mod.labels))
        return ("agg", str(node.op), grouping, None if node.param is None else theirs(node.param),
                theirs(node.expr))
    if kind == "BinaryExpr":
        mod = node.modifier
        matching = group = None
        bool_ = False
        if mod is not None:
            bool_ = mod.return_bool
            if mod.matching is not None:
                matching = ("on" if str(mod.matching.type).endswith("Include") else "ignoring",
                            tuple(mod.matching.labels))
            card = str(mod.card)
            if card.endswith("ManyToOne"):
                group = ("left", tuple(mod.group_labels))
            elif card.endswith("OneToMany"):
                group = ("right", tuple(mod.group_labels))
        return ("bin", str(node.op), theirs(node.lhs), theirs(node.rhs), bool_, matching, group)
    raise TypeError(kind)


def _at(at: Any) -> str:
    kind = str(at.type)
    if kind.endswith("Start"):
        return "start()"
    if kind.endswith("End"):
        return "end()"
    return a.number_text(Fraction(at.at.timestamp()).limit_denominator(1000))


def roundtrip(node: a.Expr) -> str:
    text = render(node)
    assert theirs(promql_parser.parse(text)) == ours(node), text
    return text


# ---------------------------------------------------------------- exact text


@pytest.mark.parametrize(("value", "text"), [
    (Fraction(144, 10) * Fraction(1, 1000), "0.0144"),
    (Fraction(999, 1000), "0.999"),
    (Fraction(1, 3), "0.3333333333333333"),
    (30, "30"), (2.0, "2"), (0.5, "0.5"), (Fraction(-1, 4), "-0.25"), (1e20, "1e+20"), (1e-7, "1e-07"),
    (float("inf"), "Inf"), (float("-inf"), "-Inf"), (float("nan"), "NaN"),
])
def test_numbers_print_exactly(value: Any, text: str) -> None:
    assert render(Number(value)) == text
    parsed = promql_parser.parse(text)
    expect = float(value)
    got = parsed.val if type(parsed).__name__ == "NumberLiteral" else -parsed.expr.val
    assert got == expect or (got != got and expect != expect)


def test_selectors_and_matchers() -> None:
    assert render(a.sel("up", {"job": "api", "code": "5.."})) == 'up{job="api",code="5.."}'
    assert render(Selector("up")) == "up"
    assert render(Selector(None, (Matcher("job", "=~", "a|b"), Matcher("x", "!~", "")))) == '{job=~"a|b",x!~""}'
    assert render(Selector("up", (Matcher("a", "!=", "b"),))) == 'up{a!="b"}'
    with pytest.raises(ValueError, match="operator"):
        Matcher("a", "==", "b")


def test_utf8_names_are_quoted() -> None:
    node = Selector("my.metric_total", (Matcher("http.status", "=", "200"), Matcher("ok", "=", "é")))
    assert render(node) == '{"my.metric_total","http.status"="200",ok="é"}'
    assert render(Agg("sum", node, by=("http.status", "job"))) == \
        'sum by ("http.status", job) ({"my.metric_total","http.status"="200",ok="é"})'
    parsed = promql_parser.parse(render(node))
    assert parsed.name is None or parsed.name == "my.metric_total"
    names = {m.name: m.value for m in parsed.matchers.matchers}
    assert names["http.status"] == "200" and names["ok"] == "é"
    assert render(Selector("a:b_c")) == "a:b_c"  # a colon is legacy in metric names...
    assert render(Selector(None, (Matcher("a:b", "=", "x"),))) == '{"a:b"="x"}'  # ...not in label names


@pytest.mark.parametrize(("value", "escaped"), [
    ('say "hi"', r'"say \"hi\""'), ("back\\slash", r'"back\\slash"'), ("two\nlines", r'"two\nlines"'),
    ("tab\there", r'"tab\there"'), ("cr\r", r'"cr\r"'), ("ünïcødé ✓", '"ünïcødé ✓"'), ("", '""'),
])
def test_strings_are_escaped(value: str, escaped: str) -> None:
    assert render(String(value)) == escaped
    assert promql_parser.parse(escaped).val == value
    assert theirs(promql_parser.parse(render(a.sel("x", {"l": value})))) == ours(a.sel("x", {"l": value}))


def test_precedence_brackets_only_where_needed() -> None:
    assert render((X + Y) * Z) == "(x + y) * z"
    assert render(X + Y * Z) == "x + y * z"
    assert render(X - (Y - Z)) == "x - (y - z)"
    assert render((X - Y) - Z) == "x - y - z"
    assert render(X / (Y * Z)) == "x / (y * z)"
    assert render(X**Y**Z) == "x ^ y ^ z"  # right-associative
    assert render((X**Y) ** Z) == "(x ^ y) ^ z"
    assert render(a.binary(">", X + 1, 2)) == "x + 1 > 2"
    assert render(a.binary(">", X, Y) | (Y & Z)) == "x > y or y and z"
    assert render((X | Y) & Z) == "(x or y) and z"
    assert render(X / a.binary(">", Y, 0) | 0 * Y) == "x / (y > 0) or 0 * y"
    assert render(-(X + Y)) == "-(x + y)"
    assert render(Unary("-", X) ** 2) == "(-x) ^ 2"
    assert render(Number(-2) ** 2) == "(-2) ^ 2"
    assert render(X - Number(-1)) == "x - -1"
    assert render(Paren(X) + Y) == "(x) + y"
    assert render(Raw("a or b") * 2) == "(a or b) * 2"
    assert render(a.sum_(Raw("a or b"))) == "sum(a or b)"
    assert render(Raw("up", atomic=True) * 2) == "up * 2"


def test_today_s_rule_shapes_print_as_before() -> None:
    ids = a.sel("slogen:events:rate5m", {"service": "api", "slo": "avail"})
    events = a.sum_(ids)
    good = a.sum_(a.rate(a.sel("ok_total", {"job": "api"}), "5m"))
    errors = a.clamp_min(events - (good | 0 * events), 0)
    assert render(errors / a.binary(">", events, 0) | 0 * events) == (
        'clamp_min(sum(slogen:events:rate5m{service="api",slo="avail"}) - (sum(rate(ok_total{job="api"}[5m])) '
        'or 0 * sum(slogen:events:rate5m{service="api",slo="avail"})), 0) / '
        '(sum(slogen:events:rate5m{service="api",slo="avail"}) > 0) or 0 * '
        'sum(slogen:events:rate5m{service="api",slo="avail"})')
    r = Selector("r")
    state = a.binary("+", a.binary("<=", r, Fraction(4, 5), bool_=True), a.binary("<", r, 0.5, bool_=True))
    assert render(state) == "(r <= bool 0.8) + (r < bool 0.5)"
    exhaustion = a.clamp_min(r, 0) * 30 / a.binary(">", Y, 0) | 0 * a.binary("<=", r, 0)
    assert render(exhaustion) == "clamp_min(r, 0) * 30 / (y > 0) or 0 * (r <= 0)"
    p95 = a.call("histogram_quantile", 0.95, a.sum_(a.rate(a.sel("lat_bucket", {"job": "a"}), "5m"), by=("le",)))
    assert render(a.binary("and", p95, Selector("slogen:slo:info"), on=())) == (
        'histogram_quantile(0.95, sum by (le) (rate(lat_bucket{job="a"}[5m]))) and on() slogen:slo:info')
    assert render(a.vector(Fraction(999, 1000))) == "vector(0.999)"
    assert render(Agg("max", X, by=("service", "slo"))) == "max by (service, slo) (x)"
    for node in (errors, state, exhaustion, p95):
        roundtrip(node)


def test_binary_modifiers() -> None:
    assert render(a.binary("/", X, Y, on=("a", "b"), group_left=("c",))) == "x / on(a, b) group_left(c) y"
    assert render(a.binary("*", X, Y, ignoring=("a",), group_right=())) == "x * ignoring(a) group_right() y"
    assert render(a.binary("==", X, 1, bool_=True)) == "x == bool 1"
    assert render(a.binary("unless", X, Y, on=("job",))) == "x unless on(job) y"
    assert render(a.binary("atan2", X, Y)) == "x atan2 y"


def test_ranges_subqueries_and_modifiers() -> None:
    assert render(Range(X, "5m")) == "x[5m]"
    assert render(Range(Selector("x", offset="1h"), "5m")) == "x[5m] offset 1h"
    assert render(Range(X, "5m", offset="1h", at="start()")) == "x[5m] @ start() offset 1h"
    assert render(Selector("x", offset="-5m", at="1700000000")) == "x @ 1700000000 offset -5m"
    assert render(Range(a.rate(X, "5m"), "30d", "1h")) == "rate(x[5m])[30d:1h]"
    assert render(Range(X + Y, "1h", subquery=True)) == "(x + y)[1h:]"
    assert render(Range(Raw("sum(x)"), "1h", "5m", offset="1d")) == "(sum(x))[1h:5m] offset 1d"
    assert render(Range(Raw("sum(x)", atomic=True), "1h", "5m")) == "sum(x)[1h:5m]"
    assert render(a.call("max_over_time", Range(-X, "1h", "1m"))) == "max_over_time((-x)[1h:1m])"
    for node in (Range(Selector("x", offset="1h"), "5m"), Range(X, "5m", offset="1h", at="start()"),
                 Selector("x", offset="-5m", at="1700000000"), Range(a.rate(X, "5m"), "30d", "1h"),
                 Range(X + Y, "1h", subquery=True), Range(X, "1d", "1h", offset="2h")):
        roundtrip(node)


def test_aggregations() -> None:
    assert render(a.agg("topk", X, by=("job",), param=5)) == "topk by (job) (5, x)"
    assert render(a.agg("count_values", X, param=String("v"))) == 'count_values("v", x)'
    assert render(a.sum_(X, without=("instance",))) == "sum without (instance) (x)"
    assert render(a.sum_(X, by=())) == "sum by () (x)"
    assert render(a.call("time")) == "time()"
    for node in (a.agg("topk", X, by=("job",), param=5), a.agg("quantile", X, without=("a",), param=0.9),
                 a.sum_(X, by=())):
        roundtrip(node)


ALERT = a.or_(
    a.and_(a.binary(">", Selector("r1h"), Fraction(144, 10000)), a.binary(">", Selector("r5m"), 0.0144)),
    a.and_(a.binary(">", Selector("r6h"), 0.006), a.binary(">", Selector("r30m"), 0.006)),
)


def test_lines_layout_is_today_s_alert_layout() -> None:
    assert render(ALERT, layout="lines") == (
        "(\n  r1h > 0.0144\nand\n  r5m > 0.0144\n)\nor\n(\n  r6h > 0.006\nand\n  r30m > 0.006\n)")
    assert render(ALERT) == "r1h > 0.0144 and r5m > 0.0144 or r6h > 0.006 and r30m > 0.006"
    assert render(Paren(a.and_(X, Y)), layout="lines") == "(\n  x\nand\n  y\n)"
    assert render(a.binary(">", X, 1), layout="lines") == "x > 1"
    assert render(a.or_(X, Y, Z), layout="lines") == "x\nor\ny\nor\nz"
    assert render(a.or_(X, a.or_(Y, Z)), layout="lines") == "x\nor\n(\n  y\nor\n  z\n)"
    nested = a.or_(a.and_(X, a.binary("unless", Y, Z, on=("a",))), Z)
    assert render(nested, layout="lines") == "(\n  x\nand\n  (\n    y\n  unless on(a)\n    z\n  )\n)\nor\nz"
    for node in (ALERT, nested):
        assert theirs(promql_parser.parse(render(node, layout="lines"))) == ours(node)
    with pytest.raises(ValueError, match="layout"):
        render(X, layout="wide")  # type: ignore[arg-type]


def test_str_and_type_errors() -> None:
    assert str(a.sum_(X)) == "sum(x)"
    with pytest.raises(TypeError):
        render("x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Binary("**", X, Y)


# ---------------------------------------------------------------- any tree round-trips

label_names = st.sampled_from(["job", "code", "le", "_x", "a1", "http.status", "名前"])
metric_names = st.sampled_from([None, "up", "x_total", "ns:sub:rate5m", "my.metric", "métrique"])
values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
durations = st.sampled_from(["5m", "1h", "30s", "1d", "2h30m", "1500ms"])
regex_matchers = st.builds(Matcher, label_names, st.sampled_from(["=~", "!~"]),
                           st.sampled_from(["api", "5..", "a|b", "", "x.*"]))
selectors = st.builds(
    Selector, metric_names,
    st.lists(st.builds(Matcher, label_names, st.sampled_from(["=", "!="]), values) | regex_matchers,
             max_size=3).map(tuple),
    st.none() | st.sampled_from(["5m", "-1h"]), st.none() | st.sampled_from(["start()", "1700000000"]))


def _named(sel: Selector) -> Selector:
    # A selector needs a name or a non-empty positive matcher.
    return sel if sel.metric else Selector("up", sel.matchers, sel.offset, sel.at)


numbers = st.one_of(st.integers(-5, 5), st.fractions(max_denominator=1000).filter(lambda f: abs(f) < 1000),
                    st.floats(allow_nan=False, allow_infinity=False, width=32)).map(Number)
leaves = st.one_of(selectors.map(_named), numbers)


def _extend(inner: st.SearchStrategy[a.Expr]) -> st.SearchStrategy[a.Expr]:
    arith = st.sampled_from(["+", "-", "*", "/", "%", "^", "atan2"])
    return st.one_of(
        st.builds(Binary, arith, inner, inner),
        st.builds(lambda op, lhs, rhs, b: Binary(op, lhs, rhs, bool_=b), st.sampled_from(sorted(a.COMPARISON_OPS)),
                  inner, inner, st.booleans()),
        st.builds(Binary, st.sampled_from(["and", "or", "unless"]), selectors.map(_named), inner),
        st.builds(lambda op, lhs, rhs, on: Binary(op, lhs, rhs, on=on), st.sampled_from(["and", "or", "unless"]),
                  inner, inner, st.none() | st.tuples(label_names)),
        st.builds(Unary, st.just("-"), inner),
        st.builds(Paren, inner),
        st.builds(lambda e, by: Agg("sum", e, by=by), inner, st.none() | st.tuples(label_names)),
        st.builds(lambda e, w: Agg("max", e, without=w), inner, st.tuples(label_names)),
        st.builds(lambda s, w: Call("rate", (Range(s, w),)), selectors.map(_named), durations),
        st.builds(lambda e, r, s: Range(e, r, s), inner, durations, st.sampled_from(["1m", "5m"])),
        st.builds(lambda e: Call("abs", (e,)), inner),
        st.builds(lambda e, n: Call("clamp_min", (e, n)), inner, numbers),
    )


trees = st.recursive(leaves, _extend, max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_any_tree_parses_back_to_itself(node: a.Expr) -> None:
    # Type errors (a scalar where a vector must be) are the generator's business, not the
    # printer's: only trees promql_parser accepts are compared, and syntax errors are failures.
    text = render(node)
    try:
        parsed = promql_parser.parse(text)
    except ValueError as exc:
        message = str(exc)
        assert "syntax" not in message and "unexpected" not in message and "unclosed" not in message, (
            text, message)
        return
    assert theirs(parsed) == ours(node), text


@pytest.mark.parametrize("value", ["line1\nline2", 'say "hi"', "back\\slash", "cr\rlf", "tab\tand ünïcode", ""])
def test_the_one_string_escaper_round_trips_through_a_promql_parser(value: str) -> None:
    import promql_parser

    assert "\n" not in a.quote(value)  # a label value never breaks a rule file's line
    parsed = promql_parser.parse("x{label=" + a.quote(value) + "}")
    assert [(m.name, m.value) for m in parsed.matchers.matchers] == [("label", value)]
