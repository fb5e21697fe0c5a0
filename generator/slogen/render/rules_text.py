"""A service's rule file laid out per document shape: each shape's rules built and emitted once, filled per SLO.

Most SLOs of a large spec share their rules' whole structure with many others and differ only in
strings: the service and SLO names, the SLI's matcher values and `expr` texts (the shape of
shapes.py), the values of their label and annotation maps and their description. A *document
shape* is the shape of shapes.py plus every other field of the SLO (with those values left out).
From its fourth SLO on (DIRECT_FIRST), `Templates.text` does not run the stage builders: they ran once on a
template SLO whose strings are tokens, the rules' YAML was emitted once, and each SLO's strings
are filled in.

Why filling is exact:

- A string of the template's rules that holds a token is a *slot*: after filling, it is encoded
  afresh (its YAML style, plain, quoted or a block, depends on the value): by `encode.string_text`,
  or in the style `encode.filled_style` proves from the slot's literal parts for pieces of
  SAFE_PIECE text; never spliced into YAML text as it is. Every other scalar, key and line is
  emitted by encode.py itself, and the layout of one YAML scalar depends on nothing but itself
  and its column.
- A builder writes a token in one of five forms, each filled as it was made: `quote(token)` in
  PromQL (`"…"`: `quote(value)`), an `expr` text for a window (shapes.py), the string as it is (a
  label, a summary), `gotemplate.literal` (a label value copied onto an alert: the `{{` each name
  and data token carries after its index shows the escaping) and urlencode's `quote_plus` (a
  dashboard link). To be sure no builder writes one any other way (hashed, measured, cut), the
  rules are built a second time from tokens of another alphabet and width; only when that build,
  its tokens mapped back, equals the first in every string, key and type is the shape used. A
  builder that shares one container between rules, or between SLOs, makes PyYAML write an anchor:
  such a shape is not used either.
- Group names, intervals and the document around the rules are laid out by rules.py's own
  functions (the SLOs' rules stand in as markers), so chunking and the three formats stay theirs;
  nothing here names a stage or a rule.

Whatever is not certain (an SLO without a shape, the first SLOs of a document shape, a shape that
fails the comparison, a scalar encode.py would leave to PyYAML) is built and emitted directly;
tests/test_rules_text.py compares both ways over every spec in the repository, in every format,
and hostile strings.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import quote_plus

from slogen.model import SLO, WINDOW_PLACEHOLDER, Service, Spec
from slogen.promql import gotemplate, quote
from slogen.render import encode, shapes

Rule = dict[str, Any]
Builder = Callable[[SLO, Spec], list[Rule]]
Layout = Callable[[dict[str, list[list[Any]]]], Any]  # per stage, each SLO's rules → the document

OTHER_OPEN, OTHER_CLOSE, OTHER_WIDTH = "\ue010", "\ue011", 40  # the second build's alphabet
SLOT_OPEN, SLOT_CLOSE = "\ue020", "\ue021"
MARK_OPEN, MARK_CLOSE = "\ue022", "\ue023"

DIRECT_FIRST = 3  # SLOs of a document shape built directly before its template is made
MARK = "{{"  # after the index of a token for a name or data string: gotemplate.literal changes it
_O, _C, _M = shapes.OPEN, shapes.CLOSE, re.escape(MARK)
# The forms a builder writes a token in (module docstring); `"T"` is quote(T), so it comes first.
# The SLI's tokens (matcher values, `expr` texts) carry no mark: a regex matcher's must stay a regex.
_FORMS = re.compile(f'"{_O}(\\d+)(?:{_M})?{_C}"|{_O}(\\d+):([^{_C}]*){_C}|{_O}(\\d+){_M} "{_M}" }}}}{_C}'
                    f'|{_O}(\\d+)(?:{_M})?{_C}|%EE%80%80(\\d+)(?:%7B%7B)?%EE%80%81')
_OTHER_FORMS = re.compile(f'{OTHER_OPEN}(\\d+)((?:{_M})?(?: "{_M}" }}}})?(?::[^{OTHER_CLOSE}]*)?){OTHER_CLOSE}'
                          f'|%EE%80%90(\\d+)((?:%7B%7B)?)%EE%80%91')
_ENCODED = re.compile("%EE%80%[89]", re.IGNORECASE)  # a token percent-encoded
# A slot as encode.py lays out its stand-in `SLOT n SLOT\nX`: a literal block of two lines.
_SLOT = re.compile(f"\\|-\\n( *){SLOT_OPEN}(\\d+){SLOT_CLOSE}\\n\\1X(?=\\n)")
_MARK = re.compile(f"^( *)- {MARK_OPEN}(\\d+){MARK_CLOSE}\\n", re.MULTILINE)

Piece = tuple[str, int, str | None]  # (form q/w/l/r/u, token index, window)


def _parts(text: str) -> tuple[str | Piece, ...] | None:
    """A slot's string cut at its tokens; None if a token character stands outside a known form."""
    parts: list[str | Piece] = []
    at = 0
    for m in _FORMS.finditer(text):
        if m.start() > at:
            parts.append(text[at:m.start()])
        q, w, window, lit, r, u = m.groups()
        parts.append(("q", int(q), None) if q is not None else ("w", int(w), window) if w is not None
                     else ("l", int(lit), None) if lit is not None else ("r", int(r), None) if r is not None
                     else ("u", int(u), None))
        at = m.end()
    if at < len(text):
        parts.append(text[at:])
    if any(isinstance(p, str) and _suspect(p) for p in parts):
        return None
    return tuple(parts)


