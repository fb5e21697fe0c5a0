"""Deterministic text for generated files: one YAML and one JSON encoder, each with the header.

The YAML text is, byte for byte, what `yaml.dump` writes with the options in `pyyaml_text`
(PyYAML's C dumper, block style, multi-line strings as literal blocks). Rendering a large spec
produces millions of scalars but only thousands of distinct ones, and PyYAML's representer is
Python code that visits every node: so `yaml_text` lays out the block structure itself and asks
PyYAML how to write each distinct scalar once (`_scalar`, `_key`, cached). Whatever this layout
does not provably write the same way (anchors for shared objects, complex keys, `|+` blocks that
end a document with `...`, quoted scalars that span lines, types other than JSON's) makes the
whole document go through `yaml.dump` instead. tests/test_encode.py checks the equality over
every golden and test spec, fuzzed specs and random nested data with hostile strings.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import yaml

from slogen.conventions import generated_header

_BaseDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Block style; multi-line strings (PromQL) as literal blocks so they read as written."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

MAX_SCALAR = 10_000  # longer scalars could reach the line width, where PyYAML's wrapping depends on the column
_SCALAR_TYPES = (str, int, float, bool, type(None))


class _Unsure(Exception):
    """This document holds something the fast layout does not write exactly as PyYAML: use PyYAML."""


def pyyaml_text(data: Any) -> str:
    """The body `yaml.dump` writes for `data` with slogen's options (the reference for `yaml_text`)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1_000_000)


def _inside(text: str, prefix: str) -> str:
    """What PyYAML wrote after `prefix` on its one document line; _Unsure unless exactly that shape."""
    if not text.startswith(prefix) or not text.endswith("\n"):
        raise _Unsure
    return text[len(prefix):-1]


# Strings whose writing follows from libyaml's scalar analysis without asking PyYAML: one line (or
# the lines of a literal block) of characters libyaml prints as they are (allow_unicode), without
# tabs or line breaks other than `\n`. Block context: a plain scalar must not start with an
# indicator (nor `- `, `---`, `...`), hold `: ` or ` #`, or end in a space or a colon, and must
# resolve to a string (`_RESOLVER`: else `yes`, `1.5`, `~` would change type), else it is
# single-quoted. Anything else goes to PyYAML once per distinct string (`_pyyaml_scalar`).
_PRINTABLE = "\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
_LINE = re.compile(f"[{_PRINTABLE}]*\\Z")
_BLOCK = re.compile(f"[{_PRINTABLE}\\n]*\\Z")
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
_INDICATOR_START = frozenset("#,[]{}&*!|>'\"%@`")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
# The first characters the resolver has an implicit type for: a plain scalar starting otherwise is
# a string (Resolver.resolve picks its candidates by the first character; none match any).
# Without wildcard resolvers (keyed None), that is all of them.
_RESOLVED_FIRST: frozenset[str] | None = None if None in _RESOLVER.yaml_implicit_resolvers \
    else frozenset(_RESOLVER.yaml_implicit_resolvers)


def _plain_or_quoted(value: str) -> str | None:
    """A non-empty one-line printable string as libyaml writes it in block context; None: not sure."""
    first = value[0]
    if ": " in value or " #" in value or value[-1] in ": " or first == " " or first in _INDICATOR_START \
            or (first == "-" and value[1:2] in ("", " ")) or value.startswith(("---", "...")):
        return "'" + value.replace("'", "''") + "'"  # no plain style, and nothing forbids single quotes
    if first in "?:":
        return None
    if (_RESOLVED_FIRST is not None and first not in _RESOLVED_FIRST) \
            or _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG:  # type: ignore[no-untyped-call]
        return value
    return "'" + value.replace("'", "''") + "'"  # plain would read back as another type


def _scalar(kind: type, value: Any) -> tuple[str, tuple[str, ...] | None]:
    """(text after `key: ` or `- `, None) for a one-line scalar; (block header, content lines without
    indentation) for a literal block."""
    if kind is str:
        if len(value) > MAX_SCALAR:
            raise _Unsure
        if value and _LINE.match(value):
            text = _plain_or_quoted(value)
            if text is not None:
                return text, None
        elif "\n" in value and value[0] not in " \n" and " \n" not in value and value[-1] != " " \
                and not value.endswith("\n\n") and _BLOCK.match(value):
            if value[-1] == "\n":
                return "|", tuple(value[:-1].split("\n"))
            return "|-", tuple(value.split("\n"))
    if kind is float:  # 0.0 == -0.0: a cache keyed on the value would mix them up
        return _pyyaml_scalar_once(kind, value)
    return _pyyaml_scalar(kind, value)


