"""Checks of user PromQL with a faithful parser: what `slogen validate` accepts, Prometheus loads.

Parsing is `promql_parser` (a binding of a Rust implementation of Prometheus' grammar, with its
function table and type checks); on top of it, what that parser is more lenient about than
Prometheus: regular expressions are compiled with RE2 itself (`google-re2`: no lookaround, no
backreferences, no possessive repetition, repetition counts up to 1000), `or` inside a selector
(a MetricsQL extension) and experimental functions (Prometheus needs a feature flag) are rejected.

User text enters the generated rules without comments (`strip_comments`): a trailing `# note`
inside `sum(...)` would swallow the closing bracket.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import promql_parser
import re2

from slogen.promql.ast import Matcher, Selector, is_legacy_label_name, is_legacy_metric_name, quote, render
from slogen.promql.scan import quoted_end


class PromQLSyntaxError(ValueError):
    """A selector or expression that Prometheus would reject; the message says why."""


_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}
_TYPES = {"ValueType.Vector": "instant vector", "ValueType.Matrix": "range vector",
          "ValueType.Scalar": "scalar", "ValueType.String": "string"}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the library reports through the exception, never on stderr
_PROBE = "slogen_selector_probe"
_RE2_RULES = "Prometheus uses RE2: no lookaround, backreferences or possessive repetition, at most 1000 repeats"
_EXPERIMENTAL_AGGREGATIONS = frozenset({"limitk", "limit_ratio"})
# The functions of Prometheus 2.42 (checked with its promtool); later stable ones (histogram_avg,
# histogram_stddev, ...) parse, with a validation note that older servers refuse them.
PROMETHEUS_2_42_FUNCTIONS = frozenset({
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg_over_time", "ceil",
    "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time", "day_of_month", "day_of_week",
    "day_of_year", "days_in_month", "deg", "delta", "deriv", "exp", "floor", "histogram_count",
    "histogram_fraction", "histogram_quantile", "histogram_sum", "holt_winters", "hour", "idelta", "increase",
    "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "max_over_time",
    "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time", "quantile_over_time", "rad",
    "rate", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time",
    "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year"})


@dataclass(frozen=True)
class Parsed:
    """A checked expression: its text without comments, its type, its non-legacy names, and the
    functions it calls that Prometheus 2.42 does not know."""

    text: str
    type: str  # "instant vector", "range vector", "scalar" or "string"
    utf8_names: tuple[str, ...]
    new_functions: tuple[str, ...] = ()


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    """`text` as ("code" | "string" | "comment", chunk) pieces that join back to `text`."""
    pos = start = 0
    while pos < len(text):
        ch = text[pos]
        if ch not in "\"'`#":
            pos += 1
            continue
        if start < pos:
            yield "code", text[start:pos]
        if ch == "#":
            newline = text.find("\n", pos)
            end = len(text) if newline < 0 else newline
            yield "comment", text[pos:end]
        else:
            end = _string_end(text, pos)
            yield "string", text[pos:end]
        pos = start = end
    if start < len(text):
        yield "code", text[start:]


def strip_comments(text: str) -> str:
    """`text` without PromQL comments (`#` to the end of the line, outside strings)."""
    if "#" not in text:
        return text  # no comment can start anywhere
    return "".join(chunk for kind, chunk in _tokens(text) if kind != "comment")


def _string_end(text: str, pos: int) -> int:
    end = quoted_end(text, pos)
    return len(text) if end < 0 else end  # unterminated: the parser reports it


def _raw_strings_quoted(text: str) -> str:
    r"""`text` with backtick strings as double-quoted ones: promql_parser unescapes inside
    backticks, where Prometheus takes every character literally (`5\d` is a valid regex there)."""
    return "".join(quote(chunk[1:-1]) if kind == "string" and chunk[0] == "`" and len(chunk) >= 2
                   and chunk.endswith("`") else chunk for kind, chunk in _tokens(text))


def _parse(text: str) -> Any:
    if not isinstance(text, str) or not text.strip():
        raise PromQLSyntaxError("empty expression")
    try:
        node = promql_parser.parse(_raw_strings_quoted(text) if "`" in text else text)
    except (ValueError, TypeError, OverflowError) as exc:
        message = str(exc).strip() or "invalid PromQL"
        if message.startswith("illegal regex"):
            message += f" ({_RE2_RULES})"
        raise PromQLSyntaxError(message) from None
    for child in _walk(node):
        _check_node(child)
    return node


def _walk(node: Any) -> list[Any]:
    out = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        kind = type(n).__name__
        if kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr"):
            stack.append(n.expr)
        elif kind == "BinaryExpr":
            stack += [n.lhs, n.rhs]
        elif kind == "AggregateExpr":
            stack.append(n.expr)
            if n.param is not None:
                stack.append(n.param)
        elif kind == "Call":
            stack += list(n.args)
        elif kind == "MatrixSelector":
            stack.append(n.vector_selector)
    return out


def _check_node(node: Any) -> None:
    kind = type(node).__name__
    if kind == "VectorSelector":
        if node.matchers.or_matchers:
            raise PromQLSyntaxError("'or' inside a selector is not PromQL (it is a MetricsQL extension)")
        for m in node.matchers.matchers:
            if _MATCH_OPS[str(m.op)] in ("=~", "!~"):
                check_regex(m.value, m.name)
    elif (kind == "Call" and node.func.experimental) or (
            kind == "AggregateExpr" and str(node.op) in _EXPERIMENTAL_AGGREGATIONS):
        name = node.func.name if kind == "Call" else str(node.op)
        raise PromQLSyntaxError(f"{name}() is experimental: Prometheus only knows it with "
                                "--enable-feature=promql-experimental-functions")


@lru_cache(maxsize=1 << 12)  # pure; a spec repeats a few regexes (code=~"5..") thousands of times
def check_regex(value: str, label: str) -> None:
    """Raise PromQLSyntaxError unless `value` is an RE2 regular expression (Prometheus' engine)."""
    if "\\C" in value.replace("\\\\", ""):
        raise PromQLSyntaxError(f"illegal regex for {label!r} ({_RE2_RULES}): \\C is not supported by Go")
    try:
        # Prometheus 2.x compiles ^(?:value)$ and also parses the bare value (to optimise the
        # matcher): `a)(b` compiles wrapped, yet the bare parse refuses it, and so does promtool.
        re2.compile(value, _RE2_OPTIONS)
        re2.compile(f"^(?:{value})$", _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PromQLSyntaxError(f"illegal regex for {label!r} ({_RE2_RULES}): {reason}") from None


def value_type(node: Any) -> str:
    """The PromQL type of a promql_parser node."""
    kind = type(node).__name__
    if kind in ("ParenExpr", "UnaryExpr"):
        return value_type(node.expr)
    if kind == "NumberLiteral":
        return "scalar"
    if kind == "StringLiteral":
        return "string"
    if kind in ("MatrixSelector", "SubqueryExpr"):
        return "range vector"
    if kind == "Call":
        return _TYPES[str(node.func.return_type)]
    if kind == "BinaryExpr":
        scalar = value_type(node.lhs) == "scalar" and value_type(node.rhs) == "scalar"
        return "scalar" if scalar else "instant vector"
    return "instant vector"  # selectors and aggregations


def _names(node: Any) -> set[str]:
    """Every metric and label name the expression mentions."""
    out: set[str] = set()
    for n in _walk(node):
        kind = type(n).__name__
        if kind == "VectorSelector":
            if n.name is not None:
                out.add("\x00" + n.name)  # marked: metric names have their own legacy rule
            for m in n.matchers.matchers:
                if m.name == "__name__":
                    out.add("\x00" + m.value)
                else:
                    out.add(m.name)
        elif kind == "AggregateExpr" and n.modifier is not None:
            out.update(n.modifier.labels or ())
        elif kind == "BinaryExpr" and n.modifier is not None:
            if n.modifier.matching is not None:
                out.update(n.modifier.matching.labels or ())
            out.update(n.modifier.group_labels or ())
    return out


def _utf8(names: set[str]) -> tuple[str, ...]:
    odd = [n[1:] if n.startswith("\x00") else n for n in names
           if not (is_legacy_metric_name(n[1:]) if n.startswith("\x00") else is_legacy_label_name(n))]
    return tuple(sorted(odd))


def parse_expression(text: str, *, want: str | None = "instant vector") -> Parsed:
    """Check a whole expression (after `$window` substitution) and that it is of type `want`."""
    parsed = _expression(text)
    kind = parsed.type
    if want is not None and kind != want:
        hint = " (drop the range, or wrap it in a function such as rate())" if kind == "range vector" else ""
        raise PromQLSyntaxError(f"expected an {want}, got a {kind}{hint}")
    return parsed


@lru_cache(maxsize=1 << 16)  # validation and the lint both parse each expression: once is enough
def _expression(text: str) -> Parsed:
    clean = strip_comments(text)
    shaped = _shaped(clean)
    if shaped is not None:
        shape = shaped[0]
        return Parsed(clean.strip(), shape.parsed.type, shape.parsed.utf8_names, shape.parsed.new_functions)
    return _parsed(clean, _parse(clean))


def _parsed(clean: str, node: Any) -> Parsed:
    calls = {n.func.name for n in _walk(node) if type(n).__name__ == "Call"}
    return Parsed(clean.strip(), value_type(node), _utf8(_names(node)),
                  tuple(sorted(calls - PROMETHEUS_2_42_FUNCTIONS)))


# ---------------------------------------------------------------- shapes: one parse per template
#
# Thousands of a spec's expressions differ only in their matcher values (`job="svc-0001"`). A
# text's *shape* is the text with each string literal replaced by a marker; it is parsed once.
# Whether a text parses, and what it means, follows from its shape's parse when every string of
# the shape is the value of a matcher on a label other than `__name__` in a selector that has a
# metric name (so the rule that a selector needs a non-empty matcher holds whatever the values),
# and each value of a regex matcher passes the parser's and RE2's checks on its own: nothing
# else the parser or slogen decides reads a matcher value. Strings are literal then because the
# text holds no backslash (no escapes), no quote other than `"` and no control character. Any
# other text, or any failure, is parsed as it is, so every error message is the parser's own.

_MARK = "\ue000"  # a private-use character: the marker's value, followed by the string's index
_UNSAFE_VALUE = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class _Shape:
    node: Any  # the parse tree of the shape's text
    ops: tuple[str, ...]  # per string, in text order: the operator of the matcher it is the value of
    matchers: tuple[tuple[str, str, int], ...]  # a selector's matchers in the parser's order: label, op, string
    parsed: Parsed  # of the shape's text (type, names and functions hold for every text of the shape)


_SHAPES: dict[str, _Shape | None] = {}


def _shaped(clean: str) -> tuple[_Shape, list[str]] | None:
    """The shape of `clean` and its string values, when the shape decides the parse (above)."""
    try:
        return _SHAPED[clean]  # validation, the canonical text and the lint ask for the same texts
    except KeyError:
        pass
    if len(_SHAPED) >= _SHAPED_MAX:
        _SHAPED.clear()  # bounded, like the parse caches: a long-lived process sees many texts
    found = _SHAPED[clean] = _shaped_now(clean)
    return found


_SHAPED: dict[str, tuple[_Shape, list[str]] | None] = {}
_SHAPED_MAX = 1 << 17


def _shaped_now(clean: str) -> tuple[_Shape, list[str]] | None:
    if "\\" in clean or "'" in clean or "`" in clean or '"' not in clean:
        return None
    parts = clean.split('"')
    if len(parts) % 2 == 0:
        return None  # an unterminated string
    values = parts[1::2]
    if _UNSAFE_VALUE.search("".join(values)) is not None:
        return None
    parts[1::2] = [f"{_MARK}{i}" for i in range(len(values))]
    key = '"'.join(parts)
    try:
        shape = _SHAPES[key]
    except KeyError:
        shape = _SHAPES[key] = _shape_of(key, len(values))
    if shape is None:
        return None
    for op, value in zip(shape.ops, values, strict=True):
        if op in ("=~", "!~") and not _regex_ok(value):
            return None
    return shape, values


def _shape_of(key: str, count: int) -> _Shape | None:
    try:
        node = _parse(key)
    except PromQLSyntaxError:
        return None
    ops: dict[int, str] = {}
    for n in _walk(node):
        if type(n).__name__ != "VectorSelector":
            continue
        for m in n.matchers.matchers:
            value = m.value
            if not value.startswith(_MARK):
                continue
            if m.name == "__name__" or n.name is None or not value[1:].isdigit():
                return None
            ops[int(value[1:])] = _MATCH_OPS[str(m.op)]
    if sorted(ops) != list(range(count)):
        return None  # a string that is not a matcher value (a function's argument, say)
    top = tuple((m.name, _MATCH_OPS[str(m.op)], int(m.value[1:])) for m in node.matchers.matchers) \
        if type(node).__name__ == "VectorSelector" else ()
    return _Shape(node, tuple(ops[i] for i in range(count)), top, _parsed(key, node))


@lru_cache(maxsize=1 << 12)
def _regex_ok(value: str) -> bool:
    """True when `value` passes as a regex matcher's value on its own (the parser's and RE2's checks)."""
    try:
        _parse(f'{_PROBE}{{l=~"{value}"}}')
    except PromQLSyntaxError:
        return False
    return True


def clear_caches() -> None:
    """Forget every parse remembered in this process (for tests that count parses)."""
    parse_selector.cache_clear()
    _expression.cache_clear()
    _regex_ok.cache_clear()
    _SHAPES.clear()
    _SHAPED.clear()
    _PRINTED.clear()
    _NAMES.clear()


@lru_cache(maxsize=1 << 16)  # validation and _canonical_promql parse each selector: once is enough
def parse_selector(text: str) -> Selector:
    """A bare series selector (`metric{matchers}`) as a model Selector; anything else is an error."""
    clean = strip_comments(text)
    shaped = _shaped(clean)
    if shaped is not None:
        shape, values = shaped
        node = shape.node
        if type(node).__name__ == "VectorSelector" and node.offset is None and node.at is None:
            # Every matcher's value is one of the text's strings (_shape_of), none on `__name__`.
            return Selector(node.name, tuple(Matcher(label, op, values[i]) for label, op, i in shape.matchers))
    return _selector(_parse(clean))


def canonical_selector(text: str) -> str:
    """`render(parse_selector(text))`: the selector as slogen prints it (PromQLSyntaxError if it
    is not one). A text of a known shape is printed from its shape's printed text, with each
    string's quote(value) in its marker's place: the printer writes a matcher value only so."""
    shaped = _shaped(strip_comments(text))
    if shaped is None:
        return render(parse_selector(text))
    shape, values = shaped
    pieces = _PRINTED.get(id(shape))
    if pieces is None or pieces[0] is not shape:
        pieces = _PRINTED[id(shape)] = (shape, _printed_pieces(shape))
    if pieces[1] is None:
        return render(parse_selector(text))
    parts, order = pieces[1]
    out = [parts[0]]
    for index, part in zip(order, parts[1:], strict=True):
        out.append(quote(values[index]))
        out.append(part)
    return "".join(out)


# id(shape) → (shape, the printed shape cut at its markers and the string each cut stands for),
# the shape held so its id stays unique; None where the printed text cannot be cut so.
_PRINTED: dict[int, tuple[_Shape, tuple[list[str], list[int]] | None]] = {}


def _printed_pieces(shape: _Shape) -> tuple[list[str], list[int]] | None:
    node = shape.node
    if type(node).__name__ != "VectorSelector" or node.offset is not None or node.at is not None:
        return None
    marked = render(Selector(node.name, tuple(Matcher(label, op, f"{_MARK}{i}") for label, op, i in shape.matchers)))
    if marked.count(_MARK) != len(shape.matchers):
        return None  # a marker character in a name: the cut would be ambiguous
    parts: list[str] = []
    order: list[int] = []
    rest = marked
    for _label, _op, i in shape.matchers:
        before, sep, rest = rest.partition(quote(f"{_MARK}{i}"))
        if not sep:
            return None
        parts.append(before)
        order.append(i)
    parts.append(rest)
    return parts, order


def _selector(node: Any) -> Selector:
    if type(node).__name__ != "VectorSelector":
        raise PromQLSyntaxError(f"expected a bare series selector, got {_describe(node)}: slogen adds rate() "
                                "and sum() itself")
    if node.offset is not None or node.at is not None:
        raise PromQLSyntaxError("give the selector without offset or @: slogen evaluates it at each window")
    metric = node.name
    matchers: list[Matcher] = []
    for m in node.matchers.matchers:
        op = _MATCH_OPS[str(m.op)]
        if m.name == "__name__" and op == "=" and (metric is None or metric == m.value):
            metric = m.value
            continue
        matchers.append(Matcher(m.name, op, m.value))
    return Selector(metric, tuple(matchers))


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """The matchers of a `{...}` selector without a metric name (latency SLIs' string form)."""
    body = strip_comments(text).strip()
    if not body.startswith("{") or not body.endswith("}"):
        raise PromQLSyntaxError("write the selector in braces, e.g. '{job=\"api\",code!~\"5..\"}' "
                                "(the metric name goes in 'metric')")
    if not body[1:-1].strip():
        return ()
    try:
        selector = parse_selector(_PROBE + body)
    except PromQLSyntaxError as exc:
        if "metric name" in str(exc):
            raise PromQLSyntaxError("the metric name goes in 'metric', not in the selector") from None
        raise
    if selector.metric != _PROBE:
        raise PromQLSyntaxError("the metric name goes in 'metric', not in the selector")
    return selector.matchers


def selector_text_utf8_names(text: str) -> tuple[str, ...]:
    """`selector_utf8_names(parse_selector(text))`; from the shape when the text has one: the
    names are the shape's own (its metric and labels), whatever the values."""
    shaped = _shaped(strip_comments(text))
    if shaped is not None:
        shape = shaped[0]
        node = shape.node
        if type(node).__name__ == "VectorSelector" and node.offset is None and node.at is None:
            found = _NAMES.get(id(shape))
            if found is None or found[0] is not shape:
                labels = {label for label, _op, _i in shape.matchers}
                found = _NAMES[id(shape)] = (shape, _utf8(labels | ({"\x00" + node.name} if node.name is not None
                                                                     else set())))
            return found[1]
    return selector_utf8_names(parse_selector(text))


_NAMES: dict[int, tuple[_Shape, tuple[str, ...]]] = {}  # id(shape) → (shape, its UTF-8 names)


def selector_utf8_names(selector: Selector) -> tuple[str, ...]:
    """The metric and label names of `selector` that Prometheus 2.x cannot read."""
    names = {m.name for m in selector.matchers}
    if selector.metric is not None:
        names.add("\x00" + selector.metric)
    return _utf8(names)


def _describe(node: Any) -> str:
    kind = type(node).__name__
    return {"Call": f"a call of {getattr(getattr(node, 'func', None), 'name', '?')}()",
            "AggregateExpr": "an aggregation", "BinaryExpr": "an operator expression",
            "MatrixSelector": "a range selector", "SubqueryExpr": "a subquery"}.get(kind, f"a {value_type(node)}")
