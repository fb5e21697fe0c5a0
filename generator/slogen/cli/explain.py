"""`slogen explain`: what each alert of each SLO means, in numbers (docs/explain.md)."""

from __future__ import annotations

import json
import sys

import click

from slogen.cli.common import handle_errors, load_spec, spec_option
from slogen.promql import number_text
from slogen.report.table import rule_for, table
from slogen.slo import budget
from slogen.slo import explain as ex


def span(seconds: float) -> str:
    """A duration for people: `52s`, `2m10s`, `3h36m`, `1d12h` (rounded to what matters)."""
    total = round(seconds)
    if total < 60:
        return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds:.2g}s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"


def timing_text(t: ex.Timing, may_skip: bool = False) -> str:
    """`52s–2m52s` (earliest–latest), or `never`; `… or never` when the alert may be skipped."""
    if t.seconds is None or t.seconds_max is None:
        return "never"
    return f"{span(t.seconds)}–{span(t.seconds_max)}" + (" or never" if may_skip else "")


def share_text(t: ex.Timing) -> str:
    """Budget spent as `2.0–6.6%`, or `-`."""
    if t.seconds is None or t.seconds_max is None:
        return "-"
    return f"{t.seconds * 100:.3g}–{t.seconds_max * 100:.3g}%"


def _outcome(outcomes: tuple[ex.Outcome, ...], name: str) -> ex.Outcome:
    return next(o for o in outcomes if o.scenario.name == name)


def render_text(explained: tuple[ex.SLOExplanation, ...], rule: str) -> str:
    """The terminal report: one block per SLO."""
    blocks = []
    for e in explained:
        ten = next(s for s in ex.scenarios(e.error_budget) if s.name == ex.BURN_10X)
        ten_label = f"{float(ten.burn_rate):.3g}×"
        per_group = f" (each {', '.join(e.group_by)} on its own)" if e.group_by else ""
        head = (f"{e.service}/{e.slo}{per_group}: {number_text(e.objective * 100)}% over {e.window}; error budget "
                f"{number_text(e.error_budget * 100)}% = {e.budget_minutes:.4g} min of full outage")
        rows = []
        for r in e.conditions:
            full, burn = _outcome(r.outcomes, ex.FULL_OUTAGE), _outcome(r.outcomes, ex.BURN_10X)
            rows.append([r.severity, f"{r.long}/{r.short}", f"{float(r.factor):.4g}", f"{float(r.threshold):.4g}",
                         f"{float(r.budget_share) * 100:.3g}%", timing_text(full.detect),
                         share_text(full.budget_spent), timing_text(burn.detect), timing_text(full.reset)])
        for a in e.alerts:
            full, burn = _outcome(a.outcomes, ex.FULL_OUTAGE), _outcome(a.outcomes, ex.BURN_10X)
            label = a.alert.removeprefix("SLOErrorBudget")
            windows = "any row" if a.for_ is None else f"for {a.for_}"
            rows.append([f"{label}", windows, "", "", "", timing_text(full.detect, full.may_skip),
                         share_text(full.budget_spent), timing_text(burn.detect, burn.may_skip),
                         timing_text(full.reset)])
        headers = ["alert", "windows", "factor", "threshold", "share", "detect 100%", "spent 100%",
                   f"detect {ten_label}", "reset 100%"]
        text = head + "\n" + table(headers, rows, right=frozenset({2, 3, 4}), rule=rule)
        if e.disabled:
            text += f"\n disabled by the spec: {', '.join(e.disabled)}"
        blocks.append(text)
    blocks.append("Times are earliest–latest: the window maths, then plus the rules' evaluation lag "
                  "(docs/explain.md); add one scrape interval.")
    return "\n\n".join(blocks)


@click.command()
@spec_option
@click.option("--service", help="Only this service.")
@click.option("--slo", "slo_name", help="Only SLOs with this name.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document (schema slogen/explain/v1).")
@handle_errors
def explain(spec_path: str, service: str | None, slo_name: str | None, as_json: bool) -> None:
    """Explain every alert: thresholds, time to detect and reset, budget spent (exit 0, 1 invalid spec, 2 usage)."""
    spec = load_spec(spec_path)
    explained = ex.explain(spec, budget.select(spec, service, slo_name))
    if as_json:
        click.echo(json.dumps(ex.document(explained), indent=2))
        return
    click.echo(render_text(explained, rule_for(sys.stdout)))


COMMANDS = (explain,)
