"""`slogen validate`, `slogen render` and `slogen schema`."""

from __future__ import annotations

import time
from pathlib import Path

import click

from slogen.cli.common import beside_spec, handle_errors, load_spec, load_spec_document, spec_option
from slogen.conventions import RULES_FORMAT_PROMETHEUS, RULES_FORMATS
from slogen.errors import StaleError
from slogen.spec.lint import warnings
from slogen.spec.schema import schema_text


@click.command()
@spec_option
@handle_errors
def validate(spec_path: str) -> None:
    """Check the spec and print every problem (exit 0 valid, 1 invalid)."""
    started = time.perf_counter()
    spec = load_spec(spec_path)
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
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Directory that receives rules/, dashboards/ and provisioning/ (default: the spec's directory).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and list files that are stale, missing or extra.")
@click.option("--rules-format", type=click.Choice(RULES_FORMATS), default=RULES_FORMAT_PROMETHEUS, show_default=True,
              help="prometheus: rules/<service>.rules.yaml for rule_files; operator: "
                   "rules/<service>.prometheusrule.yaml, PrometheusRule objects for prometheus-operator; "
                   "vmrule: rules/<service>.vmrule.yaml, VMRule objects for the VictoriaMetrics operator.")
@handle_errors
def render(spec_path: str, out_dir: str, check: bool, rules_format: str) -> None:
    """Render rules/, dashboards/ and provisioning/ from the spec (exit 1 if invalid or, with --check, stale)."""
    # Imported here, not at the top: `validate` and `schema` share this module and need none of
    # the renderers (their imports are a large part of a cold validate).
    from slogen.render import render as render_bundle
    from slogen.services import render_cache
    from slogen.services.writer import check_tree, spec_key, write_tree

    spec, doc = load_spec_document(spec_path)
    out_dir = beside_spec(spec_path, out_dir, ".")
    root = Path(out_dir)
    keys = render_cache.keys(spec, doc, rules_format)
    reused = render_cache.reusable(keys, rules_format, root)  # unchanged services' files, verified on disk
    artifacts = render_bundle(spec, rules_format, skip=reused.keys())
    render_cache.remember(keys, rules_format, artifacts, reused)
    kept = tuple(reused.values())
    count = len(artifacts) + len(kept)
    if check:
        differences = check_tree(artifacts, root, spec_key(spec_path, root), kept=kept)
        if not differences:
            click.echo(f"{count} files up to date with {spec_path}")
            return
        for d in differences:
            click.echo(f"{d.kind}: {root / d.path}")
            if d.diff:
                click.echo(d.diff)
        raise StaleError(f"{len(differences)} of the rendered files differ from {spec_path}; "
                         f"run 'slogen render -f {spec_path} -o {out_dir}' and commit the result")
    report = write_tree(artifacts, root, spec_key(spec_path, root), kept=kept)
    click.echo(f"rendered {count} files into {root}: {len(report.written)} written, "
               f"{len(report.unchanged)} unchanged, {len(report.removed)} removed")
    for path in report.written:
        click.echo(f"  wrote {path}")
    for path in report.removed:
        click.echo(f"  removed {path}")


@click.command()
@spec_option
@click.option("-o", "--output", "out_file", default=None, type=click.Path(dir_okay=False),
              help="Write the schema to this file (atomically) instead of printing it.")
@handle_errors
def schema(spec_path: str, out_file: str | None) -> None:
    """Print (or, with -o, write) the JSON Schema of slos.yaml (slogen/v1).

    The schema is the same for every spec; -f is accepted like on every command. For editors,
    add `# yaml-language-server: $schema=slos.schema.json` to the spec after
    `slogen schema -o slos.schema.json`, or point it at the schema attached to each release.
    """
    if out_file is None:
        click.echo(schema_text(), nl=False)
        return
    from slogen.services.writer import write_file

    write_file(out_file, schema_text())
    click.echo(f"wrote {out_file}", err=True)


COMMANDS = (validate, render, schema)
