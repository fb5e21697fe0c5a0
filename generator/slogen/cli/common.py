"""Helpers shared by the command modules: finding the spec, URL options, error reporting, exit codes.

The spec is found the way users expect: `-f FILE`, else `SLOGEN_FILE`, else `slos.yaml` in the
current directory or the nearest parent that has one. Outputs that default to a path (render's
tree, postmortems, the gate's audit log) are relative to the spec's directory.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from slogen.errors import SlogenError, SpecError
from slogen.model import Spec
from slogen.spec import load as spec_loader

F = TypeVar("F", bound=Callable[..., Any])

SPEC_NAME = "slos.yaml"
_SEARCHED = "slogen.spec_searched"  # ctx.meta key: the directories discovery looked in (nothing found)
_FOUND_ABOVE = "slogen.spec_found_above"  # ctx.meta key: discovery found the spec in a parent directory


class SpecNotFoundError(SlogenError):
    """No spec where the user pointed, or none in the current directory and its parents."""

    exit_code = 1


def find_spec(start: Path) -> tuple[Path | None, list[Path]]:
    """The nearest `slos.yaml` in `start` or its parents, and the directories looked in."""
    searched = []
    for directory in (start, *start.parents):
        searched.append(directory)
        candidate = directory / SPEC_NAME
        if candidate.is_file():
            return candidate, searched
    return None, searched


def _display(path: Path) -> str:
    """`path` relative to the current directory when that is shorter to read (../slos.yaml)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    return relative if len(relative) <= len(str(path)) else str(path)


def _resolve_spec(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if value:  # from -f or SLOGEN_FILE (the default is None); click sets the parameter source after callbacks
        return value
    found, searched = find_spec(Path.cwd())
    if found is None:
        ctx.meta[_SEARCHED] = searched
        return SPEC_NAME
    if found.parent != Path.cwd():
        ctx.meta[_FOUND_ABOVE] = True
    return _display(found)


spec_option = click.option(
    "-f", "--file", "spec_path", default=None, envvar="SLOGEN_FILE", type=click.Path(dir_okay=False),
    callback=_resolve_spec,
    help=f"The spec to read (env SLOGEN_FILE; default: {SPEC_NAME} in this directory or the nearest parent).",
)


def _context_meta() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


def spec_not_found_message(spec_path: str) -> str | None:
    """Why `spec_path` cannot be read (where slogen looked), or None when it can be."""
    searched: list[Path] | None = _context_meta().get(_SEARCHED)
    if searched is not None and not os.path.exists(spec_path):
        top = searched[-1]
        return (f"no {SPEC_NAME} in {searched[0]} or any parent directory up to {top}; "
                f"give the spec with -f FILE or SLOGEN_FILE")
    try:
        with open(spec_path, "rb"):
            return None
    except OSError as exc:
        where = "" if os.path.isabs(spec_path) else f" (looked at {Path(spec_path).absolute()})"
        via = "SLOGEN_FILE" if os.environ.get("SLOGEN_FILE") == spec_path else "-f"
        return f"cannot read the spec {spec_path} given by {via}{where}: {exc.strerror or exc}"


def load_spec(spec_path: str) -> Spec:
    """Load the spec the user meant; says on stderr when it was found in a parent directory."""
    return load_spec_document(spec_path)[0]


def load_spec_document(spec_path: str) -> tuple[Spec, dict[str, Any]]:
    """`load_spec`, with the validated document its model was built from (spec.load.load_document)."""
    problem = spec_not_found_message(spec_path)
    if problem is not None:
        raise SpecNotFoundError(problem)
    if _context_meta().pop(_FOUND_ABOVE, False):
        click.echo(f"slogen: using {spec_path} ({Path(spec_path).resolve()})", err=True)
    return spec_loader.load_document(spec_path)


def beside_spec(spec_path: str, path: str | None, default: str) -> str:
    """`path` as given (relative to the current directory), else `default` in the spec's directory."""
    if path is not None:
        return path
    return os.path.normpath(os.path.join(os.path.dirname(spec_path), default))


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


# ---------------------------------------------------------------------------------------- URLs

_USERINFO = re.compile(r"^[^/@]*@")


class HttpUrl(click.ParamType[str]):
    """An http:// or https:// base URL; anything else is a usage error (exit 2; the gate: 99)."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        parts = urlsplit(text)
        if parts.scheme in ("http", "https") and parts.netloc:
            return text
        # Never echo a password written as user:secret@host, nor a query string.
        shown = _USERINFO.sub("***@", text.split("?", 1)[0])
        name = param.opts[0] if isinstance(param, click.Option) and param.opts else "the URL"
        envvar = param.envvar if isinstance(param, click.Option) and isinstance(param.envvar, str) else None
        given = f"{envvar} is" if envvar and os.environ.get(envvar, "").strip() == text else "got"
        hint = "" if "://" in text else f"; write http://{shown} (or https://)"
        raise click.UsageError(f"{name} must start with http:// or https:// ({given} {shown!r}{hint})", ctx)
