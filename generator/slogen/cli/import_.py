"""`slogen import`: Sloth, Pyrra or OpenSLO specs to one slos.yaml, with a per-object report."""

from __future__ import annotations

import sys

import click

from slogen.cli.common import handle_errors
from slogen.interop.common import FORMATS
from slogen.interop.report import Report
from slogen.services.interop import import_files


def echo_report(report: Report) -> None:
    """Every object's fate on stderr, then the counts."""
    for obj in report.objects:
        for line in obj.lines():
            click.echo(line, err=True)
    click.echo(f"report: {report.summary()}", err=True)


@click.command("import")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--from", "fmt", type=click.Choice(FORMATS),
              help="The format to read (default: detect it; the inputs must then be of one tool). "
                   "sloth reads both prometheus/v1 files and the PrometheusServiceLevel CRD.")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the spec here (default: print it on stdout).")
@click.option("--force", is_flag=True, help="Replace an existing output that differs.")
@click.option("--allow-partial", is_flag=True,
              help="Write what mapped even if some objects could not (they are listed in the report).")
@handle_errors
def import_(inputs: tuple[str, ...], fmt: str | None, output: str | None, force: bool, allow_partial: bool) -> None:
    """Import SLOs from Sloth, Pyrra or OpenSLO files or directories into a slogen spec.

    The report on stderr says, per input object, what mapped exactly, approximately (and how),
    or not at all (and why). Exit 0 when everything mapped (or with --allow-partial), 1 when
    something could not map, an input is unreadable, the formats are mixed, or the output
    exists and differs (without --force).
    """
    outcome = import_files(list(inputs), fmt, output, force=force, allow_partial=allow_partial)
    echo_report(outcome.report)
    if outcome.text is None:
        click.echo("error: nothing could be imported; nothing written", err=True)
        sys.exit(1)
    if outcome.withheld:
        count = len(outcome.report.unmapped)
        click.echo(f"error: {count} object{'s' if count != 1 else ''} could not be mapped (listed above); nothing "
                   "written: fix them, or pass --allow-partial to write the rest", err=True)
        sys.exit(1)
    if output is None:
        click.echo(outcome.text, nl=False)
    elif outcome.written:
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(f"{output} unchanged", err=True)


COMMANDS = (import_,)
