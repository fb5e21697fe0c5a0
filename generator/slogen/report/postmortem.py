"""The postmortem document: the file name, the template filled in, the budget-impact table.

Budget consumed = remaining at the start − remaining at the end, in percentage points of the
SLO's error budget (82 % → 41 % is 41 points). The resulting deploy state is the worst state
at the end of the incident, with the policy of the gate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from string import Template

from slogen import conventions as c
from slogen.model import SLO, Spec
from slogen.report.formats import duration, percent, points
from slogen.report.textsafe import md
from slogen.slo import budget
from slogen.slo.policy import POLICY

REVIEW_AFTER = timedelta(days=30)
MAX_SLUG = 80  # keeps file names readable and far below any file-system limit
# Latin letters that NFKD does not decompose into ASCII; everything else non-ASCII is dropped.
_TRANSLITERATE = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
                                "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ı": "i"})


def slugify(title: str) -> str:
    """ASCII kebab-case of `title`: accents dropped, other symbols as separators; "untitled" if empty."""
    decomposed = unicodedata.normalize("NFKD", title.translate(_TRANSLITERATE))
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        cut = slug[:MAX_SLUG]
        # Cut at a word boundary when there is one, so the name does not end mid-word.
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug or "untitled"


def filename(title: str, day: date) -> str:
    """`YYYY-MM-DD-kebab-title.md`."""
    return f"{day.isoformat()}-{slugify(title)}.md"


@dataclass(frozen=True)
class Row:
    """One SLO's budget at the start and end of the incident and now (ratios; None = no data)."""

    name: str
    objective: float
    before: float | None
    after: float | None
    now: float | None
    state_after: str
    state_now: str

    @property
    def consumed_points(self) -> float | None:
        """Budget spent during the incident, in percentage points of the error budget."""
        if self.before is None or self.after is None:
            return None
        return (self.before - self.after) * 100


@dataclass(frozen=True)
class Impact:
    """The measured error-budget impact of an incident from `start` to `end` (unix seconds)."""

    start: float
    end: float
    now: float
    source: str  # the Prometheus URL
    rows: tuple[Row, ...]

    @property
    def state_after(self) -> str:
        """The deploy state the incident left behind: the worst state at its end."""
        return budget.worst_state(r.state_after for r in self.rows)

    @property
    def state_now(self) -> str:
        return budget.worst_state(r.state_now for r in self.rows)


def _stamp(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


def impact_table(impact: Impact | None) -> str:
    """The markdown of the "Error budget impact" section."""
    if impact is None:
        return ("_Not measured: run `slogen postmortem new TITLE --from T1 --to T2` to fill this in from "
                "Prometheus, or read `slogen status --time T` at the start and the end of the incident._\n\n"
                "| SLO | Objective | Before | End of incident | Now | Budget consumed | State at end | State now |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
                "| _service/slo_ | | | | | | | |\n\n"
                "**Resulting deploy state:** _NORMAL / CAUTION / WARNING / FREEZE / EXHAUSTED_")
    lines = [
        f"Measured by slogen from {md(impact.source)}: error budget remaining before the incident "
        f"({_stamp(impact.start)}), at its end ({_stamp(impact.end)}) and now ({_stamp(impact.now)}). "
        "Budget consumed = before − end, in percentage points of each SLO's error budget.",
        "",
        "| SLO | Objective | Before | End of incident | Now | Budget consumed | State at end | State now |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in impact.rows:
        lines.append(f"| {md(r.name, 200)} | {r.objective * 100:g} % | {percent(r.before, sep=' ')} | "
                     f"{percent(r.after, sep=' ')} | "
                     f"{percent(r.now, sep=' ')} | {points(r.consumed_points)} | {r.state_after} | {r.state_now} |")
    state = impact.state_after
    lines += ["", f"**Resulting deploy state:** {state}: {POLICY[state]}"]
    if impact.state_now != state:
        lines.append(f"**Deploy state now:** {impact.state_now}: {POLICY[impact.state_now]}")
    return "\n".join(lines)


def _violated(impact: Impact | None) -> str:
    if impact is None:
        return "_yes / no: which SLO, and by how much_"
    over = [r.name for r in impact.rows if r.after is not None and r.after < 0]
    if over:
        return "yes: " + ", ".join(over) + " (error budget overspent at the end of the incident)"
    if any(r.after is None for r in impact.rows):
        return "unknown for SLOs without data; no for the others"
    return "no (every SLO kept part of its error budget)"


def _consumed(impact: Impact | None) -> str:
    if impact is None:
        return "_percentage points of the error budget, per SLO (see Error budget impact)_"
    spent = [(r.consumed_points, r.name) for r in impact.rows if r.consumed_points is not None]
    spent = sorted(((p, n) for p, n in spent if p > 0), reverse=True)
    if not spent:
        return "none measurable (see Error budget impact)"
    return ", ".join(f"{p:.2f} pp of {n}" for p, n in spent)


def document(title: str, day: date, spec: Spec, slos: Sequence[SLO], impact: Impact | None) -> str:
    """The postmortem text: the template filled with what is known, placeholders for the rest."""
    template = Template(resources.files("slogen").joinpath("data/postmortem.md").read_text(encoding="utf-8"))
    services = sorted({s.service for s in slos})
    link = c.dashboard_url(spec.grafana.url, spec.grafana.dashboard_uid)
    if impact is not None:
        link += f"?from={int(impact.start * 1000)}&to={int(impact.end * 1000)}"
    return template.substitute(
        title=" ".join(title.split()) or "Untitled",  # one line: it is a markdown heading
        date=day.isoformat(),
        window=f"{_stamp(impact.start)} – {_stamp(impact.end)}" if impact else "_start – end, UTC_",
        duration=duration(impact.end - impact.start) if impact else "_hh:mm_",
        services=", ".join(services) or "_service_",
        review_date=(day + REVIEW_AFTER).isoformat(),
        slo_violated=_violated(impact),
        budget_consumed=_consumed(impact),
        start_time=_stamp(impact.start).removesuffix(" UTC") if impact else "",
        end_time=_stamp(impact.end).removesuffix(" UTC") if impact else "",
        impact=impact_table(impact),
        dashboard_link=link,
    )
