"""Read YAML into plain data plus the line and column of every key and value, by JSON path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from slogen.errors import Problem

# The C parser is several times faster on large specs; fall back to pure Python where libyaml is absent.
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path = tuple[str | int, ...]


@dataclass
class Located:
    """A YAML document as plain data, with positions (1-based line, column) by path."""

    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[Problem] = field(default_factory=list)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Where `path` is written; the key's position if asked, else the nearest known ancestor's."""
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))


def json_path(path: Path) -> str:
    """`('services', 0, 'name')` → `$.services[0].name`."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


def load_located(text: str) -> Located:
    """Parse one YAML document; raises yaml.YAMLError on syntax errors."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(data=None)
        located = Located(data=None)
        _walk(node, (), located, seen=set())
        located.data = loader.construct_document(node)
        return located
    finally:
        loader.dispose()


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, path: Path, located: Located, seen: set[int]) -> None:
    located.values.setdefault(path, _mark(node))
    if id(node) in seen:  # an alias: positions were recorded at the anchor
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        names: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # the constructor or the schema reports it
            key = key_node.value
            if key == "<<":
                continue  # merge keys: positions come from the merged mapping
            if key in names:
                line, col = _mark(key_node)
                located.duplicates.append(
                    Problem(line, col, json_path((*path, key)), f"duplicate key {key!r}: the later value would win")
                )
            names.add(key)
            located.keys.setdefault((*path, key), _mark(key_node))
            _walk(value_node, (*path, key), located, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), located, seen)
