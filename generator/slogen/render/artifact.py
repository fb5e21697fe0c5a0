"""Artifacts: the files a render produces, as (relative path, exact text, the data the text encodes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class Artifact:
    """One output file: `path` relative to the output root, `text` exactly as written or pushed.

    `data` is the plain data (JSON types) the generator encoded as `text`: a dashboard's model, a
    rule file's `{"groups": [...]}`. Consumers read it instead of parsing the text back; None for
    an artifact made from text alone.
    """

    path: str
    text: str
    data: Any = field(default=None, compare=False, repr=False)


Bundle = tuple[Artifact, ...]


def bundle(artifacts: list[Artifact]) -> Bundle:
    """Artifacts sorted by path; a duplicate path is a bug in a generator."""
    ordered = sorted(artifacts)
    paths = [a.path for a in ordered]
    duplicated = {p for p in paths if paths.count(p) > 1} if len(set(paths)) != len(paths) else set()
    if duplicated:
        raise ValueError(f"two generators produced {sorted(duplicated)}")
    return tuple(ordered)
