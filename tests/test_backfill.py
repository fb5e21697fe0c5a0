"""`slogen backfill` without a Prometheus: the expansion of recorded reads, OpenMetrics, usage errors."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from conftest import SPECS
from prom import free_port
from slogen import conventions as c
from slogen.cli import main
from slogen.promql import parse_expression
from slogen.services import backfill
from slogen.spec.load import load


def test_every_expanded_rule_reads_raw_series_only() -> None:
    spec = load(str(SPECS / "full.yaml"))
    recs = backfill.recordings(spec, spec.slos)
    names = {r.record for r in recs}
    assert len(recs) == 18 * len(spec.slos)  # sli 2, tiles 6, hours 2, alerts 1, budget 3, state 4 per SLO
    for rec in recs:
        same = [r for r in recs if (r.service, r.slo) == (rec.service, rec.slo) and r is not rec]
        text = backfill.expand(rec, same)
        assert not any(re.search(rf"(?<![\w:]){re.escape(n)}(?![\w:])", text) for n in names), (rec.record, text)
        parse_expression(text)  # still PromQL


def test_range_reads_become_subqueries_on_the_producers_grid() -> None:
    spec = load(str(SPECS / "minimal.yaml"))
    recs = backfill.recordings(spec, spec.slos)
    budget = next(r for r in recs if r.record == c.BUDGET_REMAINING)
    text = backfill.expand(budget, [r for r in recs if r is not budget])
    # last_over_time(hour tile[45m]) → last_over_time((1h rate)[45m:30m]), at the hours group's 30m grid
    assert 'last_over_time((sum(rate(http_requests_total{job="api",code=~"5.."}[1h])))[45m:30m])' in text
    assert "[29d23h59m59s999ms:1h]" in text  # the budget's own subquery is kept
    # the 1h ratio fallback (an instant read of the sli group) becomes the raw 1h ratio
    assert "/ clamp_min(sum(rate(http_requests_total{job=\"api\"}[1h])), 1e-300)" in text
    tiles = next(r for r in recs if r.record == c.BURN_RATE_1H)
    # an instant read of the sli group's 1h ratio (bare) becomes the raw 1h ratio, parenthesised
    assert backfill.expand(tiles, [r for r in recs if r is not tiles]).startswith(
        '((sum(rate(http_requests_total{job="api",code=~"5.."}[1h])) or vector(0)) / ')


def test_openmetrics_escapes_labels_and_writes_special_values() -> None:
    text = backfill.openmetrics({("m", (("a", 'x"y\\z\n'),)): [(120.0, float("nan")), (60.0, float("inf"))]})
    assert text == 'm{a="x\\"y\\\\z\\n"} +Inf 60.000\nm{a="x\\"y\\\\z\\n"} NaN 120.000\n# EOF\n'


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["backfill", "-f", str(SPECS / "minimal.yaml"), *args])
    return result.exit_code, result.output


def test_usage_and_output_dir_errors(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: no case below may get that far
    code, out = _run("--from", "2026-11-01T00:00:00Z", "--to", "2026-10-01T00:00:00Z", "--output-dir",
                     str(tmp_path / "o"), "--prometheus-url", url)
    assert code == 2 and "earlier than --to" in out
    code, out = _run("--output-dir", str(tmp_path / "o"))
    assert code == 2 and "--from" in out
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("")
    code, out = _run("--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z", "--output-dir", str(busy),
                     "--prometheus-url", url, "--promtool", "/bin/true")
    assert code == 1 and "is not empty" in out
    code, out = _run("--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z", "--output-dir",
                     str(tmp_path / "new"), "--prometheus-url", url, "--promtool", "/bin/true", "--timeout", "2")
    assert code == 3 and "cannot connect to Prometheus" in out
    assert not (tmp_path / "new").exists()  # nothing written when Prometheus failed
