#!/usr/bin/env python3
"""Check Grafana dashboard JSON against Grafana's published JSON Schema (vendored in tests/data/grafana-schema/).

Usage: python3 tests/grafana_schema.py DASHBOARD.json [...]   (exit 0 all valid, 1 a problem, 2 usage)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "grafana-schema"
NOT_PANELS = frozenset({"dashboard", "common", "prometheus"})  # shared definitions, not panel plugins


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


@cache
def dashboard_validator() -> Draft7Validator:
    schema = _load(SCHEMA_DIR / "dashboard.jsonschema.json")
    # The published schema types MatcherConfig.options as an object; Grafana writes a string for byName.
    schema["definitions"]["MatcherConfig"]["properties"]["options"] = {}
    return Draft7Validator(schema)


@cache
def panel_validators() -> dict[str, Draft7Validator]:
    """Panel type → a validator of that plugin's `options`."""
    out = {}
    for path in sorted(SCHEMA_DIR.glob("*.jsonschema.json")):
        name = path.name.split(".")[0]
        schema = _load(path)
        if name not in NOT_PANELS and "Options" in schema.get("definitions", {}):
            out[name] = Draft7Validator({**schema, "$ref": "#/definitions/Options"})
    return out


def _pointer(prefix: str, path: Any) -> str:
    return prefix + "/".join(map(str, path))


def problems(doc: Any) -> Iterator[tuple[str, str]]:
    """Every schema problem in one dashboard document, as (JSON pointer, message)."""
    for error in dashboard_validator().iter_errors(doc):
        yield _pointer("/", error.absolute_path), error.message
    for i, panel in enumerate(doc.get("panels", []) if isinstance(doc, dict) else []):
        validator = panel_validators().get(panel.get("type")) if isinstance(panel, dict) else None
        if validator is not None:
            for error in validator.iter_errors(panel.get("options", {})):
                yield _pointer(f"/panels/{i}/options/", error.absolute_path), error.message


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bad = 0
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read: {exc}")
            bad += 1
            continue
        found = list(problems(doc))
        for pointer, message in found:
            print(f"{path}: {pointer}: {message[:300]}")
        print(f"{path}: {len(found)} problem{'s' if len(found) != 1 else ''}" if found else f"{path}: valid")
        bad += bool(found)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
