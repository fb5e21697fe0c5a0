"""The tests' stand-in Grafana as a separate process for benchmarks (so server work does not share
the client's interpreter), every request delayed by a simulated round trip.

    python -m bench.standin_server --delay 0.02     # prints its URL, serves until stdin closes

`GET /bench/stats` (with the token) answers {"requests": N, "writes": N, "max_inflight": N}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from grafana_standin import Standin, grafana_standin  # the tests' stand-in, unchanged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.02)
    args = parser.parse_args()
    original = Standin.handle

    def handle(self: Standin, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if path == "/bench/stats":
            seen = self.requests()
            return 200, {"requests": len([s for s in seen if not s.path.startswith("/bench")]),
                         "writes": len(self.writes()), "max_inflight": self.max_inflight}
        return original(self, method, path, query, body)

    Standin.handle = handle  # type: ignore[method-assign]
    with grafana_standin() as standin:
        for method in ("GET", "POST"):
            standin.slow(method, "/api/", args.delay, times=10**9)
        print(standin.url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main()
