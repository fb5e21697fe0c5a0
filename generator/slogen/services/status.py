"""Reading the live error budgets: one batched Prometheus query, grouped per SLO into a Snapshot.

`fetch` reads the recorded series with ONE instant query, whatever the number of SLOs,
and groups the answer by (service, slo) in Python; the math is `slogen.slo.budget`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

from slogen import conventions as c
from slogen import gcpause
from slogen.clients.http import RetryCallback
from slogen.clients.prometheus import PrometheusClient, QueryResult
from slogen.model import SLO, Policy, Spec, identity_matchers
from slogen.promql.ast import Matcher, Selector, is_legacy_metric_name, render
from slogen.slo.budget import NO_DATA, RULES_NOT_LOADED, Snapshot, budget_of, select

# The series `fetch` reads, by role. Names come from the conventions module only. The period's
# error ratio is not read: the rules record R = 1 − ratio ÷ budget from it in the same evaluation,
# so ratio = (1 − R) × budget, and leaving it out cuts the answer (and Prometheus' work) by a
# third: two series per SLO instead of three.
SERIES = {"remaining": c.BUDGET_REMAINING, "burn_1h": c.BURN_RATE_1H, "coverage": c.PERIOD_COVERAGE}


Group = tuple[tuple[str, str], ...]  # (label, value) pairs naming one group of a grouped SLO


def budget_query(service: str | None = None, slo: str | None = None, group: Group = ()) -> str:
    """The one PromQL selector that returns every series `fetch` needs (narrowed when asked)."""
    names = sorted(SERIES.values())
    for name in names:  # metric names need no regex escaping; refuse a convention that would
        if not is_legacy_metric_name(name):
            raise ValueError(f"not a metric name: {name!r}")
    narrowing = (*identity_matchers(service, slo), *(Matcher(label, "=", value) for label, value in group))
    return render(Selector(None, (Matcher("__name__", "=~", "|".join(names)), *narrowing)))


def _narrowed(name: str, service: str | None, slo: str | None) -> str:
    return render(Selector(name, identity_matchers(service, slo)))


def fetch(slos: Sequence[SLO], policy: Policy, client: PrometheusClient, at: float,
          service: str | None = None, slo: str | None = None, group: Group = (),
          answer: QueryResult | None = None) -> Snapshot:
    """Read the budget of `slos` as of `at` in one query; SLOs without data come back UNKNOWN. A
    grouped SLO comes back once per group found (sorted by its label values), or once UNKNOWN.
    `answer`: that query's answer, when it was sent already (`Prefetch`)."""
    result = answer if answer is not None else client.query(budget_query(service, slo, group), at=at)
    role_of = {name: role for role, name in SERIES.items()}
    grouping = {(s.service, s.name): s.group_by for s in slos}
    values: dict[tuple[str, str], dict[Group, dict[str, float]]] = {}
    doubts: dict[tuple[str, str, Group], str] = {}
    for sample in result.samples:  # 20,000 at 10,000 SLOs: no work here that a sample does not need
        labels = sample.labels
        role = role_of.get(labels.get("__name__", ""))
        if role is None:
            continue
        key = (labels.get(c.LABEL_SERVICE, ""), labels.get(c.LABEL_SLO, ""))
        group_by = grouping.get(key)
        group_of = tuple((label, labels.get(label, "")) for label in group_by) if group_by else ()
        by_group = values.get(key)
        if by_group is None:
            by_group = values[key] = {}
        seen = by_group.get(group_of)
        if seen is None:
            seen = by_group[group_of] = {}
        if role in seen:  # one series per SLO or group: two mean a rule file loaded twice, or a forged answer
            doubts[(*key, group_of)] = f"several {SERIES[role]} series (is a rule file loaded twice?)"
        seen[role] = sample.value
    budgets = []
    for s in slos:
        found = values.get((s.service, s.name)) or {(): {}}
        budgets += [budget_of(s, found[g], policy, doubts.get((s.service, s.name, g), ""), group=g)
                    for g in sorted(found)]
    if any(b.state == c.UNKNOWN and not b.implausible for b in budgets):
        # Only then a second query: which SLOs have their rules loaded at all.
        loaded = {(r.labels.get(c.LABEL_SERVICE, ""), r.labels.get(c.LABEL_SLO, ""))
                  for r in client.query(_narrowed(c.SLO_INFO, service, slo), at=at).samples}
        budgets = [replace(b, missing=NO_DATA if (b.service, b.slo) in loaded else RULES_NOT_LOADED)
                   if b.state == c.UNKNOWN and not b.implausible else b for b in budgets]
    return Snapshot(at, tuple(budgets), tuple(result.warnings))


