"""Grafana dashboards: the six-panel error-budget overview, and one per service on request.

Every panel reads series recorded by the rules (names from `conventions`), filtered by the
`$service` and `$slo` variables; the only raw-metric query is the p95 latency, a 5m rate of
the latency SLO's histogram. The panels are the same for the overview and a per-service
dashboard (there `$service` is a hidden constant), so building many dashboards costs little
beyond the latency panel, links and burn-rate lines, which depend on the service's own SLOs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from fractions import Fraction

from slogen import conventions as c
from slogen.model import SLO, LatencySLI, Spec, period_days
from slogen.promql import ast as e
from slogen.render import grafana_sdk as g
from slogen.render import promql_builders as q
from slogen.render.artifact import Artifact
from slogen.render.encode import json_text
from slogen.slo.windows import BurnWindow

# The dashboard's variables, as matchers every panel query carries.
VARIABLE_MATCHERS = (e.Matcher(c.LABEL_SERVICE, "=~", f"${c.LABEL_SERVICE}"),
                     e.Matcher(c.LABEL_SLO, "=~", f"${c.LABEL_SLO}"))
BY_SLO = (c.LABEL_SERVICE, c.LABEL_SLO)
LEGEND = f"{{{{{c.LABEL_SERVICE}}}}}/{{{{{c.LABEL_SLO}}}}}"
STATE_COLORS = ("green", "yellow", "orange", "red", "dark-red")  # in conventions.STATES order

MAX_LATENCY_SLOS = 30  # per latency panel; each SLO costs two queries
MAX_RUNBOOK_LINKS = 20  # more do not fit the top bar: then only per-service dashboards list them

TITLES = ("Error Budget Remaining", "Days Until Budget Exhaustion", "Error Budget Burn Rate",
          "SLO Compliance Overview", "SLO Compliance History", "Latency P95 vs SLO Target")


Groups = tuple[str, ...]  # the grouping labels of the spec's grouped SLOs (group_by), sorted


def grouping_labels(slos: Iterable[SLO]) -> Groups:
    """Every label some SLO groups by: each gets a dashboard variable, a legend part and a table column."""
    return tuple(sorted({label for slo in slos for label in slo.group_by}))


def _series(name: str, groups: Groups = ()) -> e.Selector:
    """A recorded series, filtered by the dashboard's `$service` and `$slo` variables (and one per
    grouping label: `.*` for All also matches the series of ungrouped SLOs, which lack the label)."""
    return e.Selector(name, VARIABLE_MATCHERS + tuple(e.Matcher(label, "=~", f"${label}") for label in groups))


def _legend(groups: Groups) -> str:
    return LEGEND + "".join(f" {{{{{label}}}}}" for label in groups)


def _by(groups: Groups) -> tuple[str, ...]:
    return (*BY_SLO, *groups)


def _percent(expr: e.Expr) -> str:
    return e.render(expr * 100)


def _availability(name: str, groups: Groups) -> str:
    """`(1 - ratio) * 100`: the SLI in percent from a recorded error ratio."""
    return _percent(1 - _series(name, groups))


def _num(value: Fraction | float) -> float | int:
    """A threshold as JSON shows it best: 14.4 not 14.399999, 1 not 1.0."""
    rounded = round(float(value), 4)
    return int(rounded) if rounded == int(rounded) else rounded


def _budget_steps(spec: Spec) -> tuple[g.Step, ...]:
    p = spec.policy
    return ((None, "red"), (_num(p.freeze), "orange"), (_num(p.warning), "yellow"), (_num(p.caution), "green"))


def _burn_steps(slos: Iterable[SLO]) -> tuple[g.Step, ...]:
    """Budget line 1, then each period's fastest ticket and page factors (the 1d and 1h rows)."""
    # SLOs of one period share one rows tuple: dedupe by identity first (hashing a tuple of rows
    # hashes every Fraction in it, 10,000 times over for a large spec).
    distinct = {(slo.window, id(rows)): (slo.window, rows) for slo in slos for rows in (slo.windows,)}
    return _burn_steps_for(frozenset(distinct.values()))


