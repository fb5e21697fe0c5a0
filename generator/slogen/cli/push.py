"""`slogen push`: provision Grafana (folder + dashboards) idempotently; hand rule files to Prometheus."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import click

from slogen.cli.common import HttpUrl, fail, handle_errors, load_spec, spec_option
from slogen.cli.notices import retry_notice
from slogen.cli.ruler import push_to_ruler, ruler_options
from slogen.clients.http import redact
from slogen.conventions import MARKER_TAG, dashboard_url
from slogen.grafana import Client, GrafanaError, Settings, shown_version
from slogen.prometheus import PrometheusClient
from slogen.push import CREATE, DELETE, PAST, UNCHANGED, UPDATE, Action, Dashboard, compare, dashboards, prunable
from slogen.render import render as render_bundle
from slogen.rules_handoff import handoff
from slogen.textsafe import oneline
from slogen.writer import spec_key

T = TypeVar("T")
R = TypeVar("R")

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


def git_commit(spec_path: str) -> str | None:
    """The commit being pushed: GITHUB_SHA in CI, else `git rev-parse HEAD` beside the spec."""
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha[:12]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(spec_path).resolve().parent,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()[:12] if out.returncode == 0 and out.stdout.strip() else None


def run_all(func: Callable[[T], R], items: list[T], workers: int) -> list[R | GrafanaError]:
    """`func` over `items` on a bounded pool, results in item order; Grafana failures are returned."""
    def one(item: T) -> R | GrafanaError:
        try:
            return func(item)
        except GrafanaError as exc:
            return exc

    if workers <= 1 or len(items) <= 1:
        return [one(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="slogen-push") as pool:
        return list(pool.map(one, items))


def _line(prefix: str, action: Action, url: str, extra: str = "") -> str:
    note = f" ({action.note})" if action.note else ""
    title = oneline(action.title, 200)  # spec text: one line, never a workflow command
    return f"{prefix:<16}{action.uid}  \"{title}\"{note}{extra}  {dashboard_url(url, action.uid)}"


def push_grafana(client: Client, spec_source: str, folder_uid: str, folder_title: str, rendered: list[Dashboard],
                 *, message: str, dry_run: bool, prune: bool, concurrency: int) -> None:
    """Health, folder, compare, write, prune; prints one line per dashboard; raises on any failure."""
    health = client.health()
    echo = click.echo
    echo(f"grafana {client.base}: healthy (version {shown_version(health)})")
    if dry_run:
        folder = client.get_folder(folder_uid)
        echo(f"folder {folder_uid}: {'exists' if folder else 'would create'} \"{folder_title}\"")
    else:
        _, created = client.ensure_folder(folder_uid, folder_title)
        echo(f"folder {folder_uid}: {'created' if created else 'exists'} \"{folder_title}\"")

    stored = run_all(lambda d: client.get_dashboard(d.uid, f"dashboard {d.uid} (\"{d.title}\")"), rendered,
                     concurrency)
    actions: list[Action] = []
    failures: list[GrafanaError] = []
    for dashboard, found in zip(rendered, stored, strict=True):
        if isinstance(found, GrafanaError):
            failures.append(found)
        else:
            actions.append(compare(dashboard, found, folder_uid))
    if failures:
        raise GrafanaError("\nerror: ".join(str(f) for f in failures))  # one `error:` line each

    by_uid = {d.uid: d for d in rendered}
    writes = [a for a in actions if a.kind in (CREATE, UPDATE)]

    def write(action: Action) -> dict[str, Any]:
        what = f"dashboard {action.uid} (\"{action.title}\")"
        return client.save_dashboard(by_uid[action.uid].model, folder_uid, message, what)

    outcome: dict[str, dict[str, Any] | GrafanaError] = {}
    if not dry_run:
        outcome = dict(zip([a.uid for a in writes], run_all(write, writes, concurrency), strict=True))
    counts = dict.fromkeys((CREATE, UPDATE, UNCHANGED, DELETE), 0)
    for action in actions:
        result = outcome.get(action.uid)
        if isinstance(result, GrafanaError):
            failures.append(result)
            continue
        counts[action.kind] += 1
        if dry_run and action.kind != UNCHANGED:
            echo(_line(f"would {action.kind}", action, client.base))
            if action.diff:
                echo(action.diff)
        else:
            version = f" v{result['version']}" if isinstance(result, dict) and "version" in result else ""
            echo(_line(PAST[action.kind], action, client.base, version))

    if prune and not failures:
        hits = client.search(tag=MARKER_TAG, folder_uid=folder_uid)
        doomed = prunable(hits, set(by_uid), folder_uid)
        gone = [] if dry_run else run_all(
            lambda a: client.delete_dashboard(a.uid, f"deleting dashboard {a.uid} (\"{a.title}\")"), doomed,
            concurrency)
        for action, result in zip(doomed, gone or [None] * len(doomed), strict=True):
            if isinstance(result, GrafanaError):
                failures.append(result)
                continue
            counts[DELETE] += 1
            echo(_line("would delete" if dry_run else "deleted", action, client.base))
    if failures:
        raise GrafanaError("\nerror: ".join(str(f) for f in failures))  # one `error:` line each
    verb = "would be " if dry_run else ""
    echo(f"grafana: {counts[CREATE]} {verb}created, {counts[UPDATE]} {verb}updated, "
         f"{counts[UNCHANGED]} unchanged, {counts[DELETE]} {verb}deleted ({spec_source} → folder {folder_uid})")


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
@click.option("--prometheus-url", envvar="PROMETHEUS_URL", default="http://localhost:9090", show_default=True,
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
        with PrometheusClient(prometheus_url, timeout=timeout, connect_retries=retries,
                              on_retry=retry_notice) as prom:
            report = handoff(artifacts, directory, prometheus_url=prometheus_url, reload_rules=reload,
                             key=spec_key(spec_path, directory), prometheus_path=prometheus_rules_path,
                             dry_run=dry_run, client=prom)
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
        commit = git_commit(spec_path)
        message = f"slogen push from {spec.source}" + (f" at {commit}" if commit else "")
    settings = Settings(url=grafana_url or spec.grafana.url, token=token or None, user=user or None,
                        password=password or None, org_id=org_id or None, ca_cert=ca_cert, insecure=insecure,
                        timeout=timeout, retries=retries, backoff=backoff, pool_size=concurrency)
    client = Client(settings, on_retry=retry_notice)
    try:
        push_grafana(client, spec.source, spec.grafana.folder_uid, spec.grafana.folder_title,
                     dashboards(artifacts), message=message, dry_run=dry_run, prune=prune, concurrency=concurrency)
    except GrafanaError as exc:  # belt and braces: no secret may leave in a message
        raise GrafanaError(client.scrub(str(exc))) from None
    finally:
        client.close()


COMMANDS = (push,)
