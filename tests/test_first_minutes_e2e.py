"""Budgets from the first minutes, on a real Prometheus with the rules at their real intervals.

Raw counters are already in Prometheus (3 hours backfilled, up to 30 seconds ago: the 1h window
keeps finding them while the test runs; samples ahead of now would put the head's appends out of
bounds, so recordings would fail), the rendered rule files are
loaded when Prometheus starts, and `slogen status --json` is polled: the budget must be known
within 5 minutes, stand on the 1h ratio ("budget over 1h of 30d"), and equal the exact value
1 − r ÷ budget of the history's constant error ratio r. `status` and `gate` must also tell "rules
not loaded" (a Prometheus without the rules) from "rules loaded, no data" (an SLO whose total
series does not exist), each with its own message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prom import backfill, needs_prometheus, prometheus
from slogen.render import render
from slogen.spec.load import loads

pytestmark = [needs_prometheus, pytest.mark.slow]

SPEC = """version: slogen/v1
services:
  - name: shop
    slos:
      - name: availability
        objective: 99.5
        sli: {ratio: {errors: 'req_total{job="shop",code="500"}', total: 'req_total{job="shop"}'}}
  - name: ghost
    slos:
      - name: availability
        objective: 99.9
        sli: {ratio: {errors: 'req_total{job="ghost",code="500"}', total: 'req_total{job="ghost"}'}}
"""
RATIO = 0.002  # R = 1 − 0.002 / 0.005 = 0.6
DEADLINE = 300.0


def history(now: int) -> str:
    lines = ["# TYPE req counter"]
    ok, bad = [], []
    for i, t in enumerate(range(now - 3 * 3600, now - 30, 15)):
        ok.append(f'req_total{{job="shop",code="200"}} {1e5 + i * 100 * (1 - RATIO)!r} {t}')
        bad.append(f'req_total{{job="shop",code="500"}} {10 + i * 100 * RATIO!r} {t}')
    return "\n".join([*lines, *ok, *bad, "# EOF", ""])


def slogen(spec: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVERRIDE_", "GITHUB_"))}
    return subprocess.run([sys.executable, "-m", "slogen", *args, "-f", str(spec)], capture_output=True, text=True,
                          env=env | {"PROMETHEUS_URL": url}, timeout=60)


def test_budget_within_five_minutes_of_loading_the_rules(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(SPEC)
    rules = {a.path: a.text for a in render(loads(SPEC)) if a.path.startswith("rules/")}
    now = int(time.time())
    backfill(history(now), tmp_path / "data")

    # Without the rules: "not loaded", for every SLO.
    with prometheus("global: {}\n", data_dir=tmp_path / "data") as (url, _):
        bare = slogen(spec, url, "status", "--json")
        gate = slogen(spec, url, "gate")
    assert bare.returncode == 0, bare.stderr
    assert {s["unknown_reason"] for s in json.loads(bare.stdout)["slos"]} == {"rules not loaded"}
    assert gate.returncode == 99 and "not loaded" in gate.stderr + gate.stdout

    config = "global: {scrape_interval: 15s}\nrule_files:\n" + "".join(f"  - {p}\n" for p in sorted(rules))
    with prometheus(config, data_dir=tmp_path / "data", files=rules) as (url, _):
        loaded = time.monotonic()
        while True:
            doc = json.loads(slogen(spec, url, "status", "--json").stdout)
            by = {s["service"]: s for s in doc["slos"]}
            if by["shop"]["error_budget_remaining"] is not None and by["ghost"]["unknown_reason"] != "rules not loaded":
                break
            assert time.monotonic() - loaded < DEADLINE, doc
            time.sleep(5)
        took = time.monotonic() - loaded
        print(f"first budget {took:.0f} s after the rules were loaded")
        table = slogen(spec, url, "status")
        gate = slogen(spec, url, "gate", "--service", "ghost")
    shop, ghost = by["shop"], by["ghost"]
    assert took < DEADLINE
    assert shop["error_budget_remaining"] == pytest.approx(1 - RATIO / 0.005, rel=1e-9)
    assert shop["coverage"] == pytest.approx(1 / 720, rel=1e-9)  # the 1h ratio stands in for the period
    assert shop["state"] == "CAUTION"
    assert ghost["state"] == "UNKNOWN" and ghost["unknown_reason"] == "no data"
    assert "budget over 1h of 30d" in table.stdout
    assert gate.returncode == 99 and "rules are loaded" in gate.stderr + gate.stdout
