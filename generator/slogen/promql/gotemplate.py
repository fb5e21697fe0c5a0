"""A small checker for the Go templates Prometheus expands in alert labels and annotations.

Prometheus parses every alert label and annotation as a Go `text/template` when it loads the
rules, and refuses the whole file on an error. This checker finds what it would refuse:

* unterminated actions (`{{ ... ` without `}}`), unterminated strings, comments and raw strings;
* characters that are no Go template token, unbalanced `(` `)`, empty actions (`{{ }}`);
* control structure: `if`/`with`/`range` need a pipeline, `else` only inside them, every
  `if`/`with`/`range`/`define`/`block` closed by `end`, no stray `end`; `define`/`template`/
  `block` take a quoted name; `break`/`continue` only inside `range`;
* functions that Prometheus does not define (Go's built-ins plus Prometheus' template functions
  as of 2.42), and variables used before `:=` declares them (`$labels`, `$externalLabels`,
  `$externalURL` and `$value` are predeclared).

It does not type-check (a wrong argument count fails only when the alert fires, as in Prometheus).
"""

from __future__ import annotations

import re

from slogen.promql.scan import quoted_end

GO_BUILTINS = frozenset({"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
                         "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"})
# Prometheus' template functions (template/template.go); newer ones (toDuration, now, ...) are
# left out on purpose: Prometheus 2.42 refuses rules that use them.
PROMETHEUS_FUNCTIONS = frozenset({
    "query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml", "match", "title",
    "toUpper", "toLower", "graphLink", "tableLink", "sortByLabel", "humanize", "humanize1024",
    "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "toTime", "pathPrefix", "externalURL",
    "parseDuration", "stripPort", "stripDomain"})
