"""`slogen push --ruler-url`: the options and output of pushing rule groups to a Mimir/Cortex ruler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from slogen.cli.common import HttpUrl
from slogen.cli.notices import retry_notice
from slogen.clients.ruler import MIMIR_PREFIX, RulerClient, RulerError, RulerSettings
from slogen.render.artifact import Bundle
from slogen.report.textsafe import oneline
from slogen.services.ruler_push import CREATE, DELETE, PAST, UNCHANGED, UPDATE, desired_groups, push_rules

DEFAULT_NAMESPACE = "slogen"

def _namespace(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.strip() or "/" in value or value != value.strip():
        raise click.BadParameter("give a non-empty name without '/' or surrounding blanks", ctx, param)
    return value


OPTIONS = (
    click.option("--ruler-url", envvar="RULER_URL", default=None, type=HttpUrl(),
                 help="Also push the rule groups to this Mimir/Cortex ruler (env RULER_URL; credentials as "
                      "https://user:password@host, never printed)."),
    click.option("--tenant", envvar="RULER_TENANT", default=None,
                 help="Tenant, sent as X-Scope-OrgID (env RULER_TENANT)."),
    click.option("--ruler-namespace", default=DEFAULT_NAMESPACE, show_default=True, callback=_namespace,
                 help="Ruler namespace that holds this spec's groups (one namespace per spec)."),
    click.option("--ruler-prefix", default=MIMIR_PREFIX, show_default=True,
                 help="API prefix: /prometheus (Mimir), /api/prom (Cortex); a path ending in /rules is used as is "
                      "(Cortex' legacy /api/v1/rules)."),
)


def ruler_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the ruler options to a command."""
    for option in reversed(OPTIONS):
        func = option(func)
    return func


def push_to_ruler(artifacts: Bundle, spec_source: str, *, url: str, tenant: str | None, namespace: str,
                  prefix: str, timeout: float, retries: int, backoff: float, dry_run: bool) -> None:
    """Push, print one line per group and a summary; raises RulerError (exit 3) on any failure."""
    settings = RulerSettings(url=url, tenant=tenant or None, prefix=prefix, timeout=timeout, retries=retries,
                             backoff=backoff)
    with RulerClient(settings, on_retry=retry_notice) as client:
        report = push_rules(client, namespace, desired_groups(artifacts), dry_run=dry_run)
        where = f"tenant {oneline(tenant, 100)}" if tenant else "no tenant"
        click.echo(f"ruler {report.base} ({where}, namespace {oneline(namespace, 100)})")
        for action in report.done:
            verb = f"would {action.kind}" if dry_run and action.kind != UNCHANGED else PAST[action.kind]
            rules = f"  ({action.rules} rules)" if action.rules else ""
            click.echo(f"{verb:<16}{action.group}{rules}")
        if report.error is not None:
            raise RulerError(client.scrub(report.error))
        will = "would be " if dry_run else ""
        click.echo(f"ruler: {report.count(CREATE)} {will}created, {report.count(UPDATE)} {will}updated, "
                   f"{report.count(UNCHANGED)} unchanged, {report.count(DELETE)} {will}deleted "
                   f"({spec_source} → namespace {oneline(namespace, 100)})")
