"""The dashboards: Grafana's schema, the six panels, layout, variables, and the series they read."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

import grafana_schema
from conftest import ROOT, SPECS
from slogen import conventions as c
from slogen.model import LatencySLI, Spec
from slogen.render import dashboards, render, rules
from slogen.spec.load import load, loads

SPEC_FILES = [*sorted(SPECS.glob("*.yaml")), ROOT / "slos.yaml"]
PANELS = [("gauge", "Error Budget Remaining"), ("gauge", "Days Until Budget Exhaustion"),
          ("timeseries", "Error Budget Burn Rate"), ("table", "SLO Compliance Overview"),
          ("timeseries", "SLO Compliance History"), ("timeseries", "Latency P95 vs SLO Target")]
UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")


def rendered(spec_file: Path) -> tuple[Spec, list[dict[str, Any]]]:
    spec = load(str(spec_file))
    return spec, [json.loads(a.text) for a in dashboards.generate(spec)]


def every_dashboard() -> Iterator[tuple[str, Spec, dict[str, Any]]]:
    for spec_file in SPEC_FILES:
        spec, docs = rendered(spec_file)
        for doc in docs:
            yield f"{spec_file.name}:{doc['uid']}", spec, doc


CASES = list(every_dashboard())
IDS = [name for name, _, _ in CASES]


def schema_problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems Grafana's published schema (vendored in tests/data/grafana-schema/) finds in one dashboard."""
    return list(grafana_schema.problems(doc))


