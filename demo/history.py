"""Thirty days of made-up SLO history for the demo stack, so the budget panels have data at once.

slogen's budget rules sum one hour tile per whole hour (`slogen:sli_events:hour_rate1h`,
`slogen:sli_errors:hour_rate1h`), and recording rules never run on the past, so a fresh
Prometheus has a budget over the last hour only until the hour tiles have built up. This writes
hour tiles for every whole hour of the last days, for every SLO of
slos.yaml as OpenMetrics; docker-compose.yml turns the file into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics` before Prometheus starts.

    python history.py [--spec slos.yaml] [--days 30] [--out history.om] [--now UNIX]
                      [--incident checkout/availability@9:3:12 ...]

Model: diurnal traffic (±50 % around 20 requests/s); every SLO burns 10 % of its budget's
rate (burn rate 0.1); an incident `SERVICE/SLO@DAYS_AGO:HOURS:BURN` burns at BURN for HOURS.
The defaults leave checkout/availability with about 85 % of its budget and search/latency
with about 86 %.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

EVENTS_HOUR = "slogen:sli_events:hour_rate1h"  # = slogen.conventions.EVENTS_HOUR (tests check)
ERRORS_HOUR = "slogen:sli_errors:hour_rate1h"  # = slogen.conventions.ERRORS_HOUR
HOUR = 3600
BASE_RPS = 20.0
BASE_BURN = 0.1
DEFAULT_INCIDENTS = ("checkout/availability@9:3:12", "search/latency@4:6:5")


@dataclass(frozen=True)
class Incident:
    slo: str  # service/slo
    days_ago: float
    hours: int
    burn: float

    @classmethod
    def parse(cls, text: str) -> Incident:
        try:
            slo, rest = text.split("@")
            days, hours, burn = rest.split(":")
            return cls(slo, float(days), int(hours), float(burn))
        except ValueError:
            raise ValueError(f"incident {text!r} is not SERVICE/SLO@DAYS_AGO:HOURS:BURN") from None


def slos_of(spec_text: str) -> dict[str, float]:
    """`service/slo` → objective as a ratio, from the spec's text."""
    doc = yaml.safe_load(spec_text)
    return {f"{service['name']}/{slo['name']}": float(slo["objective"]) / 100
            for service in doc["services"] for slo in service["slos"]}


def last_tile(now: float) -> int:
    """The newest full hour to write, at least 2 minutes old.

    The budget reads, at each whole hour, the newest hour tile up to 45 minutes old: the written
    ones until the live hours group (every 30m) has recorded its own, which may overlap the last
    written hour by up to half an hour: a demo can afford that (a real deployment backfills)."""
    return int((now - 120) // HOUR * HOUR)


def traffic(t: int) -> float:
    """Requests per second averaged over the hour ending at `t`."""
    hour_of_day = (t // HOUR) % 24
    return BASE_RPS * (1 + 0.5 * math.sin(2 * math.pi * (hour_of_day - 9) / 24))


def burn_at(slo: str, t: int, end: int, incidents: list[Incident]) -> float:
    for inc in incidents:
        start = end - int(inc.days_ago * 86400)
        if inc.slo == slo and start <= t < start + inc.hours * HOUR:
            return inc.burn
    return BASE_BURN


def tiles(slos: dict[str, float], days: int, end: int, incidents: list[Incident]
          ) -> Iterator[tuple[str, str, str, list[tuple[int, float]]]]:
    """(metric, service, slo, [(time, value)]) per series; times increase (promtool needs that)."""
    times = list(range(end - days * 86400 + HOUR, end + HOUR, HOUR))
    for name, objective in sorted(slos.items()):
        service, slo = name.split("/")
        events = [(t, traffic(t)) for t in times]
        errors = [(t, rate * burn_at(name, t, end, incidents) * (1 - objective)) for t, rate in events]
        yield EVENTS_HOUR, service, slo, events
        yield ERRORS_HOUR, service, slo, errors


def openmetrics(slos: dict[str, float], days: int, end: int, incidents: list[Incident]) -> str:
    lines = []
    for metric, service, slo, samples in tiles(slos, days, end, incidents):
        labels = f'{{service="{service}",slo="{slo}"}}'
        lines += [f"{metric}{labels} {value!r} {t}" for t, value in samples]
    return "\n".join([*lines, "# EOF", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="slos.yaml")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--out", default="history.om")
    parser.add_argument("--now", type=float, default=None, help="unix seconds (default: now)")
    parser.add_argument("--incident", action="append", default=None)
    args = parser.parse_args(argv)
    try:
        with open(args.spec, encoding="utf-8") as handle:
            slos = slos_of(handle.read())
        incidents = [Incident.parse(text) for text in (args.incident or DEFAULT_INCIDENTS)]
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        print(f"history: error: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.days <= 90:
        parser.error("--days must be between 1 and 90")
    end = last_tile(args.now if args.now is not None else time.time())
    text = openmetrics(slos, args.days, end, [i for i in incidents if i.slo in slos])
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"history: {args.days} days of hourly tiles for {len(slos)} SLOs, up to {end}, in {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