def _suspect(text: str) -> bool:
    """Holds a token character or a percent-encoded one."""
    return bool(shapes.PRIVATE.search(text) or _ENCODED.search(text))


def _piece(piece: Piece, values: tuple[str, ...]) -> str:
    form, index, window = piece
    value = values[index]
    if form == "q":
        return quote(value)
    if form == "w":
        assert window is not None
        return value.strip().replace(WINDOW_PLACEHOLDER, window)  # as user_expr does
    if form == "l":
        return gotemplate.literal(value)
    if form == "r":
        return value
    return quote_plus(value)


def _mapped_back(value: Any) -> Any:
    """The second build with its tokens written as the first build's."""
    kind = type(value)
    if kind is str:
        return _OTHER_FORMS.sub(_map_token, value)
    if kind is dict:
        return {_mapped_back(k): _mapped_back(v) for k, v in value.items()}
    if kind is list:
        return [_mapped_back(v) for v in value]
    return value


def _map_token(m: re.Match[str]) -> str:
    index, rest, encoded, encoded_rest = m.groups()
    if encoded is not None:
        return f"%EE%80%80{int(encoded)}{encoded_rest}%EE%80%81"
    return f"{shapes.OPEN}{int(index)}{rest}{shapes.CLOSE}"


class _Marked(shapes.Tokens):
    """Tokens whose names and data strings carry MARK (the SLI's, from template_sli, do not)."""

    def marked(self, value: str) -> str:
        self.values.append(value)
        return f"{self.open}{len(self.values) - 1:0{self.width}d}{MARK}{self.close}"


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types throughout (1, 1.0 and True are equal in Python, not in YAML)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return len(a) == len(b) and all(_same(ka, kb) and _same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True))
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) if type(a) is not float else repr(a) == repr(b)


