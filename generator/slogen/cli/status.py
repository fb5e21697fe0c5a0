"""`slogen status` (the error-budget table) and `slogen gate` (the deploy gate)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from dataclasses import replace
from datetime import datetime
from typing import Any

import click

from slogen import conventions as c
from slogen import gcpause
from slogen.cli.common import HttpUrl, beside_spec, handle_errors, load_spec, spec_option
from slogen.cli.notices import retry_notice
from slogen.clients.prometheus import DEFAULT_TIMEOUT, DEFAULT_URL
from slogen.errors import SlogenError, SpecError, UndecidedError
from slogen.model import Spec
from slogen.promql.ast import is_legacy_label_name
from slogen.report import documents, formats, summary
from slogen.report.table import colour_enabled, rule_for, table
from slogen.report.textsafe import oneline
from slogen.services import gate as gate_service
from slogen.services import status as status_service
from slogen.slo import budget, policy

COLOURS: dict[str, dict[str, Any]] = {
    c.NORMAL: {"fg": "green"}, c.CAUTION: {"fg": "yellow"}, c.WARNING: {"fg": 208},  # 208: orange (256 colours)
    c.FREEZE: {"fg": "red"}, c.EXHAUSTED: {"fg": "bright_white", "bg": "red", "bold": True},
    c.UNKNOWN: {"fg": "magenta"},
}


class TimeParam(click.ParamType[float]):
    """An evaluation time: RFC 3339 with a zone (`2026-11-29T12:00:00Z`) or unix seconds."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return self._finite(float(value), param, ctx)
        text = str(value).strip()
        try:
            return self._finite(float(text), param, ctx)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither RFC 3339 (2026-11-29T12:00:00Z) nor unix seconds", param, ctx)
        if moment.tzinfo is None:
            self.fail(f"{text!r} has no time zone; add Z or an offset such as +02:00", param, ctx)
        return moment.timestamp()

    def _finite(self, unix: float, param: click.Parameter | None, ctx: click.Context | None) -> float:
        # float() accepts nan, inf and 1_000; only plain finite seconds within datetime's range are times.
        if not math.isfinite(unix) or not -62135596800 <= unix <= 253402300799:
            self.fail(f"{unix!r} is not a time: give unix seconds (finite) or RFC 3339", param, ctx)
        return unix


class GroupParam(click.ParamType[tuple[str, str]]):
    """`label=value`: one group of a grouped SLO."""

    name = "group"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        label, sep, text = str(value).partition("=")
        if not sep or not is_legacy_label_name(label.strip()):
            self.fail(f"{value!r} is not LABEL=VALUE (e.g. route=/pay)", param, ctx)
        return label.strip(), text


def _remote_options(func: Any) -> Any:
    for option in reversed((
        spec_option,
        click.option("--service", help="Only this service."),
        click.option("--slo", "slo_name", help="Only SLOs with this name."),
        click.option("--group", "groups", multiple=True, type=GroupParam(), metavar="LABEL=VALUE",
                     help="Only this group of grouped SLOs (group_by), e.g. route=/pay; repeatable."),
        click.option("--time", "when", type=TimeParam(), help="Evaluate as of this time (RFC 3339 or unix "
                                                               "seconds); default now."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, metavar="SEC",
                     show_default=True, help="Seconds to wait for Prometheus."),
        click.option("--prometheus-url", envvar="PROMETHEUS_URL", default=DEFAULT_URL, show_default=True,
                     type=HttpUrl(),
                     help="Prometheus base URL (env PROMETHEUS_URL)."),
    )):
        func = option(func)
    return func


def _prefetch(service: str | None, slo: str | None, url: str, timeout: float, at: float,
              groups: tuple[tuple[str, str], ...] = ()) -> status_service.Prefetch:
    """The read's query, sent now: Prometheus answers while the spec loads (status_service.Prefetch)."""
    return status_service.Prefetch(url, timeout=timeout, at=at, service=service, slo=slo, group=tuple(groups))


def _snapshot(spec: Spec, service: str | None, slo: str | None, url: str, timeout: float,
              when: float | None, groups: tuple[tuple[str, str], ...] = (),
              prefetch: status_service.Prefetch | None = None) -> budget.Snapshot:
    snapshot = status_service.read(spec, url, timeout=timeout, at=when if when is not None else time.time(),
                                   service=service, slo=slo, group=tuple(groups), on_retry=retry_notice,
                                   prefetch=prefetch)
    for warning in snapshot.warnings:
        click.echo(f"warning: Prometheus: {warning}", err=True)
    return snapshot


# ---------------------------------------------------------------------------------------- status


HEADERS = ("service", "SLO", "objective", "SLI", "budget left", "burn 1h", "days left", "state")
RIGHT = frozenset({2, 3, 4, 5, 6})


