"""`slogen backfill`: TSDB blocks of slogen's recording rules over past time, from the raw counters.

Recording rules never run on the past. This computes what each recording rule would have recorded
at every point of its own group's evaluation grid (multiples of the group's interval: 1m, 3m,
30m, 2m), by range queries against the Prometheus that holds the raw counters, writes the results
as OpenMetrics and turns them into blocks with `promtool tsdb create-blocks-from openmetrics`.

Later stages read earlier stages' recordings, which do not exist in the past. Instead of loading
each stage's blocks into a Prometheus before computing the next, every reference to a recording is
replaced by the expression that records it, evaluated on the producer's grid:

* an instant read `name{service=…,slo=…}` becomes `(expr)`: every instant read in slogen's layout
  is by a group whose interval is a multiple of the producer's, so on grids at offset 0 the
  producer recorded a sample at the very instant of the read;
* a range read `name{…}[R]` becomes the subquery `(expr)[R:interval]`, whose steps are aligned to
  multiples of the interval, exactly the samples the producer recorded in that range.

The result is, to the last bit, what the rules would have recorded with an evaluation offset of 0
(Prometheus evaluates a subquery once over the whole range of a range query, so the nested reads
of the budget stage cost one pass over the raw counters, not one per step).

Handing over to the live rules: a series already recorded by the loaded rules is written only
before its first live sample, so two grids never interleave (which would count short tiles twice
in the alerts' sums). Hour tiles are the exception: written over the whole span, because the
period's pick at a whole hour takes the newest tile of the last 45 minutes, and a backfilled tile
sits exactly on the hour, so every backfilled hour is read exactly even where live tiles overlap.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from slogen import conventions as c
from slogen.clients.prometheus import PrometheusClient
from slogen.durations import parse_duration
from slogen.errors import SlogenError
from slogen.model import SLO, Spec
from slogen.promql import Matcher, Selector, render
from slogen.render import rules as rule_render

MAX_POINTS = 10_000  # Prometheus refuses range queries of more than 11,000 points per series
PROMTOOL_TIMEOUT = 3600.0
BLOCK_DURATION = "24h"  # promtool's default 2h would write 360 blocks for 30 days
NO_CUT_STAGES = frozenset({c.STAGE_HOURS})  # see the module docstring: hour picks read the on-the-hour tile


class BackfillError(SlogenError):
    """The output directory, promtool or the span cannot be used (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class Recording:
    """One recording rule of one SLO, as rendered."""

    record: str
    labels: tuple[tuple[str, str], ...]
    expr: str
    group: str
    stage: str
    interval: int  # seconds
    service: str
    slo: str

    @property
    def selector(self) -> str:
        """How other rules of the same SLO read this recording."""
        return render(Selector(self.record, (Matcher(c.LABEL_SERVICE, "=", self.service),
                                             Matcher(c.LABEL_SLO, "=", self.slo))))


@dataclass
class GroupReport:
    """What was written for one rule group."""

    name: str
    stage: str
    interval: int
    series: int = 0
    samples: int = 0
    held_back: int = 0  # samples not written because the live rules already recorded from there on


@dataclass
class BackfillReport:
    """The outcome of a backfill."""

    start: float
    end: float
    output_dir: str
    groups: list[GroupReport] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    queries: int = 0

    @property
    def samples(self) -> int:
        """Samples written in all groups."""
        return sum(g.samples for g in self.groups)

    @property
    def empty_groups(self) -> list[GroupReport]:
        """Groups with no evaluation in the span, or none before the live rules took over."""
        return [g for g in self.groups if g.samples == 0]


def recordings(spec: Spec, slos: Sequence[SLO]) -> list[Recording]:
    """The recording rules the spec renders for `slos`, in file (data-flow) order."""
    wanted = {(s.service, s.name) for s in slos}
    stages = {}
    for service in spec.services:
        for stage in c.STAGES:
            for chunk in range(len(service.slos) + 1):
                stages[c.group_name(service.name, stage, chunk)] = stage
    out = []
    for artifact in rule_render.generate(spec):
        for group in yaml.safe_load(artifact.text)["groups"]:
            interval = int(parse_duration(group["interval"]))
            for rule in group["rules"]:
                if "record" not in rule:
                    continue
                labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
                key = (labels.get(c.LABEL_SERVICE, ""), labels.get(c.LABEL_SLO, ""))
                if key in wanted:
                    out.append(Recording(rule["record"], tuple(sorted(labels.items())), rule["expr"], group["name"],
                                         stages[group["name"]], interval, *key))
    return out


def expand(rec: Recording, same_slo: Sequence[Recording]) -> str:
    """`rec.expr` with every read of a recording replaced by the expression that records it, on the
    producer's grid (module docstring), recursively until it reads raw series only."""
    producers = {r.selector: r for r in same_slo}
    if not producers:
        return rec.expr
    pattern = re.compile(r"(?<![\w:])(" + "|".join(re.escape(s) for s in sorted(producers, key=len, reverse=True))
                         + r")(\[([^\]:]+)\])?")

    def replace(match: re.Match[str]) -> str:
        producer = producers[match.group(1)]
        inner = f"({producer.expr})"
        if match.group(2):
            return f"{inner}[{match.group(3)}:{_duration(producer.interval)}]"
        return inner

    text = rec.expr
    for _ in range(len(c.STAGES) + 1):
        new = pattern.sub(replace, text)
        if new == text:
            return text
        text = new
    raise AssertionError(f"{rec.record} reads recordings more than {len(c.STAGES)} levels deep")


def _duration(seconds: int) -> str:
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def first_live_samples(client: PrometheusClient, recs: Sequence[Recording], end: float,
                       span: float) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """For each recording already in Prometheus: the time of its first sample within `span` before `end`."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    wanted = {(r.record, r.labels) for r in recs}
    for name in dict.fromkeys(r.record for r in recs if r.stage not in NO_CUT_STAGES):
        rng = f"{math.ceil(span) + 300}s"
        query = f"min_over_time(timestamp({name})[{rng}:1m])"
        for sample in client.query(query, at=end).samples:
            key = (name, tuple(sorted(sample.labels.items())))
            if key in wanted:
                out[key] = sample.value
    return out


def evaluate(client: PrometheusClient, expr: str, interval: int, start: float,
             end: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    """`expr` at every multiple of `interval` in [start, end], in chunks Prometheus accepts."""
    first = math.ceil(start / interval) * interval
    last = math.floor(end / interval) * interval
    merged: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[tuple[float, float]]]] = {}
    at = first
    while at <= last:
        chunk_end = min(last, at + (MAX_POINTS - 1) * interval)
        for labels, points in client.query_range(expr, at, chunk_end, interval):
            merged.setdefault(tuple(sorted(labels.items())), (labels, []))[1].extend(points)
        at = chunk_end + interval
    return list(merged.values())


def _om_value(value: float) -> str:
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def _om_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics(series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]]) -> str:
    """OpenMetrics text of `series` (name, labels) → points, grouped by name as the format requires."""
    lines: list[str] = []
    for (name, labels), points in sorted(series.items()):
        text = ",".join(f'{k}="{_om_label(v)}"' for k, v in labels)
        lines.extend(f"{name}{{{text}}} {_om_value(v)} {t:.3f}" for t, v in sorted(points))
    return "\n".join(lines) + "\n# EOF\n"


def check_output_dir(path: str) -> None:
    """The output directory must be new or empty: blocks are moved from it into a data dir by hand."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise BackfillError(f"--output-dir {path} exists and is not a directory")
    if os.path.isdir(path) and os.listdir(path):
        raise BackfillError(f"--output-dir {path} is not empty; give a new or empty directory (its blocks "
                            "are moved into Prometheus' data dir afterwards, see docs/backfill.md)")


def run(spec: Spec, slos: Sequence[SLO], client: PrometheusClient, start: float, end: float, output_dir: str,
        promtool: str) -> BackfillReport:
    """Compute every recording of `slos` over [start, end] and write it as TSDB blocks in `output_dir`."""
    if not start < end:
        raise BackfillError("--from must be before --to")
    check_output_dir(output_dir)
    recs = recordings(spec, slos)
    by_slo: dict[tuple[str, str], list[Recording]] = {}
    for rec in recs:
        by_slo.setdefault((rec.service, rec.slo), []).append(rec)
    live = first_live_samples(client, recs, end, end - start)
    report = BackfillReport(start, end, output_dir)
    groups: dict[str, GroupReport] = {}
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    for rec in recs:
        group = groups.setdefault(rec.group, GroupReport(rec.group, rec.stage, rec.interval))
        expr = expand(rec, [r for r in by_slo[(rec.service, rec.slo)] if r is not rec])
        cut = live.get((rec.record, rec.labels))
        for result_labels, points in evaluate(client, expr, rec.interval, start, end):
            labels = tuple(sorted(({k: v for k, v in result_labels.items() if k != "__name__"}
                                   | dict(rec.labels)).items()))
            kept = [p for p in points if cut is None or p[0] < cut]
            group.held_back += len(points) - len(kept)
            if kept:
                series.setdefault((rec.record, labels), []).extend(kept)
                group.series += 1
                group.samples += len(kept)
    report.groups = list(groups.values())
    report.queries = client.queries
    if series:
        report.blocks = write_blocks(openmetrics(series), output_dir, promtool)
    return report


def write_blocks(text: str, output_dir: str, promtool: str) -> list[str]:
    """Blocks from OpenMetrics `text`, created in a scratch directory and then moved into `output_dir`
    (so a failed promtool leaves nothing behind)."""
    os.makedirs(output_dir, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".slogen-backfill-", dir=output_dir))
    try:
        source = scratch / "recordings.om"
        source.write_text(text, encoding="utf-8")
        blocks_dir = scratch / "blocks"
        try:
            done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics",
                                   f"--max-block-duration={BLOCK_DURATION}", str(source), str(blocks_dir)],
                                  capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT, check=False)
        except OSError as exc:
            raise BackfillError(f"cannot run {promtool}: {exc.strerror or exc}") from None
        except subprocess.TimeoutExpired:
            raise BackfillError(f"promtool did not finish within {PROMTOOL_TIMEOUT:g}s") from None
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).split())[-500:]
            raise BackfillError(f"promtool tsdb create-blocks-from openmetrics failed (exit {done.returncode}): {tail}")
        blocks = sorted(p.name for p in blocks_dir.iterdir() if p.is_dir())
        for name in blocks:
            os.replace(blocks_dir / name, Path(output_dir) / name)
        return blocks
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
