"""The budget math (docs/status-and-gate.md, "States"): the state decision table at every boundary, days to exhaustion,
worst state, selection, and the one batched query (pure: no Prometheus)."""

from __future__ import annotations

import math
import re

import pytest

from slogen import conventions as c
from slogen.clients.prometheus import QueryResult, Sample
from slogen.model import Policy
from slogen.services import status as status_service
from slogen.slo import budget
from slogen.spec.load import loads

DEFAULT = Policy()
EPS = 1e-6  # "just above/below": a millionth of a percentage point in ratio terms is 1e-8

SPEC = """
version: slogen/v1
services:
  - name: checkout
    slos:
      - name: availability
        objective: 99.9
        sli: {ratio: {errors: 'http_requests_total{job="checkout",status=~"5.."}', total: 'http_requests_total{job="checkout"}'}}
      - name: latency
        objective: 99
        window: 28d
        sli: {latency: {metric: http_request_duration_seconds, selector: {job: checkout}, threshold: 2s}}
  - name: search
    slos:
      - name: availability
        objective: 99.5
        sli: {ratio: {errors: 'http_requests_total{job="search",status=~"5.."}', total: 'http_requests_total{job="search"}'}}
"""


@pytest.mark.parametrize(("percent", "state"), [
    (100.0, "NORMAL"), (80 + EPS, "NORMAL"), (80.0, "CAUTION"), (80 - EPS, "CAUTION"),
    (50 + EPS, "CAUTION"), (50.0, "CAUTION"), (50 - EPS, "WARNING"),
    (20 + EPS, "WARNING"), (20.0, "WARNING"), (20 - EPS, "FREEZE"),
    (0 + EPS, "FREEZE"), (0.0, "FREEZE"), (-0.0, "FREEZE"), (0 - EPS, "EXHAUSTED"), (-250.0, "EXHAUSTED"),
])
def test_state_table_at_every_boundary(percent: float, state: str) -> None:
    assert budget.state_for(percent / 100, DEFAULT) == state


@pytest.mark.parametrize(("remaining", "state"), [
    (math.nan, c.UNKNOWN), (None, c.UNKNOWN), (math.inf, c.UNKNOWN), (-math.inf, "EXHAUSTED"),
])
def test_state_of_non_finite_values(remaining: float | None, state: str) -> None:
    assert budget.state_for(remaining, DEFAULT) == state


def test_float_noise_lands_on_the_boundary_the_user_meant() -> None:
    # With the budget written as 1 - 0.999 (as a rule computes it), 20 % spent comes out as
    # 0.8000000000000002 and 80 % spent as 0.20000000000000062: both are the boundary, not beyond it.
    assert 1 - 0.0002 / (1 - 0.999) > 0.8
    assert budget.state_for(1 - 0.0002 / (1 - 0.999), DEFAULT) == "CAUTION"
    assert 1 - 0.0008 / 0.001 < 0.2
    assert budget.state_for(1 - 0.0008 / 0.001, DEFAULT) == "WARNING"
    assert budget.state_for(1 - 0.0005 / (1 - 0.999), DEFAULT) == "CAUTION"


def test_custom_policy_thresholds_move_the_boundaries() -> None:
    strict = Policy(caution=90, warning=60, freeze=30)
    assert [budget.state_for(r, strict) for r in (0.95, 0.9, 0.6, 0.59, 0.3, 0.29, -0.01)] == [
        "NORMAL", "CAUTION", "CAUTION", "WARNING", "WARNING", "FREEZE", "EXHAUSTED"]


@pytest.mark.parametrize(("remaining", "days", "burn", "want"), [
    (0.5, 30, 0.0, None),  # no burn: never
    (0.5, 30, -0.0, None),
    (0.0, 30, 2.0, 0.0),  # spent: 0
    (-0.3, 30, 2.0, 0.0),
    (-0.3, 30, 0.0, 0.0),  # spent and not burning is still spent
    (0.5, 30, 2.0, 7.5),
    (0.3526, 30, 0.5, 21.156),
    (0.9, 28, 1.0, 25.2),
    (None, 30, 1.0, None),
    (math.nan, 30, 1.0, None),
    (0.5, 30, None, None),
    (0.5, 30, math.nan, None),
])
def test_days_to_exhaustion(remaining: float | None, days: int, burn: float | None, want: float | None) -> None:
    got = budget.days_to_exhaustion(remaining, days, burn)
    if want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, rel=1e-12)


