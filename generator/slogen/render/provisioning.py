"""Grafana provisioning files (minimal placeholder; the dashboard issue fills it in)."""

from __future__ import annotations

from slogen.model import Spec
from slogen.render.artifact import Artifact
from slogen.render.encode import yaml_text


def generate(spec: Spec) -> list[Artifact]:
    """The dashboard provider."""
    g = spec.grafana
    doc = {"apiVersion": 1, "providers": [{"name": "slogen", "folder": g.folder_title, "folderUid": g.folder_uid,
                                           "type": "file", "options": {"path": "/var/lib/grafana/dashboards"}}]}
    return [Artifact("provisioning/dashboards/slogen.yaml", yaml_text(doc, source=spec.source))]
