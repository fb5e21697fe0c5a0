"""Grafana provisioning and the Prometheus `rule_files` wiring used by docker-compose.yml.

Paths inside the containers come from `conventions`: Grafana reads the dashboards from
`GRAFANA_DASHBOARDS_PATH` (compose mounts `./dashboards` there) and Prometheus loads
`PROMETHEUS_RULES_GLOB` (compose mounts `./rules`).
"""

from __future__ import annotations

from typing import Any

from slogen import conventions as c
from slogen.model import Spec
from slogen.render.artifact import Artifact
from slogen.render.encode import yaml_text


def dashboard_provider(spec: Spec) -> dict[str, Any]:
    """The file provider: slogen's dashboards, in the spec's folder, read-only in the UI."""
    g = spec.grafana
    return {"apiVersion": 1, "providers": [{
        "name": "slogen", "orgId": 1, "folder": g.folder_title, "folderUid": g.folder_uid, "type": "file",
        # Deleting a spec's dashboard file removes it from Grafana too: the files are the truth.
        "disableDeletion": False, "allowUiUpdates": False, "updateIntervalSeconds": 30,
        "options": {"path": c.GRAFANA_DASHBOARDS_PATH, "foldersFromFilesStructure": False}}]}


def datasource(spec: Spec) -> dict[str, Any]:
    """Prometheus under the uid the dashboards' `$datasource` variable defaults to."""
    return {"apiVersion": 1, "datasources": [{
        "name": c.DATASOURCE_NAME, "type": "prometheus", "uid": spec.grafana.datasource, "access": "proxy",
        "orgId": 1, "url": c.PROMETHEUS_URL_IN_STACK, "isDefault": True, "editable": False,
        "jsonData": {"httpMethod": "POST", "prometheusType": "Prometheus"}}]}


def rule_files() -> dict[str, Any]:
    """The `rule_files:` section of prometheus.yml that loads every rendered rule file."""
    return {"rule_files": [c.PROMETHEUS_RULES_GLOB]}


def generate(spec: Spec) -> list[Artifact]:
    """The dashboard provider, the datasource, and the Prometheus rule_files snippet."""
    return [Artifact(path, yaml_text(doc, source=spec.source)) for path, doc in (
        (c.PROVISIONING_DASHBOARDS, dashboard_provider(spec)),
        (c.PROVISIONING_DATASOURCES, datasource(spec)),
        (c.PROVISIONING_RULE_FILES, rule_files()),
    )]
