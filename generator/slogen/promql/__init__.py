"""PromQL for slogen: the expression model and printer (`ast`), and checks of user PromQL (`selectors`).

`from slogen.promql import quote, parse_selector, ...` keeps working: the public names of both
modules are re-exported here.
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
from slogen.promql.selectors import PromQLSyntaxError, lint_expression, parse_selector

__all__ = [
    "Agg", "Binary", "Call", "Expr", "Matcher", "Number", "Paren", "PromQLSyntaxError", "Range", "Raw",
    "Selector", "String", "Unary", "agg", "and_", "binary", "call", "clamp_min", "label_name_text",
    "lint_expression", "number_text", "or_", "parse_selector", "quote", "rate", "render", "sel", "sum_",
    "vector",
]