def _strings_of(value: Any, out: list[str]) -> list[str]:
    """Every string in a model value (dataclasses, mappings, tuples), keys included."""
    if type(value) is str:
        out.append(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _strings_of(k, out)
            _strings_of(v, out)
    elif type(value) in (tuple, list):
        for v in value:
            _strings_of(v, out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _strings_of(getattr(value, f.name), out)
    return out


def _containers(value: Any, out: list[Any]) -> None:
    if type(value) is dict:
        out.append(value)
        for v in value.values():
            _containers(v, out)
    elif type(value) is list:
        out.append(value)
        for v in value:
            _containers(v, out)


class _Same:
    """A key part equal only to itself (a tuple of dataclasses: hashing their Fractions per SLO costs)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


# Besides the shape's strings, each SLO's data strings are tokens too: its description and the
# values of its mappings (labels, annotations, at any depth). Everything else is in the key.
_TOKENIZED_FIELDS = ("description",)


def _is_strings(value: Any) -> bool:
    return isinstance(value, Mapping) and all(type(v) is str for v in value.values())


_PLAIN_MAPPINGS = (MappingProxyType, dict)  # the model's label and annotation maps
_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


def _rest(value: Any, values: list[str], memo: dict[int, tuple[Any, Any, tuple[str, ...]]]) -> Any:
    """A hashable key for `value` with its data strings left out (appended to `values` in order), equal
    for equal model values (a miss on equal values only costs another template)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None or kind is Fraction:
        return value
    if kind is float:
        return (float, repr(value))  # 0.0 == -0.0
    if kind in _PLAIN_MAPPINGS:  # the common case first, without the memo (cheap to read again)
        strings = tuple(value.values())
        if all(type(v) is str for v in strings):
            values.extend(strings)
            return ("strings", tuple(value))
    found = memo.get(id(value))
    if found is not None and found[0] is value:
        values.extend(found[2])
        return found[1]
    mine: list[str] = []
    if _is_strings(value):
        frozen: Any = ("strings", tuple(value))
        mine.extend(value.values())
    elif isinstance(value, Mapping):
        frozen = ("map", tuple((k, _rest(v, mine, memo)) for k, v in value.items()))
    elif kind is tuple:
        frozen = value if all(type(v) is str for v in value) else _Same(value)
    elif dataclasses.is_dataclass(value):
        parts = []
        for name in _field_names(kind):
            part = getattr(value, name)
            if name in _TOKENIZED_FIELDS and type(part) is str:
                mine.append(part)
                parts.append(str)
            else:
                parts.append(_rest(part, mine, memo))
        frozen = (kind, tuple(parts))
    else:
        frozen = _Same(value)
    memo[id(value)] = (value, frozen, tuple(mine))  # holding the value keeps its id unique while remembered
    values.extend(mine)
    return frozen


def _tokenized(value: Any, tokens: _Marked) -> Any:
    """`value` with its data strings as tokens, in `_rest`'s order."""
    if _is_strings(value):
        return MappingProxyType({k: tokens.marked(v) for k, v in value.items()})
    if isinstance(value, Mapping):
        return MappingProxyType({k: _tokenized(v, tokens) for k, v in value.items()})
    if type(value) is not tuple and dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            part = getattr(value, f.name)
            new = tokens.marked(part) if f.name in _TOKENIZED_FIELDS and type(part) is str \
                else _tokenized(part, tokens)
            if new is not part:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def _literals(parts: tuple[str | Piece, ...]) -> tuple[str | None, ...]:
    """A slot's literal texts, None for each piece, adjacent literals joined (a literal between
    two pieces is there even when empty)."""
    out: list[str | None] = []
    for p in parts:
        if not isinstance(p, str):
            out.append(None)
        elif out and (previous := out[-1]) is not None:
            out[-1] = previous + p
        else:
            out.append(p)
    return tuple(out)


def _format(text: str) -> str:
    """`text` as literal text of a str.format string."""
    return text.replace("{", "{{").replace("}", "}}")


Slot = tuple[tuple[str | Piece, ...], str]  # a slot's string cut at its tokens, its block lines' pad


@dataclasses.dataclass(frozen=True)
class _Layout:
    """A template's rules emitted with their dashes at one column, as str.format strings.

    `stages`: each stage's text over the slots' texts, each slot's string being `slots[i][0]` over
    the pieces' texts. `inline`: the same text over the pieces' texts and then the texts of the
    slots `filled_style` could not tell (`general`): valid for an SLO whose pieces in `checked` are
    SAFE_PIECE texts, without `'` in `quoted`, none longer than `longest` (MAX_SCALAR)."""

    stages: dict[str, str]
    slots: tuple[tuple[str, str], ...]  # (format over the pieces, its block lines' pad)
    pieces: tuple[Piece, ...]
    inline: dict[str, str]
    general: tuple[int, ...]
    checked: tuple[int, ...]
    quoted: tuple[int, ...]
    longest: float

    def pieces_of(self, values: tuple[str, ...]) -> list[str]:
        return [_piece(p, values) for p in self.pieces]

    def inline_ok(self, pieces: list[str]) -> bool:
        """Whether `inline` holds for an SLO with these pieces' texts."""
        if pieces and max(map(len, pieces)) > self.longest:
            return False
        safe = encode.SAFE_PIECE.match
        return all(safe(pieces[i]) for i in self.checked) and not any("'" in pieces[i] for i in self.quoted)

    def texts(self, pieces: list[str], which: tuple[int, ...] | None = None) -> list[str]:
        """The YAML text of each slot (or of those in `which`) for one SLO."""
        slots = self.slots
        return [encode.string_text(slots[i][0].format(*pieces), slots[i][1])
                for i in (which if which is not None else range(len(slots)))]


def _inline(parts: tuple[str | Piece, ...], pad: str, style: str, pieces: dict[Piece, int]) -> str:
    """A slot's YAML text in `style` (encode.styled_text) as a format string over the pieces."""
    def ref(p: Piece | tuple[str, int]) -> str:
        return f"{{{pieces[p]}}}"  # type: ignore[index]

    if style == "plain":
        return "".join(_format(p) if isinstance(p, str) else ref(p) for p in parts)
    if style == "quoted":
        return "'" + "".join(_format(p.replace("'", "''")) if isinstance(p, str) else ref(p) for p in parts) + "'"
    # a block: pieces hold no line break, so the lines are cut where the literals break
    last = parts[-1]
    keep = isinstance(last, str) and last.endswith("\n")
    body: list[str | Piece] = list(parts)
    if isinstance(last, str) and keep:  # `|`: the final break is the block's own
        body[-1] = last[:-1]
    lines: list[list[str]] = [[]]
    for p in body:
        if isinstance(p, str):
            first, *rest = p.split("\n")
            if first:
                lines[-1].append(_format(first))
            for line in rest:
                lines.append([_format(line)] if line else [])
        else:
            lines[-1].append(ref(p))
    return ("|" if keep else "|-") + "\n" + "\n".join(pad + "".join(line) if line else "" for line in lines)


def _layout(rules: dict[str, list[Rule]], column: int) -> _Layout | None:
    """The layout of a template's rules at `column`; None when encode.py is not sure of it."""
    slot_strings: list[tuple[str | Piece, ...]] = []

    def stand_in(value: Any) -> Any:
        kind = type(value)
        if kind is str and _suspect(value):
            parts = _parts(value)
            if parts is None:
                raise encode.Unsure
            slot_strings.append(parts)
            return f"{SLOT_OPEN}{len(slot_strings) - 1}{SLOT_CLOSE}\nX"
        if kind is dict:
            return {k: stand_in(v) for k, v in value.items()}
        if kind is list:
            return [stand_in(v) for v in value]
        return value

    pieces: dict[Piece, int] = {}
    slots: dict[Slot, int] = {}
    segments: dict[str, list[str | int]] = {}  # per stage: literal text and slot numbers
    for stage, stage_rules in rules.items():
        segments[stage] = out = cast(list[str | int], [])
        if not stage_rules:
            continue
        try:
            text = encode.sequence_body([stand_in(rule) for rule in stage_rules], column, set())
        except encode.Unsure:
            return None
        at = 0
        for m in _SLOT.finditer(text):
            out.append(text[at:m.start()])
            parts = slot_strings[int(m.group(2))]
            for p in parts:
                if not isinstance(p, str):
                    pieces.setdefault(p, len(pieces))
            out.append(slots.setdefault((parts, m.group(1)), len(slots)))
            at = m.end()
        out.append(text[at:])
        if any(isinstance(p, str) and _suspect(p) for p in out):
            return None  # a token in a key, or a stand-in laid out otherwise
    formats = tuple("".join(_format(p) if isinstance(p, str) else f"{{{pieces[p]}}}" for p in parts)
                    for parts, _ in slots)
    styles = [encode.filled_style(_literals(parts)) for parts, _ in slots]
    general = tuple(i for i, style in enumerate(styles) if not style)
    at_general = {slot: len(pieces) + n for n, slot in enumerate(general)}
    inline_texts = [_inline(parts, pad, style, pieces) if style else f"{{{at_general[i]}}}"
                    for i, ((parts, pad), style) in enumerate(zip(slots, styles, strict=True))]
    checked: set[int] = set()
    quoted: set[int] = set()
    longest = float(encode.MAX_SCALAR)
    for (parts, _), style in zip(slots, styles, strict=True):
        if style:
            used = [pieces[p] for p in parts if not isinstance(p, str)]
            checked.update(used)
            if style == "quoted":
                quoted.update(used)
            if used:
                fixed = sum(len(p) for p in parts if isinstance(p, str))
                longest = min(longest, (encode.MAX_SCALAR - fixed) / len(used))
    return _Layout(
        stages={stage: "".join(_format(p) if isinstance(p, str) else f"{{{p}}}" for p in segs)
                for stage, segs in segments.items()},
        slots=tuple(zip(formats, (pad for _, pad in slots), strict=True)),
        pieces=tuple(pieces),
        inline={stage: "".join(_format(p) if isinstance(p, str) else inline_texts[p] for p in segs)
                for stage, segs in segments.items()},
        general=general, checked=tuple(sorted(checked)), quoted=tuple(sorted(quoted)), longest=longest)


@dataclasses.dataclass
class _Template:
    """One document shape: the template's rules per stage, and their layout per column."""

    rules: dict[str, list[Rule]]
    layouts: dict[int, _Layout | None] = dataclasses.field(default_factory=dict)

    def layout(self, column: int) -> _Layout | None:
        if column not in self.layouts:
            self.layouts[column] = _layout(self.rules, column)
        return self.layouts[column]


class _Stage:
    """One SLO's rules in one stage, in a layout: as many items as the SLO has rules there."""

    __slots__ = ("slo", "stage")

    def __init__(self, slo: int, stage: str) -> None:
        self.slo, self.stage = slo, stage


class Templates:
    """The document shapes of one spec (one `rules.generate`), within its `shapes.session()`."""

    def __init__(self, spec: Spec, builders: Mapping[str, Builder]) -> None:
        self.spec, self.builders = spec, dict(builders)
        self.known: dict[tuple[Any, ...], _Template | None] = {}
        self.memo: dict[int, tuple[Any, Any, tuple[str, ...]]] = {}
        self.seen: dict[tuple[Any, ...], int] = {}
        self.fields = tuple(f.name for f in dataclasses.fields(SLO) if f.name not in ("service", "name", "sli"))

    def template(self, slo: SLO, shape: shapes.Shape) -> tuple[_Template | None, tuple[str, ...]]:
        """The template of `slo`'s document shape (None: build its rules directly), and the strings
        its tokens stand for."""
        values = list(shape.values)
        rest = []
        for name in self.fields:
            part = getattr(slo, name)
            if name in _TOKENIZED_FIELDS and type(part) is str:
                values.append(part)
                rest.append(str)
            else:
                rest.append(_rest(part, values, self.memo))
        key = (shape.key, tuple(rest))
        if key not in self.known:
            seen = self.seen.get(key, 0)
            if seen < DIRECT_FIRST:  # a template costs a few SLOs built directly: it pays only when reused
                self.seen[key] = seen + 1
                return None, tuple(values)
            self.known[key] = self._build(slo, len(values))
        return self.known[key], tuple(values)

    def _template_slo(self, slo: SLO, tokens: _Marked) -> SLO:
        service, name = tokens.marked(slo.service), tokens.marked(slo.name)
        sli = shapes.template_sli(slo.sli, tokens)
        rest: dict[str, Any] = {
            f: tokens.marked(part) if f in _TOKENIZED_FIELDS and type(part := getattr(slo, f)) is str
            else _tokenized(getattr(slo, f), tokens) for f in self.fields}
        return dataclasses.replace(slo, service=service, name=name, sli=sli, **rest)

    def _build(self, slo: SLO, count: int) -> _Template | None:
        first_tokens, other_tokens = _Marked(), _Marked(OTHER_OPEN, OTHER_CLOSE, OTHER_WIDTH)
        first, other = self._template_slo(slo, first_tokens), self._template_slo(slo, other_tokens)
        if len(first_tokens.values) != count or any(_suspect(v) for v in _strings_of(slo, [])):
            return None  # a string of the template could be read as a token
        rules = {stage: build(first, self.spec) for stage, build in self.builders.items()}
        again = {stage: build(other, self.spec) for stage, build in self.builders.items()}
        if not _same(rules, _mapped_back(again)):
            return None  # some string depends on a token other than through the five forms
        mine: list[Any] = []
        _containers(rules, mine)
        theirs: list[Any] = []
        _containers(again, theirs)
        ids = {id(x) for x in mine}
        if len(ids) != len(mine) or any(id(x) in ids for x in theirs):
            return None  # one container in two places (PyYAML would anchor it), or shared between SLOs
        return _Template(rules)

    def text(self, service: Service, layout: Layout) -> tuple[str | None, Any]:
        """The YAML body (no header) of `service`'s rule file as `encode.yaml_body(layout(rules))`
        writes it, `rules` being each stage's rules of each SLO, and None; or (None, the document)
        when every SLO was built directly; or (None, None) when not certain (then the caller builds
        the document and encodes it)."""
        cache = shapes.current()
        if cache is None:
            return None, None
        spec = self.spec
        entries: list[tuple[_Template, tuple[str, ...]] | dict[str, list[Rule]]] = []
        for slo in service.slos:
            shape = cache.shape(slo)
            template, values = self.template(slo, shape) if shape is not None else (None, ())
            if template is not None and shape is not None \
                    and not any(shapes.PRIVATE.search(v) for v in values[len(shape.values):]):
                entries.append((template, values))
            else:
                entries.append({stage: build(slo, spec) for stage, build in self.builders.items()})
        if all(isinstance(entry, dict) for entry in entries):  # nothing to gain: the caller encodes it
            return None, layout({stage: [cast(dict[str, list[Rule]], e)[stage] for e in entries]
                                 for stage in self.builders})
        per_stage: dict[str, list[list[Any]]] = {}
        for stage in self.builders:
            per_stage[stage] = [
                [_Stage(i, stage)] * len(entry[stage] if isinstance(entry, dict) else entry[0].rules[stage])
                for i, entry in enumerate(entries)]
        doc = layout(per_stage)
        chunks: list[list[_Stage]] = []
        _mark(doc, chunks)
        try:
            body = encode.fast_body(doc)
            texts: list[list[str] | None] = [None] * len(entries)  # per SLO: its slots' texts, once
            seen: set[int] = set()

            def chunk(m: re.Match[str]) -> str:
                column = len(m.group(1))
                out = []
                for item in _distinct(chunks[int(m.group(2))]):
                    entry = entries[item.slo]
                    if isinstance(entry, dict):
                        out.append(encode.sequence_body(entry[item.stage], column, seen))
                        continue
                    layout = entry[0].layout(column)
                    if layout is None:
                        raise _NoTemplate
                    mine = texts[item.slo]
                    if mine is None:
                        pieces = layout.pieces_of(entry[1])
                        if layout.inline_ok(pieces):
                            mine = texts[item.slo] = ["i", *pieces, *layout.texts(pieces, layout.general)]
                        else:
                            mine = texts[item.slo] = ["s", *layout.texts(pieces)]
                    out.append((layout.inline if mine[0] == "i" else layout.stages)[item.stage].format(*mine[1:]))
                return "".join(out)

            return _MARK.sub(chunk, body), None
        except (encode.Unsure, _NoTemplate):
            return None, None


class _NoTemplate(Exception):
    """A template's stage did not compile at the column asked: lay the document out directly."""


def _distinct(items: list[_Stage]) -> list[_Stage]:
    """Each SLO's stand-in once, in order (a chunk holds one per rule)."""
    out: list[_Stage] = []
    for item in items:
        if not out or out[-1] is not item:
            out.append(item)
    return out


def _mark(value: Any, chunks: list[list[_Stage]]) -> None:
    """Replace, in place, each list of rule stand-ins in the document by one marker string."""
    if type(value) is dict:
        for k, v in value.items():
            if type(v) is list and v and type(v[0]) is _Stage and all(type(x) is _Stage for x in v):
                chunks.append(v)
                value[k] = [f"{MARK_OPEN}{len(chunks) - 1}{MARK_CLOSE}"]
            else:
                _mark(v, chunks)
    elif type(value) is list:
        for v in value:
            _mark(v, chunks)
