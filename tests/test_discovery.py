"""Finding the spec (-f, SLOGEN_FILE, slos.yaml here or in a parent), outputs beside it, and URL options.

Run as a user would: `python -m slogen` in a real working directory (a subdirectory of a project).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SPECS
from slogen.spec.schema import schema_text


def slogen(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("SLOGEN_FILE", "PROMETHEUS_URL", "GRAFANA_URL")}
    return subprocess.run([sys.executable, "-m", "slogen", *args], cwd=cwd, env={**full, **(env or {})},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project: slos.yaml at the top, and a docs/deep subdirectory to run from."""
    root = tmp_path / "project"
    (root / "docs" / "deep").mkdir(parents=True)
    shutil.copy(SPECS / "minimal.yaml", root / "slos.yaml")
    return root


def test_a_spec_in_a_parent_directory_is_found_and_named_on_stderr(project: Path) -> None:
    result = slogen(project / "docs" / "deep", "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(os.path.join("..", "..", "slos.yaml") + ": valid: 1 service")
    assert f"using ../../slos.yaml ({(project / 'slos.yaml').resolve()})" in result.stderr


def test_a_spec_in_the_current_directory_is_used_silently(project: Path) -> None:
    result = slogen(project, "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("slos.yaml: valid")
    assert result.stderr == ""


def test_render_from_a_subdirectory_writes_beside_the_spec_and_check_agrees(project: Path) -> None:
    sub = project / "docs"
    written = slogen(sub, "render")
    assert written.returncode == 0, written.stderr
    assert (project / "rules" / "api.rules.yaml").is_file()
    assert (project / "dashboards").is_dir() and (project / "provisioning").is_dir()
    assert not (sub / "rules").exists()
    for args in (("render", "--check"), ("render", "-f", "../slos.yaml", "--check")):
        check = slogen(sub, *args)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "missing" not in check.stdout


def test_dash_o_is_still_relative_to_the_current_directory(project: Path) -> None:
    result = slogen(project / "docs", "render", "-o", "out")
    assert result.returncode == 0, result.stderr
    assert (project / "docs" / "out" / "rules" / "api.rules.yaml").is_file()
    assert not (project / "rules").exists()


def test_dash_f_and_slogen_file_win_over_discovery(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "other.yaml"
    other.parent.mkdir()
    shutil.copy(SPECS / "full.yaml", other)
    by_env = slogen(project / "docs", "validate", env={"SLOGEN_FILE": str(other)})
    assert by_env.returncode == 0 and "2 services, 5 SLOs" in by_env.stdout
    by_flag = slogen(project / "docs", "validate", "-f", str(other), env={"SLOGEN_FILE": "nope.yaml"})
    assert by_flag.returncode == 0 and "2 services, 5 SLOs" in by_flag.stdout
    assert "using" not in by_env.stderr + by_flag.stderr


def test_no_spec_anywhere_says_where_it_looked(tmp_path: Path) -> None:
    empty = tmp_path / "a" / "b"
    empty.mkdir(parents=True)
    if any((p / "slos.yaml").is_file() for p in (empty, *empty.parents)):
        pytest.fail(f"a slos.yaml above {empty} makes this test meaningless")
    result = slogen(empty, "validate")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: no slos.yaml in {empty.resolve()} or any parent directory up to /;")
    assert "-f FILE or SLOGEN_FILE" in result.stderr
    assert ":0:0:" not in result.stderr and "Traceback" not in result.stderr


def test_a_missing_dash_f_names_the_path_it_tried(project: Path) -> None:
    result = slogen(project / "docs", "render", "-f", "nope.yaml")
    assert result.returncode == 1
    assert result.stderr == (f"error: cannot read the spec nope.yaml given by -f (looked at "
                             f"{project / 'docs' / 'nope.yaml'}): No such file or directory\n")
    assert not (project / "docs" / "rules").exists()


def test_the_gate_without_a_spec_is_undecided_and_still_writes_its_json(tmp_path: Path) -> None:
    result = slogen(tmp_path, "gate", "-f", "missing.yaml", "--json", "gate.json",
                    "--prometheus-url", "http://127.0.0.1:9")
    assert result.returncode == 99
    assert "cannot read the spec missing.yaml" in result.stderr
    assert json.loads((tmp_path / "gate.json").read_text())["exit_code"] == 99


def test_postmortems_and_the_audit_log_default_to_beside_the_spec(project: Path) -> None:
    result = slogen(project / "docs" / "deep", "postmortem", "new", "Outage", "--date", "2026-01-15")
    assert result.returncode == 0, result.stderr
    assert (project / "docs" / "postmortems" / "2026-01-15-outage.md").is_file()
    assert not (project / "docs" / "deep" / "docs").exists()


@pytest.mark.parametrize("command", [["status"], ["gate"], ["postmortem", "new", "x", "--from", "1", "--to", "2"]])
def test_prometheus_url_without_a_scheme_is_a_usage_error(project: Path, command: list[str]) -> None:
    result = slogen(project, *command, env={"PROMETHEUS_URL": "127.0.0.1:9090"})
    code = 99 if command == ["gate"] else 2  # the gate's usage errors must never read as FREEZE
    assert result.returncode == code, result.stderr
    assert ("--prometheus-url must start with http:// or https:// (PROMETHEUS_URL is '127.0.0.1:9090'; "
            "write http://127.0.0.1:9090 (or https://))") in result.stderr
    assert "No connection adapters" not in result.stderr and "Traceback" not in result.stderr
    assert not (project / "docs" / "postmortems").exists()


def test_grafana_url_without_a_scheme_is_a_usage_error_and_hides_the_password(project: Path) -> None:
    result = slogen(project, "push", "--grafana-url", "admin:hunter2@host:3000")
    assert result.returncode == 2
    assert "--grafana-url must start with http:// or https:// (got '***@host:3000'" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    other = slogen(project, "push", "--grafana-url", "ftp://host")
    assert other.returncode == 2 and "(got 'ftp://host')" in other.stderr


def test_schema_takes_dash_f_and_writes_a_file_with_dash_o(project: Path) -> None:
    printed = slogen(project, "schema", "-f", "slos.yaml")
    assert printed.returncode == 0 and json.loads(printed.stdout)["properties"]["version"]["const"] == "slogen/v1"
    written = slogen(project / "docs", "schema", "-o", "slos.schema.json")
    assert written.returncode == 0, written.stderr
    assert (project / "docs" / "slos.schema.json").read_text() == schema_text() == printed.stdout
    (project / "blocker").write_text("a file, not a directory")
    refused = slogen(project, "schema", "-o", "blocker/slos.schema.json")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: cannot write blocker/slos.schema.json: ")
    assert "Traceback" not in refused.stderr
