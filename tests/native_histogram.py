"""A loopback exporter of one native histogram, in Prometheus' protobuf exposition format.

Prometheus 2.x scrapes native histograms only as protobuf (`io.prometheus.client.MetricFamily`,
length-delimited), and prometheus_client for Python cannot write them, so this writes the few
fields it needs by hand (field numbers from Prometheus' `prompb/io/prometheus/client/metrics.proto`):
a HISTOGRAM family, one metric with labels, count, sum, schema, a zero threshold and one positive
span with its bucket deltas.
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from loopback import serve

CONTENT_TYPE = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
HISTOGRAM = 4  # MetricType


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _uint(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _double(number: int, value: float) -> bytes:
    return _key(number, 1) + struct.pack("<d", value)


@dataclass
class NativeHistogram:
    """Cumulative counts per schema-0 bucket (bucket i holds observations in (2^(i-1), 2^i])."""

    name: str
    labels: dict[str, str]
    buckets: dict[int, int] = field(default_factory=dict)  # bucket index → cumulative count
    total: float = 0.0  # sum of observations
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, index: int, n: int, each: float) -> None:
        """`n` observations of value `each`, which must lie in bucket `index`."""
        assert 2.0 ** (index - 1) < each <= 2.0 ** index
        with self.lock:
            self.buckets[index] = self.buckets.get(index, 0) + n
            self.total += n * each

    def encode(self) -> bytes:
        """The length-delimited MetricFamily holding this histogram as it is now."""
        with self.lock:
            first, last = min(self.buckets), max(self.buckets)
            counts = [self.buckets.get(i, 0) for i in range(first, last + 1)]
            total = self.total
        deltas, previous = b"", 0
        for count in counts:
            deltas += _varint(_zigzag(count - previous))
            previous = count
        span = _key(1, 0) + _varint(_zigzag(first)) + _uint(2, len(counts))
        histogram = (_uint(1, sum(counts)) + _double(2, total) + _key(5, 0) + _varint(_zigzag(0))
                     + _double(6, 2.0 ** -128) + _uint(7, 0) + _bytes(12, span) + _bytes(13, deltas))
        metric = b"".join(_bytes(1, _bytes(1, k.encode()) + _bytes(2, v.encode())) for k, v in self.labels.items())
        metric += _bytes(7, histogram)
        family = _bytes(1, self.name.encode()) + _bytes(2, b"test histogram") + _uint(3, HISTOGRAM) + _bytes(4, metric)
        return _varint(len(family)) + family


@contextlib.contextmanager
def exporter(histogram: NativeHistogram) -> Iterator[str]:
    """Serve `histogram` at /metrics on a free loopback port; yields the `host:port` to scrape."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = histogram.encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve(Handler) as url:
        yield url.removeprefix("http://")
