"""Read YAML into plain data plus the line and column of every key and value, by JSON path."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from slogen.errors import Problem
from slogen.spec import blockyaml

# The C parser is several times faster on large specs; fall back to pure Python where libyaml is absent.
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path = tuple[str | int, ...]


@dataclass
class Located:
    """A YAML document as plain data, with positions (1-based line, column) by path.

    Positions are computed on first use: a valid spec never needs them, and walking every
    node of a 10,000-SLO spec costs as much as a third of the parse. A document read by
    `blockyaml` has no nodes: its `text` is composed by PyYAML when a position is first asked.
    """

    data: Any
    root: yaml.Node | None = None
    text: str | None = None
    duplicates: list[Problem] = field(default_factory=list)
    finite: bool = False  # True: known while building that no value is a NaN or an infinity
    _values: dict[Path, tuple[int, int]] | None = None
    _keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def _index(self) -> dict[Path, tuple[int, int]]:
        if self._values is None:
            self._values = {}
            if self.root is None and self.text is not None:
                self.root = _compose(self.text)
            if self.root is not None:
                _walk(self.root, (), self._values, self._keys, [], seen=set())
        return self._values

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Where `path` is written; the key's position if asked, else the nearest known ancestor's."""
        values = self._index()
        if key and path in self._keys:
            return self._keys[path]
        while path not in values and path:
            path = path[:-1]
        return values.get(path, (1, 1))


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


MERGE_TAG = "tag:yaml.org,2002:merge"
# Nodes a document may stand for once its aliases are expanded. A 10,000-SLO spec is about 300,000;
# a 573-byte "billion laughs" alias bomb is 9^9 and exhausts memory in the checks that walk it.
MAX_EXPANDED_NODES = 5_000_000


class ExpansionError(ValueError):
    """The document's aliases expand to more than MAX_EXPANDED_NODES nodes."""


def expanded_size(root: yaml.Node, limit: int = MAX_EXPANDED_NODES) -> int:
    """How many nodes `root` stands for with every alias expanded; ExpansionError above `limit`.

    Linear in the distinct nodes (each one's expanded size is computed once), however deep the nesting.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else \
            list(node.value) if isinstance(node, yaml.SequenceNode) else []
        if not children_done:
            sizes_missing = [c for c in children if id(c) not in sizes]
            if sizes_missing:
                stack.append((node, True))
                stack.extend((c, False) for c in sizes_missing)
                continue
        total = 1 + sum(sizes.get(id(c), 0) for c in children)
        if total > limit:
            raise _too_many(limit)
        sizes[id(node)] = total
    return sizes[id(root)]


def _too_many(limit: int) -> ExpansionError:
    return ExpansionError(f"the YAML aliases expand to more than {limit:,} nodes (an alias bomb?); "
                          "write the repeated parts out, or use fewer nested aliases")


# An alias token (`*name`) starts where a token may: at the start, after white space or a flow or
# key/value indicator. A `*` after anything else is inside a scalar. Conservative: a false match
# only costs the expansion walk.
_ALIAS_START = re.compile(r"(?:^|[^A-Za-z0-9_.)\]}/+\-])\*")


def may_have_aliases(text: str) -> bool:
    """False only when `text` provably holds no alias and no merge key: then every node stands for
    itself, and the document's expanded size is its number of distinct nodes."""
    return "<<" in text or ("*" in text and _ALIAS_START.search(text) is not None)


class _NotPlain(Exception):
    """The fast construction met something only PyYAML's constructor handles right."""


