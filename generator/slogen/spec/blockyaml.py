"""A reader for the block-YAML subset slogen specs are written in, exact where it answers.

`read(text)` returns the document PyYAML's safe loader builds from `text`, or None whenever the
text holds anything this reader does not prove it reads the same way; the caller then parses
with PyYAML (which also reports every error: this reader never does). What it reads:

- block mappings and block sequences (an item's mapping may start on the `- ` line, and a
  mapping's value may be a sequence at the key's own indentation, as `yaml.dump` writes it);
- plain keys that resolve to text, every key once per mapping;
- one-line plain scalars (resolved by PyYAML's own resolver and constructors, once per distinct
  text), one-line single- and double-quoted scalars;
- flow sequences and mappings on one line, of words and quoted text without escapes (`[a, b]`,
  `{uid: slo, labels: {team: "a"}}`);
- literal block scalars `|` and `|-` as mapping values;
- comments, blank lines and a leading `---` line.

Anything else (anchors, aliases, tags, multi-line flow collections, folded or indented block
scalars, multi-line plain or quoted scalars, explicit keys, several documents, tabs, CR or
Unicode line breaks, a byte-order mark, control characters) is left to PyYAML. Positions are
not computed here: only a spec with problems needs them, and then PyYAML composes the text.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

import yaml

# Characters this reader handles: newline and printable text, without the ones PyYAML treats
# specially (tab, CR, NEL, LS, PS, BOM) or refuses (control characters, surrogates).
_UNSUPPORTED_ASCII = re.compile("[^\n -~]")


@cache  # compiling the Unicode ranges costs milliseconds: only a text that is not ASCII needs them
def _unsupported() -> re.Pattern[str]:
    return re.compile("[^\n -~\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


_KEY_END = re.compile(r":(?: |$)")  # the value indicator: a colon before a space or the end of the line
_DOUBLE = re.compile(r'"((?:[^"\\]|\\.)*)"((?: +#.*)?)$')
_SINGLE = re.compile(r"'((?:[^']|'')*)'((?: +#.*)?)$")
# First characters of a value that is not a plain scalar (or may not be): indicators.
_NOT_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"
_RESOLVED_TAGS = frozenset({_STR, "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                            _FLOAT, "tag:yaml.org,2002:timestamp"})
# Flow collections on one line: words (no space, no indicator; a colon only between word
# characters, as in a URL) and quoted text without escapes.
_WORD_CHARS = "A-Za-z0-9_./+%@=~*-"
_WORD = rf"[A-Za-z0-9_./][{_WORD_CHARS}]*(?::[{_WORD_CHARS}]+)*"
_FLOW_WORD = re.compile(_WORD)
_FLOW_SCALAR = re.compile(rf"\"[^\"\\\\]*\"|'[^']*'|{_WORD}")
_AFTER_FLOW = re.compile(r"(?: +#.*)?")


def _skip(text: str, pos: int) -> int:
    while text.startswith(" ", pos):
        pos += 1
    return pos


def _next_item(text: str, pos: int, closer: str) -> tuple[int, bool]:
    """After a flow item: past `, ` to the next item (False), or past `closer` (True); else unsure."""
    pos = _skip(text, pos)
    if text.startswith(",", pos):
        return _skip(text, pos + 1), False
    if text.startswith(closer, pos):
        return pos + 1, True
    raise _Unsure


_MISSING = object()
_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the loader slogen parses with (spec/yamlpos.py)


class _Unsure(Exception):
    """The text leaves the subset: PyYAML reads it."""


class _Scalars:
    """Plain scalar text → its value, as PyYAML's SafeLoader resolves and constructs it."""

    def __init__(self) -> None:
        self._loader: Any = yaml.SafeLoader("")  # for its resolver and constructors (untyped): pure Python
        self.values: dict[str, Any] = {}
        self.keys: dict[str, str] = {}
        self.finite = True

    def value(self, text: str) -> Any:
        try:
            return self.values[text]
        except KeyError:
            pass
        loader = self._loader
        tag = loader.resolve(yaml.ScalarNode, text, (True, False))
        if tag not in _RESOLVED_TAGS:
            raise _Unsure  # `=` (the value tag), `<<` (merge) and the like
        value: Any = text if tag == _STR else loader.construct_object(yaml.ScalarNode(tag, text), deep=True)
        if tag == _FLOAT and not math.isfinite(value):
            self.finite = False
        self.values[text] = value
        return value

    def key(self, raw: str) -> str:
        """The key written `raw` (up to its value indicator), checked to be plain text."""
        text = raw.rstrip(" ")
        if not text or len(text) > 1000 or text[0] in _NOT_PLAIN_START or " #" in text:
            raise _Unsure  # past PyYAML's simple-key length, or not a plain scalar by itself
        if self._loader.resolve(yaml.ScalarNode, text, (True, False)) != _STR:
            raise _Unsure  # a key that is not text (true, 1, null, <<): PyYAML's path reports it
        self.keys[raw] = text
        return text


