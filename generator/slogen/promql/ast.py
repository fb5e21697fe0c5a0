"""A typed PromQL expression model and its one printer.

Generators build trees of these frozen nodes and print them with `render()`; nothing else in
slogen formats PromQL. The printer adds parentheses exactly where PromQL's precedence needs them
(`^` right-associative, then unary minus, `* / % atan2`, `+ -`, comparisons, `and unless`, `or`),
prints numbers exactly (`Fraction(144, 10000)` → `0.0144`) and quotes strings and non-legacy
(UTF-8) names the way Prometheus 3 reads them.

Layouts: `render(e)` is one line. `render(e, layout="lines")` breaks the set operators
(`and`, `or`, `unless`) at the top of the tree onto lines of their own, the way alert
expressions are written: the operator at the indentation of the enclosing bracket, operands two
spaces further in, a parenthesised chain as `(` / operands / `)`:

    (
      a > 1
    and
      b > 1
    )
    or
    (
      ...
    )

An operand chain of another set operator is always bracketed in this layout (for readability;
the single-line layout brackets only where precedence requires). Everything below a non-set
operator stays on one line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal, TypeAlias

LEGACY_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LEGACY_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
MATCH_OPS = ("=", "!=", "=~", "!~")
SET_OPS = frozenset({"and", "or", "unless"})
COMPARISON_OPS = frozenset({"==", "!=", "<", ">", "<=", ">="})
AGGREGATIONS = frozenset({"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                          "bottomk", "topk", "quantile", "limitk", "limit_ratio"})

# Binding strength, loosest first (Prometheus' generated_parser.y); unary minus sits between
# `* /` and `^` (it is parsed with MUL's precedence, so `-a ^ b` is `-(a ^ b)`).
_BINARY_PREC = {"or": 10, "and": 20, "unless": 20, **dict.fromkeys(COMPARISON_OPS, 30), "+": 40, "-": 40,
                "*": 50, "/": 50, "%": 50, "atan2": 50, "^": 60}
_UNARY_PREC = 55
_ATOM = 100


@lru_cache(maxsize=1 << 16)
def quote(value: str) -> str:
    """A PromQL double-quoted string literal (backslash, quote and line breaks escaped)."""
    return '"' + (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
                  .replace("\t", "\\t")) + '"'


@lru_cache(maxsize=1 << 14)  # the text depends on float(value) alone, and equal numbers have equal floats
def number_text(value: Fraction | float | int) -> str:
    """A number as PromQL prints best: exact decimals from Fractions (14.4 × 0.001 → `0.0144`)."""
    f = float(value)  # float(Fraction) is correctly rounded, and repr() is the shortest round-trip
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Inf" if f > 0 else "-Inf"
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


@lru_cache(maxsize=1 << 12)
def label_name_text(name: str) -> str:
    """A label name as written in PromQL: bare when a legacy name, else quoted (Prometheus 3)."""
    return name if LEGACY_LABEL_NAME.match(name) else quote(name)


def is_legacy_metric_name(name: str) -> bool:
    """True for names Prometheus 2.x accepts unquoted (`[a-zA-Z_:][a-zA-Z0-9_:]*`)."""
    return LEGACY_METRIC_NAME.match(name) is not None


def is_legacy_label_name(name: str) -> bool:
    """True for label names Prometheus 2.x accepts (`[a-zA-Z_][a-zA-Z0-9_]*`)."""
    return LEGACY_LABEL_NAME.match(name) is not None


class _Ops:
    """Arithmetic and set operators on nodes: `a / b`, `a * 100`, `a | b` (or), `a & b` (and)."""

    __slots__ = ()

    def __add__(self, other: Operand) -> Binary:
        return Binary("+", _expr(self), _coerce(other))

    def __radd__(self, other: Operand) -> Binary:
        return Binary("+", _coerce(other), _expr(self))

    def __sub__(self, other: Operand) -> Binary:
        return Binary("-", _expr(self), _coerce(other))

    def __rsub__(self, other: Operand) -> Binary:
        return Binary("-", _coerce(other), _expr(self))

    def __mul__(self, other: Operand) -> Binary:
        return Binary("*", _expr(self), _coerce(other))

    def __rmul__(self, other: Operand) -> Binary:
        return Binary("*", _coerce(other), _expr(self))

    def __truediv__(self, other: Operand) -> Binary:
        return Binary("/", _expr(self), _coerce(other))

    def __rtruediv__(self, other: Operand) -> Binary:
        return Binary("/", _coerce(other), _expr(self))

    def __mod__(self, other: Operand) -> Binary:
        return Binary("%", _expr(self), _coerce(other))

    def __pow__(self, other: Operand) -> Binary:
        return Binary("^", _expr(self), _coerce(other))

    def __or__(self, other: Operand) -> Binary:
        return Binary("or", _expr(self), _coerce(other))

    def __and__(self, other: Operand) -> Binary:
        return Binary("and", _expr(self), _coerce(other))

    def __neg__(self) -> Unary:
        return Unary("-", _expr(self))

    def __str__(self) -> str:
        return render(_expr(self))


@dataclass(frozen=True, slots=True)
class Number(_Ops):
    """A number literal, printed exactly (see `number_text`)."""

    value: Fraction | int | float


@dataclass(frozen=True, slots=True)
class String(_Ops):
    """A string literal (function arguments such as label_replace's)."""

    value: str


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher: `name op "value"`, op one of = != =~ !~."""

    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in MATCH_OPS:
            raise ValueError(f"unknown matcher operator {self.op!r}")

    def __str__(self) -> str:
        return _matcher_text(self)


@dataclass(frozen=True, slots=True)
class Selector(_Ops):
    """An instant-vector selector; a non-legacy metric name prints quoted inside the braces."""

    metric: str | None
    matchers: tuple[Matcher, ...] = ()
    offset: str | None = None  # a duration, e.g. "5m" or "-1h"
    at: str | None = None  # a Unix time ("1700000000"), "start()" or "end()"


@dataclass(frozen=True, slots=True)
class Range(_Ops):
    """`expr[range]` (a range-vector selector) or, with `subquery`/`step`, `expr[range:step]`.

    Modifiers print after the brackets; a range selector's own Selector offset/@ are hoisted there
    too (`x[5m] offset 1h`), a subquery's inner ones stay inside brackets (`(x offset 1h)[1d:1h]`).
    """

    expr: Expr
    range: str
    step: str | None = None
    subquery: bool = False
    offset: str | None = None
    at: str | None = None


@dataclass(frozen=True, slots=True)
class Call(_Ops):
    """A function call, e.g. `rate(x[5m])`, `clamp_min(e, 0)`."""

    func: str
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class Agg(_Ops):
    """An aggregation: `sum(e)`, `max by (a, b) (e)`, `topk(5, e)`; at most one of by/without."""

    op: str
    expr: Expr
    by: tuple[str, ...] | None = None
    without: tuple[str, ...] | None = None
    param: Expr | None = None


@dataclass(frozen=True, slots=True)
class Binary(_Ops):
    """`lhs op rhs` with optional `bool`, `on(...)`/`ignoring(...)`, `group_left(...)`/`group_right(...)`."""

    op: str
    lhs: Expr
    rhs: Expr
    bool_: bool = False
    on: tuple[str, ...] | None = None
    ignoring: tuple[str, ...] | None = None
    group_left: tuple[str, ...] | None = None
    group_right: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.op not in _BINARY_PREC:
            raise ValueError(f"unknown binary operator {self.op!r}")


@dataclass(frozen=True, slots=True)
class Unary(_Ops):
    """`-e` or `+e`."""

    op: str
    expr: Expr


@dataclass(frozen=True, slots=True)
class Paren(_Ops):
    """Explicit parentheses (the printer adds the ones precedence needs by itself)."""

    expr: Expr


@dataclass(frozen=True, slots=True)
class Raw(_Ops):
    """Validated PromQL text printed as is (comments stripped beforehand).

    Unless `atomic` (the text is a selector, call or literal), it is bracketed wherever it is an
    operand of an operator or a subquery, so it never regroups with what surrounds it.
    """

    text: str
    atomic: bool = False


Expr: TypeAlias = Number | String | Selector | Range | Call | Agg | Binary | Unary | Paren | Raw
Operand: TypeAlias = "Expr | _Ops | int | float | Fraction"
Layout = Literal["line", "lines"]


def _expr(node: _Ops) -> Expr:
    return node  # type: ignore[return-value]  # every _Ops subclass is an Expr member


_NUMBERS = (int, float, Fraction)


def _coerce(value: Operand) -> Expr:
    if isinstance(value, _NUMBERS):
        return Number(value)
    return _expr(value)


# ---------------------------------------------------------------- constructors


def sel(metric: str | None, labels: Mapping[str, str] | None = None, *extra: Matcher) -> Selector:
    """`metric{k="v",...}` from equality labels (in the given order) plus extra matchers."""
    matchers = tuple(Matcher(k, "=", v) for k, v in (labels or {}).items()) + extra
    return Selector(metric, matchers)


def call(func: str, *args: Operand) -> Call:
    """`func(args...)`; numbers become Number nodes."""
    return Call(func, tuple(_coerce(a) for a in args))


def rate(selector: Expr, window: str) -> Call:
    """`rate(selector[window])`."""
    return Call("rate", (Range(selector, window),))


def sum_(expr: Expr, *, by: tuple[str, ...] | None = None, without: tuple[str, ...] | None = None) -> Agg:
    """`sum(expr)`, `sum by (...) (expr)` or `sum without (...) (expr)`."""
    return Agg("sum", expr, by=by, without=without)


def agg(op: str, expr: Expr, *, by: tuple[str, ...] | None = None, without: tuple[str, ...] | None = None,
        param: Operand | None = None) -> Agg:
    """Any aggregation; `param` for topk/bottomk/quantile/count_values/limitk."""
    return Agg(op, expr, by=by, without=without, param=None if param is None else _coerce(param))


def vector(value: Fraction | int | float) -> Call:
    """`vector(n)`."""
    return Call("vector", (Number(value),))


def clamp_min(expr: Expr, minimum: Fraction | int | float) -> Call:
    """`clamp_min(expr, n)`."""
    return Call("clamp_min", (expr, Number(minimum)))


def binary(op: str, lhs: Operand, rhs: Operand, *, bool_: bool = False, on: tuple[str, ...] | None = None,
           ignoring: tuple[str, ...] | None = None, group_left: tuple[str, ...] | None = None,
           group_right: tuple[str, ...] | None = None) -> Binary:
    """Any binary operation; numbers become Number nodes."""
    return Binary(op, _coerce(lhs), _coerce(rhs), bool_=bool_, on=on, ignoring=ignoring, group_left=group_left,
                  group_right=group_right)


def or_(*operands: Operand) -> Expr:
    """`a or b or ...` (left-associative)."""
    return _chain("or", operands)


def and_(*operands: Operand) -> Expr:
    """`a and b and ...` (left-associative)."""
    return _chain("and", operands)


def _chain(op: str, operands: tuple[Operand, ...]) -> Expr:
    if not operands:
        raise ValueError(f"{op} needs at least one operand")
    out = _coerce(operands[0])
    for item in operands[1:]:
        out = Binary(op, out, _coerce(item))
    return out


# ---------------------------------------------------------------- the printer


def render(expr: Expr, layout: Layout = "line") -> str:
    """PromQL text of `expr`: one line, or with `layout="lines"` the alert layout (module docstring)."""
    if layout == "line":
        return _text(expr)
    if layout != "lines":
        raise ValueError(f"unknown layout {layout!r}")
    if isinstance(expr, Paren) and _is_set(expr.expr):
        return "(\n" + _block(expr.expr, "", "  ") + "\n)"
    return _block(expr, "", "")


def _prec(node: Expr) -> int:
    kind = type(node)  # the node classes are final: exact type tests, cheaper than isinstance
    if kind is Binary:
        return _BINARY_PREC[node.op]  # type: ignore[union-attr]
    if kind is Unary:
        return _UNARY_PREC
    if kind is Number:
        return _UNARY_PREC if float(node.value) < 0 else _ATOM  # type: ignore[union-attr]  # -1 is unary minus on 1
    if kind is Raw and not node.atomic:  # type: ignore[union-attr]
        return 0
    return _ATOM


def _operand(node: Expr, parent: int, right: bool, right_assoc: bool = False) -> str:
    p = _prec(node)
    # Left-associative: an equal-precedence right operand regroups; right-associative (^): the left one.
    wrap = p < parent or (p == parent and right != right_assoc)
    text = _text(node)
    return f"({text})" if wrap else text


def _modifiers(at: str | None, offset: str | None) -> str:
    return (f" @ {at}" if at is not None else "") + (f" offset {offset}" if offset is not None else "")


def _names(names: tuple[str, ...]) -> str:
    return "(" + ", ".join(label_name_text(n) for n in names) + ")"


@lru_cache(maxsize=1 << 16)
def _matcher_text(matcher: Matcher) -> str:
    return f"{label_name_text(matcher.name)}{matcher.op}{quote(matcher.value)}"


# Generators print the same few selectors (an SLO's recorded series) many times over.
@lru_cache(maxsize=1 << 16)
def _selector(node: Selector, with_modifiers: bool = True) -> str:
    matchers = [_matcher_text(m) for m in node.matchers]
    if node.metric is not None and not LEGACY_METRIC_NAME.match(node.metric):
        matchers.insert(0, quote(node.metric))
        head = ""
    else:
        head = node.metric or ""
    body = "{" + ",".join(matchers) + "}" if matchers or not head else ""
    return head + body + (_modifiers(node.at, node.offset) if with_modifiers else "")


def _range(node: Range) -> str:
    inner = node.expr
    at, offset = node.at, node.offset
    subquery = node.subquery or node.step is not None
    modified = isinstance(inner, Selector) and (inner.at is not None or inner.offset is not None)
    if modified and not subquery:
        assert isinstance(inner, Selector)
        text = _selector(inner, with_modifiers=False)
        at = at if at is not None else inner.at
        offset = offset if offset is not None else inner.offset
    else:
        text = _text(inner)
    if subquery and (modified or _prec(inner) < _ATOM):
        text = f"({text})"  # a subquery of `x offset 5m` keeps the offset on the selector
    brackets = f"[{node.range}:{node.step or ''}]" if subquery else f"[{node.range}]"
    return text + brackets + _modifiers(at, offset)


def _call(node: Call) -> str:
    return node.func + "(" + ", ".join(_text(a) for a in node.args) + ")"


def _agg(node: Agg) -> str:
    grouping = ""
    if node.by is not None:
        grouping = " by " + _names(node.by) + " "
    elif node.without is not None:
        grouping = " without " + _names(node.without) + " "
    args = _text(node.expr) if node.param is None else f"{_text(node.param)}, {_text(node.expr)}"
    return f"{node.op}{grouping}({args})"


def _operator(node: Binary) -> str:
    out = node.op + (" bool" if node.bool_ else "")
    if node.on is not None:
        out += " on" + _names(node.on)
    elif node.ignoring is not None:
        out += " ignoring" + _names(node.ignoring)
    if node.group_left is not None:
        out += " group_left" + _names(node.group_left)
    elif node.group_right is not None:
        out += " group_right" + _names(node.group_right)
    return out


def _binary(node: Binary) -> str:
    p = _BINARY_PREC[node.op]
    right_assoc = node.op == "^"
    return (f"{_operand(node.lhs, p, False, right_assoc)} {_operator(node)} "
            f"{_operand(node.rhs, p, True, right_assoc)}")


def _unary(node: Unary) -> str:
    inner = node.expr
    text = _text(inner)
    # Conservative: any operator expression under a unary sign is bracketed.
    return node.op + (f"({text})" if _prec(inner) <= _UNARY_PREC else text)


_PRINTERS: dict[type, Callable[..., str]] = {
    Number: lambda n: number_text(n.value),
    String: lambda n: quote(n.value),
    Selector: _selector,
    Range: _range,
    Call: _call,
    Agg: _agg,
    Binary: _binary,
    Unary: _unary,
    Paren: lambda n: f"({_text(n.expr)})",
    Raw: lambda n: n.text,
}


def _text(node: Expr) -> str:
    printer = _PRINTERS.get(type(node))
    if printer is None:
        raise TypeError(f"not a PromQL node: {node!r}")
    return printer(node)


# ---------------------------------------------------------------- the "lines" layout


def _is_set(node: Expr) -> bool:
    return isinstance(node, Binary) and node.op in SET_OPS


def _block(node: Expr, op_indent: str, indent: str) -> str:
    """`node` as a chain: operator lines at `op_indent`, operand lines at `indent`."""
    if not _is_set(node):
        return indent + _text(node)
    out: list[str] = []
    _chain_lines(node, op_indent, indent, out)
    return "\n".join(out)


def _chain_lines(node: Expr, op_indent: str, indent: str, out: list[str]) -> None:
    assert isinstance(node, Binary)
    p = _BINARY_PREC[node.op]
    for right, child in ((False, node.lhs), (True, node.rhs)):
        if isinstance(child, Paren) and _is_set(child.expr):
            bracketed: Expr | None = child.expr
        elif _is_set(child) and (_prec(child) != p or right):
            bracketed = child
        else:
            bracketed = None
        if bracketed is not None:
            out += [indent + "(", _block(bracketed, indent, indent + "  "), indent + ")"]
        elif _is_set(child):  # same operator family on the left: continue the chain
            _chain_lines(child, op_indent, indent, out)
        else:
            out.append(indent + _operand(child, p, right))
        if not right:
            out.append(op_indent + _operator(node))
