"""Grafana dashboards (minimal placeholder; the dashboard issue fills it in)."""

from __future__ import annotations

from slogen import conventions as c
from slogen.model import Spec
from slogen.render.artifact import Artifact
from slogen.render.encode import json_text


def generate(spec: Spec) -> list[Artifact]:
    """The overview dashboard."""
    g = spec.grafana
    doc = {"uid": g.dashboard_uid, "title": g.dashboard_title, "schemaVersion": 42, "panels": [],
           "tags": sorted({*g.tags, c.MARKER_TAG}), "description": c.generated_header(spec.source)}
    return [Artifact(c.dashboard_file(g.dashboard_uid), json_text(doc))]
