"""Benchmark: `slogen push` of 200 unchanged dashboards against the stand-in Grafana on loopback.

The stand-in runs in its own process (bench/standin_server.py) and delays every request by a
fixed simulated round trip, so the wall time shows how many round trips a push costs. Figures: writes on an unchanged push (must be 0), wall time with the
default bounded pool vs one request at a time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from click.testing import CliRunner

from bench.gen_spec import build
from slogen.cli import main
from slogen.render import render
from slogen.spec.load import load

ROUND_TRIP_S = 0.02


def _push(url: str, spec: Path, concurrency: int) -> float:
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["push", "-f", str(spec), "--grafana-url", url, "--concurrency",
                                       str(concurrency)], env={"GRAFANA_TOKEN": "good-token"})
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return elapsed


def _stats(url: str) -> dict[str, int]:
    answer = requests.get(f"{url}/bench/stats", headers={"Authorization": "Bearer good-token"}, timeout=10)
    return dict(answer.json())


def run(*, smoke: bool = False) -> list[dict[str, Any]]:
    """Rows for the suite table."""
    services = 9 if smoke else 199  # + the overview = 10 or 200 dashboards
    doc = build(services, 1)
    doc["grafana"] = {"dashboard": {"per_service": True}}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "slos.yaml"
        spec.write_text(yaml.safe_dump(doc))
        started = time.perf_counter()
        render(load(str(spec)))  # what every push does before its first request
        render_s = time.perf_counter() - started
        server = subprocess.Popen([sys.executable, "-m", "bench.standin_server", "--delay", str(ROUND_TRIP_S)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  cwd=Path(__file__).resolve().parent.parent)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            _push(url, spec, 8)  # the first push creates everything
            before = _stats(url)
            pooled_s = _push(url, spec, 8)
            middle = _stats(url)
            sequential_s = _push(url, spec, 1)
            wide_s = _push(url, spec, 32)
            after = _stats(url)
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=30)
    pooled_s, sequential_s, wide_s = pooled_s - render_s, sequential_s - render_s, wide_s - render_s
    n = services + 1
    return [
        {"figure": f"push {n} unchanged dashboards: writes", "slogen": after["writes"] - before["writes"],
         "reference": 0, "ratio": None},
        {"figure": f"push {n} unchanged dashboards: HTTP requests", "slogen": middle["requests"] - before["requests"],
         "reference": None, "ratio": None},
        {"figure": f"push {n} unchanged, {ROUND_TRIP_S * 1000:.0f} ms RTT, after render: pool of 8 vs sequential (s)",
         "slogen": pooled_s, "reference": sequential_s, "ratio": pooled_s / sequential_s},
        {"figure": f"push {n} unchanged: wall time in round trips (pool of 8 vs sequential)",
         "slogen": pooled_s / ROUND_TRIP_S, "reference": sequential_s / ROUND_TRIP_S, "ratio": None},
        {"figure": f"push {n} unchanged: wall time in round trips with --concurrency 32",
         "slogen": wide_s / ROUND_TRIP_S, "reference": None, "ratio": None},
    ]


if __name__ == "__main__":
    for row in run(smoke="--smoke" in sys.argv):
        print(row)
