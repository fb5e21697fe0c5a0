"""What the converters share: the input document, format detection, windows, objectives, queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from slogen.durations import parse_duration
from slogen.model import WINDOW_PLACEHOLDER
from slogen.slo.windows import period_problem

SLOTH, SLOTH_K8S, PYRRA, OPENSLO = "sloth", "sloth-k8s", "pyrra", "openslo"
FORMATS = (SLOTH, SLOTH_K8S, PYRRA, OPENSLO)
FAMILY = {SLOTH: SLOTH, SLOTH_K8S: SLOTH, PYRRA: PYRRA, OPENSLO: OPENSLO}  # one tool, one family

_GO_WINDOW = re.compile(r"\{\{-?\s*\.window\s*-?\}\}")  # Sloth's (and OpenSLO-for-Sloth's) placeholder


@dataclass(frozen=True)
class Document:
    """One YAML document of an input file (`index` counts documents within the file, from 0)."""

    file: str
    index: int
    data: Any
    scanned: bool = False  # found by scanning a directory (not named on the command line)

    @property
    def where(self) -> str:
        """`file` or `file#2` for a later document of a multi-document file."""
        return self.file if self.index == 0 else f"{self.file}#{self.index + 1}"


def detect(data: Any) -> str | None:
    """The format of one parsed document, or None if it is none that slogen imports."""
    if not isinstance(data, dict):
        return None
    if data.get("version") == "prometheus/v1":
        return SLOTH
    api, kind = data.get("apiVersion"), data.get("kind")
    if api == "sloth.slok.dev/v1" and kind == "PrometheusServiceLevel":
        return SLOTH_K8S
    if api == "pyrra.dev/v1alpha1" and kind == "ServiceLevelObjective":
        return PYRRA
    if api in ("openslo/v1", "openslo/v1alpha"):
        return OPENSLO
    return None


def window_query(text: str) -> tuple[str, bool]:
    """A query with Sloth's `{{.window}}` (or slogen's `$window`) as slogen writes it, and whether it has one."""
    out = _GO_WINDOW.sub(lambda _: WINDOW_PLACEHOLDER, text)
    return out, WINDOW_PLACEHOLDER in out


def period(text: Any) -> str | None:
    """A period such as `4w`, `28d` or `36h` as slogen writes it (`28d`, `36h`), or None if slogen has
    no such period (not whole hours, or outside 1d to 400d)."""
    try:
        seconds = int(parse_duration(str(text)))
    except ValueError:
        return None
    name = f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h"
    return None if period_problem(name) else name


def percent(value: Any, *, scale: int = 1) -> float | int | None:
    """A target as a percent number, exactly as written (0.999 × 100 is 99.9, not 99.90000000000001)."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip()) * scale
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    number = number.normalize()
    return int(number) if number == number.to_integral_value() else float(number)


def text_map(value: Any) -> dict[str, str]:
    """A label or annotation map with text values (YAML may have given numbers or booleans)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in value.items() if v is not None}
