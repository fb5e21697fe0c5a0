"""`slogen export --to openslo`: the spec as OpenSLO v1 documents, with a report of what did not carry over."""

from __future__ import annotations

import click

from slogen.cli.common import handle_errors, spec_option
from slogen.cli.import_ import echo_report
from slogen.services.interop import export_openslo


@click.command()
@spec_option
@click.option("--to", "target", type=click.Choice(["openslo"]), required=True, help="The format to write.")
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Directory for one <service>.openslo.yaml per service (default: all documents on stdout).")
@click.option("--force", is_flag=True, help="Replace existing files that differ.")
@handle_errors
def export(spec_path: str, target: str, out_dir: str | None, force: bool) -> None:
    """Export the spec as OpenSLO v1 (Service, and SLO with its SLI inline).

    The report on stderr lists what OpenSLO cannot express (alerting, policy, labels). Exit 0
    on success, 1 if the spec is invalid or a file exists and differs (without --force).
    """
    outcome = export_openslo(spec_path, out_dir, force=force)
    echo_report(outcome.report)
    if outcome.text is not None:
        click.echo(outcome.text, nl=False)
    for path in outcome.written:
        click.echo(f"wrote {path}", err=True)
    for path in outcome.unchanged:
        click.echo(f"{path} unchanged", err=True)


COMMANDS = (export,)
