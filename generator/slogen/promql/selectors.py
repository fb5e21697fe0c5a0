"""A small PromQL checker: parses series selectors fully and lints whole expressions.

Selectors (`metric{label="v", other=~"re"}`) are what ratio SLIs take; they are parsed to the
grammar of Prometheus' own lexer. Free expressions (`sli.expr`) get a lexical check only:
balanced brackets, terminated strings, valid range durations. That catches the typos a
reviewer misses without pretending to be a full PromQL parser.
"""

from __future__ import annotations

import re

from slogen.promql.ast import Matcher, Selector

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPERATORS = ("=~", "!~", "!=", "=")
_DURATION = re.compile(r"^(\d+(ms|y|w|d|h|m|s))+$")


class PromQLSyntaxError(ValueError):
    """A selector or expression that Prometheus would reject; the message says where and why."""


def _read_string(text: str, pos: int) -> tuple[str, int]:
    quote_char = text[pos]
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == quote_char:
            return "".join(out), i + 1
        if ch == "\\" and quote_char != "`":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if ch == "\n" and quote_char != "`":
            break
        out.append(ch)
        i += 1
    raise PromQLSyntaxError(f"unterminated string starting at column {pos + 1}")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def parse_selector(text: str) -> Selector:
    """Parse `metric{matchers}`; raises PromQLSyntaxError naming the column of the first mistake."""
    if not isinstance(text, str) or not text.strip():
        raise PromQLSyntaxError("empty selector")
    pos = _skip_space(text, 0)
    metric = None
    name = METRIC_NAME.match(text, pos)
    if name:
        metric = name.group(0)
        pos = name.end()
    pos = _skip_space(text, pos)
    matchers: list[Matcher] = []
    if pos < len(text) and text[pos] == "{":
        pos = _skip_space(text, pos + 1)
        while pos < len(text) and text[pos] != "}":
            label = LABEL_NAME.match(text, pos)
            if not label:
                raise PromQLSyntaxError(f"expected a label name at column {pos + 1}, found {text[pos]!r}")
            pos = _skip_space(text, label.end())
            op = next((o for o in _OPERATORS if text.startswith(o, pos)), None)
            if op is None:
                raise PromQLSyntaxError(f"expected one of = != =~ !~ after {label.group(0)!r} at column {pos + 1}")
            pos = _skip_space(text, pos + len(op))
            if pos >= len(text) or text[pos] not in "\"'`":
                raise PromQLSyntaxError(f"expected a quoted value for {label.group(0)!r} at column {pos + 1}")
            value, pos = _read_string(text, pos)
            if op in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as exc:
                    raise PromQLSyntaxError(f"invalid regular expression for {label.group(0)!r}: {exc}") from None
            matchers.append(Matcher(label.group(0), op, value))
            pos = _skip_space(text, pos)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_space(text, pos + 1)
            elif pos < len(text) and text[pos] != "}":
                raise PromQLSyntaxError(f"expected ',' or '}}' at column {pos + 1}, found {text[pos]!r}")
        if pos >= len(text):
            raise PromQLSyntaxError("unclosed '{' in selector")
        pos += 1
    pos = _skip_space(text, pos)
    if pos != len(text):
        raise PromQLSyntaxError(
            f"unexpected {text[pos:pos + 12]!r} at column {pos + 1}: give a bare series selector; "
            "slogen adds rate() and sum() itself"
        )
    has_name = metric is not None or any(m.name == "__name__" for m in matchers)
    if not has_name and not any(m.op in ("=", "=~") and m.value for m in matchers):
        raise PromQLSyntaxError("a selector needs a metric name or at least one non-empty matcher")
    return Selector(metric, tuple(matchers))


_OPEN = {"(": ")", "{": "}", "[": "]"}


def lint_expression(text: str) -> None:
    """Lexical check of a PromQL expression; raises PromQLSyntaxError on unbalanced or bad tokens."""
    if not isinstance(text, str) or not text.strip():
        raise PromQLSyntaxError("empty expression")
    stack: list[tuple[str, int]] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch in "\"'`":
            _, pos = _read_string(text, pos)
            continue
        if ch == "#":  # comment to end of line
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        if ch in _OPEN:
            if ch == "[":
                close = text.find("]", pos)
                if close < 0:
                    raise PromQLSyntaxError(f"unclosed '[' at column {pos + 1}")
                _check_range(text[pos + 1 : close], pos)
                pos = close + 1
                continue
            stack.append((ch, pos))
        elif ch in ")}]":
            if not stack or _OPEN[stack[-1][0]] != ch:
                raise PromQLSyntaxError(f"unexpected {ch!r} at column {pos + 1}")
            stack.pop()
        pos += 1
    if stack:
        ch, at = stack[-1]
        raise PromQLSyntaxError(f"unclosed {ch!r} at column {at + 1}")


def _check_range(inner: str, at: int) -> None:
    parts = inner.strip().split(":")
    if len(parts) > 2 or not parts[0].strip():
        raise PromQLSyntaxError(f"bad range [{inner}] at column {at + 1}")
    for i, part in enumerate(parts):
        part = part.strip()
        if i == 1 and part == "":
            continue  # [5m:] uses the default resolution
        if not _DURATION.match(part):
            raise PromQLSyntaxError(f"bad duration {part!r} in range at column {at + 1}")
