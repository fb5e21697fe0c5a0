"""Provisioning: Grafana's dashboard provider and datasource, and Prometheus' rule_files snippet."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import yaml

from conftest import SPECS
from prom import needs_prometheus, promtool
from slogen import conventions as c
from slogen.model import Spec
from slogen.render import provisioning, render
from slogen.spec.load import load


def files(spec: Spec) -> dict[str, str]:
    return {a.path: a.text for a in provisioning.generate(spec)}


def parsed(spec: Spec, path: str) -> Any:
    return yaml.safe_load(files(spec)[path])


def test_three_files_each_with_the_generated_header() -> None:
    spec = load(str(SPECS / "full.yaml"))
    produced = files(spec)
    assert sorted(produced) == sorted([c.PROVISIONING_DASHBOARDS, c.PROVISIONING_DATASOURCES,
                                       c.PROVISIONING_RULE_FILES])
    for text in produced.values():
        assert text.startswith(f"# {c.generated_header('full.yaml')}\n")


def test_dashboard_provider_reads_the_mounted_dashboards_into_the_specs_folder() -> None:
    spec = load(str(SPECS / "full.yaml"))
    doc = parsed(spec, c.PROVISIONING_DASHBOARDS)
    assert doc["apiVersion"] == 1
    (provider,) = doc["providers"]
    assert (provider["folder"], provider["folderUid"]) == ("Reliability", "reliability")
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/slogen" == c.GRAFANA_DASHBOARDS_PATH
    defaults = parsed(load(str(SPECS / "minimal.yaml")), c.PROVISIONING_DASHBOARDS)["providers"][0]
    assert (defaults["folder"], defaults["folderUid"]) == ("SLOs", "slo")


def test_datasource_uid_is_what_the_dashboards_default_to() -> None:
    spec = load(str(SPECS / "full.yaml"))
    (source,) = parsed(spec, c.PROVISIONING_DATASOURCES)["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "prom-main" and source["isDefault"] is True
    assert source["url"] == "http://prometheus:9090"
    overview = next(json.loads(a.text) for a in render(spec) if a.path == c.dashboard_file("slo-overview"))
    variable = next(v for v in overview["templating"]["list"] if v["name"] == "datasource")
    assert variable["current"]["value"] == source["uid"]


def test_rule_files_glob_matches_every_rendered_rule_file() -> None:
    spec = load(str(SPECS / "full.yaml"))
    (pattern,) = parsed(spec, c.PROVISIONING_RULE_FILES)["rule_files"]
    assert pattern == "/etc/prometheus/rules/*.rules.yaml"
    rule_paths = [a.path for a in render(spec) if a.path.startswith("rules/")]
    assert rule_paths
    for path in rule_paths:
        assert fnmatch.fnmatch("/etc/prometheus/" + path, pattern), path


@needs_prometheus
def test_prometheus_accepts_the_rule_files_snippet(tmp_path: Path) -> None:
    """promtool loads a config built from the snippet, with the mount point moved to a temp dir."""
    spec = load(str(SPECS / "minimal.yaml"))
    for artifact in render(spec):
        if artifact.path.startswith("rules/"):
            (tmp_path / artifact.path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / artifact.path).write_text(artifact.text)
    snippet = parsed(spec, c.PROVISIONING_RULE_FILES)
    snippet["rule_files"] = [p.replace("/etc/prometheus/", f"{tmp_path}/") for p in snippet["rule_files"]]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"evaluation_interval": "30s"}, **snippet}))
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "api.rules.yaml" in result.stdout
