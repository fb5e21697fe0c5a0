"""A hostile HTTP server for tests, on 127.0.0.1: each test says how every request is answered.

`route(request) -> Reply` decides; a Reply can drip its bytes (headers included, one chunk per
`drip` seconds), lie about its length, redirect, echo request headers, or be huge. Every request
is recorded (method, path, query, headers) so tests can check what slogen sent, and to whom.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback import serve


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""  # bytes/str as is; anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0  # seconds between single bytes, from the status line on
    drip_from_body: bool = False  # drip only the body (headers at once)

    def data(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Hostile:
    route: Callable[[Request], Reply]
    url: str = ""
    seen: list[Request] = field(default_factory=list)


def _handler(server: Hostile) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, parts.path, parse_qs(parts.query),
                              {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length) if length else b"")
            server.seen.append(request)
            reply = server.route(request)
            data = reply.data()
            head = [f"HTTP/1.1 {reply.status} X"]
            headers = {"Content-Type": "application/json", "Content-Length": str(len(data)), **reply.headers}
            head += [f"{k}: {v}" for k, v in headers.items()]
            raw_head = ("\r\n".join(head) + "\r\n\r\n").encode()
            try:
                if reply.drip and not reply.drip_from_body:
                    self._drip(raw_head + data, reply.drip)
                elif reply.drip:
                    self.wfile.write(raw_head)
                    self.wfile.flush()
                    self._drip(data, reply.drip)
                else:
                    self.wfile.write(raw_head + data)
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass

        def _drip(self, data: bytes, every: float) -> None:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(every)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

    return Handler


@contextlib.contextmanager
def hostile(route: Callable[[Request], Reply]) -> Iterator[Hostile]:
    """Serve `route` on a free loopback port until the block ends."""
    state = Hostile(route)
    with serve(_handler(state)) as state.url:
        yield state


def prom_vector(samples: list[tuple[dict[str, str], Any]], t: float = 1.0) -> dict[str, Any]:
    """A Prometheus instant-vector answer with these (labels, value) pairs, values as given."""
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": m, "value": [t, v]} for m, v in samples]}}