def _pyyaml_scalar_once(kind: Any, value: Any) -> tuple[str, tuple[str, ...] | None]:
    """`_scalar` as PyYAML writes it. `kind` is part of the key: 1, 1.0 and True are equal in a dict."""
    body = _inside(pyyaml_text({"k": value}), "k: ")
    if _OTHER_BREAKS.search(body):  # libyaml breaks lines there too, indenting by the column
        raise _Unsure
    if "\n" not in body:
        return body, None
    header, _, content = body.partition("\n")
    # Only literal blocks that keep no final line break: `|+` ends the document with `...`.
    if not header.startswith("|") or header.endswith("+"):
        raise _Unsure
    raw = content.split("\n")
    if any(line and not line.startswith("  ") for line in raw):
        raise _Unsure
    return header, tuple(line[2:] for line in raw)


def _key_once(kind: Any, value: Any) -> str:
    """A mapping key as PyYAML writes it (a simple key: one line, no `? `), with the `:`."""
    if kind is str and len(value) > MAX_SCALAR:
        raise _Unsure
    body = _inside(pyyaml_text({value: 1}), "")
    if body.startswith("?") or _OTHER_BREAKS.search(body) or "\n" in body or not body.endswith(": 1"):
        raise _Unsure
    return body[:-3] + ":"


_pyyaml_scalar = lru_cache(maxsize=65536)(_pyyaml_scalar_once)
_key = lru_cache(maxsize=65536)(_key_once)


_STRINGS: dict[str, str | tuple[str, tuple[str, ...]]] = {}  # str → one-line text, or (header, lines)
_KEYS: dict[str, str] = {}
_CACHE_LIMIT = 1 << 18  # entries; past it the caches start over (memory stays bounded on huge specs)
_REMEMBERED = 64  # `string_text` remembers strings up to this length (names, labels, durations)


def _string(value: str) -> str | tuple[str, tuple[str, ...]]:
    """`_scalar` of a str, remembered: a one-line text as a plain str, a block as (header, lines)."""
    text, lines = _scalar(str, value)
    found: str | tuple[str, tuple[str, ...]] = text if lines is None else (text, lines)
    if len(_STRINGS) >= _CACHE_LIMIT:
        _STRINGS.clear()
    _STRINGS[value] = found
    return found


def _block(head: str, header: str, lines: tuple[str, ...] | None, indent: int) -> str:
    if lines is None:
        return head + header + "\n"
    pad = " " * indent
    return head + header + "\n" + "\n".join(pad + line if line else "" for line in lines) + "\n"


def _mapping(data: dict[Any, Any], indent: int, first: str, out: list[str], seen: set[int]) -> None:
    """A non-empty mapping at column `indent`; its first line starts with `first` (a `- ` or spaces)."""
    pad = " " * indent
    head = first
    strings, keys, append = _STRINGS, _KEYS, out.append
    for key, value in data.items():
        name = keys.get(key) if type(key) is str else None
        if name is None:
            kind: Any = type(key)
            if kind not in _SCALAR_TYPES:
                raise _Unsure
            name = _key_once(kind, key) if kind is float else _key(kind, key)
            if kind is str and len(keys) < _CACHE_LIMIT:
                keys[key] = name
        kind = type(value)
        if kind is str:
            found = strings.get(value) or _string(value)
            if isinstance(found, str):
                append(f"{head}{name} {found}\n")
            else:
                append(_block(f"{head}{name} ", found[0], found[1], indent + 2))
        elif kind is dict or kind is list:
            _node(value, head + name, indent, False, out, seen)
        elif kind in _SCALAR_TYPES:
            append(_block(f"{head}{name} ", *_scalar(kind, value), indent + 2))
        else:
            raise _Unsure
        head = pad


def _sequence(data: list[Any], indent: int, first: str, out: list[str], seen: set[int]) -> None:
    """A non-empty sequence whose dashes are at column `indent`; the first line starts with `first`."""
    pad = " " * indent
    head = first
    for item in data:
        _node(item, head + "-", indent + 2, True, out, seen)
        head = pad


def _node(value: Any, line: str, indent: int, in_sequence: bool, out: list[str], seen: set[int]) -> None:
    """`value` after `line` (`key:` or `-`). `indent`: the column of a mapping value's own keys, or of
    what follows a sequence dash."""
    kind = type(value)
    if kind is dict or kind is list:
        if id(value) in seen:  # the same object twice (even empty): PyYAML writes an anchor and an alias
            raise _Unsure
        seen.add(id(value))
        if not value:
            out.append(line + (" {}\n" if kind is dict else " []\n"))
            return
        if in_sequence:  # `- key: v` / `- - item`: the node starts on the dash's line
            start = line + " "
            if kind is dict:
                _mapping(value, indent, start, out, seen)
            else:
                _sequence(value, indent, start, out, seen)
            return
        out.append(line + "\n")
        if kind is dict:
            _mapping(value, indent + 2, " " * (indent + 2), out, seen)
        else:  # PyYAML does not indent a sequence under a mapping key
            _sequence(value, indent, " " * indent, out, seen)
        return
    if kind not in _SCALAR_TYPES:
        raise _Unsure
    out.append(_block(line + " ", *_scalar(kind, value), indent if in_sequence else indent + 2))


