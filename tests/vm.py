"""Test helpers for a real VictoriaMetrics and vmalert (Debian's `victoria-metrics` package).

A server listens on 127.0.0.1 on a free port with its data in a temp dir and is stopped when the
context exits. `replay` runs vmalert's replay mode (`-replay.timeFrom/-replay.timeTo`), which
evaluates recording and alerting rules over past time and writes the results back by remote
write, group after group in file order.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from prom import free_port, stop, wait_ready

VICTORIA_METRICS = shutil.which("victoria-metrics")
VMALERT = shutil.which("vmalert")

needs_victoria_metrics = pytest.mark.skipif(
    VICTORIA_METRICS is None or VMALERT is None,
    reason="victoria-metrics/vmalert not installed (the README's test command installs them)",
)

# The flags replay needs with slogen's groups (docs/rules.md says why, for users):
REPLAY_FLAGS = (
    "-datasource.queryStep=0",  # step = each group's interval (the default 5m would thin the 3m tiles)
    "-remoteWrite.flushInterval=200ms",
)


@contextlib.contextmanager
def victoria_metrics() -> Iterator[str]:
    """A single-node VictoriaMetrics; yields its base URL."""
    assert VICTORIA_METRICS, "victoria-metrics is not installed"
    work = Path(tempfile.mkdtemp(prefix="slogen-vm-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(work / "vm.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen([VICTORIA_METRICS, f"-storageDataPath={work / 'data'}", f"-httpListenAddr=127.0.0.1:{port}",
                             "-retentionPeriod=100y", "-search.disableCache", "-loggerLevel=ERROR"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        wait_ready(proc, url + "/health", work / "vm.log", 30)
        yield url
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def import_samples(url: str, lines: list[str]) -> None:
    """Import Prometheus text-format lines with millisecond timestamps, then make them searchable."""
    response = requests.post(url + "/api/v1/import/prometheus", data=("\n".join(lines) + "\n").encode(), timeout=120)
    assert response.status_code == 204, response.text
    flush(url)


def flush(url: str) -> None:
    requests.get(url + "/internal/force_flush", timeout=30).raise_for_status()
    time.sleep(1.0)  # force_flush makes the data searchable within about a second


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def replay(url: str, rule_files: list[Path], start: float, end: float, *extra: str) -> None:
    """vmalert replay of `rule_files` over [start, end] against VictoriaMetrics at `url`."""
    assert VMALERT, "vmalert is not installed"
    args = [VMALERT, *(f"-rule={p}" for p in rule_files), f"-datasource.url={url}", f"-remoteWrite.url={url}",
            f"-replay.timeFrom={_rfc3339(start)}", f"-replay.timeTo={_rfc3339(end)}", "-replay.disableProgressBar",
            f"-httpListenAddr=127.0.0.1:{free_port()}", "-loggerLevel=ERROR", *REPLAY_FLAGS, *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    flush(url)


def query(url: str, expr: str, at: float) -> list[dict[str, Any]]:
    body = requests.get(url + "/api/v1/query", params={"query": expr, "time": at}, timeout=30).json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])
