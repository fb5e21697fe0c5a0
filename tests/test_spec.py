"""slogen validate: every problem class, with its exact position, path and message."""

from __future__ import annotations

import textwrap
from fractions import Fraction

import pytest

from slogen.errors import SpecError
from slogen.model import ExprSLI, LatencySLI, RatioSLI
from slogen.spec.load import load, loads

VALID = """\
version: slogen/v1
services:
  - name: api
    labels: {team: core}
    slos:
      - name: availability
        objective: 99.9
        sli:
          ratio:
            errors: http_requests_total{job="api",code=~"5.."}
            total: http_requests_total{job="api"}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        loads(textwrap.dedent(text), filename="s.yaml")
    return [p.render("s.yaml") for p in info.value.problems]


def with_slo(body: str) -> str:
    """VALID with the SLO list replaced by `body` (indented as SLO items)."""
    head = VALID.split("      - name: availability")[0]
    return head + textwrap.indent(textwrap.dedent(body), "      ")


def test_valid_spec_builds_the_model() -> None:
    spec = loads(VALID)
    (slo,) = spec.slos
    assert slo.objective == Fraction(999, 1000)
    assert slo.error_budget == Fraction(1, 1000)
    assert slo.window == "30d" and slo.service == "api"
    assert isinstance(slo.sli, RatioSLI) and slo.sli.errors.startswith("http_requests_total")
    assert dict(slo.labels) == {"team": "core"}


def test_all_sli_kinds_and_overrides_are_understood() -> None:
    spec = loads(with_slo("""\
        - name: lat
          objective: 99
          window: 28d
          sli: {latency: {metric: h_seconds, selector: {job: api}, threshold: 250ms}}
          alerting:
            labels: {team: x}
            page: {labels: {severity: critical}, annotations: {runbook_url: "https://r"}}
            ticket: {disable: true}
        - name: raw
          objective: 95
          sli:
            expr:
              good: sum(rate(ok_total[$window]))
              total: sum(rate(all_total[$window]))
        """))
    lat, raw = spec.slos
    assert isinstance(lat.sli, LatencySLI) and lat.sli.threshold_seconds == 0.25 and lat.window == "28d"
    assert lat.alerting.ticket.disable and dict(lat.alerting.page.labels) == {"severity": "critical"}
    assert isinstance(raw.sli, ExprSLI) and raw.sli.good and raw.sli.errors is None


CASES = {
    "yaml syntax": ("version: slogen/v1\nservices: [\n", ["s.yaml:3:1: $: YAML syntax error: did not find expected node content"]),
    "empty": ("", ["s.yaml:1:1: $: the spec is empty: start with 'version: slogen/v1'"]),
    "not a mapping": ("- a\n", ["s.yaml:1:1: $: expected a mapping with 'version: slogen/v1' and 'services', got list"]),
    "unknown version": (VALID.replace("slogen/v1", "slogen/v9"),
                        ["s.yaml:1:10: $.version: unknown version 'slogen/v9'; this slogen reads 'slogen/v1'"]),
    "unknown key with suggestion": (VALID.replace("    labels:", "    lables:"),
                                    ["s.yaml:4:5: $.services[0].lables: unknown key 'lables'; did you mean 'labels'?"]),
    "wrong type": (VALID.replace("objective: 99.9", "objective: high"),
                   ["s.yaml:7:20: $.services[0].slos[0].objective: expected a number, got a string"]),
    "objective 100": (VALID.replace("objective: 99.9", "objective: 100"),
                      ["s.yaml:7:20: $.services[0].slos[0].objective: objective 100 is out of range: give a "
                       "percent strictly between 0 and 100, e.g. 99.9"]),
    "objective 0": (VALID.replace("objective: 99.9", "objective: 0"),
                    ["s.yaml:7:20: $.services[0].slos[0].objective: objective 0 is out of range: give a "
                     "percent strictly between 0 and 100, e.g. 99.9"]),
    "unsupported window": (VALID.replace("objective: 99.9", "objective: 99.9\n        window: 401d"),
                           ["s.yaml:8:17: $.services[0].slos[0].window: '401d' is outside 1d to 400d"]),
    "window not whole hours": (VALID.replace("objective: 99.9", "objective: 99.9\n        window: 90m"),
                               ["s.yaml:8:17: $.services[0].slos[0].window: '90m' is not a whole number of hours"]),
    "duplicate service": (VALID + VALID.split("services:\n")[1],
                          ["s.yaml:12:11: $.services[1].name: duplicate service name 'api' (first at "
                           "$.services[0])"]),
    "bad service name": (VALID.replace("name: api", "name: My API"),
                         ["s.yaml:3:11: $.services[0].name: invalid name 'My API': use lower-case letters, "
                          "digits and '-', starting and ending with a letter or digit (it becomes part of rule "
                          "names, dashboard uids and file names)"]),
    "bad label name": (VALID.replace("{team: core}", "{team-name: core}"),
                       ["s.yaml:4:14: $.services[0].labels['team-name']: 'team-name' is not a valid Prometheus "
                        "label name (letters, digits and '_', not starting with a digit)"]),
    "reserved label": (VALID.replace("{team: core}", "{slo: x}"),
                       ["s.yaml:4:14: $.services[0].labels.slo: label 'slo' is set by slogen; choose another name"]),
    "selector does not parse": (VALID.replace('code=~"5.."}', 'code=~"5.."'),
                                ["s.yaml:10:21: $.services[0].slos[0].sli.ratio.errors: selector does not parse: "
                                 "unexpected end of input inside braces"]),
    "selector with a function": (VALID.replace('errors: http_requests_total{job="api",code=~"5.."}',
                                               'errors: rate(x[5m])'),
                                 ["s.yaml:10:21: $.services[0].slos[0].sli.ratio.errors: selector does not parse: "
                                  "expected a bare series selector, got a call of rate(): slogen adds rate() and "
                                  "sum() itself"]),
    "errors equals total": (VALID.replace('{job="api",code=~"5.."}', '{job="api"}'),
                            ["s.yaml:10:21: $.services[0].slos[0].sli.ratio.errors: 'errors' is the same "
                             "selector as 'total': the SLI would always be 100 % errors"]),
    "policy out of order": (VALID.replace("services:", "policy: {caution: 50, warning: 60}\nservices:"),
                            ["s.yaml:2:9: $.policy: thresholds out of order: need caution > warning > freeze "
                             "(got 50, 60, 20)"]),
    "missing required": (VALID.replace("        objective: 99.9\n", ""),
                         ["s.yaml:6:9: $.services[0].slos[0]: missing required key 'objective'"]),
    "non-text key": ("version: slogen/v1\n1: x\n", ["s.yaml:2:1: $: keys must be text, got '1': quote it"]),
    "empty key": ("?\n", ["s.yaml:1:2: $: keys must be text, got an empty key: quote it"]),
    "duplicate key": (VALID.replace("objective: 99.9", "objective: 99.9\n        objective: 99"),
                      ["s.yaml:8:9: $.services[0].slos[0].objective: duplicate key 'objective': the later value "
                       "would win"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_problem_is_reported_at_its_place(name: str) -> None:
    text, expected = CASES[name]
    assert problems(text) == expected


def test_slo_level_problems() -> None:
    got = problems(with_slo("""\
        - name: availability
          objective: 99
          sli: {latency: {metric: h_bucket, threshold: fast}}
        - name: availability
          objective: 99
          sli:
            expr: {errors: 'sum(rate(e[5m]))', total: 'sum(rate(t[$window])'}
        - name: both
          objective: 99
          sli: {ratio: {errors: a, good: b, total: c}}
        - name: none
          objective: 99
          sli: {}
        """))
    assert got == [
        "s.yaml:8:33: $.services[0].slos[0].sli.latency.metric: give the histogram's base name without the "
        "suffix: 'h'",
        "s.yaml:8:54: $.services[0].slos[0].sli.latency.threshold: threshold 'fast' is not a duration: write it "
        "with a unit, e.g. 300ms or 2s",
        "s.yaml:9:15: $.services[0].slos[1].name: duplicate SLO name 'availability' in service 'api' (first at "
        "slos[0])",
        "s.yaml:12:26: $.services[0].slos[1].sli.expr.errors: missing the $window placeholder: write the range as "
        "[$window] so slogen can evaluate each alert window",
        "s.yaml:12:53: $.services[0].slos[1].sli.expr.total: PromQL does not parse: unclosed left parenthesis",
        "s.yaml:15:22: $.services[0].slos[2].sli.ratio: give exactly one of 'errors' or 'good' (beside 'total')",
        "s.yaml:18:14: $.services[0].slos[3].sli: choose exactly one SLI kind: ratio, latency or expr",
    ]


def test_every_problem_in_one_run() -> None:
    text = VALID.replace("objective: 99.9", "objective: 120").replace("lables", "x").replace(
        "    labels:", "    lables:")
    got = problems(text)
    assert len(got) == 2 and "lables" in got[0] and "objective 120" in got[1]


def test_unreadable_file(tmp_path) -> None:
    with pytest.raises(SpecError) as info:
        load(str(tmp_path / "missing.yaml"))
    assert str(info.value).endswith("cannot read the spec: No such file or directory")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="not UTF-8"):
        load(str(binary))


def test_shipped_example_is_valid() -> None:
    from conftest import ROOT

    spec = load(str(ROOT / "slos.yaml"))
    assert {s.name for s in spec.services} >= {"checkout", "search"}
    assert {slo.window for slo in spec.slos} >= {"30d", "28d"}
    assert {slo.sli_kind for slo in spec.slos} >= {"ratio", "latency"}


def test_yaml_merge_keys_are_not_duplicates() -> None:
    """Top-level `x-` keys hold anchors; merged keys overridden locally are not duplicates."""
    text = VALID.replace("services:", "x-common: &common {objective: 99.5}\nservices:").replace(
        "        objective: 99.9\n", "        <<: *common\n        objective: 99.9\n")
    assert loads(text).slos[0].objective_percent == 99.9
    assert problems(VALID.replace("services:", "y-common: 1\nservices:")) == [
        "s.yaml:2:1: $['y-common']: unknown key 'y-common'; known keys: defaults, grafana, policy, prometheus, services, version"]


def test_an_alert_that_can_never_fire_is_a_warning() -> None:
    """90d at 95 %: the fast page needs 43.2 × 5 % = 216 % errors; the 6h page (18 × 5 % = 90 %) can fire."""
    from slogen.spec.lint import warnings

    assert warnings(loads(VALID)) == []
    spec = loads(VALID.replace("objective: 99.9", "objective: 95\n        window: 90d"))
    assert warnings(spec) == [
        "api/availability: the page alert over 1h/5m can never fire: burning 43.2x a 5.000% budget needs an "
        "error ratio of 216%; raise the objective or shorten the window"]


def test_wrongly_typed_labels_beside_group_by_are_a_problem_not_a_crash() -> None:
    # Found by test_fuzz: `labels: 1` on the service made the group_by check raise TypeError.
    text = VALID.replace("labels: {team: core}", "labels: 1").replace(
        "        sli:", "        group_by: [route]\n        sli:")
    assert problems(text) == ["s.yaml:4:13: $.services[0].labels: expected a mapping, got a number"]
