"""Alertmanager's webhook receiver for the demo stack: logs every notification, one line per alert.

    python webhook.py            # listens on WEBHOOK_HOST:WEBHOOK_PORT (default 0.0.0.0:5001)

Alertmanager posts to /page or /ticket (see deploy/alertmanager/alertmanager.yml); each alert
becomes a line such as

    [page] firing SLOErrorBudgetBurnPage service=checkout slo=availability severity=page

in `docker compose logs -f webhook`. `GET /` returns the last 100 notifications as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RECEIVED: deque[dict[str, Any]] = deque(maxlen=100)
LOCK = threading.Lock()
SHOWN_LABELS = ("service", "slo", "severity")


def describe(channel: str, payload: dict[str, Any]) -> list[str]:
    """One log line per alert of an Alertmanager webhook payload (version 4)."""
    lines = []
    for alert in payload.get("alerts") or []:
        labels = alert.get("labels") or {}
        shown = " ".join(f"{k}={labels[k]}" for k in SHOWN_LABELS if k in labels)
        summary = (alert.get("annotations") or {}).get("summary", "")
        lines.append(f"[{channel}] {alert.get('status', '?')} {labels.get('alertname', '?')} {shown}"
                     + (f" - {summary}" if summary else ""))
    return lines


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        with LOCK:
            self._reply(200, json.dumps(list(RECEIVED), indent=1).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as exc:
            self._reply(400, json.dumps({"error": str(exc)}).encode())
            return
        channel = self.path.strip("/") or "default"
        with LOCK:
            RECEIVED.append({"channel": channel, "payload": payload})
        for line in describe(channel, payload):
            print(line, flush=True)
        self._reply(200, b"{}")


def main() -> int:
    server = ThreadingHTTPServer((os.environ.get("WEBHOOK_HOST", "0.0.0.0"),
                                  int(os.environ.get("WEBHOOK_PORT", "5001"))), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"webhook: listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
