"""Prometheus-style durations: parse `1h30m`, `250ms`, `30d` into seconds."""

from __future__ import annotations

import re

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|y|w|d|h|m|s))+$")


def parse_duration(text: str) -> float:
    """Seconds in a duration string such as `5m`, `1h30m`, `0.25s` or `250ms`; ValueError if malformed."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a duration (examples: 250ms, 2s, 5m, 1h, 30d)")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
