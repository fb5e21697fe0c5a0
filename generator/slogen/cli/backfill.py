"""`slogen backfill`: TSDB blocks of slogen's recording rules over past time (docs/backfill.md)."""

from __future__ import annotations

import shutil
import time

import click

from slogen.cli.common import HttpUrl, fail, handle_errors, load_spec, spec_option
from slogen.cli.notices import retry_notice
from slogen.cli.status import TimeParam
from slogen.clients.prometheus import DEFAULT_URL, PrometheusClient, display_url
from slogen.services import backfill as backfill_service
from slogen.slo import budget

DEFAULT_TIMEOUT = 120.0  # range queries over weeks of raw counters take longer than status' instant reads


@click.command()
@spec_option
@click.option("--from", "start", type=TimeParam(), required=True,
              help="Start of the history to compute (RFC 3339 or unix seconds); one SLO period back for a "
                   "whole budget.")
@click.option("--to", "end", type=TimeParam(), help="End of the history (default: now).")
@click.option("--output-dir", required=True, type=click.Path(file_okay=False),
              help="New or empty directory for the blocks.")
@click.option("--service", help="Only this service.")
@click.option("--slo", "slo_name", help="Only SLOs with this name.")
@click.option("--promtool", default=None, help="promtool to create the blocks with (default: promtool on PATH).")
@click.option("--prometheus-url", envvar="PROMETHEUS_URL", default=DEFAULT_URL, show_default=True, type=HttpUrl(),
              help="Prometheus holding the raw counters (env PROMETHEUS_URL).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
              show_default=True, metavar="SEC", help="Seconds per Prometheus query.")
@handle_errors
def backfill(spec_path: str, start: float, end: float | None, output_dir: str, service: str | None,
             slo_name: str | None, promtool: str | None, prometheus_url: str, timeout: float) -> None:
    """Write TSDB blocks of every recording rule over [--from, --to], computed from raw counters.

    Move the blocks into Prometheus' data directory and restart it (docs/backfill.md): the budget
    then covers the whole history at once. Exit 0 written; 1 invalid spec, unusable output
    directory or promtool failed; 2 bad usage; 3 Prometheus failed.
    """
    now = time.time()
    end = now if end is None else end
    if end > now + 60:
        fail("--to is in the future", 2)
    if end <= start:
        fail("--from must be earlier than --to", 2)
    tool = promtool or shutil.which("promtool")
    if tool is None:
        fail("promtool is not on PATH (it comes with Prometheus); give its path with --promtool", 1)
        return
    spec = load_spec(spec_path)
    slos = budget.select(spec, service, slo_name)
    with PrometheusClient(prometheus_url, timeout=timeout, on_retry=retry_notice) as client:
        report = backfill_service.run(spec, slos, client, start, end, output_dir, tool)
    lines = [f"backfill from {display_url(prometheus_url)}: {report.samples} samples in "
             f"{len(report.blocks)} block(s) in {output_dir}"]
    for group in report.groups:
        note = f", {group.held_back} held back (already recorded live)" if group.held_back else ""
        lines.append(f"  {group.name} (every {group.interval}s): {group.series} series, {group.samples} samples{note}")
    for group in report.empty_groups:
        lines.append(f"note: {group.name} has no evaluation in the span before the live rules took over "
                     f"(it runs every {group.interval}s); later stages were computed from the raw counters anyway")
    if report.blocks:
        lines.append("next: stop Prometheus, move these block directories into its --storage.tsdb.path, "
                     "start it (docs/backfill.md)")
    click.echo("\n".join(lines))


COMMANDS = (backfill,)
