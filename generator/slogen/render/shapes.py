"""PromQL text printed once per SLO shape: SLOs that differ only in names and selector values share it.

Most SLOs of a large spec differ from many others only in their service and SLO names and in the
values of their SLI's matchers (and an `expr` SLI's text). `text(build, slo, spec, ...)` prints
`build`'s expression for a *template* of the SLO, where each of those strings is a token, once per
shape, and fills the real strings into the printed text.

Why filling is exact: the printer writes a matcher value only as `quote(value)`, and nothing else it
prints or decides (brackets, spacing) reads the value; it writes an `expr` SLI's text (a `Raw` node,
never atomic) only verbatim, bracketed by a rule that reads the node's kind alone. So the template's
text is the real text with `quote(token)` where the real one has `quote(value)`, and the token (with
its window, for `expr` text: `user_expr` substitutes `$window` inside the token too) where the real
text has the user's text for that window. Tokens are Unicode private-use characters; an SLO whose
metric, label or grouping names (which the template prints as they are) hold one is printed
directly; its values may hold any (the template has tokens in their place, and filling does not
read what it fills in). Everything else a builder reads of the SLO is part of the
shape's key, and the template keeps the rest at the real SLO's values of the shape's first SLO, so a
builder that read them would be caught by tests/test_shapes.py (every SLO of every test spec,
printed both ways).

The cache lives for one `session()` (a `rules.generate` call): outside one, `text` prints directly.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from slogen.model import (
    SLO,
    WINDOW_PLACEHOLDER,
    ExprRatioSLI,
    ExprSLI,
    GaugeSLI,
    LatencySLI,
    RatioSLI,
    Spec,
)
from slogen.promql import Expr, Matcher, Selector, parse_selector, quote, render
from slogen.promql.ast import Layout

OPEN, CLOSE = "\ue000", "\ue001"
# The private-use characters slogen's templates use (tokens of two alphabets, slots, markers).
PRIVATE = re.compile("[\ue000-\ue03f]")
_TOKEN = re.compile(f'"{OPEN}(\\d+){CLOSE}"|{OPEN}(\\d+):([^{CLOSE}]*){CLOSE}')


Template = tuple[str | tuple[int, str | None], ...]  # literal text, or (token, window: None if quoted)


def compile_template(text: str) -> Template:
    """`text` cut at its tokens: literals, and (token index, window) where a token stands."""
    parts: list[str | tuple[int, str | None]] = []
    at = 0
    for match in _TOKEN.finditer(text):
        if match.start() > at:
            parts.append(text[at:match.start()])
        quoted, raw, window = match.groups()
        parts.append((int(quoted), None) if quoted is not None else (int(raw), window))
        at = match.end()
    if at < len(text):
        parts.append(text[at:])
    return tuple(parts)


@dataclasses.dataclass(frozen=True)
class Shape:
    """One SLO's template (its strings tokenized) and the strings the tokens stand for."""

    key: int
    template: SLO
    values: tuple[str, ...]
    pieces: dict[tuple[int, str | None], str] = dataclasses.field(default_factory=dict, compare=False)

    def fill(self, template: Template) -> str:
        """The text printed for the template SLO, with each token's real string in its place."""
        pieces = self.pieces
        out = []
        for part in template:
            if isinstance(part, str):
                out.append(part)
                continue
            piece = pieces.get(part)
            if piece is None:
                piece = pieces[part] = self._piece(*part)
            out.append(piece)
        return "".join(out)

    def _piece(self, index: int, window: str | None) -> str:
        value = self.values[index]
        if window is None:  # a matcher value: the printer writes quote(value)
            return quote(value)
        return value.strip().replace(WINDOW_PLACEHOLDER, window)  # as user_expr does


class Tokens:
    """Stands a token for each string of a template: `OPEN index CLOSE` (an `expr` text: `OPEN index:$window
    CLOSE`), the index `width` digits wide. rules_text.py uses another alphabet and width too."""

    def __init__(self, open_: str = OPEN, close: str = CLOSE, width: int = 1) -> None:
        self.values: list[str] = []
        self.open, self.close, self.width = open_, close, width

    def quoted(self, value: str) -> str:
        self.values.append(value)
        return f"{self.open}{len(self.values) - 1:0{self.width}d}{self.close}"

    def raw(self, text: str) -> str:
        self.values.append(text)
        return f"{self.open}{len(self.values) - 1:0{self.width}d}:{WINDOW_PLACEHOLDER}{self.close}"

    def matchers(self, matchers: tuple[Matcher, ...]) -> tuple[Matcher, ...]:
        return tuple(Matcher(m.name, m.op, self.quoted(m.value)) for m in matchers)

    def selector_text(self, text: str | None) -> str | None:
        if text is None:
            return None
        node = printed_selector(text) or parse_selector(text)
        return render(Selector(node.metric, self.matchers(node.matchers)))

    def expr_text(self, text: str | None) -> str | None:
        return None if text is None else self.raw(text)


_PRINTED = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*(?:=~|!~|!=|=)"(?:[^"\\]|\\.)*",)*'
                      r'[a-zA-Z_][a-zA-Z0-9_]*(?:=~|!~|!=|=)"(?:[^"\\]|\\.)*")\}')
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)"((?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPED = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}  # what quote() escapes