class Prefetch:
    """The read's one query, sent from a background thread before the spec is loaded, so that
    Prometheus evaluates it (on another core, in another process) while slogen reads the spec.

    The query depends on the command line alone (`budget_query`), not on the spec; the spec is
    still the source of truth: `read` selects the SLOs from it first (an unknown SLO or an invalid
    spec is reported as before, and the answer is dropped unread), then groups the answer by the
    spec's SLOs. What the query does is told in the caller's thread, by `answer`, after the spec
    loaded, as without it: its retry notices are held until then (a prefetch whose answer is never
    asked for prints nothing), and its failure (PrometheusError, ...) is raised there. The thread
    is a daemon and the client's own deadlines bound it."""

    def __init__(self, url: str, *, timeout: float, at: float, service: str | None = None,
                 slo: str | None = None, group: Group = ()) -> None:
        self.asked = (url, timeout, at, service, slo, group)
        self._answer: QueryResult | None = None
        self._error: BaseException | None = None
        self._notices: list[tuple[float, str, str]] = []  # appended by the thread, taken by `answer`
        self._thread = threading.Thread(target=self._send, name="slogen-prefetch", daemon=True)
        self._thread.start()

    def _send(self) -> None:
        url, timeout, at, service, slo, group = self.asked
        try:
            with PrometheusClient(url, timeout=timeout, on_retry=self._held) as client, gcpause.paused():
                self._answer = client.query(budget_query(service, slo, group), at=at)
        except BaseException as exc:  # handed to the caller's thread by `answer`
            self._error = exc

    def _held(self, seconds: float, cause: str, what: str) -> None:
        self._notices.append((seconds, cause, what))

    def answer(self, on_retry: RetryCallback | None = None) -> QueryResult:
        """The query's answer, once it came (its retry notices told to `on_retry` meanwhile); its
        error raised here."""
        told = 0
        while True:
            self._thread.join(0.05)
            alive = self._thread.is_alive()
            while told < len(self._notices):
                if on_retry is not None:
                    on_retry(*self._notices[told])
                told += 1
            if not alive:
                break
        if self._error is not None:
            raise self._error
        assert self._answer is not None
        return self._answer


def read(spec: Spec, url: str, *, timeout: float, at: float, service: str | None = None, slo: str | None = None,
         group: Group = (), on_retry: RetryCallback | None = None, prefetch: Prefetch | None = None) -> Snapshot:
    """The `status`/`gate` read: select the SLOs, then `fetch` them from the Prometheus at `url`.
    `prefetch`: the same query, sent already (used only when asked with the same arguments)."""
    slos = select(spec, service, slo, group)
    same = prefetch is not None and prefetch.asked == (url, timeout, at, service, slo, group)
    answer = prefetch.answer(on_retry) if same and prefetch is not None else None
    # Grouping 20,000 samples into 10,000 budgets allocates acyclic objects only (gcpause.py).
    with PrometheusClient(url, timeout=timeout, on_retry=on_retry) as client, gcpause.paused():
        return fetch(slos, spec.policy, client, at, service=service, slo=slo, group=group, answer=answer)
