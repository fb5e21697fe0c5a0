"""The conftest hook: under CI a skipped test is a failure (a skip there hides a missing dependency)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SKIPPING = '''
import pytest

def test_skips():
    pytest.skip("a dependency is missing")

@pytest.mark.skipif(True, reason="conditionally absent")
def test_skipif():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfail():
    assert False

def test_passes():
    pass
'''


def run_pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(folder)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_fails_under_ci_and_stays_a_skip_outside(tmp_path: Path) -> None:
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SKIPPING)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    local = run_pytest(tmp_path, None)
    assert local.returncode == 0, local.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in local.stdout
    for value in ("true", "1"):
        ci = run_pytest(tmp_path, value)
        assert ci.returncode == 1, ci.stdout
        assert "skipped" not in ci.stdout.splitlines()[-1]
        assert f"skipped under CI (CI={value}), which counts as a failure: Skipped: a dependency is missing" in ci.stdout
        assert "which counts as a failure: Skipped: conditionally absent" in ci.stdout
        assert "1 xfailed" in ci.stdout  # an expected failure is not a skip
    off = run_pytest(tmp_path, "false")
    assert off.returncode == 0, off.stdout