def printed_selector(text: str) -> Selector | None:
    """The selector `text` is the printer's text of (`metric{name op "value",...}`), read without the
    PromQL parser; None for any other text, which the parser reads (a ratio SLI's selectors are the
    printer's canonical text: the parser is the slow way to the same answer). Exact because the
    answer must print back to `text` exactly, and the printer writes different selectors of this
    form differently (quote is one to one); `__name__` matchers, which the parser folds into the
    metric, are left to the parser."""
    whole = _PRINTED.fullmatch(text)
    if whole is None:
        return None
    matchers = []
    for m in _MATCHER.finditer(whole.group(2)):
        name, op, quoted = m.groups()
        if name == "__name__" or any(e not in _ESCAPED for e in _UNESCAPE.findall(quoted)):
            return None
        matchers.append(Matcher(name, op, _UNESCAPE.sub(lambda e: _ESCAPED[e.group(1)], quoted)))
    found = Selector(whole.group(1), tuple(matchers))
    return found if render(found) == text else None


def template_sli(sli: Any, tokens: Tokens) -> Any:
    """`sli` with its matcher values and `expr` texts as tokens; None for a kind without a template."""
    if isinstance(sli, RatioSLI):
        if any(t is not None and parse_selector(t).metric is None for t in (sli.total, sli.errors, sli.good)):
            return None  # without a metric name, whether a selector parses depends on its values (`{a!=""}`)
        total = tokens.selector_text(sli.total)
        assert total is not None
        return RatioSLI(total, tokens.selector_text(sli.errors), tokens.selector_text(sli.good))
    if isinstance(sli, LatencySLI):
        return dataclasses.replace(sli, selector=tokens.matchers(sli.selector))
    if isinstance(sli, GaugeSLI):
        return dataclasses.replace(sli, selector=tokens.matchers(sli.selector))
    if isinstance(sli, ExprSLI):
        total = tokens.expr_text(sli.total)
        assert total is not None
        return ExprSLI(total, tokens.expr_text(sli.errors), tokens.expr_text(sli.good))
    if isinstance(sli, ExprRatioSLI):
        ratio = tokens.expr_text(sli.ratio)
        assert ratio is not None
        return ExprRatioSLI(ratio)
    return None


class _Same:
    """A key part equal only to itself: SLOs of one period share one rows tuple, and hashing its
    Fractions for every SLO would cost more than a miss on an equal copy."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value  # held, so its id stays unique while the key exists

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


_QUOTED_TOKEN = re.compile(f'"{OPEN}\\d+{CLOSE}"')


def _names(slo: SLO, template: Any) -> tuple[str, ...]:
    """The strings of the shape's key that the printer may write: metric, label and grouping names
    (`template`: the SLO's SLI with its tokens)."""
    sli = slo.sli
    names = list(slo.group_by)
    if isinstance(sli, LatencySLI | GaugeSLI):
        names += [sli.metric, *(m.name for m in sli.selector)]
    elif isinstance(template, RatioSLI):  # the template selectors' text but for the tokens: metric and names
        names += [_QUOTED_TOKEN.sub("", t) for t in (template.total, template.errors, template.good) if t is not None]
    return tuple(names)


class Cache:
    """One session's shapes and printed templates."""

    def __init__(self) -> None:
        self.shapes: dict[int, tuple[SLO, Shape | None]] = {}
        self.keys: dict[tuple[Any, ...], tuple[int, SLO]] = {}
        self.texts: dict[tuple[Any, ...], Template] = {}

    def shape(self, slo: SLO) -> Shape | None:
        entry = self.shapes.get(id(slo))
        if entry is not None and entry[0] is slo:
            return entry[1]
        shape = self._shape(slo)
        self.shapes[id(slo)] = (slo, shape)  # holding the SLO keeps its id unique while cached
        return shape

    def _shape(self, slo: SLO) -> Shape | None:
        tokens = Tokens()
        service, name = tokens.quoted(slo.service), tokens.quoted(slo.name)
        sli = template_sli(slo.sli, tokens)
        # A token character in a name the template prints as it is could not be told from a token.
        # (The values may hold any: the template has tokens in their place, and filling does not read
        # what it fills in. So rules_text.py's templates, whose values are tokens, share the shapes.)
        if sli is None or any(PRIVATE.search(v) for v in _names(slo, sli)):
            return None
        # Everything the expression builders read of an SLO besides the tokenized strings.
        key = (sli, slo.objective, slo.window, _Same(slo.windows), slo.group_by, slo.alerting.min_events)
        known = self.keys.get(key)
        if known is None:
            template = dataclasses.replace(slo, service=service, name=name, sli=sli)
            known = self.keys[key] = (len(self.keys), template)
        return Shape(known[0], known[1], tuple(tokens.values))


_ACTIVE: ContextVar[Cache | None] = ContextVar("slogen_shapes", default=None)


@contextmanager
def session(cache: Cache | None = None) -> Iterator[Cache]:
    """Within: `text` prints each shape's expressions once (for one spec: the spec is not in the key).
    `cache`: the one an earlier session of the same spec yielded, to go on with its templates."""
    active = cache if cache is not None else Cache()
    token = _ACTIVE.set(active)
    try:
        yield active
    finally:
        _ACTIVE.reset(token)


def current() -> Cache | None:
    """The cache of the session this runs in; None outside one."""
    return _ACTIVE.get()


def text(build: Callable[..., Expr], slo: SLO, spec: Spec, *args: Any, layout: Layout = "line") -> str:
    """`render(build(slo, spec, *args), layout)`, printed once per shape within a session.

    `args` must be hashable and, with `spec` and the shape, determine the expression."""
    cache = _ACTIVE.get()
    shape = cache.shape(slo) if cache is not None else None
    if cache is None or shape is None:
        return render(build(slo, spec, *args), layout)
    key = (build, shape.key, args, layout)
    template = cache.texts.get(key)
    if template is None:
        template = cache.texts[key] = compile_template(render(build(shape.template, spec, *args), layout))
    return shape.fill(template)
