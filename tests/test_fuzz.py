"""Property: whatever a user types, slogen answers with a Spec or a SpecError, never a traceback."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from slogen.errors import SpecError
from slogen.render import render
from slogen.spec import loads

BASE = yaml.safe_load((ROOT / "slos.yaml").read_text())

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "99.9", "30d", "5m", "2s", "$window", "x{", "{}", 'm{a="b"}', "slogen/v1", "-1",
                     "rate(x[5m])", "sum(rate(x[$window]))", "é", "\x00", "NaN", "1e400"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(BASE)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        parent: Any = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            if not path:
                doc = draw(values)
                continue
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=10))] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return yaml.safe_dump(doc, allow_unicode=True)


def _check(text: str) -> None:
    try:
        spec = loads(text)
    except SpecError as exc:
        assert exc.problems, "a SpecError always names at least one problem"
        for problem in exc.problems:
            assert problem.path.startswith("$") and problem.message
        return
    render(spec)  # a valid spec must also render


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_never_crash(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_crashes(text: str) -> None:
    _check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="{}[]()=~!\"'`,:$ abc_5m\\\n", max_size=40))
def test_random_selectors_never_crash(selector: str) -> None:
    doc = copy.deepcopy(BASE)
    doc["services"][0]["slos"][0]["sli"]["ratio"]["errors"] = selector
    doc["services"][1]["slos"][0]["sli"] = {"expr": {"errors": selector, "total": selector + "[$window]"}}
    _check(yaml.safe_dump(doc))
