"""The gate's policy: exit codes and texts, overrides, the audit log (locking, refusal), JSON and
markdown reports (pure, plus real files and processes; no Prometheus)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import filelock
import pytest

from slogen import conventions as c
from slogen import safefile
from slogen.cli.status import TimeParam
from slogen.report import documents
from slogen.report import summary as summary_report
from slogen.services import gate as gate_service
from slogen.slo import policy
from slogen.slo.budget import SLOBudget, Snapshot

STATES = (*c.STATES, c.UNKNOWN)


def _budget(name: str, remaining: float | None, state: str, burn: float | None = 1.0,
            days: float | None = 3.0) -> SLOBudget:
    return SLOBudget(service=name, slo="availability", objective=0.999, window="30d", window_days=30,
                     error_ratio=None if remaining is None else (1 - remaining) * 0.001, remaining=remaining,
                     burn_rate_1h=burn, days_to_exhaustion=days, state=state)


SNAP = Snapshot(1_795_000_000.0, (_budget("a", 0.9, "NORMAL", burn=0.0, days=None),
                                  _budget("b", 0.35, "WARNING", burn=2.0, days=5.25),
                                  _budget("c", 0.4, "WARNING")))


def test_every_state_has_an_exit_code_and_a_policy_text() -> None:
    assert policy.EXIT_CODES == {"NORMAL": 0, "CAUTION": 0, "WARNING": 1, "FREEZE": 2, "EXHAUSTED": 3, "UNKNOWN": 99}
    assert set(policy.POLICY) == set(STATES)
    assert "deploy freely" in policy.POLICY["NORMAL"].lower()
    assert "emergency fixes only" in policy.POLICY["WARNING"] and "no new features" in policy.POLICY["WARNING"]
    assert "CTO approval" in policy.POLICY["FREEZE"] and "audit" in policy.POLICY["EXHAUSTED"]


@pytest.mark.parametrize("state", STATES)
def test_each_override_unlocks_only_its_own_state(state: str) -> None:
    for var, own in (("OVERRIDE_DEPLOY", "WARNING"), ("OVERRIDE_DEPLOY_FREEZE", "FREEZE"),
                     ("OVERRIDE_BUDGET_EXHAUSTED", "EXHAUSTED")):
        assert policy.override_for(state, {var: "true"}) == (var if state == own else None)
        assert policy.ignored_overrides(state, {var: "TRUE"}) == ([] if state == own else [var])
    assert policy.override_for(state, {}) is None


@pytest.mark.parametrize(("value", "on"), [("true", True), ("1", True), ("yes", True), (" True ", True),
                                           ("false", False), ("0", False), ("", False), ("maybe", False)])
def test_override_values(value: str, on: bool) -> None:
    assert (policy.override_for("FREEZE", {"OVERRIDE_DEPLOY_FREEZE": value}) is not None) is on


def test_audit_record_carries_who_what_why_and_ci_context() -> None:
    env = {"OVERRIDE_REASON": "hotfix for INC-42", "GITHUB_SHA": "abc123", "GITHUB_RUN_ID": "77",
           "GITHUB_ACTOR": "octo", "CI_PIPELINE_ID": "", "BUILD_URL": "https://ci/1"}
    record = gate_service.audit_record(SNAP, "OVERRIDE_DEPLOY", env)
    assert record["state"] == "WARNING" and record["override"] == "OVERRIDE_DEPLOY"
    assert (record["service"], record["slo"], record["budget_remaining"]) == ("b", "availability", 0.35)
    assert record["reason"] == "hotfix for INC-42"
    assert record["ci"] == {"GITHUB_SHA": "abc123", "GITHUB_RUN_ID": "77", "GITHUB_ACTOR": "octo",
                            "BUILD_URL": "https://ci/1"}
    assert record["user"] and record["host"] and record["time"].endswith("Z")
    assert record["evaluated_at"] == "2026-11-18T11:06:40Z"
    assert gate_service.audit_record(SNAP, "OVERRIDE_DEPLOY", {})["reason"] is None


def test_append_audit_writes_one_parseable_line_each(tmp_path: Path) -> None:
    log = tmp_path / "deploy-overrides.log"
    gate_service.append_audit(log, {"n": 1, "text": "ünïcode"})
    gate_service.append_audit(log, {"n": 2})
    assert [json.loads(line) for line in log.read_text().splitlines()] == [{"n": 1, "text": "ünïcode"}, {"n": 2}]


def _writer(path: str, worker: int, count: int) -> None:
    for i in range(count):  # big lines: without the lock, concurrent appends could tear them
        gate_service.append_audit(path, {"worker": worker, "i": i, "pad": str(worker) * 20_000})


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    log = tmp_path / "deploy-overrides.log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(log), w, 10)) for w in range(12)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted((r["worker"], r["i"]) for r in records) == [(w, i) for w in range(12) for i in range(10)]
    assert all(r["pad"] == str(r["worker"]) * 20_000 for r in records)


@pytest.mark.parametrize("where", ["parent-is-a-file", "is-a-directory"])
def test_an_unwritable_audit_log_refuses_the_override(tmp_path: Path, where: str) -> None:
    # Tests run as root, so file modes would not stop the write; use paths no one can write.
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    path = tmp_path / "file" / "log" if where == "parent-is-a-file" else tmp_path / "dir"
    with pytest.raises(gate_service.AuditError, match="override refused: cannot write the audit log") as err:
        gate_service.append_audit(path, {"n": 1})
    assert err.value.exit_code == 99


def test_a_stuck_lock_refuses_the_override(tmp_path: Path) -> None:
    log = tmp_path / "deploy-overrides.log"
    with filelock.FileLock(str(log) + ".lock"), pytest.raises(gate_service.AuditError, match="stayed locked"):
        gate_service.append_audit(log, {"n": 1}, timeout=0.2)
    assert not log.exists()


def test_status_document_schema() -> None:
    doc = documents.status_document(SNAP)
    assert list(doc) == ["schema", "state", "time", "slos"]
    assert (doc["schema"], doc["state"], doc["time"]) == ("slogen/status/v1", "WARNING", "2026-11-18T11:06:40Z")
    assert doc["slos"][0] == {"service": "a", "slo": "availability", "objective": 0.999, "window": "30d",
                              "sli": pytest.approx(0.9999), "error_budget_remaining": 0.9, "coverage": None,
                              "burn_rate_1h": 0.0, "days_to_exhaustion": None, "state": "NORMAL",
                              "unknown_reason": None, "policy": policy.POLICY["NORMAL"]}
    unknown = documents.status_document(Snapshot(0.5, (_budget("x", None, c.UNKNOWN, burn=None, days=None),)))
    assert unknown["time"] == "1970-01-01T00:00:00.500Z"
    assert unknown["slos"][0]["sli"] is None and unknown["slos"][0]["error_budget_remaining"] is None
    json.dumps(unknown, allow_nan=False)


def test_gate_document_names_the_deciding_slo() -> None:
    doc = documents.gate_document(SNAP, 1, None)
    assert (doc["state"], doc["exit_code"], doc["allowed"], doc["override"]) == ("WARNING", 1, False, None)
    assert doc["deciding_slo"] == {"service": "b", "slo": "availability"}  # the least budget among WARNING
    assert (doc["budget_remaining"], doc["days_to_exhaustion"], doc["slo_target"], doc["time_window"]) == (
        0.35, 5.25, 0.999, "30d")
    assert len(doc["slos"]) == 3 and doc["error"] is None
    failed = documents.gate_document(Snapshot(0.0, ()), 99, None, error="boom")
    assert (failed["state"], failed["budget_remaining"], failed["error"], failed["slos"]) == ("UNKNOWN", None, "boom", [])
    json.dumps(failed, allow_nan=False)


def test_step_summary_says_state_budget_days_what_is_allowed_and_links_the_dashboard() -> None:
    text = summary_report.step_summary(SNAP, 0, "OVERRIDE_DEPLOY", "http://grafana:3000/d/error-budget-slo")
    assert text.startswith("## Deploy gate: WARNING (allowed)\n")
    assert "**Budget remaining:** 35.00% (b/availability)" in text
    assert "**Days to exhaustion:** 5.2" in text
    assert f"**Allowed now:** {policy.POLICY['WARNING']}" in text
    assert "`OVERRIDE_DEPLOY` was used" in text
    assert "| a | availability | 99.9% / 30d | 90.00% | 0.00x | never (no burn) | NORMAL |" in text
    assert "[Error budget dashboard](http://grafana:3000/d/error-budget-slo)" in text
    failed = summary_report.step_summary(Snapshot(0.0, ()), 99, None, "", error="Prometheus down")
    assert failed.startswith("## Deploy gate: UNKNOWN (blocked)") and "**Could not decide:** Prometheus down" in failed


def _many(count: int) -> Snapshot:
    """`count` SLOs: most NORMAL, a few in worse states scattered through the spec order."""
    slos = []
    for i in range(count):
        state, remaining = "NORMAL", 0.9 + (i % 7) / 100
        if i % 997 == 5:
            state, remaining = "WARNING", 0.3 + (i % 10) / 100
        if i in (4321, 17):
            state, remaining = ("FREEZE", 0.05) if i == 17 else ("EXHAUSTED", -0.2)
        if i % 500 == 250:
            state, remaining = "CAUTION", 0.6
        slos.append(_budget(f"svc-{i:05d}", remaining, state))
    return Snapshot(1_795_000_000.0, tuple(slos))


def test_reports_list_every_slo_in_spec_order_when_they_fit() -> None:
    shown, note = summary_report.listed(SNAP)
    assert shown == SNAP.slos and note is None
    snap = _many(summary_report.LIST_LIMIT)
    assert summary_report.listed(snap) == (snap.slos, None)


def test_reports_over_many_slos_list_the_worst_and_count_the_rest() -> None:
    snap = _many(10_000)
    shown, note = summary_report.listed(snap)
    assert len(shown) == summary_report.LIST_LIMIT
    # Independent expectation: sort everything by (state worse first, less budget first).
    order = {s: i for i, s in enumerate(STATES)}
    expected = sorted(snap.slos, key=lambda b: (-order[b.state], b.remaining))[:summary_report.LIST_LIMIT]
    assert shown == tuple(expected)
    assert [b.state for b in shown[:2]] == ["EXHAUSTED", "FREEZE"]
    counts = {s: sum(b.state == s for b in snap.slos) - sum(b.state == s for b in shown) for s in STATES}
    assert note is not None and note.startswith(f"{10_000 - summary_report.LIST_LIMIT} more SLOs not listed (")
    assert ", ".join(f"{n} {s}" for s, n in counts.items() if n) in note
    summary = summary_report.step_summary(snap, 3, None, "http://grafana/d/x")
    assert summary.count("\n| svc-") == summary_report.LIST_LIMIT and note in summary
    assert len(summary.encode()) < 20_000  # GitHub caps a step summary at 1 MiB


def test_names_are_capped_for_one_line_messages() -> None:
    snap = _many(25)
    assert summary_report.names(snap.slos[:2]) == "svc-00000/availability, svc-00001/availability"
    assert summary_report.names(snap.slos).endswith(", svc-00009/availability and 15 more")


def test_write_text_atomic_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "gate.json"
    safefile.atomic_write(target, "one", parents=False)
    safefile.atomic_write(target, "two", parents=False)
    assert target.read_text() == "two" and [p.name for p in tmp_path.iterdir()] == ["gate.json"]


@pytest.mark.parametrize(("text", "unix"), [
    ("1795000000", 1_795_000_000.0), ("1795000000.25", 1_795_000_000.25),
    ("2026-11-18T11:06:40Z", 1_795_000_000.0), ("2026-11-18T12:06:40+01:00", 1_795_000_000.0),
    ("2026-11-18T11:06:40.5Z", 1_795_000_000.5),
])
def test_time_option_accepts_rfc3339_and_unix_seconds(text: str, unix: float) -> None:
    assert TimeParam().convert(text, None, None) == unix


@pytest.mark.parametrize(("text", "message"), [("yesterday", "neither RFC 3339"),
                                               ("2026-11-18T11:06:40", "no time zone")])
def test_time_option_rejects_what_it_cannot_place(text: str, message: str) -> None:
    import click
    with pytest.raises(click.BadParameter, match=message):
        TimeParam().convert(text, None, None)


def test_documents_are_indented_json_with_one_slo_per_line() -> None:
    document = documents.gate_document(SNAP, 1, None)
    text = documents.dumps(document)
    assert json.loads(text) == json.loads(json.dumps(document))  # the same data, key order kept
    assert list(json.loads(text)) == list(document)
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and lines[1] == '  "schema": "slogen/gate/v1",'
    assert sum(line.startswith('    {"service": ') for line in lines) == len(SNAP.slos)
    empty = documents.status_document(Snapshot(0.0, ()))
    assert json.loads(documents.dumps(empty)) == empty
