"""Artifacts: the files a render produces, as (relative path, exact text, the data the text encodes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Deferred:
    """Data built only when first read: a rule file's dicts, which writing its text does not need."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class _Data:
    """The `data` field of an Artifact: a Deferred given to it is built on first read, then kept."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return None  # the field's default
        value = obj.__dict__["_data"]
        if isinstance(value, Deferred):
            value = obj.__dict__["_data"] = value.make()
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["_data"] = None if value is self else value  # `self`: the default, no data


@dataclass(frozen=True, order=True)
class Artifact:
    """One output file: `path` relative to the output root, `text` exactly as written or pushed.

    `data` is the plain data (JSON types) the generator encoded as `text`: a dashboard's model, a
    rule file's `{"groups": [...]}`. Consumers read it instead of parsing the text back; None for
    an artifact made from text alone. A generator may pass a `Deferred` that builds it when read.
    """

    path: str
    text: str
    data: Any = field(default=_Data(), compare=False, repr=False)


Bundle = tuple[Artifact, ...]


def bundle(artifacts: list[Artifact]) -> Bundle:
    """Artifacts sorted by path; a duplicate path is a bug in a generator."""
    ordered = sorted(artifacts)
    paths = [a.path for a in ordered]
    duplicated = {p for p in paths if paths.count(p) > 1} if len(set(paths)) != len(paths) else set()
    if duplicated:
        raise ValueError(f"two generators produced {sorted(duplicated)}")
    return tuple(ordered)
