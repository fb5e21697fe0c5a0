"""Artifacts: the files a render produces, as (relative path, exact text)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Artifact:
    """One output file: `path` relative to the output root, `text` exactly as written or pushed."""

    path: str
    text: str


Bundle = tuple[Artifact, ...]


def bundle(artifacts: list[Artifact]) -> Bundle:
    """Artifacts sorted by path; a duplicate path is a bug in a generator."""
    ordered = sorted(artifacts)
    paths = [a.path for a in ordered]
    duplicated = {p for p in paths if paths.count(p) > 1} if len(set(paths)) != len(paths) else set()
    if duplicated:
        raise ValueError(f"two generators produced {sorted(duplicated)}")
    return tuple(ordered)
