"""The gate's decision as a pure function of a state and the environment, and its sequence, without HTTP.

Expectations are written out from docs/status-and-gate.md (exit codes, one override per state),
not read back from slogen's tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slogen.services import gate as gate_service
from slogen.slo import policy
from slogen.slo.budget import SLOBudget, Snapshot

DOCUMENTED = {"NORMAL": 0, "CAUTION": 0, "WARNING": 1, "FREEZE": 2, "EXHAUSTED": 3, "UNKNOWN": 99}
OWN = {"WARNING": "OVERRIDE_DEPLOY", "FREEZE": "OVERRIDE_DEPLOY_FREEZE", "EXHAUSTED": "OVERRIDE_BUDGET_EXHAUSTED"}


def _snapshot(state: str, remaining: float | None = 0.1) -> Snapshot:
    slo = SLOBudget(service="api", slo="availability", objective=0.999, window="30d", window_days=30,
                    error_ratio=None, remaining=remaining, burn_rate_1h=2.0, days_to_exhaustion=1.5, state=state)
    return Snapshot(1_795_000_000.0, (slo,))


@pytest.mark.parametrize("state", DOCUMENTED)
def test_without_overrides_the_exit_code_is_the_states(state: str) -> None:
    decision = policy.decide(state, {})
    assert (decision.state, decision.exit_code, decision.override) == (state, DOCUMENTED[state], None)
    assert decision.unrecognised == () and decision.ignored == ()


@pytest.mark.parametrize("state", DOCUMENTED)
@pytest.mark.parametrize("var", sorted(OWN.values()))
def test_an_override_passes_only_its_own_state_and_the_others_are_reported(state: str, var: str) -> None:
    decision = policy.decide(state, {var: "yes"})
    if OWN.get(state) == var:
        assert (decision.exit_code, decision.override, decision.ignored) == (0, var, ())
    else:
        assert (decision.exit_code, decision.override, decision.ignored) == (DOCUMENTED[state], None, (var,))


def test_unknown_is_never_overridden_and_odd_values_are_reported() -> None:
    env = {**dict.fromkeys(OWN.values(), "1"), "OVERRIDE_DEPLOY_FREEZE": "maybe"}
    decision = policy.decide("UNKNOWN", env)
    assert decision.exit_code == 99 and decision.override is None
    assert decision.unrecognised == (("OVERRIDE_DEPLOY_FREEZE", "maybe"),)
    assert set(decision.ignored) == {"OVERRIDE_DEPLOY", "OVERRIDE_BUDGET_EXHAUSTED"}


def test_carry_out_audits_the_override_then_writes_the_json_and_summary(tmp_path: Path) -> None:
    snap = _snapshot("FREEZE")
    env = {"OVERRIDE_DEPLOY_FREEZE": "true", "OVERRIDE_REASON": "hotfix"}
    files = gate_service.GateFiles(str(tmp_path / "audit.log"), str(tmp_path / "gate.json"),
                                   str(tmp_path / "summary.md"), "http://grafana/d/x")
    outcome = gate_service.carry_out(snap, policy.decide("FREEZE", env), env, files)
    assert (outcome.exit_code, outcome.refused, outcome.failure, outcome.notices) == (0, None, None, ())
    (record,) = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert (record["override"], record["state"], record["reason"]) == ("OVERRIDE_DEPLOY_FREEZE", "FREEZE", "hotfix")
    document = json.loads((tmp_path / "gate.json").read_text())
    assert (document["exit_code"], document["allowed"], document["override"]) == (0, True, "OVERRIDE_DEPLOY_FREEZE")
    assert "## Deploy gate: FREEZE (allowed)" in (tmp_path / "summary.md").read_text()


def test_an_override_that_cannot_be_audited_blocks_with_99(tmp_path: Path) -> None:
    (tmp_path / "audit.log").mkdir()  # a directory where the log should be: the append fails
    env = {"OVERRIDE_DEPLOY": "true"}
    files = gate_service.GateFiles(str(tmp_path / "audit.log"), str(tmp_path / "gate.json"))
    outcome = gate_service.carry_out(_snapshot("WARNING"), policy.decide("WARNING", env), env, files)
    assert outcome.exit_code == 99 and outcome.refused and "override refused" in outcome.refused
    document = json.loads((tmp_path / "gate.json").read_text())
    assert (document["exit_code"], document["allowed"], document["state"]) == (99, False, "UNKNOWN")


def test_an_unwritable_json_file_is_a_failure_not_a_pass(tmp_path: Path) -> None:
    files = gate_service.GateFiles(str(tmp_path / "audit.log"), str(tmp_path / "missing" / "gate.json"))
    outcome = gate_service.carry_out(_snapshot("NORMAL", 0.9), policy.decide("NORMAL", {}), {}, files)
    assert outcome.exit_code == 99 and outcome.failure and "cannot write --json" in outcome.failure
    assert not (tmp_path / "audit.log").exists()  # no override, nothing audited
