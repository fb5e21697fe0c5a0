"""The errors slogen raises. Library code raises these; only the CLI prints them and exits.

Each class carries the documented exit code of the failure it stands for (README, "Exit codes").
"""

from __future__ import annotations

from dataclasses import dataclass


class SlogenError(Exception):
    """A failure a user can act on; `str(err)` is the one-line message."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in a spec, located in the file and in the document."""

    line: int  # 1-based; 0 when the position is unknown
    column: int  # 1-based
    path: str  # JSON path such as $.services[0].slos[1].objective
    message: str

    def render(self, filename: str) -> str:
        """The problem as `FILE:LINE:COL: PATH: message`."""
        return f"{filename}:{self.line}:{self.column}: {self.path}: {self.message}"


class SpecError(SlogenError):
    """The spec is unreadable or invalid; holds every problem found in one run."""

    exit_code = 1

    def __init__(self, filename: str, problems: list[Problem]) -> None:
        self.filename = filename
        self.problems = sorted(problems)
        super().__init__("\n".join(p.render(filename) for p in self.problems))


class StaleError(SlogenError):
    """`render --check` found committed output that no longer matches the spec."""

    exit_code = 1


class RemoteError(SlogenError):
    """Grafana or Prometheus was unreachable or answered with an error."""

    exit_code = 3


class UndecidedError(SlogenError):
    """The deploy gate cannot decide (no data, Prometheus failed, unknown SLO): never a pass."""

    exit_code = 99
