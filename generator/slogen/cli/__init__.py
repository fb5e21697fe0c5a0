"""The command line. The only place in slogen that prints or exits.

Exit codes: 0 success; 1 invalid spec or stale output; 2 usage error; 3 Grafana or Prometheus
failed; gate: 0 NORMAL/CAUTION, 1 WARNING, 2 FREEZE, 3 EXHAUSTED, 99 could not decide.
"""

from __future__ import annotations

import click

from slogen import __version__
from slogen.cli import spec_commands

EPILOG = """\b
Exit codes: 0 ok; 1 invalid spec or stale files; 2 usage error; 3 Grafana or
Prometheus failed. gate: 0 NORMAL/CAUTION, 1 WARNING, 2 FREEZE, 3 EXHAUSTED,
99 could not decide.
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=EPILOG)
@click.version_option(__version__, "--version", prog_name="slogen")
def main() -> None:
    """slogen: SLOs as code.

    One slos.yaml drives Prometheus recording rules and burn-rate alerts, the Grafana
    error-budget dashboard and provisioning, and the deploy gate.
    """


for command in spec_commands.COMMANDS:
    main.add_command(command)


def _register_optional() -> None:
    # Each command family lives in its own module; import them here so `slogen --help` lists them.
    import importlib

    for name in ("push", "status", "postmortem"):
        try:
            module = importlib.import_module(f"slogen.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"slogen.cli.{name}":
                raise
            continue
        for command in module.COMMANDS:
            main.add_command(command)


_register_optional()
