"""The fast schema check (jsonschema-rs) never accepts what `jsonschema` rejects, so skipping the
slow validator on a document it accepts changes no answer; and the alias pre-scan never misses one."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import mutated

from conftest import ROOT, SPECS
from slogen.spec import schema
from slogen.spec.yamlpos import ExpansionError, expanded_size, load_located, may_have_aliases


def _slow_valid(doc: Any) -> bool:
    return not any(True for _ in schema._validator().iter_errors(doc))


def test_the_fast_validator_is_there() -> None:
    assert schema._fast_validator() is not None  # a dependency: without it every validation is slow


@pytest.mark.parametrize("path", [*sorted(SPECS.glob("*.yaml")), ROOT / "slos.yaml"], ids=lambda p: p.name)
def test_valid_specs_pass_the_fast_check(path: Any) -> None:
    doc = yaml.safe_load(path.read_text())
    assert schema._surely_valid(doc) and _slow_valid(doc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fast_check_accepts_only_what_jsonschema_accepts(text: str) -> None:
    doc = yaml.safe_load(text)
    if schema._surely_valid(doc):
        assert _slow_valid(doc), doc


def test_fast_check_rejects_what_the_strict_pattern_rejects() -> None:
    doc = yaml.safe_load((ROOT / "slos.yaml").read_text())
    doc["services"][0]["name"] = doc["services"][0]["name"] + "\n"  # `$` must not match before a newline
    assert not schema._surely_valid(doc) and not _slow_valid(doc)


ALIASED = ["a: &x 1\nb: *x\n", "- &x [1]\n- *x\n", "{a: &x 1, b: *x}", '{"a": &x 1, "b":*x}', "[&x 1,*x]",
           "a: &x {k: 1}\nb:\n  <<: *x\n", "a:\n\t- *x", "? &x a\n: *x\n", "\ufeff*x"]


@pytest.mark.parametrize("text", ALIASED)
def test_every_alias_is_noticed(text: str) -> None:
    assert may_have_aliases(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*&:-[]{},?\n\t #'\"<", max_size=30))
def test_a_document_without_noticed_aliases_stands_for_its_own_nodes(text: str) -> None:
    if may_have_aliases(text):
        return
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return
    if node is not None:
        distinct: set[int] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            distinct.add(id(n))
            if isinstance(n, yaml.MappingNode):
                stack += [x for pair in n.value for x in pair]
            elif isinstance(n, yaml.SequenceNode):
                stack += n.value
        assert expanded_size(node) == len(distinct)


def test_an_alias_free_document_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import slogen.spec.yamlpos as yamlpos
    monkeypatch.setattr(yamlpos, "MAX_EXPANDED_NODES", 10)
    with pytest.raises(ExpansionError):
        load_located("[" + ", ".join("a" for _ in range(20)) + "]")
    assert load_located("[a, b]").data == ["a", "b"]


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_plain = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
              st.sampled_from(["yes", "off", "~", "0x1F", "1_000", "12:30", "2026-12-01", "2026-12-01T10:00:00Z",
                               "1e3", ".inf", "=", "!!str 1"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=12)


def _same(text: str) -> None:
    try:
        expected = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        with pytest.raises((yaml.YAMLError, ValueError)):
            load_located(text)
        return
    located = load_located(text)
    assert repr(located.data) == repr(expected)  # repr tells 1, 1.0 and True apart


@settings(max_examples=300, deadline=None)
@given(_plain)
def test_the_tree_construction_is_pyyamls(value: Any) -> None:
    _same(yaml.safe_dump(value, allow_unicode=True))
    _same(yaml.safe_dump(value, default_flow_style=True))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab1 :-[]{},?!\n#'\"&*<", max_size=24))
def test_the_tree_construction_is_pyyamls_on_any_text(text: str) -> None:
    _same(text)


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "1: x\n", "? [a]\n: 1\n", "a: !!set {x, y}\n", "a: !!binary aGk=\n",
                                  "a: !!omap [{x: 1}]\n", "a: !!python/name:os.system\n", "a: !!str 1\n",
                                  "? !!merge x\n: 1\n"])
def test_odd_documents_construct_as_before(text: str) -> None:
    _same(text)


@pytest.mark.parametrize("text", ["a: .nan\n", "a: [1, -.inf]\n", "a: {b: .Inf}\n", "a: !!float .nan\n",
                                  "a: &x .nan\nb: *x\n", "a: !!set {.nan}\n"])
def test_non_finite_numbers_are_still_found(text: str) -> None:
    assert not load_located(text).finite


def test_a_finite_document_is_known_finite() -> None:
    assert load_located("a: 1.5\nb: [x, 2]\n").finite