_NOT_BUILT = object()
_STR_TAG, _SEQ_TAG, _MAP_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_FLOAT_TAG = "tag:yaml.org,2002:float"
# Scalar constructors that return their value (none is a generator), by tag.
_SCALAR_CONSTRUCTORS: dict[str, Any] = {
    tag: getattr(_Loader, "yaml_constructors")[tag]  # noqa: B009 (untyped in the stubs)
    for tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")}


class _CountingLoader(_Loader):  # type: ignore[misc]
    """Notices mappings that lost a key to a duplicate while constructing, at no extra pass."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.has_duplicates = False
        self.merge_duplicates: list[yaml.Node] = []  # explicit keys written twice beside a `<<`
        self.constructed = 0
        self.finite = False  # set while building: no NaN or infinity anywhere
        self.alias_free = False  # set by load_located: the text provably has no alias or merge key
        self._resolved: dict[str, str] = {}  # plain scalar text → its implicit tag (resolve)
        if not self.yaml_path_resolvers:
            # The C composer calls these around every node; without path resolvers they do
            # nothing, so C callables that do nothing (and take the same arguments) stand in.
            nothing: dict[Any, Any] = {}
            self.descend_resolver = nothing.get  # (parent, index) -> index, ignored
            self.ascend_resolver = tuple  # () -> (), ignored

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        # The C composer asks this for every node. Without path resolvers (SafeLoader has none) a
        # plain scalar's tag depends on its text alone, so each distinct text is resolved once:
        # a large spec repeats its keys and many values thousands of times.
        if kind is yaml.ScalarNode and implicit[0] and not self.yaml_path_resolvers:
            tag = self._resolved.get(value)
            if tag is None:
                tag = self._resolved[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Count before the constructor flattens merge keys (`<<`) into node.value.
        pairs = len(node.value)
        merges = any(k.tag == MERGE_TAG for k, _ in node.value)
        if merges:  # explicit keys may override merged ones, never each other
            names: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag != MERGE_TAG and isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in names:
                        self.merge_duplicates.append(key_node)
                    names.add(key_node.value)
        mapping = super().construct_mapping(node, deep=deep)
        if (not merges and len(mapping) < pairs) or not all(type(k) is str for k in mapping):
            self.has_duplicates = True  # the walk below names each duplicate or non-string key
        return mapping  # type: ignore[no-any-return]

    def construct_document(self, node: yaml.Node) -> Any:
        # PyYAML's own, which also counts the distinct nodes it constructed (`constructed`). A
        # document without aliases and merge keys (`alias_free`) is a tree: plain mappings,
        # sequences and strings are then built directly, everything else by PyYAML's constructors.
        me: Any = self  # PyYAML's attributes are untyped
        data = _NOT_BUILT
        if self.alias_free:
            self.constructed = 0
            self.finite = True
            try:
                data = self._tree(node)
            except _NotPlain:
                me.constructed_objects = {}
                self.has_duplicates = False
                data = _NOT_BUILT
            # A value PyYAML's own constructors built may hold anything: then the caller looks.
            self.finite = self.finite and not me.constructed_objects
        if data is _NOT_BUILT:
            self.constructed = 0
            self.finite = False
            data = me.construct_object(node)
        while me.state_generators:
            state_generators = me.state_generators
            me.state_generators = []
            for generator in state_generators:
                for _ in generator:
                    pass
        self.constructed += len(me.constructed_objects)
        me.constructed_objects = {}
        me.recursive_objects = {}
        me.deep_construct = False
        return data

    def _tree(self, node: yaml.Node) -> Any:
        """`node` constructed as PyYAML would, for a tree without aliases; _NotPlain where unsure."""
        self.constructed += 1
        kind, tag = type(node), node.tag
        if kind is yaml.ScalarNode:
            if tag == _STR_TAG:
                return node.value
            constructor = _SCALAR_CONSTRUCTORS.get(tag)
            if constructor is None:
                self.constructed -= 1  # PyYAML's constructor counts it
                return self.construct_object(node)
            value = constructor(self, node)
            if tag == _FLOAT_TAG and not math.isfinite(value):
                self.finite = False
            return value
        if kind is yaml.SequenceNode and tag == _SEQ_TAG:
            return [self._tree(child) for child in node.value]
        if kind is yaml.MappingNode and tag == _MAP_TAG:
            mapping: dict[Any, Any] = {}
            tree, scalar = self._tree, yaml.ScalarNode
            for key_node, value_node in node.value:
                # Text keys and values (most nodes) are taken here, without a call each.
                if type(key_node) is scalar and key_node.tag == _STR_TAG:
                    self.constructed += 1
                    key = key_node.value
                elif key_node.tag == MERGE_TAG:
                    raise _NotPlain
                else:
                    key = tree(key_node)
                try:
                    if type(value_node) is scalar and value_node.tag == _STR_TAG:
                        self.constructed += 1
                        mapping[key] = value_node.value
                    else:
                        mapping[key] = tree(value_node)
                except TypeError:  # an unhashable key: PyYAML reports it
                    raise _NotPlain from None
            if len(mapping) < len(node.value) or not all(type(k) is str for k in mapping):
                self.has_duplicates = True
            return mapping
        self.constructed -= 1
        return self.construct_object(node)


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]
    finally:
        loader.dispose()


def load_located(text: str) -> Located:
    """Parse one YAML document; raises yaml.YAMLError on syntax errors."""
    fast = blockyaml.read(text, MAX_EXPANDED_NODES)
    if fast is not None:  # the same document PyYAML builds, several times sooner (blockyaml.py)
        data, _, finite = fast
        return Located(data=data, text=text, finite=finite)
    loader = _CountingLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(data=None)
        # Walking the nodes costs a third of a large spec's parse; a document without aliases
        # stands for exactly the nodes constructed, so it is counted while constructing instead.
        walk = may_have_aliases(text)
        if walk:
            expanded_size(node)
        loader.alias_free = not walk
        located = Located(data=loader.construct_document(node), root=node)
        located.finite = loader.finite
        if not walk and loader.constructed > MAX_EXPANDED_NODES:
            raise _too_many(MAX_EXPANDED_NODES)
        for key_node in loader.merge_duplicates:
            line, col = _mark(key_node)
            located.duplicates.append(Problem(line, col, "$", f"duplicate key {key_node.value!r} beside a '<<' "
                                              "merge: the later value would win"))
        if loader.has_duplicates:
            values: dict[Path, tuple[int, int]] = {}
            _walk(node, (), values, located._keys, located.duplicates, seen=set())
            located._values = values
        return located
    finally:
        loader.dispose()


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, path: Path, values: dict[Path, tuple[int, int]], keys: dict[Path, tuple[int, int]],
          duplicates: list[Problem], seen: set[int]) -> None:
    values.setdefault(path, _mark(node))
    if id(node) in seen:  # an alias: positions were recorded at the anchor
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        names: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                if key_node.tag != MERGE_TAG:
                    line, col = _mark(key_node)
                    shown = repr(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "a collection"
                    duplicates.append(Problem(line, col, json_path(path), f"keys must be text, got "
                                              f"{shown if shown != repr('') else 'an empty key'}: quote it"))
                continue
            key = key_node.value
            if key == "<<":
                continue  # merge keys: positions come from the merged mapping
            if key in names:
                line, col = _mark(key_node)
                duplicates.append(Problem(line, col, json_path((*path, key)),
                                          f"duplicate key {key!r}: the later value would win"))
            names.add(key)
            keys.setdefault((*path, key), _mark(key_node))
            _walk(value_node, (*path, key), values, keys, duplicates, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), values, keys, duplicates, seen)
