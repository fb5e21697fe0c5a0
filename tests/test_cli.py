"""The command line: help, version, exit codes and messages of validate/render/schema."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from click.testing import CliRunner

from conftest import ROOT, SPECS
from slogen import __version__
from slogen.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_version_and_help_on_every_command() -> None:
    assert run("--version").output.strip() == f"slogen, version {__version__}"
    top = run("--help")
    assert top.exit_code == 0 and "Exit codes" in top.output
    names = main.list_commands(click.Context(main))
    assert names == ["backfill", "check", "explain", "export", "gate", "import", "postmortem", "push", "render",
                     "schema", "status", "test", "validate"]
    for name in names:
        assert name in top.output  # listed although not imported yet
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert "Usage:" in result.output
    unknown = run("gaet")
    assert unknown.exit_code == 2 and "No such command 'gaet'" in unknown.output


def test_the_gate_does_not_import_renderers_or_jsonschema() -> None:
    # Startup time of the deploy gate: only the modules a command needs are imported.
    code = ("import sys; from slogen.cli import main\n"
            "try:\n    main(['gate', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('slogen.render', 'jsonschema', "
            "'grafana_foundation_sdk', 'slogen.cli.push', 'rich'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_validate_ok_prints_a_summary() -> None:
    result = run("validate", "-f", str(SPECS / "full.yaml"))
    assert result.exit_code == 0
    assert "valid: 2 services, 5 SLOs" in result.output


def test_validate_invalid_exits_1_with_every_problem(tmp_path) -> None:
    bad = tmp_path / "slos.yaml"
    bad.write_text("version: slogen/v1\nservices:\n  - name: x\n    slos: [{name: a, objective: 101, sli: {}}]\n")
    result = run("validate", "-f", str(bad))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].endswith("slos.yaml: 2 problems")
    assert "Traceback" not in result.output


def test_usage_error_exits_2() -> None:
    assert run("render", "--no-such-flag").exit_code == 2


def test_schema_prints_the_json_schema() -> None:
    result = run("schema")
    schema = json.loads(result.output)
    assert schema["properties"]["version"]["const"] == "slogen/v1"


def test_python_dash_m_works() -> None:
    done = subprocess.run([sys.executable, "-m", "slogen", "validate", "-f", str(ROOT / "slos.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_committed_output_is_fresh() -> None:
    """The repository's own rules/, dashboards/ and provisioning/ match slos.yaml (what CI checks)."""
    result = run("render", "-f", str(ROOT / "slos.yaml"), "-o", str(ROOT), "--check")
    assert result.exit_code == 0, result.output
