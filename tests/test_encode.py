"""The fast YAML layout (render/encode.py) writes exactly the bytes `yaml.dump` writes with slogen's
options: over every generated artifact of every golden and test spec (each rules format, and the
alert-test suites), fuzzed specs, and random nested data full of strings YAML treats specially."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import BASE, FEATURES, mutated

from conftest import ROOT, SPECS
from slogen import conventions
from slogen.errors import SpecError
from slogen.render import encode, render
from slogen.render.alert_tests import generate as alert_tests
from slogen.spec.load import load, loads

SPEC_FILES = [*sorted(SPECS.glob("*.yaml")), ROOT / "slos.yaml", ROOT / "tests/promtool/features.yaml"]


def _fast(data: Any) -> str:
    """The fast layout alone (no fallback): raises encode._Unsure where it would hand over to PyYAML."""
    return encode._fast_text(data)


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every document the generators encode as YAML while the test runs."""
    seen: list[Any] = []
    real = encode.yaml_body

    def spy(data: Any) -> str:
        seen.append(copy.deepcopy(data))
        return real(data)

    monkeypatch.setattr(encode, "yaml_body", spy)
    return seen


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=lambda p: p.name)
def test_every_generated_yaml_document_is_pyyaml_byte_for_byte(spec_file: Path, encoded: list[Any]) -> None:
    spec = load(str(spec_file))
    artifacts = [a for fmt in conventions.RULES_FORMATS for a in render(spec, fmt)]
    suites = alert_tests(spec, "../rules")
    assert len(encoded) >= 3 * len(spec.services) + 3
    for data in encoded:
        expected = yaml.dump(data, Dumper=encode._Dumper, sort_keys=False, default_flow_style=False,
                             allow_unicode=True, width=1_000_000)
        assert _fast(data) == expected  # the fast path itself, not the fallback
    for artifact in [*artifacts, *suites.artifacts]:
        if artifact.data is not None and not artifact.path.endswith(".json"):
            assert artifact.text.split("\n", 1)[1] == encode.pyyaml_text(artifact.data)


def test_golden_rule_files_are_what_pyyaml_writes() -> None:
    """The committed golden files, independently of the generators: parsed back and dumped by PyYAML."""
    files = sorted(p for p in (ROOT / "tests/golden").rglob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        text = path.read_text(encoding="utf-8")
        body = text.split("\n", 1)[1]
        data = yaml.safe_load(body)
        assert encode.yaml_body(data) == body, path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzzed_specs_encode_as_pyyaml(text: str) -> None:
    try:
        spec = loads(text)
    except SpecError:
        return
    for artifact in render(spec):
        if artifact.data is not None and not artifact.path.endswith(".json"):
            assert encode.yaml_body(artifact.data) == encode.pyyaml_text(artifact.data)


def test_fuzz_bases_render() -> None:
    for doc in (BASE, FEATURES):
        spec = loads(yaml.safe_dump(doc))
        for artifact in render(spec):
            if artifact.data is not None and not artifact.path.endswith(".json"):
                assert _fast(artifact.data) == encode.pyyaml_text(artifact.data)


HOSTILE = ["", " ", "a: b", "a:b", "a:", ":a", ": a", "?", "? a", "?a", "-", "- a", "-a", "--- a", "---", "...",
           "... a", "#", "a #b", "a#b", "*a", "&a", "!a", "'a'", '"a"', "|", ">", "%a", "@a", "`a", "{{ $value }}",
           "{a}", "[a]", "a, b", "yes", "No", "ON", "off", "y", "n", "null", "Null", "~", "true", "False", "0",
           "-1", "+1", "1.5", "1e3", ".5", ".inf", "-.Inf", ".nan", "0x1F", "0o17", "1_000", "12:30:00",
           "2026-12-01", "2026-12-01T10:00:00Z", "<<", "=", "0.0144", "1 - x", "é", "café ✓", "日本", "\U0001f600",
           "\t", "a\tb", "a\x85b", "a\u2028b", "\ufeff", "a\x00", "\x7f", "\\", "a\\nb", "x\n", "x\n\n", "\n",
           "\nx", " x\ny", "x \ny", "x\n y", "x\ny ", "x\r\ny", "a\n\nb", "sum(rate(x[5m]))\n  or\nvector(0)",
           "a" * 200, "word " * 60, "a'b", "it's: here", "a\x1bb", "\u00a0", "a\u00a0", "\ud7ff", "\ue000"]

hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12),
                         st.text(alphabet=" :#-?'\"\n\tab1.{}[]|>!&*~é\u2028\x85", max_size=12),
                         st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=4).map("".join))
scalars = st.one_of(hostile_text, hostile_text, st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=False), st.just(float("inf")), st.just(-0.0))
keys = st.one_of(hostile_text, st.integers(-5, 5), st.booleans(), st.none())
data = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.dictionaries(keys, data, min_size=1, max_size=5), st.lists(data, min_size=1, max_size=5)))
def test_random_nested_data_is_pyyaml_byte_for_byte(value: Any) -> None:
    assert encode.yaml_body(value) == encode.pyyaml_text(value)


def test_shared_objects_and_odd_values_go_through_pyyaml() -> None:
    shared: dict[str, Any] = {}
    handed_over = ({"a": shared, "b": shared}, {"c": ("t", 1)}, {"k": "a\n\n"}, {"x" * 200: 1},
                   {"long": "w " * 20_000}, {"k": "\u2028"})
    for case in handed_over:
        with pytest.raises(encode._Unsure):
            _fast(case)
        assert encode.yaml_body(case) == encode.pyyaml_text(case)
    same_string = {"t": ["x"] * 2, "u": [[], []]}  # equal but distinct containers need no anchors
    assert _fast(same_string) == encode.pyyaml_text(same_string)


def test_the_fast_layout_covers_slogen_rule_shapes() -> None:
    """Guard against a silent fallback: the layout handles a rule document itself."""
    doc = {"groups": [{"name": "g", "interval": "1m", "rules": [
        {"record": "slogen:x", "expr": 'sum(rate(x{a="b"}[5m]))', "labels": {"service": "s", "slo": "1"}},
        {"alert": "A", "expr": "(\n  a > 1\nand\n  b > 1\n)", "for": "2m", "labels": {}, "annotations": {
            "summary": "s/x: {{ $value }} burns 14.4×", "description": "it's 99.9% over 30d"}}]}]}
    assert _fast(doc) == encode.pyyaml_text(doc)