@functools.cache
def _burn_steps_for(periods: frozenset[tuple[str, tuple[BurnWindow, ...]]]) -> tuple[g.Step, ...]:
    lines: dict[float | int, str] = {1: "yellow"}
    for period, rows in sorted(periods, key=lambda p: (p[0], repr(p[1]))):
        page = next((r for r in rows if r.severity == c.SEVERITY_PAGE), None)
        ticket = next((r for r in rows if r.severity == c.SEVERITY_TICKET), None)
        if ticket is not None:
            lines.setdefault(_num(ticket.factor(period)), "orange")
        if page is not None:
            lines[_num(page.factor(period))] = "red"
    return ((None, "green"), *sorted(lines.items()))


def _state_map() -> tuple[g.ValueText, ...]:
    """Colours for the state words (the words are not numbers, so no other column matches)."""
    return tuple(g.ValueText(name, name, color) for name, color in zip(c.STATES, STATE_COLORS, strict=True))


def _budget_gauge(spec: Spec, groups: Groups) -> g.Panel:
    return g.Panel(
        "gauge", TITLES[0],
        "Share of each SLO's error budget left in its period: 100 % untouched, 0 % spent, below 0 overspent. "
        f"Green above {spec.policy.caution:g} %, yellow above {spec.policy.warning:g} %, orange above "
        f"{spec.policy.freeze:g} % (deploy policy), red below.",
        g.Grid(0, 0, 6, 8), (g.Query(_percent(_series(c.BUDGET_REMAINING, groups)), _legend(groups)),),
        g.FieldStyle(unit="percent", decimals=1, steps=_budget_steps(spec)), min=0, max=100)


def _days_gauge(spec: Spec, groups: Groups) -> g.Panel:
    longest = _num(max(slo.window_days for slo in spec.slos))
    return g.Panel(
        "gauge", TITLES[1],
        "Days until the error budget is spent if the last hour's burn rate continues. SLOs that are not "
        "burning budget have no value; an empty gauge (∞) means none is burning.",
        g.Grid(6, 0, 6, 8), (g.Query(e.render(_series(c.DAYS_TO_EXHAUSTION, groups)), _legend(groups)),),
        g.FieldStyle(unit="d", decimals=1, steps=((None, "red"), (1, "orange"), (3, "yellow"), (7, "green"))),
        min=0, max=longest, no_value="∞ (not burning)")


def _burn_panel(slos: tuple[SLO, ...], groups: Groups) -> g.Panel:
    steps = _burn_steps(slos)
    factors = ", ".join(f"{v:g}" for v, _ in steps[2:])
    return g.Panel(
        "timeseries", TITLES[2],
        "How fast each SLO spends its error budget over the last hour: 1 (yellow line) spends exactly the "
        f"budget over the period; the orange/red lines ({factors}) are the ticket/page alert factors.",
        g.Grid(12, 0, 12, 8), (g.Query(e.render(_series(c.BURN_RATE_1H, groups)), _legend(groups)),),
        g.FieldStyle(unit="suffix:×", decimals=2, steps=steps), min=0, threshold_lines=True)


# Grafana's schema allows no per-column unit, so units go into the column names; the state
# becomes a `state` label (readable text) coloured by value mappings on those words.
STATE_LABEL = "state"
def _columns(groups: Groups) -> tuple[tuple[str, e.Expr], ...]:
    """(column, expression over the SLO's recorded series). The objective is one series per SLO:
    a grouped SLO's groups share it, so it joins them by service and slo."""
    objective: e.Expr = _series(c.OBJECTIVE) * 100
    if groups:
        objective = e.binary("*", objective, e.agg("max", _series(c.STATE, groups), by=_by(groups)) * 0 + 1,
                             on=BY_SLO, group_right=())
    return (
        ("Objective (%)", objective),
        ("SLI over period (%)", (1 - _series(c.ERROR_RATIO_PERIOD, groups)) * 100),
        ("Budget remaining (%)", _series(c.BUDGET_REMAINING, groups) * 100),
        ("Burn rate 1h (×)", _series(c.BURN_RATE_1H, groups)),
    )


