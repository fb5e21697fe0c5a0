"""Rules for rulers beyond one Prometheus: PrometheusRule and VMRule objects, Thanos' partial_response_strategy.

The objects are checked against the published CRDs of prometheus-operator and of the
VictoriaMetrics operator (tests/data/, Apache-2.0), made strict: the API server prunes fields its schema does not know, so an unknown
field would be silently lost; here it fails. Each object's `spec` must pass `promtool check rules`
(and, for VMRule, `vmalert -dryRun`).
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from conftest import SPECS
from prom import needs_prometheus, promtool
from slogen.cli import main
from slogen.render import render
from slogen.spec.load import loads
from vm import VMALERT, needs_victoria_metrics

DATA = Path(__file__).resolve().parent / "data"
CRD = DATA / "prometheus-operator" / "monitoring.coreos.com_prometheusrules.yaml"
VM_CRD = DATA / "victoriametrics-operator" / "operator.victoriametrics.com_vmrules.yaml"
FULL = (SPECS / "full.yaml").read_text()
TARGET = """prometheus:
  namespace: monitoring
  rule_labels: {release: kube-prometheus-stack, "example.com/team": sre}
"""
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused and Go's `^(?i)` patterns in Python's spelling."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        pattern = out.get("pattern")
        if isinstance(pattern, str) and "(?i)" in pattern:
            out["pattern"] = "(?i)" + pattern.replace("(?i)", "")
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def crd_validator(path: Path = CRD, kind: str = "PrometheusRule", group: str = "monitoring.coreos.com",
                  version: str = "v1") -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(path.read_text())
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    assert crd["spec"]["names"]["kind"] == kind and crd["spec"]["group"] == group
    return jsonschema.Draft7Validator(_strict(served["schema"]["openAPIV3Schema"]))


def vm_validator() -> jsonschema.Draft7Validator:
    return crd_validator(VM_CRD, "VMRule", "operator.victoriametrics.com", "v1beta1")


def with_target(text: str = TARGET) -> str:
    return FULL.replace("services:\n", text + "services:\n", 1)


def operator_objects(spec_text: str, rules_format: str = "operator") -> dict[str, dict[str, Any]]:
    artifacts = render(loads(spec_text), rules_format)
    return {a.path: yaml.safe_load(a.text) for a in artifacts if a.path.startswith("rules/")}


def test_objects_validate_against_the_crd_schema() -> None:
    objects = operator_objects(with_target())
    assert sorted(objects) == ["rules/batch.prometheusrule.yaml", "rules/payments.prometheusrule.yaml"]
    validator = crd_validator()
    for path, obj in objects.items():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]
        assert errors == [], path
        service = path.removeprefix("rules/").removesuffix(".prometheusrule.yaml")
        assert obj["apiVersion"] == "monitoring.coreos.com/v1" and obj["kind"] == "PrometheusRule"
        assert obj["metadata"] == {"name": f"slogen-{service}", "namespace": "monitoring", "labels": {
            "release": "kube-prometheus-stack", "example.com/team": "sre", "app.kubernetes.io/managed-by": "slogen"}}
        assert DNS_SUBDOMAIN.match(obj["metadata"]["name"]) and len(obj["metadata"]["name"]) <= 253


def test_strict_schema_catches_an_unknown_group_field() -> None:
    """The check above can fail: a field the CRD does not have is refused."""
    obj = copy.deepcopy(next(iter(operator_objects(with_target()).values())))
    obj["spec"]["groups"][0]["evaluation_delay"] = "1m"
    assert any("evaluation_delay" in e.message for e in crd_validator().iter_errors(obj))


def test_object_spec_is_the_plain_rule_file() -> None:
    plain = {a.path: yaml.safe_load(a.text) for a in render(loads(FULL)) if a.path.startswith("rules/")}
    for path, obj in operator_objects(with_target()).items():
        assert obj["spec"] == plain[path.replace(".prometheusrule.yaml", ".rules.yaml")]


def test_without_namespace_the_object_has_none() -> None:
    obj = operator_objects(FULL)["rules/batch.prometheusrule.yaml"]
    assert obj["metadata"] == {"name": "slogen-batch", "labels": {"app.kubernetes.io/managed-by": "slogen"}}


def test_the_target_section_leaves_plain_files_byte_identical() -> None:
    assert render(loads(with_target())) == render(loads(FULL))


@needs_prometheus
def test_promtool_accepts_each_extracted_spec(tmp_path: Path) -> None:
    for path, obj in operator_objects(with_target()).items():
        target = tmp_path / Path(path).name
        target.write_text(yaml.safe_dump(obj["spec"], sort_keys=False))
        result = promtool("check", "rules", "--lint-fatal", str(target))
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("section", "message"), [
    ("prometheus: {namespace: Monitoring}\n", "$.prometheus.namespace: 'Monitoring' does not match"),
    ("prometheus: {rule_labels: {release: 'a b'}}\n", "$.prometheus.rule_labels.release: 'a b' does not match"),
    ("prometheus: {rule_labels: {app.kubernetes.io/managed-by: me}}\n", "is set by slogen"),
    ("prometheus: {partial_response_strategy: ignore}\n", "unsupported value 'ignore'; use one of abort, warn"),
    ("prometheus: {name_space: x}\n", "unknown key 'name_space'; did you mean 'namespace'?"),
])
def test_bad_target_sections_are_spec_errors(tmp_path: Path, section: str, message: str) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(with_target(section))
    result = CliRunner().invoke(main, ["validate", "-f", str(spec)])
    assert result.exit_code == 1
    assert message in result.output


def test_render_check_and_ownership_per_format(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(with_target())
    run = CliRunner().invoke
    plain = run(main, ["render", "-f", str(spec)])
    assert plain.exit_code == 0, plain.output
    assert (tmp_path / "rules" / "payments.rules.yaml").is_file()
    foreign = tmp_path / "rules" / "mine.yaml"
    foreign.write_text("groups: []\n")

    operator = run(main, ["render", "-f", str(spec), "--rules-format", "operator"])
    assert operator.exit_code == 0, operator.output
    assert sorted(p.name for p in (tmp_path / "rules").iterdir()) == [
        "batch.prometheusrule.yaml", "mine.yaml", "payments.prometheusrule.yaml"]  # owned plain files removed
    assert "removed rules/payments.rules.yaml" in operator.output
    assert run(main, ["render", "-f", str(spec), "--rules-format", "operator", "--check"]).exit_code == 0
    stale = run(main, ["render", "-f", str(spec), "--check"])
    assert stale.exit_code == 1
    assert "missing" in stale.output and "payments.rules.yaml" in stale.output
    assert "extra" in stale.output and "payments.prometheusrule.yaml" in stale.output
    assert foreign.read_text() == "groups: []\n"

    bad = run(main, ["render", "-f", str(spec), "--rules-format", "helm"])
    assert bad.exit_code == 2 and "'helm' is not one of 'prometheus', 'operator', 'vmrule'" in bad.output


# ------------------------------------------------------------------ Thanos Ruler


@pytest.mark.parametrize("strategy", ["abort", "warn"])
def test_partial_response_strategy_on_every_group(strategy: str) -> None:
    spec = loads(with_target(f"prometheus: {{partial_response_strategy: {strategy}}}\n"))
    for artifact in render(spec):
        if artifact.path.startswith("rules/"):
            groups = yaml.safe_load(artifact.text)["groups"]
            assert groups and all(g["partial_response_strategy"] == strategy for g in groups)
    validator = crd_validator()
    for obj in operator_objects(with_target(f"prometheus: {{partial_response_strategy: {strategy}}}\n")).values():
        assert list(validator.iter_errors(obj)) == []


@needs_prometheus
def test_promtool_rejects_the_thanos_key_and_accepts_the_rest(tmp_path: Path) -> None:
    """Why docs/rules.md sends Thanos users to `thanos tools rules-check`: promtool refuses the key."""
    spec = loads(with_target("prometheus: {partial_response_strategy: abort}\n"))
    artifact = next(a for a in render(spec) if a.path == "rules/payments.rules.yaml")
    with_key = tmp_path / "with.rules.yaml"
    with_key.write_text(artifact.text)
    refused = promtool("check", "rules", str(with_key))
    assert refused.returncode != 0 and "partial_response_strategy" in refused.stdout + refused.stderr
    doc = yaml.safe_load(artifact.text)
    for group in doc["groups"]:
        del group["partial_response_strategy"]
    stripped = tmp_path / "without.rules.yaml"
    stripped.write_text(yaml.safe_dump(doc, sort_keys=False))
    accepted = promtool("check", "rules", "--lint-fatal", str(stripped))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


# ------------------------------------------------------------------ VictoriaMetrics operator


def test_vmrule_objects_validate_against_the_crd_schema() -> None:
    objects = operator_objects(with_target("prometheus: {namespace: vm, partial_response_strategy: abort}\n"),
                               "vmrule")
    assert sorted(objects) == ["rules/batch.vmrule.yaml", "rules/payments.vmrule.yaml"]
    plain = {a.path: yaml.safe_load(a.text) for a in render(loads(FULL)) if a.path.startswith("rules/")}
    validator = vm_validator()
    for path, obj in objects.items():
        assert [e.message for e in validator.iter_errors(obj)] == [], path
        assert obj["apiVersion"] == "operator.victoriametrics.com/v1beta1" and obj["kind"] == "VMRule"
        service = path.removeprefix("rules/").removesuffix(".vmrule.yaml")
        assert obj["metadata"] == {"name": f"slogen-{service}", "namespace": "vm",
                                   "labels": {"app.kubernetes.io/managed-by": "slogen"}}
        # Thanos' key is not VMRule's (the strict schema refuses it): the groups are the plain file's.
        assert obj["spec"] == plain[f"rules/{service}.rules.yaml"]
    broken = copy.deepcopy(objects["rules/batch.vmrule.yaml"])
    broken["spec"]["groups"][0]["partial_response_strategy"] = "abort"
    assert list(validator.iter_errors(broken))


@needs_victoria_metrics
@needs_prometheus
def test_vmalert_and_promtool_accept_each_extracted_vmrule_spec(tmp_path: Path) -> None:
    assert VMALERT
    for path, obj in operator_objects(with_target(), "vmrule").items():
        target = tmp_path / Path(path).name
        target.write_text(yaml.safe_dump(obj["spec"], sort_keys=False))
        checked = subprocess.run([VMALERT, "-dryRun", f"-rule={target}", "-loggerLevel=ERROR"], capture_output=True,
                                 text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        result = promtool("check", "rules", "--lint-fatal", str(target))
        assert result.returncode == 0, result.stdout + result.stderr
