"""PromQL checked by its shape (promql/check.py) answers exactly as a parse of the text itself.

For every selector and expression of the repository's specs, and for generated ones full of
hostile matcher values (empty, regex syntax, invalid regexes, the marker character, quotes of
other kinds, control characters), `parse_selector` and `parse_expression` return the same value
or raise the same message as the direct parse, in either order of first use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import gen_spec
from slogen.promql import check

ROOT = Path(__file__).resolve().parents[1]


def _outcome(read: Callable[[str], Any], text: str) -> Any:
    """What `read(text)` returns, or ("error", its PromQLSyntaxError's message)."""
    try:
        return read(text)
    except check.PromQLSyntaxError as exc:
        return ("error", str(exc))


def _direct_selector(text: str) -> Any:
    return check._selector(check._parse(check.strip_comments(text)))


def _direct_canonical(text: str) -> Any:
    return check.render(_direct_selector(text))


def _direct_expression(text: str) -> Any:
    clean = check.strip_comments(text)
    return check._parsed(clean, check._parse(clean))


def _compare(texts: list[str]) -> int:
    """Compare both ways for every text; how many took the shape path."""
    shaped = 0
    for order in (texts, texts[::-1]):
        check.clear_caches()
        for text in order:
            shaped += check._shaped(check.strip_comments(text)) is not None
            assert _outcome(check.parse_selector, text) == _outcome(_direct_selector, text), text
            assert _outcome(check.canonical_selector, text) == _outcome(_direct_canonical, text), text
            direct = _outcome(_direct_selector, text)
            if isinstance(direct, check.Selector):
                assert check.selector_text_utf8_names(text) == check.selector_utf8_names(direct), text
            assert _outcome(check._expression, text) == _outcome(_direct_expression, text), text
    return shaped


def _spec_promql() -> list[str]:
    out = []
    paths = [*sorted((ROOT / "tests/specs").glob("*.yaml")), ROOT / "slos.yaml", ROOT / "tests/promtool/features.yaml"]
    for doc in [*(yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths), gen_spec.build(3, 3)]:
        stack = [doc]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                for key, value in item.items():
                    if key in ("ratio", "expr") and isinstance(value, dict):
                        out += [v.replace("$window", "5m") for v in value.values() if isinstance(v, str)]
                    stack.append(value)
            elif isinstance(item, list):
                stack.extend(item)
    return out


def test_the_repository_specs() -> None:
    texts = _spec_promql()
    assert len(texts) > 30
    assert _compare(texts) > 20  # most go by their shape


VALUES = ["", "x", "5..", ".*", ".+", "(", ")", "a)(b", "(?=x)", "a{1001}", "a{2,1}", "\\ue000", "\ue0000", "\ue000",
          "\ue0001x", "é", "日本", "a b", "#", "a # b", "}", "{", ",", "=", "=~", "$window", "[5m]", "'", "`", "\t",
          "\x01", "\x7f", "\x85", "a\u2028b", "\\C", "[[:alpha:]]", "\\p{Greek}", "\\d", "x|y", "^a$", "a*?", "a++"]
NAMES = ["job", "code", "le", "__name__", "on", "by", "sum", "ignoring", "offset", "bool", "a_b", "é", "0x"]
OPS = ["=", "!=", "=~", "!~"]
value = st.sampled_from(VALUES) | st.text(max_size=5)
matcher = st.tuples(st.sampled_from(NAMES), st.sampled_from(OPS), value).map(
    lambda t: f'{t[0]}{t[1]}"{t[2]}"')
metric = st.sampled_from(["http_requests_total", "", "sum", "rate", "offset", "a:b", "up", "bool"])
selector = st.tuples(metric, st.lists(matcher, max_size=3), st.sampled_from([",", ", ", ",,"])).map(
    lambda t: f"{t[0]}{{{t[2].join(t[1])}}}")
expression = st.one_of(
    selector,
    selector.map(lambda s: f"sum(rate({s}[5m]))"),
    st.tuples(selector, st.sampled_from(NAMES)).map(lambda t: f"sum by ({t[1]}) (rate({t[0]}[5m]))"),
    st.tuples(selector, selector).map(lambda t: f"rate({t[0]}[5m]) / rate({t[1]}[5m])"),
    st.tuples(selector, value).map(lambda t: f'label_replace({t[0]}, "dst", "$1", "src", "{t[1]}")'),
    st.tuples(value, selector).map(lambda t: f'count_values("{t[0]}", {t[1]})'),
    selector.map(lambda s: f"{s} offset 5m"),
    selector.map(lambda s: f"{s}[5m]"),
    selector.map(lambda s: f"{s} # a comment"),
)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(expression, min_size=1, max_size=6))
def test_generated_selectors_and_expressions(texts: list[str]) -> None:
    _compare(texts)


@pytest.mark.parametrize("text", [
    'http_requests_total{job="a",code=~"5.."}', 'http_requests_total{job="",code!~"("}', '{job!=""}', '{job="x"}',
    'foo{__name__="bar"}', 'sum(rate(x{a="b"}[5m])) by (c)', 'foo{a="\\"q\\""}', "foo{a='s'}", "foo{a=`r`}",
    'foo{a="b" or c="d"}', 'foo{a=~"(?i)x", b=~"a{1001}"}', 'limitk(1, foo{a="b"})', 'foo{a="b"} offset 5m',
    'foo{"é"="x"}', '{"a.b", c="d"}', 'foo{a="\ue0001", b="\ue000"}', 'foo{\ue0000="x"}'])
def test_hand_picked(text: str) -> None:
    _compare([text])


def test_a_shape_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    check.clear_caches()
    seen: list[str] = []
    real = check._parse
    monkeypatch.setattr(check, "_parse", lambda text: seen.append(text) or real(text))
    for i in range(50):
        check.parse_selector(f'http_requests_total{{job="svc-{i}",code=~"5.."}}')
        check.parse_expression(f'sum(rate(jobs_total{{job="svc-{i}"}}[5m]))')
    assert len(seen) == 3  # two shapes and the one regex value on its own
    assert check.parse_selector('http_requests_total{job="svc-7",code=~"5.."}').matchers[0].value == "svc-7"
