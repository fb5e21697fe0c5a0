"""render/rules_text.py: a rule file laid out per document shape is byte for byte the file built directly.

`rules.generate` lays each service's rule file out from templates (each document shape's rules
built and emitted once, with tokens for the SLOs' strings, every filled string encoded afresh).
The reference is the same generator with the templates off: every SLO's rules built as dicts and
encoded by `encode.yaml_text`, which tests/test_encode.py compares with PyYAML. Both must agree on
every spec in the repository, in every rules format, in spec order and reversed (templates then
come from other SLOs), and on SLOs whose names, labels, annotations, descriptions, matcher
values and `expr` text are hostile strings. The carried data (built only when read) must be the
document the text encodes. A builder that reads a name other than through the known forms, or
shares one dict between rules, must make the shape fall back, not change the output.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from slogen import conventions as c
from slogen.model import (
    SLO,
    Alerting,
    ExprRatioSLI,
    ExprSLI,
    GaugeSLI,
    LatencySLI,
    RatioSLI,
    RuleTarget,
    Service,
    Spec,
    frozen_labels,
)
from slogen.promql import Matcher, Selector, render
from slogen.render import encode, rules, rules_text, shapes
from slogen.render.artifact import Artifact, Deferred
from slogen.spec.load import load

SPECS = sorted({*ROOT.glob("tests/specs/*.yaml"), *ROOT.glob("tests/promtool/*.yaml"), ROOT / "slos.yaml"})


@contextmanager
def _direct() -> Iterator[None]:
    """rules.generate with the templates off: every rule file built and encoded directly."""
    original = rules_text.Templates.text
    rules_text.Templates.text = lambda self, service, layout: (None, None)  # type: ignore[method-assign]
    try:
        yield
    finally:
        rules_text.Templates.text = original  # type: ignore[method-assign]


def _templated(artifacts: list[Artifact]) -> int:
    return sum(1 for a in artifacts if isinstance(a.__dict__["_data"], Deferred))


def _compare(spec: Spec, rules_format: str, *, data: bool = True) -> int:
    """Assert both ways agree; the number of files laid out from templates."""
    fast = rules.generate(spec, rules_format)
    templated = _templated(fast)
    with _direct():
        direct = rules.generate(spec, rules_format)
    assert [a.path for a in fast] == [a.path for a in direct]
    for one, two in zip(fast, direct, strict=True):
        assert one.text == two.text, one.path
        if data:
            assert one.data == two.data, one.path
    return templated


def _reordered(spec: Spec) -> Spec:
    return dataclasses.replace(spec, services=tuple(dataclasses.replace(s, slos=tuple(reversed(s.slos)))
                                                    for s in reversed(spec.services)))


@pytest.mark.parametrize("rules_format", c.RULES_FORMATS)
@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(Path(p).relative_to(ROOT)))
def test_every_spec_lays_out_the_same(path: Path, rules_format: str) -> None:
    spec = load(str(path))
    _compare(spec, rules_format)
    _compare(_reordered(spec), rules_format)


def test_templates_are_used_and_their_data_is_the_text() -> None:
    spec = load(str(ROOT / "tests/specs/minimal.yaml"))
    many = dataclasses.replace(spec, services=tuple(
        Service(f"svc-{i}", tuple(dataclasses.replace(slo, service=f"svc-{i}", name=f"{slo.name}-{j}")
                                  for j in range(5) for slo in spec.slos))
        for i in range(4)))
    for rules_format in c.RULES_FORMATS:
        assert _compare(many, rules_format) == len(many.services)
        for artifact in rules.generate(many, rules_format):
            assert isinstance(artifact.__dict__["_data"], Deferred)
            assert artifact.data == yaml.safe_load(artifact.text)
            assert artifact.data is artifact.data  # built once
    with shapes.session():
        templates = rules_text.Templates(many, rules.stage_builders())
        for service in many.services:
            assert templates.text(service, lambda per_stage, s=service: rules._document(
                s, many, c.RULES_FORMAT_PROMETHEUS, per_stage))[0] is not None
        assert len(templates.known) == len(spec.slos)  # one shape per SLO of the source, shared by 20 SLOs


@pytest.mark.parametrize("rules_format", c.RULES_FORMATS)
def test_rule_targets_and_chunked_groups_lay_out_the_same(rules_format: str) -> None:
    # namespace and rule labels (operator objects), Thanos' group key (not in VMRule), and services
    # whose stages split into several groups
    spec = FEATURES
    slos = [dataclasses.replace(slo, service="big", name=f"{slo.name}-{i}") for i in range(6) for slo in spec.slos]
    big = dataclasses.replace(spec, services=(*spec.services, Service("big", tuple(slos))), prometheus=RuleTarget(
        namespace="monitoring", rule_labels=frozen_labels({"release": "yes", "team": "a: b"}),
        partial_response_strategy="abort"))
    assert _compare(big, rules_format) >= 1
    [artifact] = [a for a in rules.generate(big, rules_format) if "big" in a.path]
    assert isinstance(artifact.__dict__["_data"], Deferred)
    text = artifact.text
    assert ":big:sli:2" in text and ("partial_response_strategy" in text) == (rules_format != c.RULES_FORMAT_VMRULE)


def test_per_service_dashboard_links_fall_back() -> None:
    # full.yaml sets grafana.per_service: the link's uid is cut and hashed from the service name
    # past 40 characters, which the second build of the templates sees: those shapes are built directly
    spec = load(str(ROOT / "tests/specs/full.yaml"))
    assert spec.grafana.per_service
    assert _compare(spec, c.RULES_FORMAT_PROMETHEUS) == 0


HOSTILE = ['"', "\\", '\\"', "%", "%s", "{", "}", "{{", "}}", "{0}", "{{ $value }}", "$window", "a$windowb", "\n",
           "a\nb", "a\n", " ", "a ", " a", ": ", " #", "#", "'", "''", "-", "- a", "---", "...", "?", "yes", "no",
           "null", "~", "1", "1.5", "0x1", "1e3", "2001-01-01", "<<", "=", "!", "&a", "*a", "|", ">", "@", "`",
           "é", "日本", "\U0001f600", "\t", "\r", "\x85", "\u2028", "\ufeff", "%EE%80%80", "%EE%80%800%7B%7B%EE%80%81",
           "\ue000", "\ue001", "\ue0000\ue001", '"\ue0001{{\ue001"', "\ue0000:5m\ue001", "\ue010", "\ue020", "a,b",
           "x y", "http://h/p?q=1&r=2", "a" * 70]
hostile = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6),
                    st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=3).map("".join))
FEATURES = load(str(ROOT / "tests/promtool/features.yaml"))


def _matchers(values: list[str]) -> tuple[Matcher, ...]:
    return tuple(Matcher(f"l{i}", "!=" if i % 2 else "=", v) for i, v in enumerate(values))


def _sli(slo: SLO, values: list[str], text: str) -> Any:
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        return RatioSLI(render(Selector("req_total", _matchers(values))),
                        errors=render(Selector("req_total", (*_matchers(values[1:]), Matcher("code", "=~", "5..")))))
    if isinstance(sli, LatencySLI | GaugeSLI):
        return dataclasses.replace(sli, selector=_matchers(values))
    if isinstance(sli, ExprSLI):
        return ExprSLI(f"sum(rate(t[$window])) + 0*count({text!r})", good=f" {text} $window ")
    if isinstance(sli, ExprRatioSLI):
        return ExprRatioSLI(f"avg_over_time(r[$window]) {text}")
    return sli


Variant = tuple[str, str, list[str], str, str, str, str]


def _hostile_spec(variants: list[Variant]) -> Spec:
    services: dict[str, list[SLO]] = {}
    for n, (service, name, values, text, label, annotation, description) in enumerate(variants):
        for slo in FEATURES.slos:
            alerting = dataclasses.replace(
                slo.alerting, labels=frozen_labels({**slo.alerting.labels, "team": label}),
                annotations=frozen_labels({**slo.alerting.annotations, "runbook": annotation, "note": label}))
            services.setdefault(service, []).append(dataclasses.replace(
                slo, service=service, name=f"{name}{n}-{slo.name}", sli=_sli(slo, values, text),
                labels=frozen_labels({**slo.labels, "owner": label, "tier": annotation}),
                alerting=alerting, description=description))
    return dataclasses.replace(FEATURES, services=tuple(Service(k, tuple(v)) for k, v in services.items()))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(hostile, hostile, st.lists(hostile, min_size=1, max_size=3), hostile, hostile, hostile,
                          hostile), min_size=2, max_size=4),
       st.sampled_from(c.RULES_FORMATS))
def test_hostile_strings_lay_out_exactly(variants: list[Variant], rules_format: str) -> None:
    _compare(_hostile_spec(variants), rules_format, data=False)


def test_hostile_strings_do_use_templates() -> None:
    # names and values that need quoting, escaping or a block still go through templates
    spec = _hostile_spec([("yes", "1", ['a"b', "c\\d"], "x", "{{ $labels.x }}", "a: b", "d\ne"),
                          ("null", "-", ["'q'", "é"], "y", "a\nb", "#c", ""),
                          ("~", "x", ['\n', "%"], "z", "'", "é: x", "\U0001f600"),
                          ("1e3", "y", ["{0}", "}"], "w", "- a", "a #b", "yes")])
    assert _compare(spec, c.RULES_FORMAT_PROMETHEUS) == 1  # the fourth service: the first three built directly


def test_a_wrong_fill_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # the comparison above can fail: filling quote(value) as the bare value breaks hostile names
    spec = _hostile_spec([(f"svc{i}", "a", ['x"y'], "t", "l", "n", "d") for i in range(rules_text.DIRECT_FIRST + 2)])
    original = rules_text._piece
    monkeypatch.setattr(rules_text, "_piece", lambda piece, values: original(("r", *piece[1:]), values))
    with pytest.raises(AssertionError):
        _compare(spec, c.RULES_FORMAT_PROMETHEUS, data=False)


def _fake_stage(label: Any) -> Any:
    def build(slo: SLO, spec: Spec) -> list[dict[str, Any]]:
        return [{"record": "x", "expr": "vector(1)", "labels": label(slo)}]
    return build


@pytest.mark.parametrize("label", [
    lambda slo: {"h": hashlib.sha256(slo.name.encode()).hexdigest()[:8]},  # read other than by a form
    lambda slo: {"n": str(len(slo.service))},  # measured
    lambda slo: {"c": slo.name[:2]},  # cut
], ids=["hashed", "measured", "cut"])
def test_a_builder_reading_names_otherwise_gets_no_template(label: Any) -> None:
    spec = load(str(ROOT / "tests/specs/minimal.yaml"))
    with shapes.session() as cache:
        templates = rules_text.Templates(spec, {"sli": _fake_stage(label)})
        slo = spec.slos[0]
        shape = cache.shape(slo)
        assert shape is not None
        for _ in range(rules_text.DIRECT_FIRST + 1):  # the first ones of a shape are built directly
            assert templates.template(slo, shape)[0] is None
        assert templates.known and all(t is None for t in templates.known.values())


def test_a_shared_dict_gets_no_template() -> None:
    shared = {"team": "a"}
    spec = load(str(ROOT / "tests/specs/minimal.yaml"))

    def build(slo: SLO, spec: Spec) -> list[dict[str, Any]]:
        return [{"record": "x", "labels": shared}, {"record": "y", "labels": shared}]

    with shapes.session() as cache:
        templates = rules_text.Templates(spec, {"sli": build})
        slo = spec.slos[0]
        shape = cache.shape(slo)
        assert shape is not None
        for _ in range(rules_text.DIRECT_FIRST + 1):
            assert templates.template(slo, shape)[0] is None
        assert templates.known and all(t is None for t in templates.known.values())


def test_a_default_alerting_is_not_a_template_key_miss() -> None:
    # SLOs without alert settings share one frozen default, and descriptions are tokens: neither splits a key
    spec = load(str(ROOT / "tests/specs/minimal.yaml"))
    slo = spec.slos[0]
    twins = [dataclasses.replace(slo, name=f"n{i}", alerting=Alerting(), description=f"d{i}")
             for i in range(rules_text.DIRECT_FIRST + 2)]
    with shapes.session() as cache:
        templates = rules_text.Templates(spec, rules.stage_builders())
        found = [templates.template(s, cache.shape(s))[0] for s in twins]  # type: ignore[arg-type]
    first = rules_text.DIRECT_FIRST
    assert all(f is None for f in found[:first])  # the first ones are built directly
    assert found[first] is not None and found[first + 1] is found[first]


LITERAL = st.text(st.sampled_from(list("ab-:# '\"\n?|>{}%*&!~.01yYnN\té\ue000")), max_size=6)
PIECE = st.text(st.sampled_from(list("ab-_/.=\"'{}()~01é\U0001f600")), min_size=1, max_size=4)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(LITERAL, st.integers(0, 2)), min_size=1, max_size=5),
       st.lists(PIECE, min_size=3, max_size=3), st.sampled_from(["", "  ", "      "]))
def test_a_proven_style_is_the_encoders(parts_in: list[str | int], texts: list[str], pad: str) -> None:
    # encode.filled_style decides a filled string's YAML style from its literal parts alone, for any
    # SAFE_PIECE pieces; the text laid out that way (rules_text._inline) must be string_text's
    parts = tuple(("r", p, None) if isinstance(p, int) else p for p in parts_in if p != "")
    if not parts:
        return
    style = encode.filled_style(rules_text._literals(parts))
    if not style or not all(encode.SAFE_PIECE.match(t) for t in texts):
        return
    if style == "quoted" and any("'" in t for t in texts):
        return  # the layout asks for pieces without quotes there (rules_text._Layout.quoted)
    value = "".join(p if isinstance(p, str) else texts[p[1]] for p in parts)
    expected = encode.string_text(value, pad)
    assert encode.styled_text(value, style, pad) == expected
    pieces = {("r", i, None): i for i in range(3)}
    assert rules_text._inline(parts, pad, style, pieces).format(*texts) == expected


def test_styles_are_proven_for_the_common_strings() -> None:
    r = ("r", 0, None)
    assert encode.filled_style(rules_text._literals(("sum(x{a=", r, "})"))) == "plain"
    assert encode.filled_style(rules_text._literals((r, "/", r, ": the SLI's series are missing"))) == "quoted"
    assert encode.filled_style(rules_text._literals(("(\n  a{b=", r, "}\n)"))) == "block"
    for undecided in ((r,), ("1 - ", r), ("ab", r), ("- a", r), ("sum", r, " "), ("a\t", r)):
        assert encode.filled_style(rules_text._literals(undecided)) == "", undecided
    assert rules_text._inline(("(\n  a{b=", r, "}\n)\n"), "    ", "block", {r: 0}).format('"x"') == \
        encode.string_text('(\n  a{b="x"}\n)\n', "    ")
