"""scripts/test (the README's test command) picks its Python and installs what is missing.

Run for real on a copy of the script, with every outside program a stub on a PATH that holds
nothing else: each stub appends its command line to a log, so the test sees what would be
installed and which Python runs pip, ruff, mypy and pytest, without installing anything.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

BASICS = ("bash", "dirname", "head", "rm", "mkdir", "cat", "chmod")
TOOLS = ("prometheus", "promtool", "vmalert", "victoria-metrics", "node", "openssl")
# A stand-in python: answers the script's probes from environment variables and logs the rest.
FAKE_PYTHON = r"""#!/bin/bash
echo "$0 $*" >> "$FAKE_LOG"
case "$*" in
  "-c import sys; sys.exit(sys.prefix == sys.base_prefix)") [ "${FAKE_IN_VENV:-0}" = 1 ] ;;
  "-c import ensurepip, venv") [ "${FAKE_ENSUREPIP:-1}" = 1 ] ;;
  "-m venv .venv") mkdir -p .venv/bin && cat "$0" > .venv/bin/python && chmod +x .venv/bin/python ;;
  "-c import platform; print(platform.python_version())") echo 3.11.0 ;;
  *) exit 0 ;;
esac
"""
STUB = '#!/bin/bash\necho "$(basename "$0") $*" >> "$FAKE_LOG"\n'
SUDO = '#!/bin/bash\necho "sudo $*" >> "$FAKE_LOG"\nexec "$@"\n'


def stub(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def run_script(tmp_path: Path, *, missing: tuple[str, ...] = (), uid: int = 0, env: dict[str, str] | None = None,
               args: tuple[str, ...] = ("-q",)) -> tuple[subprocess.CompletedProcess[str], list[str], Path]:
    repo, bin_dir, log = tmp_path / "repo", tmp_path / "bin", tmp_path / "log"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "test", repo / "scripts" / "test")
    bin_dir.mkdir()
    for name in BASICS:
        real = shutil.which(name)
        assert real, name
        (bin_dir / name).symlink_to(real)
    (bin_dir / "basename").symlink_to(shutil.which("basename") or "/usr/bin/basename")
    for name in TOOLS:
        if name not in missing:
            stub(bin_dir / name, STUB)
    for name in ("apt-get",):
        stub(bin_dir / name, STUB)
    stub(bin_dir / "sudo", SUDO)
    stub(bin_dir / "id", f"#!/bin/bash\necho {uid}\n")
    stub(bin_dir / "python3", FAKE_PYTHON)
    full = {"PATH": str(bin_dir), "FAKE_LOG": str(log), "HOME": str(tmp_path), **(env or {})}
    done = subprocess.run([str(bin_dir / "bash"), str(repo / "scripts" / "test"), *args], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=60)
    lines = log.read_text().splitlines() if log.exists() else []
    return done, lines, repo


def test_outside_a_venv_it_creates_and_uses_the_repositorys_venv(tmp_path: Path) -> None:
    done, log, repo = run_script(tmp_path)
    assert done.returncode == 0, done.stderr
    venv_python = f"{repo}/.venv/bin/python"
    assert f"==> Python: {venv_python} (3.11.0, the repository's .venv)" in done.stdout
    assert f"{tmp_path}/bin/python3 -m venv .venv" in log
    runs = [line for line in log if line.startswith(venv_python + " -m ")]
    assert runs == [f"{venv_python} -m pip install -q --disable-pip-version-check -e .[test,bench]",
                    f"{venv_python} -m ruff check generator tests bench demo",
                    f"{venv_python} -m mypy", f"{venv_python} -m pytest -q"]
    assert not any(line.startswith(("apt-get", "sudo")) for line in log)


def test_inside_a_venv_it_uses_that_one_and_creates_nothing(tmp_path: Path) -> None:
    active = tmp_path / "active"
    (active / "bin").mkdir(parents=True)
    stub(active / "bin" / "python", FAKE_PYTHON)
    done, log, repo = run_script(tmp_path, env={"VIRTUAL_ENV": str(active)}, args=("-k", "gate"))
    assert done.returncode == 0, done.stderr
    assert f"==> Python: {active}/bin/python (3.11.0, the active virtual environment)" in done.stdout
    assert not (repo / ".venv").exists()
    assert f"{active}/bin/python -m pytest -k gate" in log


def test_a_venv_python_on_path_counts_as_inside_a_venv(tmp_path: Path) -> None:
    done, _, repo = run_script(tmp_path, env={"FAKE_IN_VENV": "1"})
    assert done.returncode == 0, done.stderr
    assert f"==> Python: {tmp_path}/bin/python3 (3.11.0, the active virtual environment)" in done.stdout
    assert not (repo / ".venv").exists()


@pytest.mark.parametrize("uid", [0, 1000])
def test_missing_programs_are_installed_with_one_apt_get_update(tmp_path: Path, uid: int) -> None:
    done, log, _ = run_script(tmp_path, missing=("vmalert", "node"), uid=uid, env={"FAKE_ENSUREPIP": "0"})
    assert done.stdout.startswith("==> installing Debian packages: victoria-metrics nodejs python3-venv\n")
    apt = [line.removeprefix("sudo ") for line in log if line.startswith(("apt-get", "sudo"))]
    via_sudo = [line for line in log if line.startswith("sudo")]
    assert apt[0] == "apt-get update -qq"
    assert apt[-1] == ("apt-get install -y -qq --no-install-recommends victoria-metrics nodejs python3-venv")
    assert len(via_sudo) == (2 if uid else 0)
    # The stub apt-get installs nothing, so vmalert is still absent: the script stops there, loudly.
    assert done.returncode == 1
    assert done.stderr == "error: vmalert is still missing (install it, then run scripts/test again)\n"


def test_all_present_means_no_apt_get_at_all(tmp_path: Path) -> None:
    done, log, _ = run_script(tmp_path, env={"FAKE_IN_VENV": "1"})
    assert done.returncode == 0, done.stderr
    assert "installing Debian packages" not in done.stdout
    assert not any(line.startswith("apt-get") for line in log)
