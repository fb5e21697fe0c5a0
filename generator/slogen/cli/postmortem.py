"""`slogen postmortem new`: a blameless postmortem skeleton with the budget impact measured."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import click

from slogen.cli.common import HttpUrl, beside_spec, fail, handle_errors, load_spec, spec_option
from slogen.cli.notices import retry_notice
from slogen.cli.status import TimeParam
from slogen.clients.prometheus import DEFAULT_TIMEOUT, DEFAULT_URL
from slogen.report import formats
from slogen.report import postmortem as pm
from slogen.services import postmortem as pm_service
from slogen.slo import budget

POSTMORTEM_DIR = "docs/postmortems"


@click.group()
def postmortem() -> None:
    """Write postmortems (process: docs/postmortems/README.md)."""


@postmortem.command("new")
@click.argument("title")
@spec_option
@click.option("--service", help="The affected service (default: every service in the spec).")
@click.option("--from", "start", type=TimeParam(), help="Incident start: RFC 3339 with a zone, or unix seconds.")
@click.option("--to", "end", type=TimeParam(), help="Incident end; with --from, the budget impact is measured.")
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False),
              help=f"Where the postmortem is written (default: {POSTMORTEM_DIR} beside the spec).")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]),
              help="Date in the file name and header (default: today, UTC).")
@click.option("--prometheus-url", envvar="PROMETHEUS_URL", default=DEFAULT_URL, show_default=True, type=HttpUrl(),
              help="Prometheus to read the budget from (env PROMETHEUS_URL).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
              show_default=True, help="Seconds per Prometheus query.")
@handle_errors
def new(title: str, spec_path: str, service: str | None, start: float | None, end: float | None,
        directory: str | None, day: datetime | None, prometheus_url: str, timeout: float) -> None:
    """Write docs/postmortems/YYYY-MM-DD-TITLE.md from the template; never overwrites.

    With --from and --to, the error-budget impact table is filled from Prometheus: budget
    remaining before the incident, at its end and now, the budget consumed and the resulting
    deploy state. Exit 0 written; 1 the file exists or the spec is invalid; 2 bad usage;
    3 Prometheus failed.
    """
    if (start is None) != (end is None):
        fail("--from and --to go together: give both to measure the budget impact, or neither", 2)
    if start is not None and end is not None and end <= start:
        fail("--to must be later than --from", 2)
    spec = load_spec(spec_path)
    slos = budget.select(spec, service)
    written_on: date = day.date() if day else datetime.now(UTC).date()
    impact = None
    if start is not None and end is not None:
        now = time.time()
        if end > now:
            fail("--to is in the future: measure the impact once the incident is over", 2)
        impact = pm_service.measure_at(spec, slos, prometheus_url, start, end, now, timeout=timeout,
                                       service=service, on_retry=retry_notice)
    text = pm.document(title, written_on, spec, slos, impact)
    path = pm_service.write(beside_spec(spec_path, directory, POSTMORTEM_DIR), pm.filename(title, written_on), text)
    click.echo(f"wrote {path}")
    if impact is not None:
        for row in impact.rows:
            click.echo(f"  {row.name}: budget {formats.percent(row.before, sep=' ')} -> "
                       f"{formats.percent(row.after, sep=' ')} "
                       f"({formats.points(row.consumed_points)} consumed), state at end {row.state_after}")
        click.echo(f"  resulting deploy state: {impact.state_after}")


COMMANDS = (postmortem,)
