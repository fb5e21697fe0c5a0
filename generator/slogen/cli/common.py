"""Helpers shared by the command modules: the spec option, error reporting, exit codes."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from slogen.errors import SlogenError, SpecError

F = TypeVar("F", bound=Callable[..., Any])

spec_option = click.option(
    "-f", "--file", "spec_path", default="slos.yaml", show_default=True, envvar="SLOGEN_FILE",
    type=click.Path(dir_okay=False), help="The spec to read (env SLOGEN_FILE).",
)


def fail(message: str, code: int) -> None:
    """Print `error: message` to stderr and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn SlogenError into its message and exit code; never show a traceback for user mistakes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                click.echo(problem.render(exc.filename), err=True)
            count = len(exc.problems)
            click.echo(f"{exc.filename}: {count} problem{'s' if count != 1 else ''}", err=True)
            sys.exit(exc.exit_code)
        except SlogenError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            sys.exit(130)
        except Exception as exc:  # a bug in slogen, not the user's doing
            if os.environ.get("SLOGEN_DEBUG"):
                traceback.print_exc()
            fail(f"internal error: {type(exc).__name__}: {exc} (set SLOGEN_DEBUG=1 for details; "
                 "please report it)", 70)

    return wrapper  # type: ignore[return-value]
