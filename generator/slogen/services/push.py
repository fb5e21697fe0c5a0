"""`push`: provision Grafana idempotently (health, folder, compare, parallel writes, prune) and hand rules over.

The plan (what to create, update, leave or prune) is pure, in `slogen.services.push_plan`; this module
carries it out against the clients and returns counts. Progress lines go to a callback the CLI gives.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from slogen.clients.grafana import Client, GrafanaError, shown_version
from slogen.clients.http import RetryCallback
from slogen.clients.prometheus import PrometheusClient
from slogen.conventions import MARKER_TAG, dashboard_url
from slogen.render.artifact import Bundle
from slogen.report.textsafe import oneline
from slogen.services.push_plan import (
    CREATE,
    DELETE,
    PAST,
    UNCHANGED,
    UPDATE,
    Action,
    Dashboard,
    compare,
    prunable,
)
from slogen.services.rules_handoff import HandoffReport, handoff
from slogen.services.writer import DEFAULT_KEY

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Counts:
    """How many dashboards a push created, updated, left unchanged and deleted (or would, with --dry-run)."""

    created: int
    updated: int
    unchanged: int
    deleted: int


def hand_rules(artifacts: Bundle, directory: Path, *, prometheus_url: str, reload_rules: bool, key: str = DEFAULT_KEY,
               prometheus_path: str | None, dry_run: bool, timeout: float, retries: int,
               on_retry: RetryCallback | None = None) -> HandoffReport:
    """Write the rule files into `directory`; with `reload_rules`, reload Prometheus and confirm the groups."""
    with PrometheusClient(prometheus_url, timeout=timeout, connect_retries=retries, on_retry=on_retry) as prom:
        return handoff(artifacts, directory, prometheus_url=prometheus_url, reload_rules=reload_rules, key=key,
                       prometheus_path=prometheus_path,
                       dry_run=dry_run, client=prom)


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


def push_grafana(client: Client, folder_uid: str, folder_title: str, rendered: list[Dashboard], *, message: str,
                 dry_run: bool, prune: bool, concurrency: int, progress: Callable[[str], None]) -> Counts:
    """Health, folder, compare, write, prune; one `progress` line per step and dashboard; raises on any failure."""
    health = client.health()
    echo = progress
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
    return Counts(counts[CREATE], counts[UPDATE], counts[UNCHANGED], counts[DELETE])
