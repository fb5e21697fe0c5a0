"""Deterministic text for generated files: one YAML and one JSON encoder, each with the header."""

from __future__ import annotations

import json
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


def yaml_text(data: Any, *, source: str) -> str:
    """YAML with the generated-file header as a comment; key order as the generator built it."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1_000_000)
    return f"# {generated_header(source)}\n{body}"


def json_text(data: Any) -> str:
    """Pretty JSON with sorted keys and a final newline (JSON has no comments: the header goes in data)."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
