"""Tricky user PromQL: `validate` rejects it at its place, or the rendered rules pass promtool.

Never "valid, then rejected by Prometheus". Each case is one SLO's `sli` (and, for some, its
`alerting`), written as YAML so comments and block scalars are real. UTF-8 names and functions
newer than Prometheus 2.42 are valid with a validation note; the promtool here (2.42) cannot read
them, so for those the rendered rules are parsed by promql_parser (Prometheus 3's grammar) instead,
and promtool is shown to refuse them (the note is needed).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from prom import needs_prometheus, promtool
from slogen.errors import SpecError
from slogen.promql import parse_expression, strip_comments
from slogen.render import render
from slogen.spec.lint import warnings
from slogen.spec.load import loads

TOTAL = "total: sum(rate(http_requests_total[$window]))"


def errors_expr(errors: str) -> str:
    """An expr SLI whose `errors` is `errors` (a YAML scalar as written)."""
    return f"expr:\n  errors: {errors}\n  {TOTAL}\n"


def ratio(errors: str, total: str = "http_requests_total") -> str:
    return f"ratio:\n  errors: {errors}\n  total: {total}\n"


def latency(selector: str, metric: str = "http_request_duration_seconds") -> str:
    return f"latency:\n  metric: {metric}\n  threshold: 300ms\n  selector: {selector}\n"


@dataclass(frozen=True)
class Case:
    sli: str
    reject: str | None = None  # a substring of the problem message; None: valid
    path: str = "sli"  # a substring of the problem's JSON path
    note: str | None = None  # a substring of a validation note the valid spec must give
    alerting: str | None = None


CASES: dict[str, Case] = {
    # ---- comments, layout, quoting
    "trailing comment in a block scalar": Case(errors_expr(
        '|\n    sum(rate(http_requests_total{code=~"5.."}[$window])) # 5xx only')),
    "comment line inside a block scalar": Case(errors_expr(
        '|\n    sum(\n      # only server errors\n      rate(http_requests_total{code=~"5.."}[$window])\n    )')),
    "hash inside a string is no comment": Case(errors_expr("'sum(rate(http_requests_total{path=\"/a#b\"}[$window]))'")),
    "comment in a ratio selector": Case(ratio('|\n    http_requests_total{code=~"5.."} # 5xx')),
    "placeholder only in a comment": Case(errors_expr("'sum(rate(x[5m])) # not $window'"), reject="missing the $window"),
    "escaped quote in a value": Case(errors_expr(r"""'sum(rate(http_requests_total{path="a\"b"}[$window]))'""")),
    "single-quoted PromQL string": Case(errors_expr("\"sum(rate(http_requests_total{code='500'}[$window]))\"")),
    "backtick raw regex": Case(errors_expr("'sum(rate(http_requests_total{code=~`5\\d\\d`}[$window]))'")),
    "escaped newline in a value": Case(errors_expr(r"""'sum(rate(x{msg="a\nb"}[$window]))'""")),
    "unicode value": Case(errors_expr("'sum(rate(http_requests_total{path=\"/café/ü✓\"}[$window]))'")),
    "unknown string escape": Case(errors_expr(r"""'sum(rate(x{a="\q"}[$window]))'"""), reject="unknown escape"),
    "unterminated string": Case(errors_expr("'sum(rate(x{a=\"b}[$window]))'"), reject="does not parse"),
    "unbalanced brackets": Case(errors_expr("'sum(rate(x[$window])'"), reject="unclosed left parenthesis"),
    # ---- regular expressions (RE2)
    "regex alternation and classes": Case(errors_expr("'sum(rate(x{code=~\"5..|429\",m=~\"[A-Z]+\"}[$window]))'")),
    "regex escape class": Case(errors_expr(r"""'sum(rate(x{code=~"5\\d\\d"}[$window]))'""")),
    "regex case-insensitive flag": Case(errors_expr("'sum(rate(x{msg=~\"(?i)error\"}[$window]))'")),
    "regex named group": Case(ratio("'x{a=~\"(?P<n>a)b\"}'")),
    "regex 1000 repetitions": Case(ratio("'x{a=~\"a{1000}\"}'")),
    "regex lookahead": Case(errors_expr("'sum(rate(x{code=~\"(?!2..).*\"}[$window]))'"), reject="RE2"),
    "regex balanced only when wrapped in ^(?:…)$": Case(errors_expr("'sum(rate(x{code=~\"a)(b\"}[$window]))'"), reject="RE2"),
    "regex backreference": Case(ratio(r"""'x{a=~"(a)\\1"}'"""), reject="RE2", path="ratio.errors"),
    "regex possessive": Case(ratio("'x{a=~\"a++\"}'"), reject="RE2", path="ratio.errors"),
    "regex over 1000 repetitions": Case(ratio("'x{a=~\"a{1001}\"}'"), reject="RE2"),
    "regex python-only \\Z": Case(ratio(r"""'x{a=~"a\\Z"}'"""), reject="RE2"),
    "regex lookahead in a latency selector": Case(latency("'{code=~\"(?!5)..\"}'"), reject="RE2",
                                                  path="latency.selector"),
    # ---- modifiers, subqueries, grouping, operators
    "offset": Case(errors_expr("'sum(rate(x[$window] offset 1h))'")),
    "negative offset": Case(errors_expr("'sum(rate(x[$window] offset -1m))'")),
    "@ end()": Case(errors_expr("'sum(rate(x[$window] @ end()))'")),
    "@ and offset": Case(errors_expr("'sum(rate(x[$window] @ 1700000000 offset 5m))'")),
    "subquery": Case(errors_expr("'max_over_time(sum(rate(x[5m]))[$window:1m])'")),
    "subquery default step": Case(errors_expr("'max_over_time(sum(rate(x[5m]))[$window:])'")),
    "sum by": Case(errors_expr("'sum by (code) (rate(x[$window]))'")),
    "sum without, trailing grouping": Case(errors_expr("'sum(rate(x[$window])) without (instance)'")),
    "group_left with on": Case(errors_expr(
        "'sum by (job) (rate(x[$window])) * on(job) group_left() max by (job) (up)'")),
    "unless with on": Case(errors_expr("'rate(x[$window]) unless on(job) up == 0'")),
    "comparison with bool": Case(errors_expr("'sum(rate(x[$window])) > bool 0'")),
    "label_replace with $1": Case(errors_expr("'label_replace(rate(x[$window]), \"a\", \"$1\", \"b\", \"(.*)\")'")),
    "window used twice": Case(errors_expr("'increase(x[$window]) - increase(y[$window])'")),
    "numbers: hex, exponent, negative": Case(errors_expr("'rate(x[$window]) * -1 + 0x10 - 1e3'")),
    "grouping on a set operator": Case(errors_expr("'rate(x[$window]) and on(a) group_left(b) up'"),
                                       reject="no grouping allowed"),
    "scalar comparison without bool": Case(errors_expr("'rate(x[$window]) + (1 > 2)'"), reject="BOOL"),
    # ---- types: instant vs range vs scalar vs string
    "range vector": Case(errors_expr("'x[$window]'"), reject="got a range vector"),
    "subquery is a range vector": Case(errors_expr("'rate(x[5m])[$window:]'"), reject="got a range vector"),
    "scalar": Case(errors_expr("'scalar(sum(rate(x[$window])))'"), reject="got a scalar"),
    "string": Case(errors_expr("'\"$window\"'"), reject="got a string"),
    "sum over a range": Case(errors_expr("'sum(x[$window])'"), reject="expected type vector"),
    "unknown function": Case(errors_expr("'foo(x[$window])'"), reject="unknown function"),
    "experimental function": Case(errors_expr("'mad_over_time(x[$window])'"), reject="experimental"),
    "experimental aggregation": Case(errors_expr("'limitk(1, rate(x[$window]))'"), reject="experimental"),
    "newer function": Case(errors_expr("'histogram_avg(rate(x[$window]))'"), note="unknown to Prometheus 2.42"),
    "or inside a selector (MetricsQL)": Case(errors_expr("'sum(rate(x{a=\"b\" or c=\"d\"}[$window]))'"),
                                             reject="MetricsQL"),
    # ---- ratio selectors
    "every matcher type": Case(ratio("'x{a=\"b\",c!=\"d\",e=~\"f.*\",g!~\"h\"}'", "'x{a=\"b\"}'")),
    "spaces and single quotes": Case(ratio("\"x{ job = 'api' , code =~ '5..' }\"", "\"x{ job = 'api' }\"")),
    "selector with a function": Case(ratio("'rate(x[5m])'"), reject="bare series selector"),
    "selector with offset": Case(ratio("'x offset 5m'"), reject="without offset"),
    "selector with @": Case(ratio("'x @ 100'"), reject="without offset or @"),
    "selector matching everything": Case(ratio("'{code=\"\"}'"), reject="non-empty matcher"),
    "selector with a range": Case(ratio("'x[5m]'"), reject="bare series selector"),
    # ---- latency selectors
    "latency mapping": Case(latency("{job: checkout, route: /pay}")),
    "latency string, every matcher": Case(latency("'{job=\"checkout\",code!~\"5..\",route=~\"/p.*\",env!=\"dev\"}'")),
    "latency empty string selector": Case(latency("'{}'")),
    "latency mapping value like a matcher": Case(latency("{code: '!~\"5..\"'}"), note="matched literally"),
    "latency string with le": Case(latency("'{le=\"0.3\"}'"), reject="must not match 'le'", path="latency.selector"),
    "latency mapping with le": Case(latency("{le: '0.3'}"), reject="must not match 'le'"),
    "latency string with a metric": Case(latency("'up{job=\"a\"}'"), reject="metric name goes in 'metric'"),
    "latency string unclosed": Case(latency("'{job=\"a\"'"), reject="braces"),
    "latency string with a comment": Case(latency('|\n    {job="checkout"} # the shop')),
    # ---- UTF-8 names (Prometheus 3)
    "utf-8 metric name in a ratio": Case(ratio("'{\"my.requests_total\",code=~\"5..\"}'", "'{\"my.requests_total\"}'"),
                                         note="UTF-8"),
    "utf-8 names in an expr": Case(errors_expr(
        "'sum by (\"http.status\") (rate({\"http.requests\", \"http.status\"=~\"5..\"}[$window]))'"), note="UTF-8"),
    "utf-8 label in a latency selector": Case(latency("'{\"k8s.namespace\"=\"prod\"}'"), note="UTF-8"),
    "utf-8 latency metric": Case(latency("{job: a}", metric="'http.server.duration'"), note="UTF-8"),
    "latency metric with a newline": Case(latency("{job: a}", metric='"lat\\n"'), reject="not a valid Prometheus metric",
                                          path="latency.metric"),
    # ---- spec names and templates
    "alert template ok": Case(ratio("'x{code=~\"5..\"}'"), alerting=(
        "annotations:\n  summary: '{{ $labels.slo }} at {{ $value | humanizePercentage }}'\n"
        "page:\n  labels:\n    route: '{{ if eq $labels.team \"core\" }}pager{{ else }}mail{{ end }}'")),
    "alert template unclosed": Case(ratio("'x{code=~\"5..\"}'"), alerting="annotations:\n  summary: '{{ $value'",
                                    reject="template does not parse", path="alerting.annotations.summary"),
    "alert label unknown function": Case(ratio("'x{code=~\"5..\"}'"),
                                         alerting="ticket:\n  labels:\n    x: '{{ nosuch $value }}'",
                                         reject="not defined", path="alerting.ticket.labels.x"),
    "alert template stray end": Case(ratio("'x{code=~\"5..\"}'"),
                                     alerting="labels:\n  x: '{{ end }}'", reject="unexpected end",
                                     path="alerting.labels.x"),
    "label name with a trailing newline": Case(ratio("'x{code=~\"5..\"}'"), alerting="labels:\n  \"team\\n\": core",
                                               reject="not a valid Prometheus label name", path="alerting.labels"),
}


def spec_text(case: Case) -> str:
    slo = (f"- name: s\n  objective: 99.9\n  sli:\n{textwrap.indent(case.sli, '    ')}"
           + (f"  alerting:\n{textwrap.indent(case.alerting, '    ')}\n" if case.alerting else ""))
    return f"version: slogen/v1\nservices:\n  - name: api\n    slos:\n{textwrap.indent(slo, '      ')}"


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert sum(c.reject is None for c in CASES.values()) >= 20 and sum(c.reject is not None for c in CASES.values()) >= 20


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.reject])
def test_rejected_at_its_place(name: str) -> None:
    case = CASES[name]
    with pytest.raises(SpecError) as info:
        loads(spec_text(case), filename="s.yaml")
    found = [p for p in info.value.problems if case.reject in p.message]
    assert found, [p.render("s.yaml") for p in info.value.problems]
    for problem in found:
        assert problem.line > 0 and problem.column > 0, problem
        assert case.path in problem.path, problem


VALID = [n for n, c in CASES.items() if c.reject is None]


def _rules(name: str) -> list[tuple[str, str]]:
    spec = loads(spec_text(CASES[name]), filename="s.yaml")
    return [(a.path, a.text) for a in render(spec) if a.path.startswith("rules/")]


@pytest.mark.parametrize("name", VALID)
def test_valid_cases_give_their_notes_and_parse(name: str) -> None:
    case = CASES[name]
    spec = loads(spec_text(case), filename="s.yaml")
    notes = warnings(spec)
    if case.note:
        assert any(case.note in n for n in notes), notes
    else:
        assert not any("UTF-8" in n or "unknown to Prometheus" in n for n in notes), notes
    for _, text in _rules(name):
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                assert strip_comments(rule["expr"]) == rule["expr"]  # comments never reach a rule
                parse_expression(rule["expr"], want=None)  # promql_parser, quirks worked around


@needs_prometheus
def test_promtool_accepts_every_valid_case(tmp_path: Path) -> None:
    files = []
    for i, name in enumerate(n for n in VALID if CASES[n].note is None or "literally" in CASES[n].note):
        for path, text in _rules(name):
            target = tmp_path / f"{i}-{Path(path).name}"
            target.write_text(text)
            files.append((name, target))
    result = promtool("check", "rules", "--lint-fatal", *(str(f) for _, f in files))
    assert result.returncode == 0, "\n".join(
        f"{name}: {f.name}" for name, f in files if f"{f}" in result.stdout + result.stderr and "FAILED" in
        result.stdout + result.stderr) + "\n" + result.stdout[-3000:] + result.stderr[-3000:]


@needs_prometheus
def test_promtool_refuses_the_utf8_cases_slogen_warns_about(tmp_path: Path) -> None:
    # The note is needed: Prometheus 2.x (this promtool) indeed cannot read these rules.
    for name in (n for n in VALID if CASES[n].note == "UTF-8"):
        (path, text), *_ = _rules(name)
        target = tmp_path / Path(path).name
        target.write_text(text)
        assert promtool("check", "rules", str(target)).returncode != 0, name
