"""Run every slogen benchmark and print one table (figure, slogen, reference, ratio); write it as JSON.

    python -m bench.run            # full sizes (minutes; needs prometheus/promtool for some)
    python -m bench.run --smoke    # tiny sizes, seconds (what CI may run)

Each benchmark module exposes `run(smoke: bool) -> list[row]`, a row being
{"figure", "slogen", "reference", "ratio"}. Benchmarks are measurements, not tests: nothing here
asserts a timing. These machines are noisy; quote ratios from one run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

SUITES = ("render_cost", "rules_cost", "rules_scale", "status_cost", "push_cost")
NEEDS_PROMETHEUS = {"rules_cost", "rules_scale", "status_cost"}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--only", action="append", choices=SUITES, help="run only these suites")
    parser.add_argument("--out", default="bench/results/bench.json", help="JSON output path")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for name in args.only or SUITES:
        if name in NEEDS_PROMETHEUS and not (shutil.which("prometheus") and shutil.which("promtool")):
            print(f"skipping {name}: prometheus/promtool not installed", file=sys.stderr)
            continue
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        for row in module.run(smoke=args.smoke):
            rows.append({"suite": name, **row})
        print(f"{name}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
    width = max((len(r["figure"]) for r in rows), default=10)
    print(f"{'figure':<{width}}  {'slogen':>12}  {'reference':>12}  {'ratio':>8}")
    for r in rows:
        print(f"{r['figure']:<{width}}  {_fmt(r['slogen']):>12}  {_fmt(r['reference']):>12}  {_fmt(r['ratio']):>8}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "smoke": args.smoke, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
