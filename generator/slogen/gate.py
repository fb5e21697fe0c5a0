"""The deploy gate's policy: texts and exit codes per state, overrides, the audit log, and reports.

Pure apart from `append_audit` and `write_text_atomic`, which write files the CLI names.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import socket
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slogen import conventions as c
from slogen import safefile
from slogen.budget import STATE_ORDER, SLOBudget, Snapshot
from slogen.errors import UndecidedError
from slogen.textsafe import md, md_url

POLICY = {
    "NORMAL": "Deploy freely.",
    "CAUTION": "Deploy, and watch the error budget.",
    "WARNING": "Reliability focus: emergency fixes only, no new features, review every change.",
    "FREEZE": "Deploys blocked: CTO approval needed to override.",
    "EXHAUSTED": "SLO violated: deploys blocked; explicit CTO approval and an audited override needed.",
    c.UNKNOWN: "Cannot decide (no data, or Prometheus failed): deploys blocked until the budget can be read.",
}
EXIT_CODES = {"NORMAL": 0, "CAUTION": 0, "WARNING": 1, "FREEZE": 2, "EXHAUSTED": 3, c.UNKNOWN: 99}
# Each override unlocks exactly one state.
OVERRIDES = {"WARNING": "OVERRIDE_DEPLOY", "FREEZE": "OVERRIDE_DEPLOY_FREEZE",
             "EXHAUSTED": "OVERRIDE_BUDGET_EXHAUSTED"}
REASON_VAR = "OVERRIDE_REASON"
CI_VARS = ("GITHUB_SHA", "GITHUB_RUN_ID", "GITHUB_ACTOR", "GITHUB_REPOSITORY", "CI_PIPELINE_ID",
           "CI_COMMIT_SHA", "BUILD_URL")
DEFAULT_AUDIT_LOG = "deploy-overrides.log"
LOCK_TIMEOUT = 30.0
# SLO lines in the gate's report and step summary. A CI log (and GitHub's 1 MiB step summary)
# with 10,000 healthy SLOs hides the few that matter: above this, the worst are listed and the
# rest counted; `--json FILE` and `status --json` always carry every SLO.
LIST_LIMIT = 50
STATUS_SCHEMA = "slogen/status/v1"
GATE_SCHEMA = "slogen/gate/v1"


class AuditError(UndecidedError):
    """The override could not be recorded, so it is refused."""


AUDIT_REFUSED = "Blocked: the override could not be recorded in the audit log, so it was refused."


TRUE_VALUES = ("1", "true", "yes", "on")  # an override variable counts as set only with one of these
FALSE_VALUES = ("", "0", "false", "no", "off")  # ... and as unset with one of these; anything else: warned about


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_VALUES


def unrecognised_overrides(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(variable, value) of override variables whose value is neither true nor false: ignored, worth a warning."""
    return [(var, env[var]) for var in OVERRIDES.values()
            if var in env and env[var].strip().lower() not in (*TRUE_VALUES, *FALSE_VALUES)]


def override_for(state: str, env: Mapping[str, str]) -> str | None:
    """The override variable that is set and unlocks `state`, if any."""
    var = OVERRIDES.get(state)
    return var if var is not None and _truthy(env.get(var)) else None


def ignored_overrides(state: str, env: Mapping[str, str]) -> list[str]:
    """Override variables that are set but do not apply to `state` (worth a warning)."""
    return [var for s, var in OVERRIDES.items() if s != state and _truthy(env.get(var))]


def number(value: float | None) -> float | None:
    """A float for JSON: None for missing or non-finite values (JSON has no NaN or Infinity)."""
    return value if value is not None and math.isfinite(value) else None


def rfc3339(unix: float) -> str:
    """Unix seconds as RFC 3339 in UTC, with milliseconds only when needed."""
    moment = datetime.fromtimestamp(unix, tz=UTC)
    text = moment.isoformat(timespec="milliseconds" if unix % 1 else "seconds")
    return text.replace("+00:00", "Z")


def slo_detail(budget: SLOBudget) -> dict[str, Any]:
    """One SLO as it appears in `status --json` and in the gate's JSON file."""
    return {
        "service": budget.service,
        "slo": budget.slo,
        "objective": budget.objective,
        "window": budget.window,
        "sli": number(budget.sli),
        "error_budget_remaining": number(budget.remaining),
        "coverage": number(budget.coverage),
        "burn_rate_1h": number(budget.burn_rate_1h),
        "days_to_exhaustion": number(budget.days_to_exhaustion),
        "state": budget.state,
        "unknown_reason": budget.unknown_reason,
        "policy": POLICY[budget.state],
    }


def status_document(snapshot: Snapshot) -> dict[str, Any]:
    """The `status --json` document (schema in docs/status-and-gate.md)."""
    return {"schema": STATUS_SCHEMA, "state": snapshot.state, "time": rfc3339(snapshot.time),
            "slos": [slo_detail(b) for b in snapshot.slos]}


