"""render/shapes.py: PromQL printed once per SLO shape and filled per SLO is the text printed directly.

Outside a `shapes.session()` every builder prints its own trees (the printer alone); inside, the
text comes from a template of the first SLO of each shape. Both must agree on every rule of every
SLO: of every spec in the repository, and of SLOs whose names, matcher values and `expr` text are
hostile strings (quotes, backslashes, `%`, `$window`, the token characters themselves).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from slogen.model import SLO, ExprRatioSLI, ExprSLI, GaugeSLI, LatencySLI, RatioSLI, Spec
from slogen.promql import Matcher, Selector, render
from slogen.render import rules, shapes
from slogen.spec.load import load

SPECS = sorted({*ROOT.glob("tests/specs/*.yaml"), *ROOT.glob("tests/promtool/*.yaml"), ROOT / "slos.yaml"})


def _all_rules(slos: list[SLO], spec: Spec) -> list[list[dict[str, Any]]]:
    return [build(slo, spec) for slo in slos for build in rules.stage_builders().values()]


def _both(slos: list[SLO], spec: Spec) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
    direct = _all_rules(slos, spec)
    with shapes.session():
        shaped = _all_rules(slos, spec)
    return direct, shaped


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(Path(p).relative_to(ROOT)))
def test_every_spec_prints_the_same_through_shapes(path: Path) -> None:
    spec = load(str(path))
    direct, shaped = _both(list(spec.slos), spec)
    assert shaped == direct
    # reversed: each shape's template now comes from another SLO of it
    direct, shaped = _both(list(reversed(spec.slos)), spec)
    assert shaped == direct


def test_shapes_are_shared_and_filled() -> None:
    spec = load(str(ROOT / "tests/specs/full.yaml"))
    slo = spec.slos[0]
    twin = dataclasses.replace(slo, service="other", name="twin")
    with shapes.session():
        cache = shapes._ACTIVE.get()
        assert cache is not None
        one, two = cache.shape(slo), cache.shape(twin)
        assert one is not None and two is not None and one.key == two.key
        text = shapes.text(rules._burn_1h, twin, spec)
    assert 'service="other"' in text and 'slo="twin"' in text and slo.name not in text


HOSTILE = ['"', "\\", '\\"', "%", "%s", "%%", "$window", "a$windowb", "{{ $value }}", "\n", "é", "日本", "\U0001f600",
           "\ue000", "\ue001", "\ue0000\ue001", '"\ue0001\ue001"', "\ue0000:5m\ue001", "'", "a,b", "}", "{", "x y"]
hostile = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8),
                    st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=3).map("".join))


def _matchers(values: list[str]) -> tuple[Matcher, ...]:
    # = and != only: a ratio SLI's selector is parsed, and a regex must be one
    return tuple(Matcher(f"l{i}", "!=" if i % 2 else "=", v) for i, v in enumerate(values))


def _variant(slo: SLO, service: str, name: str, values: list[str], text: str) -> SLO:
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        total = render(Selector("req_total", _matchers(values)))
        errors = render(Selector("req_total", (*_matchers(values[1:]), Matcher("code", "=~", "5.."))))
        sli = RatioSLI(total, errors=errors)
    elif isinstance(sli, LatencySLI | GaugeSLI):
        sli = dataclasses.replace(sli, selector=_matchers(values))
    elif isinstance(sli, ExprSLI):
        sli = ExprSLI(f"sum(rate(t[$window])) + 0*count({text!r})", good=f" {text} $window ")
    elif isinstance(sli, ExprRatioSLI):
        sli = ExprRatioSLI(f"avg_over_time(r[$window]) {text}")
    return dataclasses.replace(slo, service=service, name=name, sli=sli)


FEATURES = load(str(ROOT / "tests/promtool/features.yaml"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(hostile, hostile, st.lists(hostile, min_size=1, max_size=3), hostile),
                min_size=2, max_size=4))
def test_hostile_strings_fill_exactly(variants: list[tuple[str, str, list[str], str]]) -> None:
    spec = FEATURES
    slos = [_variant(slo, *variant) for slo in spec.slos for variant in variants]
    direct, shaped = _both(slos, spec)
    assert shaped == direct


def test_token_characters_of_its_own_print_directly() -> None:
    # in a name the template prints as it is (a metric, a label name); in a value (a name, a matcher
    # value, which the template holds a token for) they are filled like any other character
    slo = next(s for s in FEATURES.slos if isinstance(s.sli, GaugeSLI))
    ratio = next(s for s in FEATURES.slos if isinstance(s.sli, RatioSLI))
    with shapes.session():
        cache = shapes._ACTIVE.get()
        assert cache is not None
        assert cache.shape(dataclasses.replace(slo, sli=dataclasses.replace(slo.sli, metric="m\ue000"))) is None
        assert cache.shape(dataclasses.replace(ratio, sli=RatioSLI('a{b="\ue000"}'))) is not None
        assert cache.shape(dataclasses.replace(slo, name="a\ue000b")) is not None
        assert cache.shape(dataclasses.replace(slo, service="\ue001")) is not None
        assert cache.shape(slo) is not None


NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,6}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,8}", fullmatch=True),
       st.lists(st.tuples(NAMES, st.sampled_from(["=", "!=", "=~", "!~"]), hostile), min_size=1, max_size=4))
def test_printed_selectors_read_as_the_parser_reads_them(metric: str, matchers: list[tuple[str, str, str]]) -> None:
    # a ratio SLI's selector text is read without the PromQL parser when it is the printer's text
    # of a selector; the answer must be the parser's, whenever the parser accepts the text
    from slogen.promql import parse_selector
    from slogen.promql.check import PromQLSyntaxError

    text = render(Selector(metric, tuple(Matcher(n, op, v) for n, op, v in matchers)))
    try:
        parsed = parse_selector(text)
    except PromQLSyntaxError:
        return  # an invalid regex: never a validated SLI
    fast = shapes.printed_selector(text)
    assert fast is None or fast == parsed, text
    assert shapes.printed_selector('a{b="c\\"d"}') == Selector("a", (Matcher("b", "=", 'c"d'),))
    variants = [text + " ", text.replace("{", "{__name__=" + '"x",', 1), f"{metric}{{}}"]
    for other in variants:
        found = shapes.printed_selector(other)
        assert found is None or found == parse_selector(other)