def _fast_text(data: Any) -> str:
    """The same body as `pyyaml_text(data)` for a non-empty mapping or sequence, else _Unsure."""
    out: list[str] = []
    kind = type(data)
    if kind is dict and data:
        _mapping(data, 0, "", out, {id(data)})
    elif kind is list and data:
        _sequence(data, 0, "", out, {id(data)})
    else:
        raise _Unsure
    return "".join(out)


# For laying out a document from pieces (rules_text.py): the same layout, `Unsure` where PyYAML must
# write the whole document.
Unsure = _Unsure


def fast_body(data: Any) -> str:
    """`yaml_body(data)` by the fast layout alone; Unsure where that would fall back to PyYAML."""
    return _fast_text(data)


def sequence_body(items: list[Any], indent: int, seen: set[int]) -> str:
    """The lines of the non-empty sequence `items` with its dashes at column `indent`, as a mapping's
    value at that column (`key:` on the line before): what `yaml_body` writes there. `seen`: the ids
    of the document's containers so far (one object twice makes PyYAML write an anchor: Unsure)."""
    out: list[str] = []
    _sequence(items, indent, " " * indent, out, seen)
    return "".join(out)


def styled_text(value: str, style: str, pad: str) -> str:
    """`string_text(value, pad)` for a string `filled_style` found the style of."""
    if style == "plain":
        return value
    if style == "quoted":
        return "'" + value.replace("'", "''") + "'"
    if value[-1] == "\n":
        header, lines = "|", value[:-1].split("\n")
    else:
        header, lines = "|-", value.split("\n")
    return header + "\n" + "\n".join(pad + line if line else "" for line in lines)


def string_text(value: str, pad: str) -> str:
    """The string `value` as `yaml_body` writes it after `key: ` or `- `, without the final line
    break; a literal block's lines indented by `pad` (the mapping's column + 2, or the column after
    the dash). Unsure where PyYAML would have to write the document."""
    found = _STRINGS.get(value)
    if found is None:
        if len(value) <= _REMEMBERED:
            found = _string(value)
        else:  # a filled expression or annotation: seldom seen twice
            text, block = _scalar(str, value)
            found = text if block is None else (text, block)
    if isinstance(found, str):
        return found
    header, lines = found
    return header + "\n" + "\n".join(pad + line if line else "" for line in lines)


# Texts filled into a string between literal parts (rules_text.py): printable, one line, none of
# the three characters that can make `: ` or ` #` with a neighbour, never empty.
SAFE_PIECE = re.compile(f"(?:(?![: #])[{_PRINTABLE}])+\\Z")


def filled_style(literals: tuple[str | None, ...]) -> str:
    """How `string_text` writes every string made of `literals` with, at each None, a SAFE_PIECE text
    (and no longer than MAX_SCALAR): "plain" (the string itself), "quoted" (single-quoted), "block"
    (a literal block), or "" when it depends on the pieces. Follows `_scalar` and `_plain_or_quoted`
    condition by condition."""
    texts = [t for t in literals if t is not None]
    if not literals:
        return ""
    first, last = literals[0], literals[-1]
    if any("\n" in t for t in texts):  # not one line: the literal-block test of `_scalar`
        if not all(_BLOCK.match(t) for t in texts) or not first or first[0] in " \n" \
                or any(" \n" in t for t in texts) or (last is not None and (last[-1] == " " or last.endswith("\n\n"))):
            return ""
        return "block"  # a piece has no break and does not end in a space: the tests hold as for the literals
    if any(t and not _LINE.match(t) for t in texts):
        return ""  # a character libyaml escapes: `_scalar` goes another way
    if any(": " in t or " #" in t for t in texts):
        return "quoted"  # the first test of _plain_or_quoted holds whatever the pieces are
    if first is None or len(first) < 3 or _RESOLVED_FIRST is None:
        return ""
    lead = first[0]
    if lead == " " or lead in _INDICATOR_START or lead in "-?:" or lead in _RESOLVED_FIRST:
        return ""
    if last is not None and (last == "" or last[-1] in ": "):
        return ""
    return "plain"  # no `: `/` #` can straddle a piece, the ends and the first character are known


def yaml_body(data: Any) -> str:
    """YAML of `data`, identical to `pyyaml_text(data)`, fast for the plain data generators build."""
    try:
        return _fast_text(data)
    except _Unsure:
        return pyyaml_text(data)


def yaml_text(data: Any, *, source: str) -> str:
    """YAML with the generated-file header as a comment; key order as the generator built it."""
    return with_header(yaml_body(data), source=source)


def with_header(body: str, *, source: str) -> str:
    """A YAML body with the generated-file header comment before it."""
    return f"# {generated_header(source)}\n{body}"


def json_text(data: Any) -> str:
    """Pretty JSON with sorted keys and a final newline (JSON has no comments: the header goes in data)."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
