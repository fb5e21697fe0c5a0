"""The release artifacts: `python -m build` makes an sdist and a wheel (built from that sdist) that
`twine check` accepts, and the wheel installed into a fresh virtual environment runs.

Offline on purpose (tests use no network): the build runs without isolation on this environment's
setuptools, the wheel is installed with --no-index --no-deps, and the fresh environment sees its
dependencies through a .pth line naming this environment's site-packages. A .pth line only adds a
directory, it does not process the .pth files in it, so slogen's own editable install is not
visible there: the fresh environment imports slogen from the wheel alone (asserted below).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "generator")
OUTPUT_DIRS = ("rules", "dashboards", "provisioning")
pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=180,
                          env=env or dict(os.environ))
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist + wheel built from a copy of the sources (the checkout stays clean)."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src, cwd=src)
    return out


def test_build_makes_an_sdist_and_a_wheel_that_twine_accepts(dist: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert sorted(p.name for p in dist.iterdir()) == [f"slogen-{version}-py3-none-any.whl", f"slogen-{version}.tar.gz"]
    checked = run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()), cwd=dist)
    assert checked.stdout.count("PASSED") == 2
    names = zipfile.ZipFile(next(dist.glob("*.whl"))).namelist()
    assert {"slogen/data/slos.schema.json", "slogen/data/postmortem.md", "slogen/cli/__init__.py"} <= set(names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_wheel_installs_into_a_fresh_venv_and_renders_the_example(dist: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--no-deps",
        "--disable-pip-version-check", next(dist.glob("*.whl")), cwd=tmp_path)
    fresh_site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                          cwd=tmp_path).stdout.strip())
    # This environment's site-packages (and the system's, when it sees them), never the editable source paths.
    ours = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    assert ours and sysconfig.get_paths()["purelib"] in ours
    (fresh_site / "_slogen_test_deps.pth").write_text("".join(f"{p}\n" for p in ours))

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SLOGEN_FILE", "VIRTUAL_ENV")}
    where = run(python, "-c", "import slogen; print(slogen.__file__)", cwd=tmp_path, env=env).stdout.strip()
    assert Path(where).is_relative_to(fresh_site), where  # the wheel's slogen, not the checkout's

    # Every requirement the wheel declares is satisfied where the fresh environment looks.
    unmet = run(python, "-c", (
        "from importlib.metadata import requires, version, PackageNotFoundError\n"
        "from packaging.requirements import Requirement\n"
        "bad = []\n"
        "for text in requires('slogen'):\n"
        "    r = Requirement(text)\n"
        "    if r.marker and not r.marker.evaluate({'extra': ''}):\n"
        "        continue\n"
        "    try:\n"
        "        ok = r.specifier.contains(version(r.name), prereleases=True)\n"
        "    except PackageNotFoundError:\n"
        "        ok = False\n"
        "    bad += [] if ok else [text]\n"
        "print(bad)"), cwd=tmp_path, env=env).stdout.strip()
    assert unmet == "[]"

    slogen = fresh / "bin" / "slogen"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert run(slogen, "--version", cwd=tmp_path, env=env).stdout.strip() == f"slogen, version {version}"
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "slos.yaml", project / "slos.yaml")
    run(slogen, "render", cwd=project, env=env)
    for top in OUTPUT_DIRS:  # the committed output of the example (tests/test_cli.py keeps it fresh)
        compared = filecmp.dircmp(ROOT / top, project / top)
        assert not (compared.left_only or compared.right_only or compared.diff_files), top
    schema = run(slogen, "schema", cwd=project, env=env).stdout
    assert json.loads(schema) == json.loads((ROOT / "generator/slogen/data/slos.schema.json").read_text())