def test_worst_state_ranks_unknown_above_exhausted() -> None:
    assert budget.worst_state([]) == "NORMAL"
    assert budget.worst_state(["CAUTION", "NORMAL"]) == "CAUTION"
    assert budget.worst_state(["FREEZE", "WARNING", "EXHAUSTED", "NORMAL"]) == "EXHAUSTED"
    assert budget.worst_state(["EXHAUSTED", c.UNKNOWN]) == c.UNKNOWN


def test_select_narrows_and_names_unknowns() -> None:
    spec = loads(SPEC)
    assert [s.name for s in budget.select(spec)] == ["availability", "latency", "availability"]
    assert [(s.service, s.name) for s in budget.select(spec, "checkout")] == [
        ("checkout", "availability"), ("checkout", "latency")]
    assert [(s.service, s.name) for s in budget.select(spec, slo="availability")] == [
        ("checkout", "availability"), ("search", "availability")]
    with pytest.raises(budget.UnknownSLOError, match=r"unknown service 'nope'.*checkout, search"):
        budget.select(spec, "nope")
    with pytest.raises(budget.UnknownSLOError, match="unknown SLO 'latency' in service 'search'; known: availability"):
        budget.select(spec, "search", "latency")


def test_budget_query_is_one_selector_built_from_conventions() -> None:
    query = status_service.budget_query()
    for name in (c.BUDGET_REMAINING, c.BURN_RATE_1H):
        assert name in query
    assert c.ERROR_RATIO_PERIOD not in query  # derived from R: (1 − R) × budget, one series fewer per SLO
    assert query.startswith('{__name__=~"') and query.count("{") == 1
    assert status_service.budget_query("a\"b", "x") == (
        '{__name__=~"' + "|".join(sorted(status_service.SERIES.values())) + '",service="a\\"b",slo="x"}')