_COLUMNS = _columns(())


def _state_text(groups: Groups) -> str:
    """The state code as a `state` label: one `label_replace` per state, joined with `or`."""
    code = e.agg("max", _series(c.STATE, groups), by=_by(groups))
    return e.render(e.or_(*(e.call("label_replace", e.binary("==", code, c.STATE_CODES[name]), e.String(STATE_LABEL),
                                   e.String(name), e.String(""), e.String(""))
                            for name in c.STATES)))


def _table(spec: Spec, slos: tuple[SLO, ...], groups: Groups) -> g.Panel:
    cols = _columns(groups)
    queries = (*(g.Query(e.render(e.agg("max", expr, by=_by(groups))), instant=True) for _, expr in cols),
               g.Query(_state_text(groups), instant=True))
    names = {f"Value #{g.ref_id(i)}": name for i, (name, _) in enumerate(cols)}
    columns = (c.LABEL_SERVICE, c.LABEL_SLO, *groups, *names, STATE_LABEL)
    organize = {"excludeByName": {"Time": True, f"Value #{g.ref_id(len(_COLUMNS))}": True},
                "renameByName": {c.LABEL_SERVICE: "Service", c.LABEL_SLO: "SLO", STATE_LABEL: "State", **names},
                "indexByName": {name: i for i, name in enumerate(columns)}}
    page = max(v for v, color in _burn_steps(slos) if v is not None)
    return g.Panel(
        "table", TITLES[3],
        "One row per SLO, now: objective and SLI over the SLO's period (%), error budget left (%), burn rate "
        "over the last hour (× the sustainable rate), and the deploy state (NORMAL, CAUTION, WARNING, FREEZE, "
        "EXHAUSTED). Cells are coloured by the deploy policy; click a header to sort.",
        g.Grid(0, 8, 24, 9), queries,
        g.FieldStyle(unit="none", decimals=3, mappings=_state_map()),
        overrides=(
            g.Override(g.FieldStyle(steps=_budget_steps(spec), cell="color-background"), name=_COLUMNS[2][0]),
            g.Override(g.FieldStyle(cell="color-text", steps=((None, "green"), (1, "yellow"), (page, "red"))),
                       name=_COLUMNS[3][0]),
            g.Override(g.FieldStyle(cell="color-background"), name="State"),
        ),
        transformations=(("merge", {}), ("organize", organize)), sort_by=_COLUMNS[2][0])


def _history(slos: tuple[SLO, ...], groups: Groups) -> g.Panel:
    periods = "/".join(sorted({slo.window for slo in slos}, key=period_days))
    return g.Panel(
        "timeseries", TITLES[4],
        f"Availability (1 − error ratio) over a rolling 7 days and over each SLO's period ({periods}), against "
        "the objective (dashed). A line below its objective means the SLO is breached over that window.",
        g.Grid(0, 17, 12, 8),
        (g.Query(_availability(c.error_ratio("7d"), groups), f"{_legend(groups)} 7d"),
         g.Query(_availability(c.ERROR_RATIO_PERIOD, groups), f"{_legend(groups)} period"),
         g.Query(_percent(_series(c.OBJECTIVE)), f"{LEGEND} objective")),
        g.FieldStyle(unit="percent", decimals=3),
        overrides=(g.Override(g.FieldStyle(dashed=True), ref="C"),))


def _identity(slo: SLO) -> e.Selector:
    """Matches the SLO's info series when the dashboard's variables select it (else nothing)."""
    return e.Selector(c.SLO_INFO, q.id_matchers(slo) + VARIABLE_MATCHERS)


