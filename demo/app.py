"""A small HTTP service to watch slogen's SLOs move: instrumented with prometheus_client.

Every request to any path except /metrics and /admin/* is "work": it waits for the configured
latency and answers 200, or 500 for the configured share of requests. It counts
`http_requests_total{method,route,status}` and observes `http_request_duration_seconds{route}`
(a classic histogram whose buckets include the latency thresholds of slos.yaml, 500ms and 2s).
`route` is the path's first segment (`/pay/now` → `/pay`), the first MAX_ROUTES of them; any
further one counts as `other`, so random paths cannot grow the series without bound.
slos.yaml's checkout/latency is grouped by it (`group_by: [route]`): one SLO per route.

No `job` label is exposed on purpose: Prometheus would rename it to `exported_job`. Run one
instance per service and let the scrape job name (checkout, search) set `job`.

Knobs, from the environment at start and at run time over HTTP:

    DEMO_ERROR_RATE    share of requests that fail with 500, 0..1            (default 0)
    DEMO_LATENCY       seconds every request takes (±50 % jitter)             (default 0.02)
    DEMO_SLOW_RATE     share of requests that take DEMO_SLOW_LATENCY instead  (default 0)
    DEMO_SLOW_LATENCY  seconds a slow request takes                           (default 3)
    DEMO_HOST / DEMO_PORT  where to listen                                    (default 0.0.0.0:8080)
    DEMO_SERVICE       a name shown in responses and logs                     (default demo)
    DEMO_BUCKETS       comma-separated histogram buckets in seconds           (default below)

    curl -X POST localhost:8081/admin/error-rate -d 0.2     # 20 % of requests fail
    curl -X POST localhost:8081/admin/latency -d 0.05
    curl -X POST localhost:8081/admin/slow-rate -d 0.1      # 10 % take DEMO_SLOW_LATENCY
    curl -X POST localhost:8081/admin/config -d '{"error_rate": 0, "slow_rate": 0}'
    curl localhost:8081/admin/config

Shares are applied exactly, not by dice: with error rate 0.2 precisely every fifth request
fails, so the error ratio Prometheus computes is the knob's value and tests can rely on it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# Includes every latency threshold of slos.yaml (0.5 s search, 2 s checkout): a latency SLI can
# only count "faster than T" when T is a bucket boundary (tests/test_demo_e2e.py checks this).
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0)
disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series only add noise to the demo's /metrics

MAX_ROUTES = 10
OTHER_ROUTE = "other"

ADMIN_KNOBS = {"error-rate": "error_rate", "latency": "latency", "slow-rate": "slow_rate",
               "slow-latency": "slow_latency"}


@dataclass
class Knobs:
    """What the service does to each request; changed at run time under `lock`."""

    error_rate: float = 0.0
    latency: float = 0.02
    slow_rate: float = 0.0
    slow_latency: float = 3.0

    def validate(self) -> None:
        """Raise ValueError unless every knob is in range."""
        for name in ("error_rate", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("latency", "slow_latency"):
            if not 0.0 <= getattr(self, name) <= 300.0:
                raise ValueError(f"{name} must be between 0 and 300 seconds")


class Demo:
    """The service's state: knobs, metrics and the exact-share accumulators."""

    def __init__(self, knobs: Knobs, name: str = "demo", buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        self.name = name
        self.knobs = knobs
        self.lock = threading.Lock()
        self._error_acc = 0.0
        self._slow_acc = 0.0
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "HTTP requests served, by route and status code.",
                                ["method", "route", "status"], registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "Time to serve an HTTP request.",
                                  ["route"], buckets=buckets, registry=self.registry)
        self._routes: set[str] = set()

    def route(self, path: str) -> str:
        """The `route` label of a request to `path`: its first segment, or `other` past MAX_ROUTES."""
        route = "/" + path.lstrip("/").split("/", 1)[0]
        with self.lock:
            if route not in self._routes and len(self._routes) >= MAX_ROUTES:
                return OTHER_ROUTE
            self._routes.add(route)
        return route

    def decide(self) -> tuple[bool, float]:
        """(fail?, seconds to wait) for the next request; shares are exact over any run of requests."""
        with self.lock:
            k = self.knobs
            self._error_acc += k.error_rate
            fail = self._error_acc >= 1.0 - 1e-9
            if fail:
                self._error_acc -= 1.0
            self._slow_acc += k.slow_rate
            slow = self._slow_acc >= 1.0 - 1e-9
            if slow:
                self._slow_acc -= 1.0
            delay = k.slow_latency if slow else k.latency * random.uniform(0.5, 1.5)
        return fail, delay

    def update(self, changes: dict[str, object]) -> Knobs:
        """Apply knob changes atomically; raise ValueError (nothing applied) when one is bad."""
        with self.lock:
            current = asdict(self.knobs)
            for key, value in changes.items():
                if key not in current:
                    raise ValueError(f"unknown knob {key!r}; known: {', '.join(sorted(current))}")
                if isinstance(value, bool) or not isinstance(value, int | float | str):
                    raise ValueError(f"{key} must be a number")
                try:
                    current[key] = float(value)
                except ValueError:
                    raise ValueError(f"{key} must be a number, not {value!r}") from None
            candidate = Knobs(**current)
            candidate.validate()
            self.knobs = candidate
            # A new share starts from a clean slate so the next requests follow it exactly.
            self._error_acc = self._slow_acc = 0.0
            return candidate


