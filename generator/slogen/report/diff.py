"""The one unified diff slogen shows people (`render --check`, `push --dry-run`): cut to a number of lines."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def truncated_diff(old: Sequence[str], new: Sequence[str], old_name: str, new_name: str, *, context: int = 2,
                   max_lines: int = 40) -> str:
    """A unified diff of two lists of lines, at most `max_lines` lines and a note counting the rest."""
    lines = list(difflib.unified_diff(old, new, old_name, new_name, n=context, lineterm=""))
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"... ({len(lines) - max_lines} more diff lines)"]
    return "\n".join(lines)
