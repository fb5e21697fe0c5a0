"""Generate a large, valid slos.yaml for benchmarks: N services × M SLOs of mixed SLI kinds."""

from __future__ import annotations

import argparse
import sys

import yaml

WINDOWS = ("30d", "28d", "7d", "14d", "90d")


def build(services: int, slos_per_service: int) -> dict:
    """A spec document (plain data) with services × slos_per_service SLOs."""
    out = []
    for s in range(services):
        name = f"svc-{s:04d}"
        slos = []
        for i in range(slos_per_service):
            kind = i % 3
            if kind == 0:
                sli = {"ratio": {"errors": f'http_requests_total{{job="{name}",code=~"5..",route="/r{i}"}}',
                                 "total": f'http_requests_total{{job="{name}",route="/r{i}"}}'}}
            elif kind == 1:
                sli = {"latency": {"metric": "http_request_duration_seconds",
                                   "selector": {"job": name, "route": f"/r{i}"}, "threshold": "300ms"}}
            else:
                sli = {"expr": {"good": f'sum(rate(jobs_ok_total{{job="{name}",q="{i}"}}[$window]))',
                                "total": f'sum(rate(jobs_total{{job="{name}",q="{i}"}}[$window]))'}}
            slos.append({"name": f"slo-{i:02d}", "objective": [99.9, 99.5, 99, 99.95][i % 4],
                         "window": WINDOWS[(s + i) % len(WINDOWS)], "sli": sli,
                         "alerting": {"annotations": {"runbook_url": f"https://runbooks.example/{name}"}}})
        out.append({"name": name, "labels": {"team": f"team-{s % 50}"}, "slos": slos})
    return {"version": "slogen/v1", "services": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--slos-per-service", type=int, default=10)
    args = parser.parse_args()
    Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    yaml.dump(build(args.services, args.slos_per_service), sys.stdout, Dumper=Dumper, sort_keys=False)


if __name__ == "__main__":
    main()