class _Reader:
    def __init__(self, text: str, limit: int) -> None:
        self.lines = lines = text.split("\n")
        # Structural lines: (line number, indentation, text without the indentation and trailing spaces).
        rows: list[tuple[int, int, str]] = []
        append = rows.append
        for number, line in enumerate(lines):
            content = line.lstrip(" ")
            if content and content[0] != "#":
                indent = len(line) - len(content)
                content = content.rstrip(" ")
                if indent == 0 and content[:3] in ("---", "...") and content[3:4] in ("", " "):
                    if rows or content != "---":
                        raise _Unsure  # several documents, or content on the marker line
                    continue
                append((number, indent, content))
        append((len(lines), -1, ""))  # the end: an indentation below every block's
        self.rows = rows
        self.i = 0
        self.nodes = 0
        self.limit = limit
        self.scalars = _Scalars()

    def document(self) -> Any:
        rows = self.rows
        if len(rows) == 1 or rows[0][1] != 0:
            raise _Unsure  # empty, or a root that does not start at the margin
        data = self.block(0)
        if self.i != len(rows) - 1 or not isinstance(data, dict):
            raise _Unsure
        if self.nodes > self.limit:
            raise _Unsure  # PyYAML's path raises the documented error
        return data

    def block(self, indent: int) -> Any:
        content = self.rows[self.i][2]
        if content[0] == "-" and (len(content) == 1 or content[1] == " "):
            return self.sequence(indent)
        return self.mapping(indent, content)

    def mapping(self, col: int, content: str) -> dict[str, Any]:
        """A block mapping whose keys sit at column `col`; `content` is its first line's text
        (after a `- ` when the mapping starts on a sequence item's line)."""
        out: dict[str, Any] = {}
        rows = self.rows
        scalars = self.scalars
        keys, values = scalars.keys, scalars.values
        i = self.i
        nodes = 1
        while True:
            # The value indicator is the first colon before a space or the end of the line.
            text, colon, rest = content.partition(": ")
            if not colon:
                if content[-1] != ":":
                    raise _Unsure
                text, rest = content[:-1], ""
            key = keys.get(text)
            if key is None:
                key = scalars.key(text)
            if key in out:
                raise _Unsure  # a duplicate key: PyYAML's path names it
            i += 1
            nodes += 2  # the key and its value
            if rest:
                rest = rest.lstrip(" ")
            if not rest or rest[0] == "#":
                indent = rows[i][1]
                if indent > col:
                    self.i, self.nodes = i, self.nodes + nodes - 1
                    nodes = 0
                    out[key] = self.block(indent)
                    i = self.i
                elif indent == col and rows[i][2][0] == "-" and rows[i][2][1:2] in ("", " "):
                    self.i, self.nodes = i, self.nodes + nodes - 1
                    nodes = 0
                    out[key] = self.sequence(col)
                    i = self.i
                else:
                    out[key] = None
            elif rest[0] in _NOT_PLAIN_START or " #" in rest or ": " in rest or rest[-1] == ":":
                self.i = i
                nodes -= 1  # counted by scalar() or literal()
                out[key] = self.literal(rows[i - 1][0], col, rest) if rest[0] == "|" else self.scalar(rest)
                i = self.i
            else:  # a plain scalar (the common case), taken here
                found = values.get(rest, _MISSING)
                out[key] = scalars.value(rest) if found is _MISSING else found
            indent = rows[i][1]
            if indent != col:
                self.i, self.nodes = i, self.nodes + nodes
                if indent > col:
                    raise _Unsure  # a multi-line scalar, or an indentation PyYAML refuses
                return out
            content = rows[i][2]

    def sequence(self, col: int) -> list[Any]:
        """A block sequence whose `-` sit at column `col`."""
        self.nodes += 1
        out: list[Any] = []
        rows = self.rows
        while True:
            content = rows[self.i][2]
            if content[0] != "-" or content[1:2] not in ("", " "):
                return out  # a key beside a sequence at its mapping's indentation
            self.i += 1
            item = content[1:].lstrip(" ")
            if not item or item[0] == "#":
                indent = rows[self.i][1]
                if indent > col:
                    out.append(self.block(indent))
                else:
                    self.nodes += 1
                    out.append(None)
            elif item[0] in "-|>":
                raise _Unsure  # a nested compact sequence, or a block scalar as an item
            elif item[0] not in "'\"[{" and _KEY_END.search(item) is not None:
                self.i -= 1  # the mapping reads this line again, from its first key
                out.append(self.mapping(len(content) - len(item) + col, item))
                indent = rows[self.i][1]
                if indent > col:
                    raise _Unsure
                if indent < col:
                    return out
                continue
            else:
                out.append(self.scalar(item))
            indent = rows[self.i][1]
            if indent != col:
                if indent > col:
                    raise _Unsure
                return out

    def scalar(self, text: str) -> Any:
        """A value written on its key's or item's line."""
        self.nodes += 1
        first = text[0]
        if first == '"':
            found = _DOUBLE.match(text)
            if found is None:
                raise _Unsure  # spans lines, or something follows it
            body = found.group(1)
            if "\\" not in body:
                return body
            return _double_quoted(body)
        if first == "'":
            found = _SINGLE.match(text)
            if found is None:
                raise _Unsure
            return found.group(1).replace("''", "'")
        if first == "[" or first == "{":
            return self.flow(text)
        if first in _NOT_PLAIN_START and not (first == "-" and text[1:2] not in ("", " ")):
            raise _Unsure
        cut = text.find(" #")
        if cut >= 0:
            text = text[:cut].rstrip(" ")
        if text[-1] == ":" or ": " in text:
            raise _Unsure  # a value indicator inside a plain scalar: PyYAML refuses it
        return self.scalars.value(text)

    def flow(self, text: str) -> list[Any] | dict[str, Any]:
        """A flow collection on one line, of words, quoted text without escapes and other such
        collections (`[a, b]`, `{uid: slo, title: "SLOs", tags: [x]}`), perhaps a comment after."""
        self.nodes -= 1  # scalar() counted the collection; flow_node counts every node
        value, end = self.flow_node(text, 0)
        if end < len(text) and _AFTER_FLOW.fullmatch(text, end) is None:
            raise _Unsure
        if not isinstance(value, list | dict):
            raise _Unsure
        return value

    def flow_node(self, text: str, pos: int) -> tuple[Any, int]:
        """The flow node starting at `pos` (no space there) and where it ends."""
        self.nodes += 1
        first = text[pos:pos + 1]
        if first == "[":
            items: list[Any] = []
            pos = _skip(text, pos + 1)
            if text.startswith("]", pos):
                return items, pos + 1
            while True:
                item, pos = self.flow_node(text, pos)
                items.append(item)
                pos, closed = _next_item(text, pos, "]")
                if closed:
                    return items, pos
        if first == "{":
            mapping: dict[str, Any] = {}
            pos = _skip(text, pos + 1)
            if text.startswith("}", pos):
                return mapping, pos + 1
            while True:
                found = _FLOW_WORD.match(text, pos)
                if found is None or not text.startswith(": ", found.end()):
                    raise _Unsure
                key = self.scalars.key(found.group())
                if key in mapping:
                    raise _Unsure
                self.nodes += 1
                mapping[key], pos = self.flow_node(text, _skip(text, found.end() + 2))
                pos, closed = _next_item(text, pos, "}")
                if closed:
                    return mapping, pos
        found = _FLOW_SCALAR.match(text, pos)
        if found is None:
            raise _Unsure
        token = found.group()
        if token[0] == '"' or token[0] == "'":
            return token[1:-1], found.end()  # no escapes: the pattern takes none
        return self.scalars.value(token), found.end()

    def literal(self, number: int, col: int, header: str) -> str:
        """A `|` or `|-` block scalar whose header is on line `number`, for a key at column `col`."""
        style = header.split(" #", 1)[0].rstrip(" ")
        if style not in ("|", "|-"):
            raise _Unsure  # folded, kept, or with an indentation indicator
        lines = self.lines
        first = number + 1
        if first >= len(lines):
            raise _Unsure
        content = lines[first].lstrip(" ")
        width = len(lines[first]) - len(content)
        if not content or width <= col:
            raise _Unsure  # leading blank lines, or an empty block
        last = end = first
        while end < len(lines):
            line = lines[end]
            content = line.lstrip(" ")
            if not content:
                if len(line) > width:
                    raise _Unsure  # a line of spaces longer than the indentation
            elif len(line) - len(content) < width:
                break
            else:
                last = end
            end += 1
        if last == len(lines) - 1:
            raise _Unsure  # the text ends without a line break inside the block
        rows = self.rows
        while rows[self.i][0] < end:
            self.i += 1  # lines of the block that looked like structure
        self.nodes += 1
        text = "\n".join(line[width:] for line in lines[first:last + 1])
        return text + "\n" if style == "|" else text


_DOUBLE_CACHE: dict[str, str] = {}


def _double_quoted(body: str) -> str:
    """A one-line double-quoted scalar with escapes, as PyYAML reads it."""
    found = _DOUBLE_CACHE.get(body)
    if found is None:
        try:
            value = yaml.load(f'"{body}"', Loader=_LOADER)
        except yaml.YAMLError:
            raise _Unsure from None
        if not isinstance(value, str):
            raise _Unsure
        found = _DOUBLE_CACHE[body] = value
    return found


def read(text: str, limit: int) -> tuple[Any, int, bool] | None:
    """The document PyYAML's safe loader builds from `text`, how many nodes it has, and whether
    every float in it is finite; None when `text` leaves the subset this reader proves, or has
    more than `limit` nodes."""
    if (_UNSUPPORTED_ASCII if text.isascii() else _unsupported()).search(text) is not None:
        return None
    try:
        reader = _Reader(text, limit)
        data = reader.document()
    except (_Unsure, RecursionError, IndexError):
        return None
    return data, reader.nodes, reader.scalars.finite
