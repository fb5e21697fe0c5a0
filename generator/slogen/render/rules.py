"""Prometheus rule files, one per service (minimal placeholder; the rules issue fills it in)."""

from __future__ import annotations

from slogen import conventions as c
from slogen.model import Spec
from slogen.render.artifact import Artifact
from slogen.render.encode import yaml_text


def generate(spec: Spec) -> list[Artifact]:
    """One rule file per service."""
    out = []
    for service in spec.services:
        rules = [
            {"record": c.OBJECTIVE, "expr": f"vector({float(slo.objective)!r})",
             "labels": {c.LABEL_SERVICE: service.name, c.LABEL_SLO: slo.name}}
            for slo in service.slos
        ]
        doc = {"groups": [{"name": c.group_name(service.name, "sli"), "rules": rules}]}
        out.append(Artifact(c.rule_file(service.name), yaml_text(doc, source=spec.source)))
    return out