def targets(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in doc["panels"]:
        for target in panel["targets"]:
            yield panel, target


@pytest.mark.parametrize(("name", "spec", "doc"), CASES, ids=IDS)
def test_validates_against_grafanas_published_schema(name: str, spec: Spec, doc: dict[str, Any]) -> None:
    assert schema_problems(doc) == []


def test_the_schema_check_catches_a_broken_dashboard() -> None:
    doc = json.loads(json.dumps(CASES[0][2]))
    doc["style"] = "dark"
    doc["panels"][0]["fieldConfig"]["overrides"] = [{"matcher": {"id": "byName", "options": "x"},
                                                      "properties": [{"id": "unit", "value": "percent"}]}]
    assert len(schema_problems(doc)) >= 2


@pytest.mark.parametrize(("name", "spec", "doc"), CASES, ids=IDS)
def test_six_panels_with_ids_refids_descriptions_and_the_datasource_variable(
        name: str, spec: Spec, doc: dict[str, Any]) -> None:
    assert [(p["type"], p["title"]) for p in doc["panels"]] == PANELS
    assert [p["id"] for p in doc["panels"]] == [1, 2, 3, 4, 5, 6]
    for panel in doc["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert len(panel["description"]) > 40, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs) and all(refs)
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        if panel["type"] == "timeseries":
            assert panel["options"]["legend"]["showLegend"] is True
        if panel["type"] != "table":
            assert panel["fieldConfig"]["defaults"]["unit"]


@pytest.mark.parametrize(("name", "spec", "doc"), CASES, ids=IDS)
def test_grid_positions_do_not_overlap_and_fit_24_columns(name: str, spec: Spec, doc: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in doc["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] > 0 and pos["h"] > 0
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize(("name", "spec", "doc"), CASES, ids=IDS)
def test_dashboard_settings_come_from_the_spec(name: str, spec: Spec, doc: dict[str, Any]) -> None:
    g = spec.grafana
    assert UID.match(doc["uid"])
    assert doc["refresh"] == g.refresh and doc["time"] == {"from": f"now-{g.time}", "to": "now"}
    assert set(doc["tags"]) == {*g.tags, c.MARKER_TAG} and doc["tags"] == sorted(doc["tags"])
    assert c.generated_header(spec.source) in doc["description"]
    assert doc["schemaVersion"] >= 41
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["datasource"]["current"]["value"] == g.datasource
    slo = variables["slo"]
    assert slo["type"] == "query" and slo["multi"] and slo["includeAll"] and c.SLO_INFO in slo["query"]


def test_overview_settings_for_the_default_spec() -> None:
    _, (doc,) = rendered(SPECS / "minimal.yaml")
    assert (doc["uid"], doc["refresh"], doc["time"]["from"]) == ("error-budget-slo", "30s", "now-7d")
    assert doc["tags"] == ["error-budget", "observability", "slo", "slogen"]
    service = {v["name"]: v for v in doc["templating"]["list"]}["service"]
    assert service["multi"] and service["includeAll"] and service["allValue"] == ".*"
    assert service["query"] == f"label_values({c.SLO_INFO}, service)"


def test_per_service_dashboards_fix_the_service_variable() -> None:
    spec, docs = rendered(SPECS / "full.yaml")
    base = spec.grafana.dashboard_uid
    assert [d["uid"] for d in docs] == [base, *(c.service_dashboard_uid(base, s.name) for s in spec.services)]
    for service, doc in zip(spec.services, docs[1:], strict=True):
        variable = {v["name"]: v for v in doc["templating"]["list"]}["service"]
        assert variable["type"] == "constant" and variable["query"] == service.name
        assert service.name in doc["title"]
    # A service without latency SLOs keeps the panel, explains it, and queries nothing.
    batch = docs[2]["panels"][5]
    assert batch["targets"] == [] and "No latency SLO" in batch["description"]
    _, minimal = rendered(SPECS / "minimal.yaml")
    assert len(minimal) == 1


def test_long_service_names_still_give_valid_unique_uids() -> None:
    uids = {c.service_dashboard_uid("error-budget-slo", "s" * 40 + str(i)) for i in range(3)}
    assert len(uids) == 3 and all(UID.match(u) for u in uids)


def test_budget_gauge_steps_follow_the_policy() -> None:
    _, docs = rendered(SPECS / "full.yaml")  # policy: caution 75, warning 45, freeze 15
    gauge = docs[0]["panels"][0]
    defaults = gauge["fieldConfig"]["defaults"]
    assert defaults["unit"] == "percent" and defaults["max"] == 100
    assert defaults["thresholds"]["steps"] == [{"color": "red", "value": None}, {"color": "orange", "value": 15},
                                               {"color": "yellow", "value": 45}, {"color": "green", "value": 75}]
    assert gauge["targets"][0]["expr"] == f'{c.BUDGET_REMAINING}{{service=~"$service",slo=~"$slo"}} * 100'
    _, (minimal,) = rendered(SPECS / "minimal.yaml")
    steps = minimal["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 20, 50, 80]


def test_burn_rate_lines_are_the_budget_and_the_alert_factors() -> None:
    # 30d, Google's table: page 2 % in 1h → 0.02 × 720 = 14.4; ticket 10 % in 1d → 0.1 × 30 = 3.
    _, (doc,) = rendered(SPECS / "minimal.yaml")
    burn = doc["panels"][2]
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "green", "value": None}, {"color": "yellow", "value": 1},
                     {"color": "orange", "value": 3}, {"color": "red", "value": 14.4}]
    assert burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
    assert burn["targets"][0]["expr"].startswith(c.BURN_RATE_1H + "{")
    # payments: 30d and 28d → also 0.1 × 28 = 2.8 and 0.02 × 672 = 13.44.
    _, docs = rendered(SPECS / "full.yaml")
    values = [s["value"] for s in docs[1]["panels"][2]["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert values == [None, 1, 2.8, 3, 13.44, 14.4]


def test_days_gauge_shows_not_burning_when_there_is_no_value() -> None:
    _, (doc,) = rendered(SPECS / "minimal.yaml")
    days = doc["panels"][1]
    assert days["fieldConfig"]["defaults"]["unit"] == "d"
    assert "∞" in days["fieldConfig"]["defaults"]["noValue"]
    assert days["targets"][0]["expr"].startswith(c.DAYS_TO_EXHAUSTION + "{")


def test_table_has_one_row_per_slo_with_readable_coloured_states() -> None:
    _, (doc,) = rendered(SPECS / "minimal.yaml")
    table = doc["panels"][3]
    assert all(t["instant"] and t["format"] == "table" for t in table["targets"])
    # Every query aggregates to one series per (service, slo), so `merge` yields one row per SLO.
    assert all("max by (service, slo)" in t["expr"] for t in table["targets"])
    state_query = table["targets"][-1]["expr"]
    for name in c.STATES:
        assert f'"{name}"' in state_query and f"== {c.STATE_CODES[name]}," in state_query
    mapping = table["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert set(mapping) == set(c.STATES)
    assert (mapping["NORMAL"]["color"], mapping["EXHAUSTED"]["color"]) == ("green", "dark-red")
    organize = dict(t for t in ((x["id"], x["options"]) for x in table["transformations"]))["organize"]
    columns = sorted(organize["indexByName"], key=organize["indexByName"].get)
    shown = [organize["renameByName"].get(col, col) for col in columns]
    assert shown[:2] == ["Service", "SLO"] and shown[-1] == "State"
    assert any("Objective" in s for s in shown) and any("SLI" in s for s in shown)
    assert any("Budget" in s for s in shown) and any("Burn" in s for s in shown)
    colored = {o["matcher"]["options"] for o in table["fieldConfig"]["overrides"]
               if any(p["id"] == "custom.cellOptions" for p in o["properties"])}
    assert "State" in colored and any("Budget" in name for name in colored)


def test_history_compares_rolling_7d_and_period_with_the_objective() -> None:
    _, (doc,) = rendered(SPECS / "minimal.yaml")
    exprs = [t["expr"] for t in doc["panels"][4]["targets"]]
    assert [e.split("{")[0] for e in exprs] == [f"(1 - {c.error_ratio('7d')}", f"(1 - {c.ERROR_RATIO_PERIOD}",
                                                c.OBJECTIVE]


def test_latency_panel_has_p95_and_threshold_per_latency_slo() -> None:
    spec, docs = rendered(ROOT / "slos.yaml")
    latency = [s for s in spec.slos if isinstance(s.sli, LatencySLI)]
    panel = docs[0]["panels"][5]
    assert len(panel["targets"]) == 2 * len(latency) > 0
    for slo, (p95, line) in zip(latency, zip(panel["targets"][::2], panel["targets"][1::2], strict=True),
                                strict=True):
        assert isinstance(slo.sli, LatencySLI)
        assert p95["expr"].startswith(f"histogram_quantile(0.95, sum by (le) (rate({slo.sli.metric}_bucket{{")
        assert "[5m]" in p95["expr"] and f'service="{slo.service}",slo="{slo.name}"' in p95["expr"]
        assert line["expr"].startswith(f"vector({slo.sli.threshold_seconds:g}) and on() ")  # 2, not 2.0


def test_runbook_links_come_from_the_spec() -> None:
    spec, docs = rendered(ROOT / "slos.yaml")
    urls = {s.alerting.annotations["runbook_url"] for s in spec.slos if "runbook_url" in s.alerting.annotations}
    assert urls and {link.get("url") for link in docs[0]["links"] if link["type"] == "link"} == urls
    assert any(link["type"] == "dashboards" and link["tags"] == [c.MARKER_TAG] for link in docs[0]["links"])


# --------------------------------------------------------------- every queried series is recorded
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_NAME = re.compile(r"(?<![\w:])(slogen[:_][a-zA-Z0-9_:]*)")


def queried_series(expr: str) -> set[str]:
    """Names of slogen series an expression reads (strings and label matchers removed first)."""
    return set(_NAME.findall(_MATCHERS.sub("", _STRING.sub('""', expr))))


def test_queried_series_parser() -> None:
    assert queried_series('1 - slogen:a:b{x="slogen:no"} * on() slogen_slo_info') == {"slogen:a:b", "slogen_slo_info"}


def recorded_series(spec: Spec) -> set[str]:
    names = set()
    for artifact in rules.generate(spec):
        for group in yaml.safe_load(artifact.text)["groups"]:
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=[p.name for p in SPEC_FILES])
def test_every_queried_series_is_recorded_by_the_rules(spec_file: Path) -> None:
    spec, docs = rendered(spec_file)
    recorded = recorded_series(spec)
    for doc in docs:
        queried = {name for _, t in targets(doc) for name in queried_series(t["expr"])}
        queried |= {name for v in doc["templating"]["list"] for name in queried_series(str(v.get("query", "")))}
        assert queried, doc["uid"]
        assert queried <= recorded, f"{doc['uid']} queries series no rule records: {sorted(queried - recorded)}"


@pytest.mark.parametrize(("name", "spec", "doc"), CASES, ids=IDS)
def test_no_panel_reads_raw_counters_over_days(name: str, spec: Spec, doc: dict[str, Any]) -> None:
    for panel, target in targets(doc):
        windows = re.findall(r"\[([^\]]+)\]", target["expr"])
        if panel["title"].startswith("Latency"):
            assert set(windows) <= {"5m"}, target["expr"]
        else:
            assert windows == [], target["expr"]
            assert not re.search(r"(?<![\w:])(?!slogen)[a-zA-Z_][\w:]*\{", _STRING.sub('""', target["expr"]))


def test_render_is_deterministic_and_sorted() -> None:
    spec = load(str(SPECS / "full.yaml"))
    first, second = dashboards.generate(spec), dashboards.generate(spec)
    assert first == second
    for artifact in first:
        assert artifact.text == json.dumps(json.loads(artifact.text), indent=2, sort_keys=True,
                                           ensure_ascii=False) + "\n"
    assert {a.path for a in render(spec)} >= {a.path for a in first}


def test_policy_thresholds_are_exact_for_fractional_policies() -> None:
    spec = load(str(SPECS / "minimal.yaml"))
    steps = dashboards._budget_steps(spec)
    assert steps[1:] == ((20, "orange"), (50, "yellow"), (80, "green"))
    assert dashboards._num(Fraction(1344, 100)) == 13.44 and dashboards._num(Fraction(3)) == 3


def big_spec(latency_slos: int) -> Spec:
    slos = "".join(f"""
      - name: lat{i}
        objective: 99
        sli: {{latency: {{metric: h_seconds, selector: {{route: "/r{i}"}}, threshold: 1s}}}}
        alerting: {{annotations: {{runbook_url: "https://runbooks.example/{i}"}}}}""" for i in range(latency_slos))
    return loads(f"version: slogen/v1\nservices:\n  - name: big\n    slos:{slos}\n")


def test_many_latency_slos_and_runbooks_are_explained_not_queried() -> None:
    small = json.loads(dashboards.generate(big_spec(dashboards.MAX_LATENCY_SLOS))[0].text)
    assert len(small["panels"][5]["targets"]) == 2 * dashboards.MAX_LATENCY_SLOS
    assert not any(link["type"] == "link" for link in small["links"])  # 30 runbooks > 20
    big = json.loads(dashboards.generate(big_spec(dashboards.MAX_LATENCY_SLOS + 1))[0].text)
    assert big["panels"][5]["targets"] == [] and "too many" in big["panels"][5]["description"]
    few = json.loads(dashboards.generate(big_spec(dashboards.MAX_RUNBOOK_LINKS))[0].text)
    assert sum(link["type"] == "link" for link in few["links"]) == dashboards.MAX_RUNBOOK_LINKS
