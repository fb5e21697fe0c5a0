"""The benchmarks run after `pip install -e '.[bench]'`: the extra declares every package they import,
and `python -m bench.run --smoke` works.

The test runs the smoke of the suites that take seconds (render_cost, status_cost, push_cost; about
5 s together); rules_cost and rules_scale start Prometheus on bigger histories (about 40 s in smoke
mode) and are left to `python -m bench.run --smoke` by hand.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import ROOT

FAST_SUITES = ("render_cost", "status_cost", "push_cost")
FIRST_PARTY = {"slogen", "bench", "prom", "grafana_standin", "loopback", "conftest"}
IMPORT_NAMES = {"yaml": "pyyaml", "grafana_foundation_sdk": "grafana-foundation-sdk"}  # import name → dist


def _dist(requirement: str) -> str:
    return re.split(r"[<>=~!\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def imported_modules(paths: list[Path]) -> set[str]:
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - FIRST_PARTY - {"__future__"}


def test_the_bench_extra_declares_what_the_benchmarks_import() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_dist(r) for r in project["dependencies"] + project["optional-dependencies"]["bench"]}
    # The benchmarks import the tests' Prometheus and Grafana stand-in helpers too.
    sources = [*sorted((ROOT / "bench").glob("*.py")), ROOT / "tests" / "prom.py", ROOT / "tests" / "grafana_standin.py",
               ROOT / "tests" / "loopback.py"]
    needed = {IMPORT_NAMES.get(m, m).lower().replace("_", "-") for m in imported_modules(sources)}
    assert {"numpy", "pytest"} <= needed  # the two the issue found missing
    assert needed <= declared, needed - declared


def test_bench_smoke_runs_and_writes_its_table(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    only = [arg for suite in FAST_SUITES for arg in ("--only", suite)]
    done = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", *only, "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "skipping" not in done.stderr
    doc = json.loads(out.read_text())
    assert doc["smoke"] is True
    suites = {row["suite"] for row in doc["rows"]}
    assert suites == set(FAST_SUITES)
    for row in doc["rows"]:
        assert row["figure"] and row["figure"] in done.stdout
        assert isinstance(row["slogen"], int | float), row
