"""`slogen check --live` against a real Prometheus: one correct SLO of each SLI kind, and one SLO
for each problem the check exists to find. Each problem SLO must be reported with exactly the
failing check (and its fix), the correct ones with none; exit codes 0, 1 and 3 as documented.

The history is two hours of counters a minute apart (one service five minutes apart), written
as OpenMetrics and backfilled with promtool; the rules are the rendered files, loaded as a user
would load them, except for one service whose file is left out and one whose file is loaded
twice in two versions (the labels changed, the old file stayed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from prom import backfill, free_port, needs_prometheus, prometheus
from rulehist import openmetrics
from slogen.render import render as render_bundle
from slogen.spec.load import loads

pytestmark = needs_prometheus

MINUTE = 60


def _ratio(name: str, objective: float, errors: str, total: str, window: str = "30d", labels: str = "") -> str:
    return (f"  - name: {name}\n{labels}    slos:\n      - name: availability\n        objective: {objective}\n"
            f"        window: {window}\n        sli: {{ratio: {{errors: '{errors}', total: '{total}'}}}}\n")


def _latency(name: str, threshold: str) -> str:
    return (f"  - name: {name}\n    slos:\n      - name: fast\n        objective: 99\n"
            f"        sli: {{latency: {{metric: lat_seconds, selector: {{job: lat}}, threshold: {threshold}}}}}\n")


GOOD = ('req_total{job="good",code="500"}', 'req_total{job="good"}')


def spec_text(dup_labels: str = "") -> str:
    return "version: slogen/v1\nservices:\n" + "".join((
        _ratio("good", 99.9, *GOOD),
        _latency("latency", "500ms"),
        _ratio("nototal", 99.9, 'req_total{job="gone",code="500"}', 'req_total{job="gone"}'),
        _ratio("dup", 99.9, *GOOD, labels=dup_labels),
        _ratio("toomany", 99.9, 'err_total{job="mixed"}', 'req_total{job="mixed"}'),
        _latency("nobucket", "300ms"),
        _ratio("longperiod", 99.9, *GOOD, window="90d"),
        _ratio("unloaded", 99.9, *GOOD),
        _ratio("sparse", 99.9, 'req_total{job="sparse",code="500"}', 'req_total{job="sparse"}'),
        # Valid PromQL that fails at evaluation: every series gets code="x", so two share a label set.
        "  - name: broken\n    slos:\n      - name: availability\n        objective: 99.9\n        sli:\n"
        "          expr:\n            errors: sum(rate(req_total{job=\"good\",code=\"500\"}[$window]))\n"
        "            total: label_replace(rate(req_total{job=\"good\"}[$window]), \"code\", \"x\", \"code\", \".*\")\n",
    ))


EXPECTED = {  # SLO → the checks that must report a problem (and no others)
    "good/availability": set(), "latency/fast": set(),
    "nototal/availability": {"total-series"},
    "dup/availability": {"one-series", "rules"},  # the rules check sees the group loaded from two files
    "toomany/availability": {"errors-vs-total"},
    "nobucket/fast": {"threshold-bucket"},
    "longperiod/availability": {"retention"},
    "unloaded/availability": {"rules"},
    "sparse/availability": {"scrape-interval"},
    "broken/availability": {"sli-query", "rules"},  # the rules' last evaluation failed
}


def history(end: int) -> str:
    """Two hours of counters ending at `end`."""
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}

    def counter(name: str, labels: dict[str, str], per_minute: float, step: int = MINUTE) -> None:
        times = range(end - 2 * 3600, end + 1, step)
        series[(name, tuple(sorted(labels.items())))] = [(t, 1000 + per_minute * (t - times[0]) / MINUTE)
                                                         for t in times]

    for job in ("good", "mixed"):
        counter("req_total", {"job": job, "code": "200"}, 600)
        counter("req_total", {"job": job, "code": "500"}, 1)
    counter("err_total", {"job": "mixed"}, 2000)  # more "errors" than requests: another metric's count
    counter("req_total", {"job": "sparse", "code": "200"}, 600, step=5 * MINUTE)
    counter("req_total", {"job": "sparse", "code": "500"}, 1, step=5 * MINUTE)
    for le, share in (("0.1", 0.5), ("0.5", 0.995), ("1.0", 0.999), ("+Inf", 1.0)):
        counter("lat_seconds_bucket", {"job": "lat", "le": le}, 600 * share)
    counter("lat_seconds_count", {"job": "lat"}, 600)
    return openmetrics(series)


def _run(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slogen", "check", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={"PATH": "/usr/bin:/bin", "PROMETHEUS_URL": url})


def _wait_sli(url: str, timeout: float = 150) -> None:
    deadline = time.time() + timeout
    while True:
        groups = requests.get(url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
        sli = [g for g in groups if g["name"].endswith(":sli")]
        if sli and all(r["health"] != "unknown" for g in sli for r in g["rules"]):
            return
        assert time.time() < deadline, "the sli groups did not evaluate"
        time.sleep(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("check-live")
    end = int(time.time()) // MINUTE * MINUTE
    data = work / "data"
    backfill(history(end), data)
    (work / "slos.yaml").write_text(spec_text())
    files = {a.path: a.text for a in render_bundle(loads(spec_text())) if a.path.startswith("rules/")}
    old = {a.path: a.text for a in render_bundle(loads(spec_text("    labels: {team: old}\n")))}
    files["old/dup.rules.yaml"] = old["rules/dup.rules.yaml"]
    loaded = sorted(p for p in files if p != "rules/unloaded.rules.yaml")
    config = "global: {}\nrule_files:\n" + "".join(f"  - {p}\n" for p in loaded)
    with prometheus(config, data_dir=data, files=files) as (url, _):
        _wait_sli(url)
        yield url, work


def test_each_problem_is_reported_with_what_to_do(live: Any) -> None:
    url, work = live
    done = _run(url, work, "--live", "--json")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["schema"] == "slogen/check/v1" and document["ok"] is False
    found = {f"{s['service']}/{s['slo']}": s for s in document["slos"]}
    assert set(found) == set(EXPECTED)
    for name, expected in EXPECTED.items():
        problems = {c["check"]: c for c in found[name]["checks"] if c["status"] == "problem"}
        assert set(problems) == expected, (name, found[name]["checks"])
        assert all(c["fix"] for c in problems.values()), name
        assert found[name]["ok"] is (not expected)
    assert document["problems"] == sum(len(v) for v in EXPECTED.values())
    checks = {c["check"]: c for c in found["nobucket/fast"]["checks"]}
    assert "0.1, 0.5, 1.0, +Inf" in checks["threshold-bucket"]["fix"]  # the bounds to choose from
    good = {c["check"]: c["status"] for c in found["good/availability"]["checks"]}
    assert good["total-series"] == good["events"] == good["errors-vs-total"] == good["scrape-interval"] == "ok"
    assert good["retention"] == "ok" and good["rules"] in ("ok", "pending") and good["one-series"] == "ok"
    sparse = {c["check"]: c for c in found["sparse/availability"]["checks"]}
    assert "every 300s" in sparse["scrape-interval"]["message"]
    broken = {c["check"]: c for c in found["broken/availability"]["checks"]}
    assert "same labelset" in broken["sli-query"]["message"] and "failed their last evaluation" in \
        broken["rules"]["message"] and "same labelset" in broken["rules"]["message"]
    longperiod = {c["check"]: c for c in found["longperiod/availability"]["checks"]}
    assert "retention 90d" in longperiod["retention"]["message"]


def test_text_output_and_exit_codes(live: Any) -> None:
    url, work = live
    clean = _run(url, work, "--live", "--service", "good")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "good/availability: ok" in clean.stdout and "0 problems" in clean.stdout
    bad = _run(url, work, "--live", "--service", "nobucket")
    assert bad.returncode == 1
    assert "PROBLEM  threshold-bucket" in bad.stdout and "→ set the threshold" in bad.stdout
    down = _run(f"http://127.0.0.1:{free_port()}", work, "--live")
    assert down.returncode == 3 and "error:" in down.stderr and "Traceback" not in down.stderr


def test_without_live_it_is_validate_plus_lint(tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(spec_text())
    assert _run("http://127.0.0.1:9", tmp_path).returncode == 0  # never contacts Prometheus
    (tmp_path / "slos.yaml").write_text(_lint_spec())
    done = _run("http://127.0.0.1:9", tmp_path, "--json")
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["live"] is False and document["problems"] == 1 and "can never fire" in document["lint"][0]
    assert _run("http://127.0.0.1:9", tmp_path, "--service", "a").returncode == 2  # narrows --live only


def _lint_spec() -> str:
    return "version: slogen/v1\nservices:\n" + _ratio("a", 97, *GOOD, window="90d")
