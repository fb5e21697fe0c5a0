"""The deploy gate's policy, pure: the text and exit code of each state, and which override unlocks which state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from slogen import conventions as c
from slogen.errors import UndecidedError

POLICY = {
    c.NORMAL: "Deploy freely.",
    c.CAUTION: "Deploy, and watch the error budget.",
    c.WARNING: "Reliability focus: emergency fixes only, no new features, review every change.",
    c.FREEZE: "Deploys blocked: CTO approval needed to override.",
    c.EXHAUSTED: "SLO violated: deploys blocked; explicit CTO approval and an audited override needed.",
    c.UNKNOWN: "Cannot decide (no data, or Prometheus failed): deploys blocked until the budget can be read.",
}
EXIT_CODES = {c.NORMAL: 0, c.CAUTION: 0, c.WARNING: 1, c.FREEZE: 2, c.EXHAUSTED: 3, c.UNKNOWN: UndecidedError.exit_code}
# Each override unlocks exactly one state.
OVERRIDES = {c.WARNING: "OVERRIDE_DEPLOY", c.FREEZE: "OVERRIDE_DEPLOY_FREEZE",
             c.EXHAUSTED: "OVERRIDE_BUDGET_EXHAUSTED"}
REASON_VAR = "OVERRIDE_REASON"

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


def state_of_override(var: str) -> str:
    """The one state the override variable `var` unlocks."""
    return next(state for state, name in OVERRIDES.items() if name == var)


@dataclass(frozen=True)
class Decision:
    """What the gate decides for one state and environment, before anything is recorded."""

    state: str
    exit_code: int  # 0 when an override applies, else the state's code
    override: str | None  # the variable that unlocks `state`, when one is set
    unrecognised: tuple[tuple[str, str], ...] = ()  # (variable, value): neither true nor false, so ignored
    ignored: tuple[str, ...] = ()  # override variables that are set but unlock another state


def decide(state: str, env: Mapping[str, str]) -> Decision:
    """The gate's decision for `state` given the environment's override variables (pure)."""
    override = override_for(state, env)
    return Decision(state, 0 if override else EXIT_CODES[state], override,
                    tuple(unrecognised_overrides(env)), tuple(ignored_overrides(state, env)))
