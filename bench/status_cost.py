"""Benchmark: `slogen status` over 1,000 SLOs on a local Prometheus.

    python -m bench.status_cost            # 1,000 SLOs (100 services × 10)
    python -m bench.status_cost --smoke    # 10 SLOs, seconds

A throwaway Prometheus gets 2 hours of every SLO's recorded metadata series (the series the
rendered rules record: budget remaining, burn rates, period ratio, objective, days, state...),
backfilled with promtool. Figures: HTTP queries one status read sends (slogen batches by metric,
so this must stay ≤ 3 whatever the number of SLOs), wall time of the in-process read (median of
5), wall time of the whole `slogen status --json`, `slogen status` (table) and `slogen gate` commands (Python start, spec
load, query, output), and for reference the naive way (one query per SLO and series). Values read
back are checked against the ones written. Writes bench/results/status_cost.json. Measurements,
not tests: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.gen_spec import build
from slogen import conventions as c
from slogen.clients.prometheus import PrometheusClient
from slogen.services import status as status_service
from slogen.spec.load import loads

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from prom import backfill, prometheus  # noqa: E402 - the tests' throwaway-Prometheus helpers

OTHER_SERIES = (c.OBJECTIVE, c.ERROR_BUDGET, c.PERIOD_DAYS, c.BURN_RATE_PERIOD,
                c.DAYS_TO_EXHAUSTION, c.STATE)


def _history(spec_slos: Any, end: int, rng: random.Random) -> tuple[str, dict[tuple[str, str], float]]:
    """OpenMetrics text with 2h of 1m samples per SLO and series; and the budget written at END."""
    lines, truth = [], {}
    for slo in spec_slos:
        labels = f'{c.LABEL_SERVICE}="{slo.service}",{c.LABEL_SLO}="{slo.name}"'
        remaining = rng.uniform(-0.5, 1.0)
        truth[(slo.service, slo.name)] = remaining
        values = {c.BUDGET_REMAINING: remaining, c.BURN_RATE_1H: rng.uniform(0, 5),
                  c.ERROR_RATIO_PERIOD: (1 - remaining) * float(slo.error_budget)}
        values |= dict.fromkeys(OTHER_SERIES, 1.0)
        for name, value in values.items():
            lines.extend(f"{name}{{{labels}}} {value!r} {t}" for t in range(end - 7200, end + 1, 60))
    return "\n".join(lines) + "\n# EOF\n", truth


def _timed(fn: Any, repeat: int = 5) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(services: int, slos_per_service: int, *, naive_too: bool = True) -> dict[str, Any]:
    """Run the benchmark at one size; returns the figures."""
    doc = build(services, slos_per_service)
    spec = loads(yaml.safe_dump(doc, sort_keys=False), filename="bench.yaml")
    end = int(time.time()) // 60 * 60 - 600
    text, truth = _history(spec.slos, end, random.Random(42))
    with tempfile.TemporaryDirectory(prefix="slogen-bench-status-") as tmp:
        work = Path(tmp)
        spec_path = work / "slos.yaml"
        spec_path.write_text(yaml.safe_dump(doc, sort_keys=False))
        started = time.perf_counter()
        backfill(text, work / "data")
        backfill_s = time.perf_counter() - started
        with prometheus("global: {}\n", data_dir=work / "data") as (url, _):
            client = PrometheusClient(url, timeout=60)
            fetch_s, snapshot = _timed(lambda: status_service.fetch(spec.slos, spec.policy, client, float(end)))
            queries_per_read = client.queries / 5
            wrong = [b.name for b in snapshot.slos if b.remaining != truth[(b.service, b.slo)]]

            def naive() -> int:  # the seed's way: one query per SLO and series
                count = 0
                for slo in spec.slos:
                    for name in status_service.SERIES.values():
                        client.query(f'{name}{{service="{slo.service}",slo="{slo.name}"}}', at=float(end))
                        count += 1
                return count

            naive_s, naive_queries = _timed(naive, repeat=1) if naive_too else (None, None)
            # A fresh cache dir: the first command pays for parsing and validating the spec (cold), the
            # next ones read the validated spec from slogen's cache (warm), as repeated gates in CI do.
            env = os.environ | {"PROMETHEUS_URL": url, "SLOGEN_CACHE_DIR": str(work / "cache")}
            env.pop("SLOGEN_NO_CACHE", None)
            cli = {}
            for command, extra in (("status", ["--json"]), ("table", []), ("gate", [])):
                args = [sys.executable, "-m", "slogen", "gate" if command == "gate" else "status", "-f", str(spec_path),
                        "--time", str(end), *extra]
                cli[command], proc = _timed(lambda a=args: subprocess.run(a, capture_output=True, text=True, env=env),
                                            repeat=3)
                assert proc.returncode in (0, 1, 2, 3), proc.stderr
                if command == "status":
                    cli["cold"] = _timed(lambda a=args: subprocess.run(
                        a, capture_output=True, text=True, env=env | {"SLOGEN_NO_CACHE": "1"}), repeat=1)[0]
    return {"slos": len(spec.slos), "series_backfilled": len(spec.slos) * (3 + len(OTHER_SERIES)),
            "backfill_s": backfill_s, "queries_per_status": queries_per_read, "fetch_s": fetch_s,
            "status_cli_s": cli["status"], "status_table_cli_s": cli["table"], "gate_cli_s": cli["gate"],
            "status_cli_cold_s": cli["cold"],
            "naive_queries": naive_queries,
            "naive_s": naive_s, "values_wrong": len(wrong), "worst_state": snapshot.state}


def run(*, smoke: bool = False) -> list[dict[str, Any]]:
    """Rows of (figure, slogen, reference, ratio) for bench/run.py; also writes status_cost.json."""
    sizes = [(2, 5, True)] if smoke else [(100, 10, True), (1000, 10, False)]
    load_before = _load()
    every = [measure(services, per, naive_too=naive) for services, per, naive in sizes]
    load_after = _load()
    out = ROOT / "bench" / "results" / "status_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"smoke": smoke, "sizes": every, "load_average": [load_before, load_after]}, indent=2)
                   + "\n")
    return [row for figures in every for row in _rows(figures)] + [
        {"figure": "load average (1 min) before, after", "slogen": load_before, "reference": load_after,
         "ratio": None}]


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def _rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    n = figures["slos"]
    naive = figures["naive_queries"] is not None
    return [
        {"figure": f"status over {n} SLOs: HTTP queries (naive: per SLO and series)",
         "slogen": figures["queries_per_status"], "reference": figures["naive_queries"],
         "ratio": figures["queries_per_status"] / figures["naive_queries"] if naive else None},
        {"figure": f"status over {n} SLOs: read time (s) vs naive", "slogen": figures["fetch_s"],
         "reference": figures["naive_s"], "ratio": figures["fetch_s"] / figures["naive_s"] if naive else None},
        {"figure": f"`slogen status --json` over {n} SLOs, whole command, cached spec (s)",
         "slogen": figures["status_cli_s"], "reference": None, "ratio": None},
        {"figure": f"`slogen status` (table) over {n} SLOs, whole command, cached spec (s)",
         "slogen": figures["status_table_cli_s"], "reference": None, "ratio": None},
        {"figure": f"`slogen status --json` over {n} SLOs, whole command, cold: no spec cache (s)",
         "slogen": figures["status_cli_cold_s"], "reference": None, "ratio": None},
        {"figure": f"`slogen gate` over {n} SLOs, whole command, cached spec (s)", "slogen": figures["gate_cli_s"],
         "reference": None, "ratio": None},
        {"figure": f"status over {n} SLOs: values differing from those written", "slogen": figures["values_wrong"],
         "reference": 0, "ratio": None},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="10 SLOs instead of 1,000")
    for row in run(smoke=parser.parse_args().smoke):
        print(row)
    print(f"wrote {ROOT / 'bench' / 'results' / 'status_cost.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
