"""The gate's sequence once the state is known: decision → audit of an override → `--json FILE` → step summary.

The decision itself is pure (`slogen.slo.policy.decide`); this module records it and returns a
`GateOutcome` for the CLI to print.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slogen import conventions as c
from slogen import safefile
from slogen.errors import UndecidedError
from slogen.report.documents import dumps, gate_document, number, rfc3339
from slogen.report.summary import step_summary
from slogen.slo.budget import Snapshot
from slogen.slo.policy import EXIT_CODES, REASON_VAR, Decision

CI_VARS = ("GITHUB_SHA", "GITHUB_RUN_ID", "GITHUB_ACTOR", "GITHUB_REPOSITORY", "CI_PIPELINE_ID",
           "CI_COMMIT_SHA", "BUILD_URL")
DEFAULT_AUDIT_LOG = "deploy-overrides.log"
LOCK_TIMEOUT = 30.0


class AuditError(UndecidedError):
    """The override could not be recorded, so it is refused."""


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry, no USER (minimal containers)
        return f"uid:{os.getuid()}"


def audit_record(snapshot: Snapshot, override: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The JSON object one override appends to the audit log."""
    deciding = snapshot.deciding
    return {
        "time": rfc3339(datetime.now(tz=UTC).timestamp()),
        "user": _user(),
        "host": socket.gethostname(),
        "override": override,
        "state": snapshot.state,
        "budget_remaining": None if deciding is None else number(deciding.remaining),
        "service": None if deciding is None else deciding.service,
        "slo": None if deciding is None else deciding.slo,
        "evaluated_at": rfc3339(snapshot.time),
        "reason": env.get(REASON_VAR) or None,
        "ci": {var: env[var] for var in CI_VARS if env.get(var)},
    }


def append_audit(path: str | os.PathLike[str], record: Mapping[str, Any], timeout: float = LOCK_TIMEOUT) -> None:
    """Append `record` as one JSON line, under an exclusive lock; AuditError if that is impossible."""
    import filelock  # imported here: only an override needs it, and the gate's startup should not pay for it

    line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
    target = Path(path)
    try:
        with filelock.FileLock(str(target) + ".lock", timeout=timeout):
            safefile.append(target, line, what="the audit log")  # one write, under the lock: never interleaved
    except safefile.UnsafePathError as exc:
        raise AuditError(f"override refused: {exc}") from None
    except filelock.Timeout:
        raise AuditError(f"override refused: the audit log {target} stayed locked for {timeout:g}s") from None
    except OSError as exc:
        raise AuditError(f"override refused: cannot write the audit log {target}: "
                         f"{exc.strerror or exc}") from None


@dataclass(frozen=True)
class GateFiles:
    """Where the gate records its decision: the audit log, `--json FILE`, the step summary (None: not asked)."""

    audit_log: str
    json_file: str | None = None
    summary: str | None = None  # $GITHUB_STEP_SUMMARY
    dashboard: str = ""  # the error-budget dashboard the summary links to


@dataclass(frozen=True)
class GateOutcome:
    """The gate's decision once carried out: the exit code, and what went wrong on the way.

    `refused` is set when an override could not be audited (the deploy is then blocked, exit 99);
    `failure` when `--json FILE` could not be written (exit 99 too). `notices` are warnings about the
    step summary, which is a courtesy and never changes the exit code.
    """

    snapshot: Snapshot
    decision: Decision
    exit_code: int
    refused: str | None = None
    failure: str | None = None
    notices: tuple[str, ...] = ()


def carry_out(snapshot: Snapshot, decision: Decision, env: Mapping[str, str], files: GateFiles) -> GateOutcome:
    """Audit the override (if any), then write `--json FILE` and the step summary: the gate's sequence."""
    undecided = EXIT_CODES[c.UNKNOWN]
    if decision.override:
        try:
            append_audit(files.audit_log, audit_record(snapshot, decision.override, env))
        except AuditError as exc:
            notices = record_undecided(str(exc), snapshot, files)
            return GateOutcome(snapshot, decision, undecided, refused=str(exc), notices=notices)
    if files.json_file:
        try:
            write_json(files.json_file, gate_document(snapshot, decision.exit_code, decision.override))
        except UndecidedError as exc:
            return GateOutcome(snapshot, decision, undecided, failure=str(exc))
    notices = write_summary(files, snapshot, decision.exit_code, decision.override)
    return GateOutcome(snapshot, decision, decision.exit_code, notices=notices)


def record_undecided(message: str, snapshot: Snapshot, files: GateFiles) -> tuple[str, ...]:
    """Record "could not decide" (exit 99) in `--json FILE` and the step summary; the lines to warn with."""
    code = EXIT_CODES[c.UNKNOWN]
    notices: list[str] = []
    if files.json_file:
        try:
            write_json(files.json_file, gate_document(snapshot, code, None, error=message))
        except UndecidedError as exc:
            notices.append(f"error: {exc}")
    return (*notices, *write_summary(files, snapshot, code, None, error=message))


def write_json(path: str, document: dict[str, Any]) -> None:
    """Write the gate's `--json FILE` atomically; UndecidedError when that is impossible."""
    try:
        safefile.atomic_write(path, dumps(document) + "\n", parents=False)
    except OSError as exc:
        raise UndecidedError(f"cannot write --json {path}: {exc.strerror or exc}") from None


def write_summary(files: GateFiles, snapshot: Snapshot, code: int, override: str | None,
                  error: str | None = None) -> tuple[str, ...]:
    """Append the step summary when one is asked for; warnings (never errors) when it cannot be written."""
    if not files.summary:
        return ()
    text = step_summary(snapshot, code, override, files.dashboard, error=error)
    try:
        safefile.append(files.summary, text, what="GITHUB_STEP_SUMMARY")
    except safefile.UnsafePathError as exc:  # the summary is a courtesy; the exit code is the decision
        return (f"warning: not written: {exc}",)
    except OSError as exc:
        return (f"warning: cannot write GITHUB_STEP_SUMMARY {files.summary}: {exc.strerror or exc}",)
    return ()
