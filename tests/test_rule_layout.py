"""The rule layout that makes the rules portable, checked over every rendered file of every test spec.

* No rule reads a series recorded by its own group: Prometheus shows a group's later rules what
  its earlier rules recorded in the same evaluation, vmalert and remote-writing rulers do not.
* No group holds more than 20 rules (Grafana Mimir's and Cortex's default per-group limit),
  however many SLOs a service has.
* Group names are unique, and chunks of a stage keep their names when SLOs are added at the end.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from conftest import ROOT, SPECS
from slogen import conventions as c
from slogen.render import render
from slogen.spec.load import load, loads

SERIES = re.compile(r"(?<![\w:])([a-zA-Z_:][\w:]*)(?=\s*[{\[)\s]|$)")


def many_slos(count: int) -> str:
    """One service with `count` SLOs, one of each SLI kind in turn."""
    kinds = [
        "ratio: {errors: 'e_total{job=\"x\"}', total: 't_total{job=\"x\"}'}",
        "ratio: {good: 'g_total{job=\"x\"}', total: 't_total{job=\"x\"}'}",
        "latency: {metric: lat_seconds, selector: {job: x}, threshold: 300ms}",
        "expr: {errors: 'sum(rate(e_total[$window]))', total: 'sum(rate(t_total[$window]))'}",
    ]
    lines = ["version: slogen/v1", "services:", "  - name: big", "    slos:"]
    for i in range(count):
        lines += [f"      - name: s{i:02d}", "        objective: 99.9", f"        sli: {{{kinds[i % 4]}}}"]
    return "\n".join(lines) + "\n"


def _rule_docs() -> list[tuple[str, dict[str, Any]]]:
    specs = [(p.name, load(str(p))) for p in [*sorted(SPECS.glob("*.yaml")), ROOT / "slos.yaml",
                                              ROOT / "tests/promtool/spec.yaml"]]
    specs += [(f"many-{n}", loads(many_slos(n))) for n in (7, 25)]
    return [(f"{name}:{a.path}", yaml.safe_load(a.text)) for name, spec in specs
            for a in render(spec) if a.path.startswith("rules/")]


DOCS = _rule_docs()


def _reads(expr: str) -> set[str]:
    return {m for m in SERIES.findall(expr) if m.startswith(c.NAMESPACE)}


@pytest.mark.parametrize(("name", "doc"), DOCS, ids=[n for n, _ in DOCS])
def test_no_rule_reads_its_own_groups_recordings(name: str, doc: dict[str, Any]) -> None:
    for group in doc["groups"]:
        recorded = {r["record"] for r in group["rules"] if "record" in r}
        for rule in group["rules"]:
            assert not _reads(rule["expr"]) & recorded, (group["name"], rule.get("record") or rule.get("alert"))


@pytest.mark.parametrize(("name", "doc"), DOCS, ids=[n for n, _ in DOCS])
def test_groups_hold_at_most_twenty_rules(name: str, doc: dict[str, Any]) -> None:
    for group in doc["groups"]:
        assert 0 < len(group["rules"]) <= c.MAX_RULES_PER_GROUP, (group["name"], len(group["rules"]))


def test_reads_are_seen_by_the_checker() -> None:
    # guard the regex itself: it must see every series an expression reads
    expr = ('1 - ((sum(sum_over_time(last_over_time(slogen:sli_errors:hour_rate1h{a="b"}[45m])[6d:1h])) '
            'or vector(0)) / clamp_min(sum(slogen:sli_events:tile_rate3m), 1) or sum(slogen:x:y{a="b"}))')
    assert _reads(expr) == {"slogen:sli_errors:hour_rate1h", "slogen:sli_events:tile_rate3m", "slogen:x:y"}


def test_group_names_are_unique_and_chunks_are_stable() -> None:
    for name, doc in DOCS:
        names = [g["name"] for g in doc["groups"]]
        assert len(names) == len(set(names)), name

    def rules_by_group(doc: dict[str, Any]) -> dict[str, list[str]]:
        return {g["name"]: [f'{r.get("record") or r.get("alert")}/{r["labels"]["slo"]}' for r in g["rules"]]
                for g in doc["groups"]}

    small, large = rules_by_group(DOCS[-2][1]), rules_by_group(DOCS[-1][1])
    assert c.group_name("big", c.STAGE_STATE, 1) == "slogen:big:state:2"
    assert "slogen:big:state:9" in large and "slogen:big:state:10" not in large  # 25 SLOs, 3 a group
    for group, rules in small.items():  # 7 → 25 SLOs, added at the end: every group keeps its rules
        assert large[group][:len(rules)] == rules, group