def _latency(slos: tuple[SLO, ...]) -> g.Panel:
    latency = [slo for slo in slos if isinstance(slo.sli, LatencySLI)]
    explain = ("The 95th-percentile latency of each latency SLO (5m rate of its histogram) against the SLO's "
               "threshold (dashed): p95 above the line means more than 5 % of requests are too slow.")
    if not latency:
        explain = "No latency SLO is defined here, so this panel stays empty. " + explain
    elif len(latency) > MAX_LATENCY_SLOS:
        # Two queries per SLO: past this, one panel would fire hundreds of queries on every refresh.
        explain = (f"{len(latency)} latency SLOs are too many to query in one panel (limit {MAX_LATENCY_SLOS}); "
                   "set grafana.dashboard.per_service to get one dashboard per service. " + explain)
        latency = []
    queries: list[g.Query] = []
    targets: list[str] = []
    for slo in latency:
        sli = slo.sli
        assert isinstance(sli, LatencySLI)
        if sli.native:
            p95 = e.call("histogram_quantile", 0.95, e.sum_(e.rate(e.Selector(sli.metric, sli.selector), "5m")))
        else:
            buckets = e.rate(q.latency_series(sli, "_bucket"), "5m")
            p95 = e.call("histogram_quantile", 0.95, e.sum_(buckets, by=("le",)))
        name = f"{slo.service}/{slo.name}"
        targets.append(f"{name} target {sli.threshold}")
        queries += [g.Query(e.render(e.binary("and", p95, _identity(slo), on=())), f"{name} p95"),
                    g.Query(e.render(e.binary("and", e.vector(sli.threshold_seconds), _identity(slo), on=())),
                            targets[-1])]
    return g.Panel(
        "timeseries", TITLES[5], explain, g.Grid(12, 17, 12, 8), tuple(queries),
        g.FieldStyle(unit="s", decimals=3), min=0, no_value="no latency SLO",
        overrides=tuple(g.Override(g.FieldStyle(dashed=True), name=t) for t in targets))


def _links(slos: tuple[SLO, ...]) -> tuple[g.Link, ...]:
    """A dropdown of every slogen dashboard, then the runbooks (if few enough to fit the top bar)."""
    seen: dict[str, str] = {}
    for slo in slos:
        url = slo.alerting.annotations.get("runbook_url")
        if url and url not in seen:
            seen[url] = f"Runbook: {slo.service}/{slo.name}"
    runbooks = () if len(seen) > MAX_RUNBOOK_LINKS else tuple(g.Link(title, url=url) for url, title in seen.items())
    return (g.Link("SLO dashboards", tag=c.MARKER_TAG), *runbooks)


def _dashboard(spec: Spec, uid: str, title: str, slos: tuple[SLO, ...], common: tuple[g.Panel, ...],
               service: str | None, groups: Groups) -> Artifact:
    gr = spec.grafana
    panels = (*common[:2], _burn_panel(slos, groups), _table(spec, slos, groups), _history(slos, groups),
              _latency(slos))
    variables = g.Variables(gr.datasource, c.SLO_INFO, c.LABEL_SERVICE, c.LABEL_SLO, fixed_service=service,
                            group_labels=groups, group_metric=c.BUDGET_REMAINING)
    doc = g.build(g.Dashboard(uid, title, c.generated_header(spec.source), tuple(sorted({*gr.tags, c.MARKER_TAG})),
                              gr.refresh, gr.time, variables, panels, _links(slos)))
    return Artifact(c.dashboard_file(uid), json_text(doc), doc)


def generate(spec: Spec) -> list[Artifact]:
    """The overview dashboard, plus one per service when `grafana.per_service` is set."""
    gr = spec.grafana
    groups = grouping_labels(spec.slos)
    common = (_budget_gauge(spec, groups), _days_gauge(spec, groups))
    out = [_dashboard(spec, gr.dashboard_uid, gr.dashboard_title, spec.slos, common, None, groups)]
    if gr.per_service:
        for service in spec.services:
            uid = c.service_dashboard_uid(gr.dashboard_uid, service.name)
            out.append(_dashboard(spec, uid, f"{gr.dashboard_title}: {service.name}", service.slos, common,
                                  service.name, groups))
    return out
