"""Benchmark: validate and render of large generated specs against the serialization floor.

The floor is the time PyYAML's C dumper and `json` alone take to serialize the very output
structures slogen renders (parsed back from slogen's own output), measured in the same run.
Figures: validate (read + parse + schema + cross-field checks + model), render (pure generators
from the model, text included), their ratio to the floor, growth from N/10 to N SLOs (the small
size as the median of 3 runs), the floor's own growth for reference, peak memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from typing import Any

import yaml

from bench.gen_spec import build
from slogen.render import render
from slogen.spec.load import loads

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _timed(fn: Any) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(services: int, slos_per_service: int) -> dict[str, float]:
    """Times (seconds) and sizes for one spec size."""
    text = yaml.dump(build(services, slos_per_service), Dumper=_Dumper, sort_keys=False)
    validate_s, spec = _timed(lambda: loads(text, filename="bench.yaml"))
    render_s, bundle = _timed(lambda: render(spec))
    structures = [(a.path, json.loads(a.text) if a.path.endswith(".json") else yaml.load(a.text, Loader=_Loader))
                  for a in bundle]

    def floor() -> int:
        size = 0
        for path, data in structures:
            if path.endswith(".json"):
                size += len(json.dumps(data, indent=2, sort_keys=True))
            else:
                size += len(yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False))
        return size

    floor_s, _ = _timed(floor)
    return {"slos": services * slos_per_service, "spec_bytes": len(text), "files": len(bundle),
            "output_bytes": sum(len(a.text) for a in bundle), "validate_s": validate_s, "render_s": render_s,
            "floor_s": floor_s, "render_over_floor": render_s / floor_s if floor_s else float("nan")}


def peak_memory_mb(services: int, slos_per_service: int) -> float:
    """Peak Python heap (MiB) of validate + render, by tracemalloc."""
    text = yaml.dump(build(services, slos_per_service), Dumper=_Dumper, sort_keys=False)
    tracemalloc.start()
    render(loads(text, filename="bench.yaml"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run(*, smoke: bool = False) -> list[dict[str, Any]]:
    """Rows of (figure, slogen, reference, ratio) for the suite table."""
    services = 10 if smoke else 1000
    # The small size takes seconds, so one noisy run would swing the growth figure by ±25 %:
    # it is measured 3 times and each figure is the median; the big size runs once.
    runs = [measure(services // 10, 10) for _ in range(3)]
    small = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    big = measure(services, 10)
    rows = [
        {"figure": f"validate {big['slos']} SLOs (s)", "slogen": big["validate_s"], "reference": None,
         "ratio": None},
        {"figure": f"render {big['slos']} SLOs vs serialization floor (s)", "slogen": big["render_s"],
         "reference": big["floor_s"], "ratio": big["render_over_floor"]},
        {"figure": f"render growth {small['slos']}→{big['slos']} SLOs (×time)",
         "slogen": big["render_s"] / small["render_s"], "reference": big["slos"] / small["slos"], "ratio": None},
        {"figure": f"serialization floor growth {small['slos']}→{big['slos']} SLOs (×time)",
         "slogen": big["floor_s"] / small["floor_s"], "reference": big["slos"] / small["slos"], "ratio": None},
        {"figure": f"validate growth {small['slos']}→{big['slos']} SLOs (×time)",
         "slogen": big["validate_s"] / small["validate_s"], "reference": big["slos"] / small["slos"], "ratio": None},
        {"figure": f"output of {big['slos']} SLOs (MiB, files)", "slogen": big["output_bytes"] / 2**20,
         "reference": big["files"], "ratio": None},
    ]
    if not smoke:
        rows.append({"figure": f"peak Python heap, validate+render {big['slos']} SLOs (MiB)",
                     "slogen": peak_memory_mb(services, 10), "reference": None, "ratio": None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    for row in run(smoke=parser.parse_args().smoke):
        print(row)


if __name__ == "__main__":
    main()
