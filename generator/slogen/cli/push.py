"""`slogen push`: provision Grafana (folder + dashboards) idempotently; hand rule files to Prometheus."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from slogen.cli.common import HttpUrl, fail, handle_errors, load_spec, spec_option
from slogen.cli.notices import retry_notice
from slogen.cli.ruler import push_to_ruler, ruler_options
from slogen.clients.grafana import Client, GrafanaError, Settings
from slogen.clients.http import redact
from slogen.clients.prometheus import DEFAULT_URL
from slogen.conventions import MARKER_TAG
from slogen.render import render as render_bundle
from slogen.services import push as push_service
from slogen.services.push_plan import dashboards
from slogen.services.writer import spec_key

EPILOG = """\b
Exit codes: 0 ok (including "nothing to do"); 1 invalid spec; 2 usage error;
3 Grafana, Prometheus or the ruler failed (unreachable, unhealthy, refused,
timed out).
\b
Auth: GRAFANA_TOKEN (service-account token, sent as Bearer) or GRAFANA_USER and
GRAFANA_PASSWORD (basic); GRAFANA_ORG_ID is sent as X-Grafana-Org-Id. Secrets are
never printed, not even with --verbose or in errors.
\b
Ruler (Mimir/Cortex): RULER_URL (credentials as https://user:password@host),
RULER_TENANT (sent as X-Scope-OrgID).
"""


class _EchoHandler(logging.Handler):
    """Log records to the current stderr as `trace: ...` (resolved per record, so it follows redirection)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"trace: {self.format(record)}", err=True)


def _verbose_logging(enabled: bool) -> None:
    logger = logging.getLogger("slogen.http")
    if enabled and not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler())
    logger.setLevel(logging.DEBUG if enabled else logging.WARNING)


@click.command(epilog=EPILOG)
@spec_option
@click.option("--grafana-url", envvar="GRAFANA_URL", default=None, type=HttpUrl(),
              help="Grafana base URL (env GRAFANA_URL; default: the spec's grafana.url, else http://localhost:3000).")
@click.option("--token", envvar="GRAFANA_TOKEN", default=None, show_envvar=False,
              help="Service-account token, sent as Bearer (env GRAFANA_TOKEN; prefer the env var).")
@click.option("--user", envvar="GRAFANA_USER", default=None, help="Basic-auth user (env GRAFANA_USER).")
@click.option("--password", envvar="GRAFANA_PASSWORD", default=None,
              help="Basic-auth password (env GRAFANA_PASSWORD; prefer the env var).")
@click.option("--org-id", envvar="GRAFANA_ORG_ID", default=None, help="Sent as X-Grafana-Org-Id (env GRAFANA_ORG_ID).")
@click.option("--ca-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CA bundle to verify Grafana's TLS certificate.")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (prints a warning).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds per request attempt, in total (connect, headers and body).")
@click.option("--retries", type=click.IntRange(0, 10), default=4, show_default=True,
              help="Retries on connection errors, timeouts, 429, 502, 503, 504.")
