"""The one scanner of quoted strings shared by the PromQL comment stripper and the Go-template checker."""

from __future__ import annotations


def quoted_end(text: str, pos: int, *, newline_ends: bool = False) -> int:
    """Index just past the string literal opening at `text[pos]` (`"`, `'` or a backtick); -1 if unterminated.

    Backslash escapes the next character except in backtick (raw) strings. With `newline_ends`, a
    line break inside a non-raw string leaves it unterminated (Go's lexer refuses one there).
    """
    quote = text[pos]
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "`":
            i += 2
            continue
        if newline_ends and ch == "\n" and quote != "`":
            return -1
        if ch == quote:
            return i + 1
        i += 1
    return -1
