"""Steady HTTP load on the demo services, so the SLO dashboards and alerts have traffic to judge.

    python loadgen.py [--rps 20] [--concurrency 8] [--duration SECONDS] URL [URL ...]

Environment equivalents (used by docker-compose.yml): LOADGEN_TARGETS (comma-separated URLs),
LOADGEN_RPS (requests per second per target), LOADGEN_CONCURRENCY (workers per target),
LOADGEN_DURATION (seconds; 0 or unset runs until stopped).

Each target gets its own workers, paced to the requested rate; a slow target (see the demo's
latency knobs) gets fewer requests per second rather than an ever-growing backlog. Every
10 seconds one line per target reports requests sent and how they ended.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter


class Target:
    """One URL, its pacing and its tallies."""

    def __init__(self, url: str, rps: float) -> None:
        self.url = url
        self.interval = 1.0 / rps
        self.next_at = time.monotonic()
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()

    def slot(self) -> float:
        """Reserve the next send time; returns when to send (never far in the past)."""
        with self.lock:
            now = time.monotonic()
            # Do not "catch up" after a stall: that would burst far above the requested rate.
            self.next_at = max(self.next_at + self.interval, now - self.interval)
            return self.next_at

    def record(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1


def hit(url: str, timeout: float) -> str:
    """One request; returns the status code, or the kind of failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return str(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return str(exc.code)
    except (urllib.error.URLError, OSError):
        return "unreachable"


def worker(target: Target, stop: threading.Event, timeout: float) -> None:
    while not stop.is_set():
        wait = target.slot() - time.monotonic()
        if wait > 0 and stop.wait(wait):
            return
        target.record(hit(target.url, timeout))


def report(targets: list[Target]) -> None:
    for t in targets:
        with t.lock:
            print(f"loadgen: {t.url}: {dict(sorted(t.outcomes.items()))}", flush=True)


def run(urls: list[str], rps: float, concurrency: int, duration: float, stop: threading.Event,
        report_every: float = 10.0) -> dict[str, Counter[str]]:
    """Send load until `duration` seconds pass (0: until `stop` is set); returns outcomes per URL."""
    targets = [Target(url, rps) for url in urls]
    threads = [threading.Thread(target=worker, args=(t, stop, 10.0), daemon=True)
               for t in targets for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + duration if duration else None
    while not stop.is_set():
        wait = report_every if deadline is None else min(report_every, deadline - time.monotonic())
        if wait <= 0 or stop.wait(wait):
            break
        report(targets)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    report(targets)
    return {t.url: t.outcomes for t in targets}


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Defaults from the environment go through `type` too, so a bad value is a usage error.
    parser.add_argument("urls", nargs="*", default=[u for u in env.get("LOADGEN_TARGETS", "").split(",") if u])
    parser.add_argument("--rps", type=float, default=env.get("LOADGEN_RPS", "20"))
    parser.add_argument("--concurrency", type=int, default=env.get("LOADGEN_CONCURRENCY", "8"))
    parser.add_argument("--duration", type=float, default=env.get("LOADGEN_DURATION", "0"))
    args = parser.parse_args(argv)
    if not args.urls:
        parser.error("no targets: pass URLs or set LOADGEN_TARGETS")
    if args.rps <= 0 or args.concurrency < 1 or args.duration < 0:
        parser.error("--rps must be > 0, --concurrency >= 1, --duration >= 0")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"loadgen: {args.rps:g} req/s to each of {', '.join(args.urls)}", flush=True)
    try:
        run(args.urls, args.rps, args.concurrency, args.duration, stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
