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
A grouped SLO (`group_by`) gets one series per group, with the group's labels, its share of the
traffic and its own everyday burn rate from GROUP_VALUES (the spec cannot know which values a
label will carry; these are the demo app's routes); `SERVICE/SLO{label=value}@…` is an incident
of one group only. Tiles without the group labels would show up as one more, phantom group.
The defaults leave checkout/availability with about 85 % of its budget, search/latency with
about 86 %, and checkout/latency 95 % on /cart and about 87 % on /pay.
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
DEFAULT_INCIDENTS = ("checkout/availability@9:3:12", "search/latency@4:6:5", "checkout/latency{route=/pay}@6:2:10")
# label → value → (share of the SLO's traffic, everyday burn rate): the routes demo/app.py serves
# in docker-compose.yml (loadgen sends the same rate to each).
GROUP_VALUES: dict[str, dict[str, tuple[float, float]]] = {
    "route": {"/cart": (0.5, 0.05), "/pay": (0.5, 0.1)},
}

Group = tuple[tuple[str, str], ...]  # (label, value) pairs in group_by order; () for an ungrouped SLO


@dataclass(frozen=True)
class Incident:
    slo: str  # service/slo
    days_ago: float
    hours: int
    burn: float
    group: Group = ()  # only this group of a grouped SLO; () for every group

    @classmethod
    def parse(cls, text: str) -> Incident:
        try:
            slo, rest = text.split("@")
            group: Group = ()
            if slo.endswith("}"):
                slo, _, inner = slo[:-1].partition("{")
                group = tuple((k.strip(), v.strip()) for k, v in (pair.split("=") for pair in inner.split(",")))
            days, hours, burn = rest.split(":")
            return cls(slo, float(days), int(hours), float(burn), group)
        except ValueError:
            raise ValueError(f"incident {text!r} is not SERVICE/SLO[{{LABEL=VALUE}}]@DAYS_AGO:HOURS:BURN") from None

    def hits(self, slo: str, group: Group) -> bool:
        return self.slo == slo and set(self.group) <= set(group)


@dataclass(frozen=True)
class Series:
    """One SLO, or one group of a grouped SLO: its labels, objective, traffic share and burn."""

    slo: str  # service/slo
    objective: float
    group: Group = ()
    share: float = 1.0
    burn: float = BASE_BURN


def groups_of(group_by: list[str]) -> list[tuple[Group, float, float]]:
    """Every group of `group_by` from GROUP_VALUES: (labels, traffic share, everyday burn rate)."""
    out: list[tuple[Group, float, float]] = [((), 1.0, 0.0)]
    for label in group_by:
        if label not in GROUP_VALUES:
            raise ValueError(f"no demo values for the grouping label {label!r}: add them to GROUP_VALUES")
        out = [((*group, (label, value)), share * s, max(burn, b))
               for group, share, burn in out for value, (s, b) in GROUP_VALUES[label].items()]
    return out


def slos_of(spec_text: str) -> list[Series]:
    """Every series to write: one per SLO, one per group of a grouped SLO, from the spec's text."""
    doc = yaml.safe_load(spec_text)
    out = []
    for service in doc["services"]:
        for slo in service["slos"]:
            name, objective = f"{service['name']}/{slo['name']}", float(slo["objective"]) / 100
            group_by = list(slo.get("group_by") or [])
            if not group_by:
                out.append(Series(name, objective))
                continue
            out += [Series(name, objective, group, share, burn) for group, share, burn in groups_of(group_by)]
    return out


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


def burn_at(series: Series, t: int, end: int, incidents: list[Incident]) -> float:
    for inc in incidents:
        start = end - int(inc.days_ago * 86400)
        if inc.hits(series.slo, series.group) and start <= t < start + inc.hours * HOUR:
            return inc.burn
    return series.burn


def tiles(slos: list[Series], days: int, end: int, incidents: list[Incident]
          ) -> Iterator[tuple[str, dict[str, str], list[tuple[int, float]]]]:
    """(metric, labels, [(time, value)]) per series; times increase (promtool needs that)."""
    times = list(range(end - days * 86400 + HOUR, end + HOUR, HOUR))
    for series in sorted(slos, key=lambda s: (s.slo, s.group)):
        service, slo = series.slo.split("/")
        labels = {"service": service, "slo": slo, **dict(series.group)}
        events = [(t, traffic(t) * series.share) for t in times]
        errors = [(t, rate * burn_at(series, t, end, incidents) * (1 - series.objective)) for t, rate in events]
        yield EVENTS_HOUR, labels, events
        yield ERRORS_HOUR, labels, errors


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics(slos: list[Series], days: int, end: int, incidents: list[Incident]) -> str:
    lines = []
    for metric, labels, samples in tiles(slos, days, end, incidents):
        text = "{" + ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items()) + "}"
        lines += [f"{metric}{text} {value!r} {t}" for t, value in samples]
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
    names = {s.slo for s in slos}
    text = openmetrics(slos, args.days, end, [i for i in incidents if i.slo in names])
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"history: {args.days} days of hourly tiles for {len(names)} SLOs ({len(slos)} series), up to {end}, "
          f"in {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
