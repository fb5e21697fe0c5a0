"""`slogen test`: generate promtool suites proving the rendered alerts behave, and run them (docs/alert-tests.md)."""

from __future__ import annotations

from pathlib import Path

import click

from slogen.cli.common import beside_spec, handle_errors, load_spec, spec_option
from slogen.errors import SlogenError
from slogen.services import alert_tests as service

DEFAULT_DIR = "slogen-tests"


class SuitesFailedError(SlogenError):
    """promtool ran and at least one suite failed."""

    exit_code = 1


@click.command("test")
@spec_option
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False),
              help=f"Directory for the suites (default: {DEFAULT_DIR}/ beside the spec).")
@click.option("--rules-dir", default=None, type=click.Path(file_okay=False),
              help="Where the rendered rule files are (default: rules/ beside the spec).")
@click.option("--run", is_flag=True, help="Also run `promtool test rules` on every suite.")
@handle_errors
def test(spec_path: str, out_dir: str | None, rules_dir: str | None, run: bool) -> None:
    """Write promtool test suites for every SLO's alerts; with --run, run them
    (exit 0 pass, 1 invalid spec or failures, 3 promtool missing)."""
    spec = load_spec(spec_path)
    out = Path(beside_spec(spec_path, out_dir, DEFAULT_DIR))
    rules = Path(beside_spec(spec_path, rules_dir, "rules"))
    report = service.write_suites(spec, spec_path, out, rules)
    w = report.written
    click.echo(f"wrote {len(report.files)} suites into {out}: {len(w.written)} written, "
               f"{len(w.unchanged)} unchanged, {len(w.removed)} removed")
    for slo, why in report.skipped:
        click.echo(f"skipped {slo}: {why}", err=True)
    if not run:
        return
    service.run_suites(report, rules, spec)
    for name in report.passed:
        click.echo(f"  pass {out / name}")
    for failure in report.failures:
        click.echo(f"  FAIL {out / failure.path}\n{failure.output}")
    if report.failures:
        raise SuitesFailedError(f"{len(report.failures)} of {len(report.files)} suites failed")
    click.echo(f"all {len(report.files)} suites pass on the rule files in {rules}")


COMMANDS = (test,)
