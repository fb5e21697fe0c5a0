"""Plain-text tables for the terminal: aligned columns and a coloured cell, fast at 10,000 rows.

(Laid out by slogen rather than a table library, for speed at that size: docs/performance.md.)
Colour follows the usual conventions: `NO_COLOR` (any value) turns it off, `FORCE_COLOR`
turns it on, otherwise only a terminal gets it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import click

RULE = "━"
ASCII_RULE = "-"  # for a stream that cannot encode RULE (a Latin-1 or ASCII locale)


def colour_enabled(stream: TextIO) -> bool:
    """Whether to colour output written to `stream`."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


def rule_for(stream: TextIO) -> str:
    """RULE if `stream` can encode it, else ASCII_RULE."""
    try:
        RULE.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return ASCII_RULE
    return RULE


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: frozenset[int] = frozenset(),
          styles: Sequence[Mapping[str, Any] | None] = (), colour: bool = False, rule: str = RULE) -> str:
    """Columns padded to their widest cell (right-aligned where `right` says), a heavy rule under
    the headers; `styles[i]` (click.style keywords) colours the last cell of row i when `colour`."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    last = len(headers) - 1

    def line(cells: Sequence[str], style: Mapping[str, Any] | None = None) -> str:
        out = []
        for i, cell in enumerate(cells):
            text = cell.rjust(widths[i]) if i in right else (cell if i == last else cell.ljust(widths[i]))
            if i == last and style and colour:
                text = click.style(text, **style)  # after padding: escape codes take no width
            out.append(text)
        return " " + "  ".join(out)

    lines = [line(headers), " " + rule * (sum(widths) + 2 * last)]  # as wide as the widest row
    if colour:
        lines += [line(row, styles[n] if n < len(styles) else None) for n, row in enumerate(rows)]
    else:  # the same padding as `line`, by one format string per row
        layout = " " + "  ".join(f"{{:>{width}}}" if i in right else "{}" if i == last else f"{{:<{width}}}"
                                 for i, width in enumerate(widths))
        lines += [layout.format(*row) for row in rows]
    return "\n".join(lines)
