"""Rendered artifacts carry the data their text encodes; consumers (push, the rules handoff) read it.

The check parses the text independently (json, PyYAML) and compares, so carried data can never
drift from what is written or pushed.
"""

from __future__ import annotations

import json

import yaml

from conftest import SPECS
from slogen.render import render
from slogen.services.push_plan import dashboards
from slogen.services.rules_handoff import group_names
from slogen.spec import load as spec_loader


def test_dashboards_and_rule_files_carry_exactly_what_their_text_says() -> None:
    bundle = render(spec_loader.load(str(SPECS / "full.yaml")))
    carried = [a for a in bundle if a.data is not None]
    assert {a.path.split("/")[0] for a in carried} == {"dashboards", "rules"}
    for artifact in carried:
        parsed = json.loads(artifact.text) if artifact.path.endswith(".json") else yaml.safe_load(artifact.text)
        assert artifact.data == parsed, artifact.path


def test_push_and_handoff_read_the_carried_data() -> None:
    bundle = render(spec_loader.load(str(SPECS / "full.yaml")))
    models = {d.path: d.model for d in dashboards(bundle)}
    assert all(models[a.path] is a.data for a in bundle if a.path in models)  # the same object: no parse
    expected = {str(g["name"]): a.path.split("/")[-1] for a in bundle if a.path.startswith("rules/")
                for g in yaml.safe_load(a.text)["groups"]}
    assert group_names(bundle) == expected and expected
