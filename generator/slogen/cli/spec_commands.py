"""`slogen validate`, `slogen render` and `slogen schema`."""

from __future__ import annotations

import time
from pathlib import Path

import click

from slogen import spec as spec_loader
from slogen.cli.common import handle_errors, spec_option
from slogen.errors import StaleError
from slogen.lint import warnings
from slogen.render import render as render_bundle
from slogen.schema import schema_text
from slogen.writer import check_tree, spec_key, write_tree


@click.command()
@spec_option
@handle_errors
def validate(spec_path: str) -> None:
    """Check the spec and print every problem (exit 0 valid, 1 invalid)."""
    started = time.perf_counter()
    spec = spec_loader.load(spec_path)
    # No render here: generators are total over valid models (tests/test_fuzz.py renders every valid
    # spec it generates), and rendering 10,000 SLOs costs ten times the validation itself.
    for warning in warnings(spec):
        click.echo(f"warning: {warning}", err=True)
    services = len(spec.services)
    click.echo(f"{spec_path}: valid: {services} service{'s' if services != 1 else ''}, "
               f"{len(spec.slos)} SLO{'s' if len(spec.slos) != 1 else ''} "
               f"({time.perf_counter() - started:.2f}s)")


@click.command()
@spec_option
@click.option("-o", "--output", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Directory that receives rules/, dashboards/ and provisioning/.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and list files that are stale, missing or extra.")
@handle_errors
def render(spec_path: str, out_dir: str, check: bool) -> None:
    """Render rules/, dashboards/ and provisioning/ from the spec (exit 1 if invalid or, with --check, stale)."""
    spec = spec_loader.load(spec_path)
    artifacts = render_bundle(spec)
    root = Path(out_dir)
    if check:
        differences = check_tree(artifacts, root, spec_key(spec_path, root))
        if not differences:
            click.echo(f"{len(artifacts)} files up to date with {spec_path}")
            return
        for d in differences:
            click.echo(f"{d.kind}: {root / d.path}")
            if d.diff:
                click.echo(d.diff)
        raise StaleError(f"{len(differences)} of the rendered files differ from {spec_path}; "
                         f"run 'slogen render -f {spec_path} -o {out_dir}' and commit the result")
    report = write_tree(artifacts, root, spec_key(spec_path, root))
    click.echo(f"rendered {len(artifacts)} files into {root}: {len(report.written)} written, "
               f"{len(report.unchanged)} unchanged, {len(report.removed)} removed")
    for path in report.written:
        click.echo(f"  wrote {path}")
    for path in report.removed:
        click.echo(f"  removed {path}")


@click.command()
def schema() -> None:
    """Print the JSON Schema of slos.yaml (slogen/v1)."""
    click.echo(schema_text(), nl=False)


COMMANDS = (validate, render, schema)
