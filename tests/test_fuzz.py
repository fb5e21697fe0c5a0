"""Property: whatever a user types, slogen answers with a Spec or a SpecError, never a traceback;
and generated PromQL is either rejected at its place or renders rules promtool loads."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from prom import needs_prometheus, promtool
from slogen.errors import SpecError
from slogen.render import render
from slogen.spec.lint import warnings
from slogen.spec.load import loads

BASE = yaml.safe_load((ROOT / "slos.yaml").read_text())
# The spec additions too: tuned alerts, SLO labels, periods without a table, a gauge, inline windows.
FEATURES = yaml.safe_load((ROOT / "tests/promtool/features.yaml").read_text())
FEATURES["defaults"]["alert_windows"] = [
    {"severity": "page", "long": "1h", "short": "5m", "budget_share": "2%", "for": "1m"},
    {"severity": "ticket", "long": "3d", "short": "6h", "budget_share": 0.1}]

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


PATHS = {id(BASE): _paths(BASE), id(FEATURES): _paths(FEATURES)}


@st.composite
def mutated(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from([BASE, FEATURES]))
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS[id(base)]))
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


# ---------------------------------------------------------------- generated PromQL: rejected, or loads in promtool

_LABELS = st.sampled_from(["job", "code", "path", "_x", "a1"])
_VALUE = st.text(alphabet="ab5.*|()?!+\\\"'`#\n é{}[]$", max_size=8)
_SAFE = st.sampled_from(['"5.."', '"api"', "'api'", "`5\\d\\d`", '"a|b"', '"café ✓"', '"/a#b"', r'"x\"y"', '"(?i)err.*"',
                         '"[0-9]{3}"', '"a{1000}"', '""'])
_RISKY = st.sampled_from(['"(?!2)..*"', '"a{1001}"', r'"(a)\\1"', '"a++"', r'"\q"', r'"\\Z"', '"(?<=a)b"', '"[z-a]"'])
_QUOTED = st.one_of(_SAFE, _SAFE, _SAFE, _RISKY, _VALUE.map(lambda v: f'"{v}"'), _VALUE.map(lambda v: f"`{v}`"))
_MATCHER = st.builds(lambda n, op, v: f"{n}{op}{v}", _LABELS, st.sampled_from(["=", "!=", "=~", "!~"]), _QUOTED)
_SELECTOR = st.builds(lambda m, ms, sep: f"{m}{{{sep.join(ms)}}}", st.sampled_from(["http_requests_total", "x", ""]),
                      st.lists(_MATCHER, max_size=3), st.sampled_from([",", ", ", " , "]))
_MODIFIER = st.sampled_from(["", "", " offset 1h", " offset -5m", " @ end()", " @ 1700000000"])


def _promql(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["+", "-", "*", "/", "or", "and", "unless",
                                                                             "> bool", "== on(job)", "* on(job) group_left"]),
                  inner),
        st.builds(lambda g, e: f"sum {g} ({e})", st.sampled_from(["by (job)", "without (path)", "by ()"]), inner),
        st.builds(lambda e: f"({e})", inner),
        st.builds(lambda e: f"max_over_time(({e})[$window:1m])", inner),
        st.builds(lambda e, c: f"{e} # {c}\n", inner, st.text(alphabet="ab )(#", max_size=5)),
    )


_RANGE = st.builds(lambda f, s, m: f"{f}({s}[$window]{m})", st.sampled_from(["rate", "increase", "count_over_time"]),
                   _SELECTOR, _MODIFIER)
_EXPRESSIONS = st.recursive(st.one_of(_RANGE, _SELECTOR.map(lambda s: f"{s}[$window]"), st.just("vector(1)")),
                            _promql, max_leaves=4)


def _generated_spec(kind: str, text: str) -> str:
    sli = {"expr": {"errors": text, "total": "sum(rate(up[$window]))"},
           "ratio": {"ratio": {"errors": text, "total": "http_requests_total"}},
           "latency": {"latency": {"metric": "h", "threshold": "1s", "selector": text[text.find("{"):]}}}[kind]
    sli = {"expr": sli} if kind == "expr" else sli
    doc = {"version": "slogen/v1", "services": [{"name": "gen", "slos": [{"name": "s", "objective": 99.9, "sli": sli}]}]}
    return yaml.safe_dump(doc, allow_unicode=True)


_GENERATED = st.one_of(st.tuples(st.just("expr"), _EXPRESSIONS), st.tuples(st.just("ratio"), _SELECTOR),
                       st.tuples(st.just("latency"), _SELECTOR))


@needs_prometheus
def test_generated_promql_is_rejected_at_its_place_or_loads_in_promtool(tmp_path: Path) -> None:
    valid: list[str] = []

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_GENERATED)
    def collect(case: tuple[str, str]) -> None:
        try:
            spec = loads(_generated_spec(*case))
        except SpecError as exc:
            for problem in exc.problems:
                assert problem.line > 0 and problem.column > 0 and problem.path.startswith("$.services[0]"), problem
            return
        if any("UTF-8" in w or "unknown to Prometheus" in w for w in warnings(spec)):
            return  # valid for Prometheus 3 only: this promtool is 2.42
        valid.extend(a.text for a in render(spec) if a.path.startswith("rules/"))

    collect()
    assert len(valid) >= 30, "the generator should produce valid specs too"
    sample = valid[:: max(1, len(valid) // 40)]  # promtool on a sample: one call, about 40 files
    files = []
    for i, text in enumerate(sample):
        (tmp_path / f"{i}.yaml").write_text(text)
        files.append(str(tmp_path / f"{i}.yaml"))
    result = promtool("check", "rules", "--lint-fatal", *files)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