PREDECLARED = frozenset({"$", "$labels", "$externalLabels", "$externalURL", "$value"})
_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"})
_CONSTANTS = frozenset({"true", "false", "nil"})

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)i?)
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<variable>\$[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()|,])
""", re.VERBOSE)


class TemplateError(ValueError):
    """A template Prometheus would refuse to load; the message says where and why."""


def check(text: str) -> None:
    """Raise TemplateError if `text` is not a Go template Prometheus accepts."""
    stack: list[str] = []
    declared = set(PREDECLARED)
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            break
        end = _action_end(text, start)
        inner = text[start + 2:end]
        pos = end + 2
        if inner.startswith("- ") or inner.startswith("-\t") or inner.startswith("-\n"):
            inner = inner[2:]
        if inner.endswith(" -") or inner.endswith("\t-") or inner.endswith("\n-"):
            inner = inner[:-2]
        stripped = inner.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError(f"comment at column {start + 1} must end with '*/' right before '}}}}'")
            continue
        _check_action(stripped, start, stack, declared)
    if stack:
        raise TemplateError(f"'{{{{ {stack[-1]} }}}}' is never closed by '{{{{ end }}}}'")


def _action_end(text: str, start: int) -> int:
    """Index of the `}}` closing the action at `start` (strings may contain braces)."""
    i = start + 2
    if text.startswith("/*", i) or text.startswith("- /*", i):
        close = text.find("*/", i)
        if close < 0:
            raise TemplateError(f"unclosed comment at column {start + 1}")
        i = close + 2
    while i < len(text):
        ch = text[i]
        if text.startswith("}}", i):
            return i
        if ch in "\"'`":
            close = _quote_end(text, i)
            if close < 0:
                raise TemplateError(f"unterminated quoted string in the action at column {start + 1}")
            i = close
            continue
        i += 1
    raise TemplateError(f"unclosed action at column {start + 1}: '{{{{' without '}}}}'")


def _quote_end(text: str, i: int) -> int:
    return quoted_end(text, i, newline_ends=True)


def _tokens(action: str, column: int) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(action):
        match = _TOKEN.match(action, pos)
        if match is None or match.end() == pos:
            raise TemplateError(f"unexpected {action[pos]!r} in the action at column {column}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append((kind, match.group()))
        pos = match.end()
    return out


def _check_action(action: str, at: int, stack: list[str], declared: set[str]) -> None:
    column = at + 1
    tokens = _tokens(action, column)
    if not tokens:
        raise TemplateError(f"empty action '{{{{}}}}' at column {column}")
    depth = 0
    for _, value in tokens:
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
            if depth < 0:
                raise TemplateError(f"unexpected ')' in the action at column {column}")
    if depth:
        raise TemplateError(f"unclosed '(' in the action at column {column}")
    head_kind, head = tokens[0]
    rest = tokens[1:]
    if head_kind == "ident" and head in _KEYWORDS:
        _keyword(head, rest, column, stack)
        if head in ("template", "define", "block"):
            rest = rest[1:]  # the quoted name, checked above
        elif head == "else" and rest and rest[0][1] in ("if", "with"):
            rest = rest[1:]
    else:
        rest = tokens
    _pipeline(rest, column, declared)


def _keyword(word: str, rest: list[tuple[str, str]], column: int, stack: list[str]) -> None:
    if word in ("if", "with", "range"):
        if not rest:
            raise TemplateError(f"missing value for {word} at column {column}")
        stack.append(word)
    elif word in ("define", "block"):
        if not rest or rest[0][0] not in ("string", "raw"):
            raise TemplateError(f"{word} needs a quoted template name at column {column}")
        stack.append(word)
    elif word == "template":
        if not rest or rest[0][0] not in ("string", "raw"):
            raise TemplateError(f"template needs a quoted template name at column {column}")
    elif word == "else":
        if not stack or stack[-1] not in ("if", "with", "range"):
            raise TemplateError(f"unexpected else at column {column}")
        if rest and rest[0][1] in ("if", "with") and len(rest) < 2:
            raise TemplateError(f"missing value for else {rest[0][1]} at column {column}")
        if rest and rest[0][1] not in ("if", "with"):
            raise TemplateError(f"unexpected {rest[0][1]!r} after else at column {column}")
    elif word == "end":
        if rest:
            raise TemplateError(f"unexpected {rest[0][1]!r} after end at column {column}")
        if not stack:
            raise TemplateError(f"unexpected end at column {column}")
        stack.pop()
    elif word in ("break", "continue"):
        if rest:
            raise TemplateError(f"unexpected {rest[0][1]!r} after {word} at column {column}")
        if "range" not in stack:
            raise TemplateError(f"{word} outside range at column {column}")


def _pipeline(tokens: list[tuple[str, str]], column: int, declared: set[str]) -> None:
    if (len(tokens) >= 4 and tokens[0][0] == "variable" and tokens[1][1] == "," and tokens[2][0] == "variable"
            and tokens[3][0] == "declare"):  # range $i, $e := ...
        declared.update((tokens[0][1], tokens[2][1]))
        tokens = tokens[4:]
    if len(tokens) >= 2 and tokens[0][0] == "variable" and tokens[1][0] in ("declare", "assign"):
        if tokens[1][0] == "declare":
            declared.add(tokens[0][1])
        elif tokens[0][1] not in declared:
            raise TemplateError(f"undefined variable {tokens[0][1]} at column {column}")
        tokens = tokens[2:]
        if not tokens:
            raise TemplateError(f"missing value for the assignment at column {column}")
    for i, (kind, value) in enumerate(tokens):
        if kind in ("declare", "assign"):
            raise TemplateError(f"unexpected {value!r} in the action at column {column}")
        if kind == "variable":
            base = value.split(".")[0]
            if base not in declared:
                raise TemplateError(f"undefined variable {base} at column {column}")
        elif kind == "ident":
            if value in _KEYWORDS:
                raise TemplateError(f"unexpected {value!r} in the action at column {column}")
            if value not in _CONSTANTS and value not in GO_BUILTINS and value not in PROMETHEUS_FUNCTIONS:
                raise TemplateError(f"function {value!r} is not defined in Prometheus templates (column {column})")
        elif value == "|" and (i == 0 or (i + 1 < len(tokens) and tokens[i + 1][1] == "|")):
            # A trailing `|` is accepted by Go's parser; a leading or doubled one is not.
            raise TemplateError(f"missing command around '|' at column {column}")


def literal(text: str) -> str:
    """A template that expands to `text` as written: `{{` becomes the action `{{ "{{" }}`.

    For values that are data, not templates (a service's labels copied onto its alerts)."""
    return text.replace("{{", '{{ "{{" }}')
