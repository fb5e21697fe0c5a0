"""Messages the clients report while they work (retries), printed to stderr for the user to see."""

from __future__ import annotations

import click


def retry_notice(delay: float, cause: str, what: str) -> None:
    """`warning: GET /api/health: retrying in 2 s (503)`: a retry is never silent."""
    shown = f"{delay:.0f}" if delay >= 1.95 else f"{delay:.1f}".rstrip("0").rstrip(".")
    click.echo(f"warning: {what}: retrying in {shown} s ({cause})", err=True)
