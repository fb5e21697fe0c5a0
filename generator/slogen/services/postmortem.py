"""Blameless postmortems: the measured budget impact, and the file created, never replaced.

`measure` reads each SLO's error budget remaining from Prometheus (the recorded series, through
`services.status.fetch`) at the start of the incident, at its end and now; `write` creates the file
that `slogen.report.postmortem.document` renders (the process: docs/postmortems/README.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from slogen.clients.http import RetryCallback
from slogen.clients.prometheus import PrometheusClient
from slogen.errors import SlogenError
from slogen.model import SLO, Spec
from slogen.report.postmortem import Impact, Row
from slogen.services import status as status_service


class PostmortemExistsError(SlogenError):
    """The postmortem file already exists; slogen never overwrites one."""

    exit_code = 1


def measure(spec: Spec, slos: Sequence[SLO], client: PrometheusClient, start: float, end: float,
            now: float, service: str | None = None) -> Impact:
    """Read every SLO's budget at `start`, `end` and `now` (three queries; PrometheusError on failure)."""
    before, after, current = (status_service.fetch(slos, spec.policy, client, at, service=service)
                              for at in (start, end, now))
    rows = tuple(
        Row(b.name, b.objective, b.remaining, a.remaining, n.remaining, a.state, n.state)
        for b, a, n in zip(before.slos, after.slos, current.slos, strict=True)
    )
    return Impact(start, end, now, client.shown_url, rows)


def measure_at(spec: Spec, slos: Sequence[SLO], url: str, start: float, end: float, now: float, *,
               timeout: float, service: str | None = None, on_retry: RetryCallback | None = None) -> Impact:
    """`measure` against the Prometheus at `url` (the client opened and closed here)."""
    with PrometheusClient(url, timeout=timeout, on_retry=on_retry) as client:
        return measure(spec, slos, client, start, end, now, service=service)


def write(directory: str | os.PathLike[str], name: str, text: str) -> Path:
    """Create `directory/name` with `text`; PostmortemExistsError if it exists (never overwritten)."""
    folder = Path(directory)
    path = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Exclusive create: even two concurrent runs cannot replace each other's file.
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        if path.exists():
            raise PostmortemExistsError(f"{path} already exists; slogen never overwrites a postmortem "
                                        "(edit it, or choose another title or --date)") from None
        raise SlogenError(f"cannot create the directory {folder}: a file is in the way") from None
    except OSError as exc:
        raise SlogenError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