def gate_document(snapshot: Snapshot, exit_code: int, override: str | None,
                  error: str | None = None) -> dict[str, Any]:
    """The gate's `--json FILE` document: the overall decision, the deciding SLO, every SLO."""
    deciding = snapshot.deciding
    return {
        "schema": GATE_SCHEMA,
        "state": snapshot.state if error is None else c.UNKNOWN,
        "exit_code": exit_code,
        "allowed": exit_code == 0,
        "override": override,
        "policy": POLICY[snapshot.state if error is None else c.UNKNOWN],
        "time": rfc3339(snapshot.time),
        "error": error,
        "deciding_slo": None if deciding is None else {"service": deciding.service, "slo": deciding.slo},
        "budget_remaining": None if deciding is None else number(deciding.remaining),
        "days_to_exhaustion": None if deciding is None else number(deciding.days_to_exhaustion),
        "slo_target": None if deciding is None else deciding.objective,
        "time_window": None if deciding is None else deciding.window,
        "slos": [slo_detail(b) for b in snapshot.slos],
    }


def dumps(document: dict[str, Any]) -> str:
    """A status or gate document as JSON: indented, with each SLO object on one line.

    As readable as `indent=2` and easy to grep, and 3× faster over 10,000 SLOs: Python's C
    encoder only runs without `indent`, so each line is encoded by it.
    """
    parts = []
    for key, value in document.items():
        if key == "slos" and isinstance(value, list) and value:
            items = ",\n".join("    " + json.dumps(item) for item in value)
            parts.append(f"  {json.dumps(key)}: [\n{items}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}"


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


SUMMARY_MAX_BYTES = 512 * 1024  # GitHub caps a step's summary at 1 MiB; leave room for the rest of the job
ERROR_MAX = 2000  # characters of an error (a server's text) in the summary


def step_summary(snapshot: Snapshot, exit_code: int, override: str | None, dashboard: str,
                 error: str | None = None) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: state, budget, days left, what is allowed now, the dashboard.

    Every text from the spec or a server is escaped (textsafe.md) and bounded; the whole stays under
    SUMMARY_MAX_BYTES.
    """
    state = c.UNKNOWN if error else snapshot.state
    deciding = snapshot.deciding
    verdict = "allowed" if exit_code == 0 else "blocked"
    lines = [f"## Deploy gate: {state} ({verdict})", ""]
    if deciding is not None:
        lines += [f"- **Budget remaining:** {percent(deciding.remaining)} ({md(deciding.name)})",
                  f"- **Days to exhaustion:** {days_left(deciding)}"]
    lines.append(f"- **Allowed now:** {POLICY[state]}")
    if error:
        lines.append(f"- **Could not decide:** {md(error, ERROR_MAX)}")
    if override:
        lines.append(f"- **Override:** `{override}` was used; the deploy proceeds and was audited.")
    lines += ["", "| service | SLO | objective | budget remaining | burn rate 1h | days left | state |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    shown, note = listed(snapshot)
    for b in shown:
        lines.append(f"| {md(b.service, 100)} | {md(b.slo, 100)} | {b.objective * 100:g}% / {md(b.window, 20)} | "
                     f"{percent(b.remaining)} | {rate(b.burn_rate_1h)} | {days_left(b)} | {b.state} |")
    if note:
        lines += ["", note]  # slogen's own text (counts and names of states)
    link = md_url(dashboard) if dashboard else None
    if link:
        lines += ["", f"[Error budget dashboard]({link})"]
    lines.append("")
    text = "\n".join(lines) + "\n"
    while len(text.encode("utf-8")) > SUMMARY_MAX_BYTES and len(lines) > 4:
        lines = [*lines[: len(lines) * 3 // 4], "", "_(summary cut to stay under GitHub's size limit)_", ""]
        text = "\n".join(lines) + "\n"
    return text


def listed(snapshot: Snapshot, limit: int = LIST_LIMIT) -> tuple[tuple[SLOBudget, ...], str | None]:
    """The SLOs a report lists, and a note on the ones it leaves out (None when it lists them all).

    All of them, in spec order, when they fit in `limit`; otherwise the `limit` worst, worst first.
    """
    if len(snapshot.slos) <= limit:
        return snapshot.slos, None
    shown = snapshot.worst(limit)
    hidden = len(snapshot.slos) - len(shown)
    return shown, (f"{hidden} more SLOs not listed ({state_counts(snapshot.slos, exclude=shown)}); "
                   "every SLO: `slogen gate --json FILE` or `slogen status`")


def state_counts(slos: tuple[SLOBudget, ...], exclude: tuple[SLOBudget, ...] = ()) -> str:
    """`9950 NORMAL, 40 CAUTION`: how many of `slos` (minus `exclude`) are in each state, best first."""
    counts = Counter(b.state for b in slos)
    counts.subtract(b.state for b in exclude)
    return ", ".join(f"{counts[state]} {state}" for state in STATE_ORDER if counts[state] > 0)


def names(slos: tuple[SLOBudget, ...], limit: int = 10) -> str:
    """`a/x, b/y and 9998 more`: SLO names for a one-line message."""
    text = ", ".join(b.name for b in slos[:limit])
    return text if len(slos) <= limit else f"{text} and {len(slos) - limit} more"


def percent(ratio: float | None) -> str:
    """A budget ratio as a percent for people."""
    return "no data" if ratio is None or not math.isfinite(ratio) else f"{ratio * 100:.2f}%"


def days_left(budget: SLOBudget) -> str:
    """Days to exhaustion for people."""
    if budget.state == c.UNKNOWN:
        return "no data"
    value = budget.days_to_exhaustion
    return "never (no burn)" if value is None else f"{value:.1f}"


def rate(value: float | None) -> str:
    """A burn rate for people."""
    return "no data" if value is None else f"{value:.2f}x"


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` via a temp file and rename, so readers never see half a file (never via a link)."""
    safefile.atomic_write(path, text, parents=False)
