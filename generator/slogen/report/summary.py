"""The gate's reports for people: the GitHub step summary and the bounded list of SLOs."""

from __future__ import annotations

from collections import Counter

from slogen import conventions as c
from slogen.report.formats import days_left, percent, rate
from slogen.report.textsafe import md, md_url
from slogen.slo.budget import STATE_ORDER, SLOBudget, Snapshot, group_text
from slogen.slo.policy import POLICY

# SLO lines in the gate's report and step summary. A CI log (and GitHub's 1 MiB step summary)
# with 10,000 healthy SLOs hides the few that matter: above this, the worst are listed and the
# rest counted; `--json FILE` and `status --json` always carry every SLO.
LIST_LIMIT = 50
SUMMARY_MAX_BYTES = 512 * 1024  # GitHub caps a step's summary at 1 MiB; leave room for the rest of the job
ERROR_MAX = 2000  # characters of an error (a server's text) in the summary


def step_summary(snapshot: Snapshot, exit_code: int, override: str | None, dashboard: str,
                 error: str | None = None) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: state, budget, days left, what is allowed now, the dashboard.

    Every text from the spec or a server is escaped (textsafe.md) and bounded; the whole stays under
    SUMMARY_MAX_BYTES.
    """
    state = c.UNKNOWN if error else snapshot.state
    deciding = snapshot.deciding
    verdict = "allowed" if exit_code == 0 else "blocked"
    lines = [f"## Deploy gate: {state} ({verdict})", ""]
    if deciding is not None:
        lines += [f"- **Budget remaining:** {percent(deciding.remaining)} ({md(deciding.name)})",
                  f"- **Days to exhaustion:** {days_left(deciding)}"]
    lines.append(f"- **Allowed now:** {POLICY[state]}")
    if error:
        lines.append(f"- **Could not decide:** {md(error, ERROR_MAX)}")
    if override:
        lines.append(f"- **Override:** `{override}` was used; the deploy proceeds and was audited.")
    lines += ["", "| service | SLO | objective | budget remaining | burn rate 1h | days left | state |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    shown, note = listed(snapshot)
    for b in shown:
        slo = md(b.slo + group_text(b.group), 100)
        lines.append(f"| {md(b.service, 100)} | {slo} | {b.objective * 100:g}% / {md(b.window, 20)} | "
                     f"{percent(b.remaining)} | {rate(b.burn_rate_1h)} | {days_left(b)} | {b.state} |")
    if note:
        lines += ["", note]  # slogen's own text (counts and names of states)
    link = md_url(dashboard) if dashboard else None
    if link:
        lines += ["", f"[Error budget dashboard]({link})"]
    lines.append("")
    text = "\n".join(lines) + "\n"
    while len(text.encode("utf-8")) > SUMMARY_MAX_BYTES and len(lines) > 4:
        lines = [*lines[: len(lines) * 3 // 4], "", "_(summary cut to stay under GitHub's size limit)_", ""]
        text = "\n".join(lines) + "\n"
    return text


def listed(snapshot: Snapshot, limit: int = LIST_LIMIT) -> tuple[tuple[SLOBudget, ...], str | None]:
    """The SLOs a report lists, and a note on the ones it leaves out (None when it lists them all).

    All of them, in spec order, when they fit in `limit`; otherwise the `limit` worst, worst first.
    """
    if len(snapshot.slos) <= limit:
        return snapshot.slos, None
    shown = snapshot.worst(limit)
    hidden = len(snapshot.slos) - len(shown)
    return shown, (f"{hidden} more SLOs not listed ({state_counts(snapshot.slos, exclude=shown)}); "
                   "every SLO: `slogen gate --json FILE` or `slogen status`")


def state_counts(slos: tuple[SLOBudget, ...], exclude: tuple[SLOBudget, ...] = ()) -> str:
    """`9950 NORMAL, 40 CAUTION`: how many of `slos` (minus `exclude`) are in each state, best first."""
    counts = Counter(b.state for b in slos)
    counts.subtract(b.state for b in exclude)
    return ", ".join(f"{counts[state]} {state}" for state in STATE_ORDER if counts[state] > 0)


def names(slos: tuple[SLOBudget, ...], limit: int = 10) -> str:
    """`a/x, b/y and 9998 more`: SLO names for a one-line message."""
    text = ", ".join(b.name for b in slos[:limit])
    return text if len(slos) <= limit else f"{text} and {len(slos) - limit} more"