class FakeClient:
    """Stands in for the HTTP client (the real one is tested against Prometheus elsewhere)."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples
        self.calls: list[tuple[str, float | None]] = []

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        self.calls.append((expr, at))
        names = set(re.findall(r"[a-zA-Z_:][\w:]*", expr))  # answer like Prometheus: the series asked for
        return QueryResult([x for x in self.samples if x.labels["__name__"] in names], ["a warning"])


def _s(name: str, service: str, slo: str, value: float) -> Sample:
    return Sample({"__name__": name, "service": service, "slo": slo, "team": "x"}, value, 0.0)


def test_fetch_groups_one_answer_by_slo_and_computes_in_python() -> None:
    spec = loads(SPEC)
    client = FakeClient([
        _s(c.BUDGET_REMAINING, "checkout", "availability", 0.35),
        _s(c.BURN_RATE_1H, "checkout", "availability", 2.0),
        _s(c.BUDGET_REMAINING, "checkout", "latency", 0.9),
        _s(c.BURN_RATE_1H, "checkout", "latency", 0.0),
        _s(c.BUDGET_REMAINING, "other", "thing", -1.0),  # not in the spec: ignored
        _s(c.SLO_INFO, "search", "availability", 1.0),  # its rules are loaded
    ])
    snap = status_service.fetch(spec.slos, spec.policy, client, 1234.5)  # type: ignore[arg-type]
    # one query for the budgets; a second only because an SLO has none: are its rules loaded?
    assert client.calls == [(status_service.budget_query(), 1234.5), (c.SLO_INFO, 1234.5)]
    by = {b.name: b for b in snap.slos}
    a = by["checkout/availability"]
    assert (a.state, a.remaining, a.burn_rate_1h, a.objective, a.window) == ("WARNING", 0.35, 2.0, 0.999, "30d")
    assert a.sli == pytest.approx(1 - 0.65 * 0.001, rel=1e-15)  # period ratio = (1 − R) × budget
    assert a.days_to_exhaustion == pytest.approx(0.35 * 30 / 2.0)
    lat = by["checkout/latency"]
    assert (lat.state, lat.days_to_exhaustion, lat.window_days) == ("NORMAL", None, 28)
    missing = by["search/availability"]
    assert (missing.state, missing.remaining, missing.sli, missing.days_to_exhaustion) == (c.UNKNOWN, None, None, None)
    assert snap.state == c.UNKNOWN and snap.unknown == (missing,)
    assert (missing.missing, missing.unknown_reason) == (budget.NO_DATA, "no data")
    assert snap.warnings == ("a warning",)


def test_an_slo_without_its_rules_says_so() -> None:
    spec = loads(SPEC)
    client = FakeClient([_s(c.SLO_INFO, "checkout", "availability", 1.0)])
    snap = status_service.fetch(spec.slos, spec.policy, client, 1.0)  # type: ignore[arg-type]
    reasons = {b.name: b.unknown_reason for b in snap.slos}
    assert reasons == {"checkout/availability": "no data", "checkout/latency": "rules not loaded",
                       "search/availability": "rules not loaded"}
    assert all(b.coverage is None for b in snap.slos)


def test_coverage_is_read_and_kept_a_share() -> None:
    spec = loads(SPEC)
    client = FakeClient([_s(c.BUDGET_REMAINING, "checkout", "availability", 0.5),
                         _s(c.PERIOD_COVERAGE, "checkout", "availability", 1 / 720),
                         _s(c.BUDGET_REMAINING, "checkout", "latency", 0.5),
                         _s(c.PERIOD_COVERAGE, "checkout", "latency", 1.0000000001),
                         _s(c.BUDGET_REMAINING, "search", "availability", 0.5)])
    by = {b.name: b for b in status_service.fetch(spec.slos, spec.policy, client, 1.0).slos}  # type: ignore[arg-type]
    assert by["checkout/availability"].coverage == pytest.approx(1 / 720)
    assert by["checkout/latency"].coverage == 1.0  # float noise above 1 is 1
    assert by["search/availability"].coverage is None and by["search/availability"].unknown_reason is None


def test_nan_budget_is_unknown_and_deciding_slo_is_the_worst() -> None:
    spec = loads(SPEC)
    client = FakeClient([
        _s(c.BUDGET_REMAINING, "checkout", "availability", 0.15),
        _s(c.BUDGET_REMAINING, "checkout", "latency", 0.10),
        _s(c.BUDGET_REMAINING, "search", "availability", math.nan),
    ])
    snap = status_service.fetch(spec.slos[:2], spec.policy, client, 0.0)  # type: ignore[arg-type]
    assert snap.state == "FREEZE"
    assert snap.deciding is not None and snap.deciding.name == "checkout/latency"
    nan = status_service.fetch(spec.slos, spec.policy, client, 0.0)  # type: ignore[arg-type]
    assert nan.slos[2].state == c.UNKNOWN and nan.slos[2].remaining is None


def test_duplicate_series_are_implausible_whatever_their_values() -> None:
    spec = loads(SPEC)
    for second in (0.1, 0.9, math.nan):  # one series per SLO: a second one is never trusted (issue 14)
        client = FakeClient([_s(c.BUDGET_REMAINING, "checkout", "availability", 0.9),
                             _s(c.BUDGET_REMAINING, "checkout", "availability", second)])
        slo = status_service.fetch(spec.slos[:1], spec.policy, client, 0.0).slos[0]  # type: ignore[arg-type]
        assert slo.state == c.UNKNOWN and "several" in slo.implausible


def test_budget_above_one_or_negative_burn_is_implausible() -> None:
    spec = loads(SPEC)
    for samples in ([_s(c.BUDGET_REMAINING, "checkout", "availability", 1.5)],
                    [_s(c.BUDGET_REMAINING, "checkout", "availability", 0.5),
                     _s(c.BURN_RATE_1H, "checkout", "availability", -2.0)]):
        slo = status_service.fetch(spec.slos[:1], spec.policy, FakeClient(samples), 0.0).slos[0]  # type: ignore[arg-type]
        assert slo.state == c.UNKNOWN and slo.implausible
    exact = FakeClient([_s(c.BUDGET_REMAINING, "checkout", "availability", 1.0)])
    assert status_service.fetch(spec.slos[:1], spec.policy, exact, 0.0).slos[0].state == "NORMAL"  # type: ignore[arg-type]


def test_infinite_budgets_have_no_sli_and_minus_infinity_is_exhausted() -> None:
    spec = loads(SPEC)
    client = FakeClient([_s(c.BUDGET_REMAINING, "checkout", "availability", -math.inf),
                         _s(c.BURN_RATE_1H, "checkout", "availability", math.inf),
                         _s(c.BUDGET_REMAINING, "checkout", "latency", math.inf)])
    exhausted, unknown = status_service.fetch(spec.slos[:2], spec.policy, client, 0.0).slos  # type: ignore[arg-type]
    assert (exhausted.state, exhausted.remaining, exhausted.sli, exhausted.burn_rate_1h,
            exhausted.days_to_exhaustion) == ("EXHAUSTED", -math.inf, None, None, 0.0)
    assert (unknown.state, unknown.remaining, unknown.sli) == (c.UNKNOWN, None, None)
