"""The rules handoff against a real Prometheus (issues 14 and 19): a rejected reload is undone, and the
confirmation compares full paths, naming the directory Prometheus really reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from conftest import SPECS
from prom import needs_prometheus, prometheus
from slogen.cli import main
from slogen.render import render
from slogen.render.artifact import Artifact
from slogen.services.rules_handoff import HandoffError, handoff
from slogen.services.writer import spec_key
from slogen.spec import load as spec_loader

FULL = str(SPECS / "full.yaml")


def config(rules_dir: Path) -> str:
    return f"global:\n  evaluation_interval: 1m\nrule_files:\n  - {rules_dir}/*.rules.yaml\n"


def loaded_files(url: str) -> dict[str, str]:
    groups = requests.get(url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    return {g["name"]: g["file"] for g in groups}


def push(rules_dir: Path, url: str) -> object:
    return CliRunner().invoke(main, ["push", "-f", FULL, "--no-grafana", "--prometheus-rules-dir", str(rules_dir),
                                     "--reload", "--prometheus-url", url], env={"PROMETHEUS_URL": None})


@needs_prometheus
def test_a_rejected_reload_restores_the_previous_files_and_reloads_them(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    with prometheus(config(rules_dir)) as (url, _):
        first = push(rules_dir, url)
        assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
        before = {p.name: p.read_text() for p in rules_dir.iterdir()}
        groups_before = loaded_files(url)
        bundle = render(spec_loader.load(FULL))
        broken = tuple(Artifact(a.path, a.text.replace("expr: ", "expr: sum(", 1)) if a.path.endswith(
            "payments.rules.yaml") else a for a in bundle)
        with pytest.raises(HandoffError) as caught:
            handoff(broken, rules_dir, prometheus_url=url, reload_rules=True, key=spec_key(FULL, rules_dir))
        message = str(caught.value)
        assert f"{rules_dir / 'payments.rules.yaml'}: " in message  # the rejected file, with promtool's reason
        assert "parse error" in message or "unclosed" in message, message
        assert "restored and Prometheus reloaded them" in message
        assert {p.name: p.read_text() for p in rules_dir.iterdir()} == before
        assert loaded_files(url) == groups_before
        reload = requests.post(url + "/-/reload", timeout=10)  # what a restart would read: accepted
        assert reload.status_code == 200


@needs_prometheus
def test_the_confirmation_names_the_directory_prometheus_really_reads(tmp_path: Path) -> None:
    real, ours = tmp_path / "prometheus-rules", tmp_path / "ours"
    real.mkdir()
    for artifact in render(spec_loader.load(FULL)):  # an old copy of the same files, elsewhere
        if artifact.path.startswith("rules/"):
            (real / Path(artifact.path).name).write_text(artifact.text)
    with prometheus(config(real)) as (url, _):
        result = push(ours, url)
    assert result.exit_code == 3  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert f"from {real}, not from {ours.resolve()}" in stderr
    assert f"Point --prometheus-rules-dir at {real}" in stderr


@needs_prometheus
def test_the_confirmation_passes_on_the_full_path_and_says_it(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    with prometheus(config(rules_dir)) as (url, _):
        rules_dir.mkdir()
        result = push(rules_dir, url)
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        assert f"groups loaded from {rules_dir.resolve()}" in result.stdout  # type: ignore[attr-defined]
        assert all(Path(f).parent == rules_dir for f in loaded_files(url).values())
    shutil.rmtree(rules_dir)
