"""`slogen check`: the spec's validation and lint; with `--live`, what the live Prometheus holds (docs/check.md)."""

from __future__ import annotations

import json
import sys
import time

import click

from slogen.cli.common import HttpUrl, fail, handle_errors, load_spec, spec_option
from slogen.cli.notices import retry_notice
from slogen.clients.prometheus import DEFAULT_TIMEOUT, DEFAULT_URL, PrometheusClient
from slogen.report.textsafe import oneline
from slogen.services import check_live
from slogen.slo import budget
from slogen.spec.lint import warnings

MARKS = {check_live.OK: "ok", check_live.PROBLEM: "PROBLEM", check_live.NOTE: "note",
         check_live.PENDING: "pending", check_live.SKIPPED: "skipped"}


@click.command()
@spec_option
@click.option("--live", is_flag=True, help="Also check the live Prometheus: series, buckets, scrape interval, "
                                           "retention, rules loaded.")
@click.option("--service", help="Only this service (--live).")
@click.option("--slo", "slo_name", help="Only SLOs with this name (--live).")
@click.option("--json", "as_json", is_flag=True, help=f"Print the JSON document ({check_live.SCHEMA}).")
@click.option("--prometheus-url", envvar="PROMETHEUS_URL", default=DEFAULT_URL, show_default=True, type=HttpUrl(),
              help="Prometheus to check (env PROMETHEUS_URL).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, metavar="SEC",
              show_default=True, help="Seconds per Prometheus query.")
@handle_errors
def check(spec_path: str, live: bool, service: str | None, slo_name: str | None, as_json: bool,
          prometheus_url: str, timeout: float) -> None:
    """Check the spec (validation and lint warnings); with --live, check each SLO against Prometheus.

    Exit 0 all good; 1 the spec is invalid, a lint warning, or a problem found live (each listed
    with what to do); 2 bad usage; 3 Prometheus failed.
    """
    if not live and (service or slo_name):
        fail("--service and --slo narrow the live checks: add --live", 2)
    spec = load_spec(spec_path)
    lint = warnings(spec)
    report = None
    if live:
        slos = budget.select(spec, service, slo_name)
        with PrometheusClient(prometheus_url, timeout=timeout, on_retry=retry_notice) as client:
            report = check_live.run(spec, slos, client, time.time())
    problems = len(lint) + (report.problems if report else 0)
    if as_json:
        document = {"schema": check_live.SCHEMA, "spec": spec_path, "live": live, "ok": problems == 0,
                    "problems": problems, "lint": lint}
        if report is not None:
            live_doc = report.document()
            document |= {"prometheus": live_doc["prometheus"], "time": live_doc["time"], "slos": live_doc["slos"]}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        lines = [f"lint: {oneline(w, 500)}" for w in lint]
        if report is not None:
            for entry in report.slos:
                lines.append(f"{entry.service}/{entry.slo}: {'ok' if not entry.problems else 'PROBLEMS'}")
                for f in entry.findings:
                    lines.append(f"  {MARKS[f.status]:8} {f.check}: {oneline(f.message, 500)}")
                    if f.status == check_live.PROBLEM and f.fix:
                        lines.append(f"           → {oneline(f.fix, 500)}")
        where = f" against {report.prometheus}" if report is not None else ""
        lines.append(f"{spec_path}: {problems} problem{'s' if problems != 1 else ''}{where}")
        click.echo("\n".join(lines))
    sys.exit(1 if problems else 0)


COMMANDS = (check,)
