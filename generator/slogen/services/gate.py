"""The gate's side effects: the audit log of overrides and the `--json FILE` write."""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slogen import safefile
from slogen.errors import UndecidedError
from slogen.report.documents import number, rfc3339
from slogen.slo.budget import Snapshot
from slogen.slo.policy import REASON_VAR

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
    import filelock  # imported here: only an override needs it, and it costs ~50 ms at startup

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


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` via a temp file and rename, so readers never see half a file (never via a link)."""
    safefile.atomic_write(path, text, parents=False)
