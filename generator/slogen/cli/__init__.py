"""The command line. The only place in slogen that prints or exits.

Exit codes: 0 success; 1 invalid spec, stale output or failed test suites; 2 usage error; 3 Grafana,
Prometheus or promtool failed; gate: 0 NORMAL/CAUTION, 1 WARNING, 2 FREEZE, 3 EXHAUSTED, 99 could not decide.
"""

from __future__ import annotations

import importlib

import click

from slogen import __version__

EPILOG = """\b
Exit codes: 0 ok; 1 invalid spec, stale files or (test --run) failed suites;
2 usage error; 3 Grafana, Prometheus or promtool failed. gate: 0 NORMAL/CAUTION,
1 WARNING, 2 FREEZE, 3 EXHAUSTED, 99 could not decide.
"""

# Command → the module under slogen.cli that defines it (in its COMMANDS). A module is imported
# only when one of its commands runs (or for --help): the deploy gate must not pay for the
# Grafana SDK, the renderers and jsonschema, imports it never uses (docs/performance.md).
COMMAND_MODULES = {
    "validate": "spec_commands", "render": "spec_commands", "schema": "spec_commands",
    "push": "push", "status": "status", "gate": "status", "postmortem": "postmortem",
    "import": "import_", "export": "export",
    "explain": "explain", "test": "alert_tests",
    "backfill": "backfill", "check": "check",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"slogen.cli.{module_name}")
        command: click.Command = next(cmd for cmd in module.COMMANDS if cmd.name == cmd_name)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EPILOG)
@click.version_option(__version__, "--version", prog_name="slogen")
def main() -> None:
    """slogen: SLOs as code.

    One slos.yaml drives Prometheus recording rules and burn-rate alerts, the Grafana
    error-budget dashboard and provisioning, and the deploy gate.
    """
