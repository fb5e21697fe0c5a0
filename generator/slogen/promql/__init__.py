"""PromQL for slogen: the expression model and printer (`ast`), and checks of user PromQL (`check`).

The public names of both modules are re-exported here (`from slogen.promql import quote, ...`).
"""

from slogen.promql.ast import (
    Agg,
    Binary,
    Call,
    Expr,
    Matcher,
    Number,
    Paren,
    Range,
    Raw,
    Selector,
    String,
    Unary,
    agg,
    and_,
    binary,
    call,
    clamp_min,
    label_name_text,
    number_text,
    or_,
    quote,
    rate,
    render,
    sel,
    sum_,
    vector,
)
from slogen.promql.check import (
    Parsed,
    PromQLSyntaxError,
    canonical_selector,
    parse_expression,
    parse_matchers,
    parse_selector,
    strip_comments,
)

__all__ = [
    "Agg", "Binary", "Call", "Expr", "Matcher", "Number", "Paren", "Parsed", "PromQLSyntaxError", "Range",
    "Raw", "Selector", "String", "Unary", "agg", "and_", "binary", "call", "canonical_selector", "clamp_min",
    "label_name_text",
    "number_text", "or_", "parse_expression", "parse_matchers", "parse_selector", "quote", "rate", "render",
    "sel", "strip_comments", "sum_", "vector",
]
