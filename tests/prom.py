"""Test helpers for a real Prometheus: start a throwaway server, query it, backfill history.

Every server listens on 127.0.0.1 on a free port, keeps its data in a temp dir, and is
stopped (and its dir removed) when the context exits.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="prometheus/promtool not installed (the README's test command installs them)",
)


def prometheus_version() -> tuple[int, ...]:
    """The installed Prometheus' version, e.g. (2, 42, 0); (0,) when it cannot be read."""
    if PROMETHEUS is None:
        return (0,)
    out = subprocess.run([PROMETHEUS, "--version"], capture_output=True, text=True, timeout=30)
    found = re.search(r"version (\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
    return tuple(int(g) for g in found.groups()) if found else (0,)


# Prometheus 2 selects a range [t - d, t] (both ends); Prometheus 3 selects (t - d, t]. On a 1m
# scrape grid, rate(x[3m]) at a grid point sees 4 samples (3 whole intervals, no extrapolation) on
# 2.x, and 3 samples on 3.x (2 intervals, extrapolated to 3m). Tests whose exactness rests on the
# closed range ask this.
CLOSED_RANGES = prometheus_version() < (3,)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def prometheus(config_yaml: str, *, data_dir: Path | None = None, files: dict[str, str] | None = None,
               extra_args: tuple[str, ...] = (), lifecycle: bool = True,
               ready_timeout: float = 30.0) -> Iterator[tuple[str, Path]]:
    """Run Prometheus with `config_yaml` (and extra `files` beside it); yields (base_url, workdir)."""
    assert PROMETHEUS, "prometheus is not installed"
    work = Path(tempfile.mkdtemp(prefix="slogen-prom-"))
    for name, text in (files or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    (work / "prometheus.yml").write_text(config_yaml)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(work / "prometheus.log", "w")  # noqa: SIM115 - closed in finally
    args = [PROMETHEUS, f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={data_dir or work / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=90d", "--log.level=warn", *extra_args]
    if lifecycle:
        args.append("--web.enable-lifecycle")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        wait_ready(proc, url + "/-/ready", work / "prometheus.log", ready_timeout)
        yield url, work
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def wait_ready(proc: subprocess.Popen[Any], ready_url: str, log: Path, timeout: float) -> None:
    """Wait until `ready_url` answers 200; raise with the log's tail if the server exits or is late."""
    name = Path(str(proc.args[0] if isinstance(proc.args, list) else proc.args)).name
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited rc={proc.returncode}: " + log.read_text()[-2000:])
        with contextlib.suppress(requests.RequestException):
            if requests.get(ready_url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate a server the tests started, and kill it if it does not exit within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def instant(url: str, expr: str, at: float | None = None, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Result of an instant query; raises on a PromQL or HTTP error."""
    params: dict[str, Any] = {"query": expr}
    if at is not None:
        params["time"] = at
    body = requests.get(url + "/api/v1/query", params=params, timeout=timeout).json()
    if body.get("status") != "success":
        raise RuntimeError(f"{body.get('errorType')}: {body.get('error')}")
    return list(body["data"]["result"])


def backfill(openmetrics_text: str, out_dir: Path) -> None:
    """Create TSDB blocks in `out_dir` from OpenMetrics text (timestamps in seconds, ends with # EOF)."""
    assert PROMTOOL, "promtool is not installed"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".om", delete=False) as handle:
        handle.write(openmetrics_text)
        src = handle.name
    try:
        subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h",
                        src, str(out_dir)], check=True, capture_output=True, timeout=600)
    finally:
        os.unlink(src)


def promtool(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run promtool and return the completed process (never raises on a non-zero exit)."""
    assert PROMTOOL, "promtool is not installed"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=timeout)
