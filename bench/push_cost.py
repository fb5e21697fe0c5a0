"""Benchmark: `slogen push` of 200 unchanged dashboards against the stand-in Grafana on loopback.

Each stand-in request is delayed by a fixed simulated round trip, so the wall time shows how many
round trips a push costs. Figures: writes on an unchanged push (must be 0), wall time with the
default bounded pool vs one request at a time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from bench.gen_spec import build
from slogen.cli import main
from slogen.render import render
from slogen.spec import load

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from grafana_standin import grafana_standin  # the test helper, reused as the benchmark server

ROUND_TRIP_S = 0.02


def _push(url: str, spec: Path, concurrency: int) -> tuple[float, Any]:
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["push", "-f", str(spec), "--grafana-url", url, "--concurrency",
                                       str(concurrency)], env={"GRAFANA_TOKEN": "good-token"})
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return elapsed, result


def run(*, smoke: bool = False) -> list[dict[str, Any]]:
    """Rows for the suite table."""
    services = 9 if smoke else 199  # + the overview = 10 or 200 dashboards
    doc = build(services, 1)
    doc["grafana"] = {"dashboard": {"per_service": True}}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "slos.yaml"
        spec.write_text(yaml.safe_dump(doc))
        with grafana_standin() as standin:
            _push(standin.url, spec, 8)  # first push creates everything
            standin.slow("GET", "/api/", ROUND_TRIP_S, times=10**6)
            standin.slow("POST", "/api/", ROUND_TRIP_S, times=10**6)
            before = len(standin.writes())
            requests_before = len(standin.requests())
            pooled_s, _ = _push(standin.url, spec, 8)
            requests = len(standin.requests()) - requests_before
            sequential_s, _ = _push(standin.url, spec, 1)
            writes = len(standin.writes()) - before
            started = time.perf_counter()
            render(load(str(spec)))  # what every push does before its first request
            render_s = time.perf_counter() - started
    pooled_s, sequential_s = pooled_s - render_s, sequential_s - render_s
    n = services + 1
    return [
        {"figure": f"push {n} unchanged dashboards: writes", "slogen": writes, "reference": 0, "ratio": None},
        {"figure": f"push {n} unchanged dashboards: HTTP requests", "slogen": requests, "reference": None,
         "ratio": None},
        {"figure": f"push {n} unchanged, {ROUND_TRIP_S * 1000:.0f} ms RTT, after render: pool of 8 vs sequential (s)",
         "slogen": pooled_s, "reference": sequential_s, "ratio": pooled_s / sequential_s},
        {"figure": f"push {n} unchanged: wall time in round trips (pool of 8 vs sequential)",
         "slogen": pooled_s / ROUND_TRIP_S, "reference": sequential_s / ROUND_TRIP_S, "ratio": None},
    ]


if __name__ == "__main__":
    for row in run(smoke="--smoke" in sys.argv):
        print(row)
