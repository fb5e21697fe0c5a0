"""The JSON documents of `status --json` and the gate's `--json FILE` (schemas in docs/status-and-gate.md)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from slogen import conventions as c
from slogen.slo.budget import SLOBudget, Snapshot
from slogen.slo.policy import POLICY

STATUS_SCHEMA = "slogen/status/v1"
GATE_SCHEMA = "slogen/gate/v1"


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
        **({"group": dict(budget.group)} if budget.group else {}),  # grouped SLOs only: one entry per group
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
        "deciding_slo": None if deciding is None else {"service": deciding.service, "slo": deciding.slo,
                                                       **({"group": dict(deciding.group)} if deciding.group else {})},
        "budget_remaining": None if deciding is None else number(deciding.remaining),
        "days_to_exhaustion": None if deciding is None else number(deciding.days_to_exhaustion),
        "slo_target": None if deciding is None else deciding.objective,
        "time_window": None if deciding is None else deciding.window,
        "slos": [slo_detail(b) for b in snapshot.slos],
    }


def dumps(document: dict[str, Any]) -> str:
    """A status or gate document as JSON: indented, with each SLO object on one line.

    As readable as `indent=2` and easy to grep, and faster over many SLOs: Python's C encoder
    only runs without `indent`, so each line is encoded by it (docs/performance.md).
    """
    parts = []
    for key, value in document.items():
        if key == "slos" and isinstance(value, list) and value:
            items = ",\n".join("    " + json.dumps(item) for item in value)
            parts.append(f"  {json.dumps(key)}: [\n{items}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}"
