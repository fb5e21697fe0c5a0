"""Prometheus-style durations: parse `1h30m`, `250ms`, `30d` into seconds, and format them back."""

from __future__ import annotations

import re
from functools import lru_cache

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|y|w|d|h|m|s))+$")


@lru_cache(maxsize=4096)  # pure, and a render asks for the same dozen durations hundreds of thousands of times
def _parse(text: str) -> float:
    if not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a duration (examples: 250ms, 2s, 5m, 1h, 30d)")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


def parse_duration(text: str) -> float:
    """Seconds in a duration string such as `5m`, `1h30m`, `0.25s` or `250ms`; ValueError if malformed."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration (examples: 250ms, 2s, 5m, 1h, 30d)")
    return _parse(text)


@lru_cache(maxsize=4096, typed=True)  # typed: 5 and 5.0 print differently
def format_ms(ms: int) -> str:
    """A Prometheus duration for a whole number of milliseconds, largest units first (`1d2h`, `2m59s999ms`)."""
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


def format_duration(seconds: float) -> str:
    """A Prometheus duration for a positive number of seconds (to the millisecond): 300 → `5m`."""
    ms = round(seconds * 1000)
    if ms <= 0:
        raise ValueError(f"{seconds} is not a positive duration")
    return format_ms(ms)