@click.option("--backoff", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Base seconds of the exponential backoff between retries (plus jitter).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Dashboards read and written in parallel.")
@click.option("--dry-run", is_flag=True, help="Write nothing; show what would change, with a short diff.")
@click.option("--prune", is_flag=True,
              help=f"Delete dashboards in the folder tagged '{MARKER_TAG}' that the spec no longer has.")
@click.option("--message", default=None, help="Version-history message (default: the spec and git commit).")
@click.option("--no-grafana", is_flag=True, help="Skip Grafana (only hand rules to Prometheus).")
@click.option("--prometheus-rules-dir", type=click.Path(file_okay=False), default=None,
              help="Also write the rule files into this directory (Prometheus' rule_files).")
@click.option("--reload", is_flag=True, help="After writing rules, POST /-/reload and confirm every group loaded.")
@click.option("--prometheus-url", envvar="PROMETHEUS_URL", default=DEFAULT_URL, show_default=True,
              type=HttpUrl(),
              help="Prometheus base URL for --reload (env PROMETHEUS_URL).")
@click.option("--prometheus-rules-path", default=None, metavar="PATH",
              help="The rules directory as Prometheus sees it, when that differs (a container's mount).")
@ruler_options
@click.option("-v", "--verbose", is_flag=True, help="Trace every request (method, path, status, time; never secrets).")
@handle_errors
def push(spec_path: str, grafana_url: str | None, token: str | None, user: str | None, password: str | None,
         org_id: str | None, ca_cert: str | None, insecure: bool, timeout: float, retries: int, backoff: float,
         concurrency: int, dry_run: bool, prune: bool, message: str | None, no_grafana: bool,
         prometheus_rules_dir: str | None, reload: bool, prometheus_url: str, prometheus_rules_path: str | None,
         ruler_url: str | None, tenant: str | None, ruler_namespace: str, ruler_prefix: str, verbose: bool) -> None:
    """Push the dashboards to Grafana (created / updated / unchanged) and optionally the rules to Prometheus.

    Renders the spec in memory and sends exactly the dashboards `render` writes. A dashboard
    whose stored model already matches is not written again.
    """
    if reload and not prometheus_rules_dir:
        fail("--reload needs --prometheus-rules-dir", 2)
    if no_grafana and not prometheus_rules_dir and not ruler_url:
        fail("--no-grafana leaves nothing to do without --prometheus-rules-dir or --ruler-url", 2)
    _verbose_logging(verbose)
    spec = load_spec(spec_path)
    artifacts = render_bundle(spec)

    if prometheus_rules_dir:
        directory = Path(prometheus_rules_dir)
        report = push_service.hand_rules(artifacts, directory, prometheus_url=prometheus_url, reload_rules=reload,
                                         key=spec_key(spec_path, directory), prometheus_path=prometheus_rules_path,
                                         dry_run=dry_run, timeout=timeout, retries=retries, on_retry=retry_notice)
        verb = "would write" if dry_run else "wrote"
        click.echo(f"rules {directory}: {verb} {len(report.written)}, {len(report.unchanged)} unchanged, "
                   f"{'would remove' if dry_run else 'removed'} {len(report.removed)}")
        if report.groups:
            click.echo(f"prometheus {redact(prometheus_url)}: reloaded; {len(report.groups)} groups loaded from "
                       f"{prometheus_rules_path or directory.resolve()}")

    if ruler_url:
        push_to_ruler(artifacts, spec.source, url=ruler_url, tenant=tenant, namespace=ruler_namespace,
                      prefix=ruler_prefix, timeout=timeout, retries=retries, backoff=backoff, dry_run=dry_run)

    if no_grafana:
        return
    if insecure:
        click.echo("warning: --insecure: Grafana's TLS certificate is NOT verified", err=True)
    if not message:
        commit = push_service.git_commit(spec_path)
        message = f"slogen push from {spec.source}" + (f" at {commit}" if commit else "")
    settings = Settings(url=grafana_url or spec.grafana.url, token=token or None, user=user or None,
                        password=password or None, org_id=org_id or None, ca_cert=ca_cert, insecure=insecure,
                        timeout=timeout, retries=retries, backoff=backoff, pool_size=concurrency)
    client = Client(settings, on_retry=retry_notice)
    try:
        counts = push_service.push_grafana(client, spec.grafana.folder_uid, spec.grafana.folder_title,
                                           dashboards(artifacts), message=message, dry_run=dry_run, prune=prune,
                                           concurrency=concurrency, progress=click.echo)
    except GrafanaError as exc:  # belt and braces: no secret may leave in a message
        raise GrafanaError(client.scrub(str(exc))) from None
    verb = "would be " if dry_run else ""
    click.echo(f"grafana: {counts.created} {verb}created, {counts.updated} {verb}updated, "
               f"{counts.unchanged} unchanged, {counts.deleted} {verb}deleted "
               f"({spec.source} → folder {spec.grafana.folder_uid})")


COMMANDS = (push,)