def _parse_value(body: str, query: str) -> str:
    """The value of `POST /admin/<knob>`: a bare number, `value=N`, `{"value": N}` or `?value=N`."""
    body = body.strip()
    if body.startswith("{"):
        return str(json.loads(body)["value"])
    if body.startswith("value="):
        return body.removeprefix("value=")
    if body:
        return body
    values = parse_qs(query).get("value")
    if not values:
        raise ValueError("send the new value as the body, e.g. -d 0.2, or as ?value=0.2")
    return values[0]


def make_handler(demo: Demo) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to `demo`."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "slogen-demo/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # thousands of requests a second; the metrics are the log

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, doc: object) -> None:
            self._send(status, (json.dumps(doc) + "\n").encode())

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/metrics":
                self._send(200, generate_latest(demo.registry), CONTENT_TYPE_LATEST)
            elif path == "/admin/config":
                with demo.lock:
                    self._json(200, asdict(demo.knobs))
            elif path == "/healthz":
                self._send(200, b"ok\n", "text/plain")
            else:
                self._work("GET", path)

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if not parts.path.startswith("/admin/"):
                self._work("POST", parts.path)
                return
            knob = parts.path.removeprefix("/admin/")
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length > 0 else ""
                if knob == "config":
                    changes = json.loads(body or "{}")
                    if not isinstance(changes, dict):
                        raise ValueError("send a JSON object, e.g. {\"error_rate\": 0.1}")
                elif knob in ADMIN_KNOBS:
                    changes = {ADMIN_KNOBS[knob]: _parse_value(body, parts.query)}
                else:
                    self._json(404, {"error": f"no knob {knob!r}; try " + ", ".join(["config", *ADMIN_KNOBS])})
                    return
                knobs = demo.update(changes)
            except (ValueError, KeyError, json.JSONDecodeError) as exc:
                self._json(400, {"error": str(exc)})
                return
            print(f"{demo.name}: knobs now {asdict(knobs)}", flush=True)
            self._json(200, asdict(knobs))

        def _work(self, method: str, path: str) -> None:
            started = time.perf_counter()
            route = demo.route(path)
            fail, delay = demo.decide()
            time.sleep(delay)
            status = 500 if fail else 200
            demo.duration.labels(route).observe(time.perf_counter() - started)
            demo.requests.labels(method, route, str(status)).inc()
            self._json(status, {"service": demo.name, "status": status})

    return Handler


def knobs_from_env(env: dict[str, str]) -> Knobs:
    """Knobs from DEMO_* variables; raises ValueError with the variable's name when one is bad."""
    knobs = Knobs()
    for field_name, var in (("error_rate", "DEMO_ERROR_RATE"), ("latency", "DEMO_LATENCY"),
                            ("slow_rate", "DEMO_SLOW_RATE"), ("slow_latency", "DEMO_SLOW_LATENCY")):
        if env.get(var):
            try:
                setattr(knobs, field_name, float(env[var]))
            except ValueError:
                raise ValueError(f"{var}={env[var]!r} is not a number") from None
    knobs.validate()
    return knobs


def buckets_from_env(env: dict[str, str]) -> tuple[float, ...]:
    """Histogram buckets from DEMO_BUCKETS, or the defaults."""
    raw = env.get("DEMO_BUCKETS", "").strip()
    if not raw:
        return DEFAULT_BUCKETS
    try:
        return tuple(sorted(float(b) for b in raw.split(",")))
    except ValueError:
        raise ValueError(f"DEMO_BUCKETS={raw!r} is not a comma-separated list of seconds") from None


def main() -> int:
    env = dict(os.environ)
    try:
        demo = Demo(knobs_from_env(env), env.get("DEMO_SERVICE", "demo"), buckets_from_env(env))
        port = int(env.get("DEMO_PORT", "8080"))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer((env.get("DEMO_HOST", "0.0.0.0"), port), make_handler(demo))
    server.daemon_threads = True
    # As PID 1 in a container SIGTERM is ignored unless handled: stop cleanly on `docker compose down`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"{demo.name}: listening on {host}:{port} "
          f"with {asdict(demo.knobs)}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
