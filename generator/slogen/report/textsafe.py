"""Text from servers and specs made safe for where it lands: one log line, or one Markdown fragment.

- `oneline`: control characters and line breaks become spaces, runs of blanks collapse, the text is
  cut to `limit` characters, and a leading `::` is broken, so server or spec text can never start a
  CI log line (GitHub Actions reads `::error::...` at a line start as a workflow command).
- `md`: `oneline`, then every character Markdown or HTML gives a meaning is backslash-escaped, so a
  server message cannot add a heading, a link, an image, a table column or a `<details>`.
- `md_url`: a link target that stays one link (http/https only; blanks and brackets encoded).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BLANKS = re.compile(r"\s{2,}")
# In-line markup (the text is always embedded mid-line, so line-start markers such as # or - are inert).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()!|<>~&])")


def oneline(text: object, limit: int = 300) -> str:
    """`text` as one bounded line that cannot be read as a workflow command."""
    flat = _BLANKS.sub(" ", _CONTROL.sub(" ", str(text))).strip()
    if len(flat) > limit:
        flat = flat[: max(limit - 1, 0)].rstrip() + "…"
    return ": :" + flat[2:] if flat.startswith("::") else flat


def md(text: object, limit: int = 300) -> str:
    """`text` as literal Markdown: one bounded line, every markup character escaped."""
    return _MARKDOWN.sub(r"\\\1", oneline(text, limit))


def md_url(url: str) -> str | None:
    """`url` safe as a Markdown link target, or None when it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#@!$&'*+,;=%-._~")