def _render(snapshot: budget.Snapshot, colour: bool) -> str:
    """The status table, its title, and a note naming SLOs without data."""
    rows = [(b.service, b.slo + budget.group_text(b.group), f"{b.objective * 100:g}% / {b.window}",
             "no data" if b.sli is None else f"{b.sli * 100:.3f}%", formats.budget_text(b),
             formats.rate(b.burn_rate_1h), formats.days_left(b), b.state) for b in snapshot.slos]
    text = table(HEADERS, rows, right=RIGHT, styles=[COLOURS[b.state] for b in snapshot.slos], colour=colour,
                 rule=rule_for(sys.stdout))
    parts = [f"Error budgets as of {documents.rfc3339(snapshot.time)}  (worst: {snapshot.state})", text]
    for note in _unknown_notes(snapshot):
        parts.append(click.style(note, fg="magenta") if colour else note)
    return "\n".join(parts) + "\n"


def _unknown_notes(snapshot: budget.Snapshot) -> list[str]:
    """Why SLOs are UNKNOWN: no data, or an answer that cannot be a real budget (never trusted)."""
    notes = [f"implausible answer from Prometheus for {b.name}: {b.implausible}; not trusted"
             for b in snapshot.implausible[:10]]
    if len(snapshot.implausible) > 10:
        notes.append(f"... and {len(snapshot.implausible) - 10} more implausible answers")
    return notes + missing_notes(snapshot)


def missing_notes(snapshot: budget.Snapshot) -> list[str]:
    """What to do about SLOs that are UNKNOWN for want of data: rules not loaded, or loaded with no data."""
    notes = []
    absent = tuple(b for b in snapshot.unknown if b.missing == budget.RULES_NOT_LOADED)
    if absent:
        notes.append(f"rules not loaded for {summary.names(absent)}: this Prometheus has no slogen rules for "
                     "them (add the rendered rules/ files to its rule_files, or slogen push --prometheus-rules-dir)")
    empty = tuple(b for b in snapshot.unknown if b.missing == budget.NO_DATA)
    if empty:
        notes.append(f"no data yet for {summary.names(empty)}: the rules are loaded but have recorded no budget "
                     "(is the SLI's total series scraped? rules loaded moments ago take up to 5 minutes)")
    return notes


@click.command()
@_remote_options
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document (docs/status-and-gate.md).")
@click.option("--watch", is_flag=True, help="Refresh until Ctrl-C (exit 0).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=30.0, show_default=True, metavar="SEC",
              help="Seconds between refreshes with --watch.")
@handle_errors
def status(spec_path: str, service: str | None, slo_name: str | None, groups: tuple[tuple[str, str], ...],
           when: float | None, timeout: float, prometheus_url: str, as_json: bool, watch: bool,
           interval: float) -> None:
    """Show every SLO's error budget, burn rate and deploy state (exit 0; 3 Prometheus failed)."""
    at = when if when is not None else time.time()
    prefetch = None if watch else _prefetch(service, slo_name, prometheus_url, timeout, at, groups)
    spec = load_spec(spec_path)

    def once() -> budget.Snapshot:
        return _snapshot(spec, service, slo_name, prometheus_url, timeout, when, groups)

    colour = colour_enabled(sys.stdout)
    if not watch:
        snapshot = _snapshot(spec, service, slo_name, prometheus_url, timeout, at, groups, prefetch)
        with gcpause.paused():  # one row or JSON object per SLO: acyclic (gcpause.py)
            text = documents.dumps(documents.status_document(snapshot)) + "\n" if as_json else _render(snapshot, colour)
        click.echo(text, nl=False, color=None if as_json else colour)
        return
    redraw = sys.stdout.isatty() and not as_json  # a terminal: redraw in place; pipes and logs get a history
    try:
        while True:
            try:
                snapshot = once()
                if as_json:
                    click.echo(json.dumps(documents.status_document(snapshot)))
                else:
                    if redraw:
                        click.clear()
                    click.echo(_render(snapshot, colour), nl=False, color=colour)
            except SlogenError as exc:  # keep watching through a Prometheus restart
                click.echo(f"error: {exc} (retrying in {interval:g}s)", err=True)
            time.sleep(interval)
    except KeyboardInterrupt:
        return


# ---------------------------------------------------------------------------------------- gate


class _UndecidedUsageError(click.UsageError):
    """A usage error of the gate: exits 99 (undecided), never click's 2, which would read as FREEZE."""

    exit_code = policy.EXIT_CODES[c.UNKNOWN]


