"""`sli.expr.ratio`: what the loader accepts and refuses, and the rules it renders."""

from __future__ import annotations

import pytest

from slogen import conventions as c
from slogen.errors import SpecError
from slogen.model import ExprRatioSLI
from slogen.promql import render
from slogen.render import promql_builders as q
from slogen.spec.load import loads

HEAD = "version: slogen/v1\nservices:\n  - name: api\n    slos:\n      - name: s\n        objective: 99\n"


def _spec(expr: str) -> str:
    return HEAD + "        sli:\n          expr:\n" + "".join(f"            {line}\n" for line in expr.splitlines())


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        loads(text, filename="s.yaml")
    return [p.message for p in info.value.problems]


def test_ratio_alone_loads_with_comments_dropped() -> None:
    [slo] = loads(_spec("ratio: 'avg(rate(x_bad[$window]))  # the ratio'")).slos
    assert slo.sli == ExprRatioSLI(ratio="avg(rate(x_bad[$window]))  ")
    assert slo.sli_kind == "expr.ratio"


@pytest.mark.parametrize(("body", "message"), [
    ("ratio: 'x[$window]'\ntotal: 'y[$window]'", "'ratio' gives the error ratio by itself: drop 'total'"),
    ("errors: 'sum(rate(x[$window]))'", "missing required key 'total' (or give 'ratio' alone)"),
    ("ratio: 'avg_over_time(x[5m])'", "missing the $window placeholder"),
    ("ratio: 'rate(x[$window]'", "PromQL does not parse"),
])
def test_refused(body: str, message: str) -> None:
    assert any(message in m for m in _problems(_spec(body))), _problems(_spec(body))


def test_rules_read_the_ratio_directly_and_weigh_each_tile_one() -> None:
    [slo] = loads(_spec("ratio: 'avg_over_time(bad_ratio[$window])'")).slos
    defined = "((avg_over_time(bad_ratio[3m])) >= 0)"
    assert render(q.raw_ratio_expr(slo, "5m")) == "avg(((avg_over_time(bad_ratio[5m])) >= 0))"
    assert render(q.events_expr(slo, c.SHORT_TILE)) == f"count({defined})"
    assert render(q.errors_expr(slo, c.SHORT_TILE)) == f"sum({defined})"
