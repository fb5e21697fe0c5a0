"""Gate messages (issue 19): unknown override values are warned about; an unwritable audit log says so."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from hostile import Reply, hostile, prom_vector

from conftest import SPECS
from slogen import conventions as c
from slogen.cli import main

LABELS = {"service": "api", "slo": "availability"}
EXHAUSTED = prom_vector([({"__name__": c.BUDGET_REMAINING, **LABELS}, "-0.5"),
                         ({"__name__": c.BURN_RATE_1H, **LABELS}, "2")])


def gate(url: str, env: dict[str, str], *args: str):
    return CliRunner().invoke(main, ["gate", "-f", str(SPECS / "minimal.yaml"), "--prometheus-url", url, *args],
                              env={"PROMETHEUS_URL": None, "GITHUB_STEP_SUMMARY": None, **env})


def test_an_unknown_override_value_is_warned_about_and_ignored(tmp_path: Path) -> None:
    with hostile(lambda r: Reply(200, EXHAUSTED)) as server:
        result = gate(server.url, {"OVERRIDE_BUDGET_EXHAUSTED": "maybe", "OVERRIDE_DEPLOY": "off"},
                      "--audit-log", str(tmp_path / "audit.log"))
        yes = gate(server.url, {"OVERRIDE_BUDGET_EXHAUSTED": "Yes", "OVERRIDE_REASON": "hotfix"},
                   "--audit-log", str(tmp_path / "audit.log"))
    assert result.exit_code == 3
    assert "warning: OVERRIDE_BUDGET_EXHAUSTED='maybe' is ignored: it is neither true (1, true, yes, on)" in result.stderr
    assert "OVERRIDE_DEPLOY=" not in result.stderr  # off is a known false value
    assert yes.exit_code == 0 and "is ignored" not in yes.stderr


def test_an_unwritable_audit_log_says_what_happened(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with hostile(lambda r: Reply(200, EXHAUSTED)) as server:
        result = gate(server.url, {"OVERRIDE_BUDGET_EXHAUSTED": "true"}, "--audit-log", str(tmp_path / "file/audit"))
    assert result.exit_code == 99
    assert "override refused: cannot write the audit log" in result.stderr
    assert "could not be recorded in the audit log" in result.stderr
    assert "no data, or Prometheus failed" not in result.stderr