class GateCommand(click.Command):
    """A command whose usage errors exit 99: for the gate, exit 2 would mean FREEZE."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _UndecidedUsageError(exc.message, exc.ctx) from exc


def _undecided(message: str, files: gate_service.GateFiles, snapshot: budget.Snapshot,
               verdict: str | None = None) -> UndecidedError:
    for notice in gate_service.record_undecided(message, snapshot, files):
        click.echo(notice, err=True)
    return UndecidedError(f"{message}\ngate: UNKNOWN: {verdict or policy.POLICY[c.UNKNOWN]}")


@click.command(cls=GateCommand)
@_remote_options
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Also write the decision as JSON here.")
@click.option("--audit-log", default=None, type=click.Path(dir_okay=False),
              help=f"Where overrides are recorded, one JSON line each (default: {gate_service.DEFAULT_AUDIT_LOG} "
                   "beside the spec).")
@handle_errors
def gate(spec_path: str, service: str | None, slo_name: str | None, groups: tuple[tuple[str, str], ...],
         when: float | None, timeout: float, prometheus_url: str, json_file: str | None,
         audit_log: str | None) -> None:
    """Allow or block a deploy on the error budget.

    Exit 0 NORMAL or CAUTION, 1 WARNING, 2 FREEZE, 3 EXHAUSTED, 99 could not decide. Overrides:
    OVERRIDE_DEPLOY (WARNING), OVERRIDE_DEPLOY_FREEZE (FREEZE), OVERRIDE_BUDGET_EXHAUSTED
    (EXHAUSTED), with OVERRIDE_REASON; each is appended to the audit log.
    """
    try:
        _gate(spec_path, service, slo_name, groups, when, timeout, prometheus_url, json_file,
              beside_spec(spec_path, audit_log, gate_service.DEFAULT_AUDIT_LOG))
    except (SlogenError, SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug in slogen must still read as "could not decide", never as a state
        if os.environ.get("SLOGEN_DEBUG"):
            traceback.print_exc()
        raise UndecidedError(f"internal error: {type(exc).__name__}: {exc} (set SLOGEN_DEBUG=1 for details; "
                             "please report it)") from None


def _gate(spec_path: str, service: str | None, slo_name: str | None, groups: tuple[tuple[str, str], ...],
          when: float | None, timeout: float, prometheus_url: str, json_file: str | None, audit_log: str) -> None:
    env = os.environ
    at = when if when is not None else time.time()
    files = gate_service.GateFiles(audit_log, json_file, env.get("GITHUB_STEP_SUMMARY") or None)
    try:
        prefetch = _prefetch(service, slo_name, prometheus_url, timeout, at, groups)
        spec = load_spec(spec_path)
        files = replace(files, dashboard=c.dashboard_url(spec.grafana.url, spec.grafana.dashboard_uid))
        snapshot = _snapshot(spec, service, slo_name, prometheus_url, timeout, at, groups, prefetch)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(problem.render(exc.filename), err=True)
        raise _undecided(f"the spec {spec_path} is invalid", files, budget.Snapshot(at, ())) from None
    except SlogenError as exc:
        raise _undecided(str(exc), files, budget.Snapshot(at, ())) from None
    decision = policy.decide(snapshot.state, env)
    for var, value in decision.unrecognised:
        click.echo(f"warning: {var}={oneline(value, 40)!r} is ignored: it is neither true "
                   f"({', '.join(policy.TRUE_VALUES)}) nor false ({', '.join(v for v in policy.FALSE_VALUES if v)}, "
                   "or empty)", err=True)
    for var in decision.ignored:
        click.echo(f"warning: {var} is set but only overrides {policy.state_of_override(var)}; "
                   f"the state is {decision.state}", err=True)
    outcome = gate_service.carry_out(snapshot, decision, env, files)
    _report(snapshot, outcome.exit_code)
    if outcome.refused:
        for notice in outcome.notices:
            click.echo(notice, err=True)
        raise UndecidedError(f"{outcome.refused}\ngate: UNKNOWN: {policy.AUDIT_REFUSED}")
    if decision.override:
        reason = env.get(policy.REASON_VAR) or "none given (set OVERRIDE_REASON)"
        click.secho(f"!!! OVERRIDE: {decision.override} is set: deploying despite {decision.state}. "
                    f"Reason: {reason}. Recorded in {audit_log}.", err=True, fg="red", bold=True)
    if outcome.failure:
        raise UndecidedError(outcome.failure)
    for notice in outcome.notices:
        click.echo(notice, err=True)
    if decision.state == c.UNKNOWN:
        for b in snapshot.implausible[:10]:
            click.echo(f"error: implausible answer from Prometheus for {b.name}: {b.implausible}: cannot decide",
                       err=True)
        for note in missing_notes(snapshot):
            click.echo(f"error: {note}: cannot decide", err=True)
    sys.exit(outcome.exit_code)


def _report(snapshot: budget.Snapshot, code: int) -> None:
    state = snapshot.state
    deciding = snapshot.deciding
    verdict = "deploy allowed" if code == 0 else "deploy blocked"
    lines = [f"gate: {state} ({verdict}, exit {code}) as of {documents.rfc3339(snapshot.time)}"]
    if deciding is not None and state != c.UNKNOWN:
        lines.append(f"  budget remaining: {formats.percent(deciding.remaining)} ({deciding.name}); "
                     f"days to exhaustion: {formats.days_left(deciding)}")
    lines.append(f"  policy: {policy.POLICY[state]}")
    shown, note = summary.listed(snapshot)
    lines += [f"  {b.name}: {b.state}, budget {formats.percent(b.remaining)}, burn 1h "
              f"{formats.rate(b.burn_rate_1h)}, days left {formats.days_left(b)}" for b in shown]
    if note:
        lines.append(f"  ... {note}")
    click.echo("\n".join(lines))  # one write: 10,000 SLOs must not mean 10,000 flushes


COMMANDS = (status, gate)
