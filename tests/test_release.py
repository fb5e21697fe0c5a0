"""The release workflow (.github/workflows/release.yml) and the install source of the CI templates.

The tag check runs for real; the rest is the workflow's structure: a version tag triggers it,
PyPI gets dist/ by trusted publishing (OIDC, no token), the GitHub release gets the packages and
the JSON Schema, and the templates install the release tag of this version.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT

RELEASE = ROOT / ".github/workflows/release.yml"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
TEMPLATES = (ROOT / ".github/workflows/slogen.yml", ROOT / "docs/ci/gitlab-ci.yml", ROOT / "docs/ci/Jenkinsfile")


@pytest.fixture(scope="module")
def release() -> dict[str, Any]:
    doc = yaml.safe_load(RELEASE.read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1 reads the bare key `on` as a boolean
    return dict(doc)


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("name") == name)


def test_a_version_tag_triggers_it_with_read_only_defaults(release: dict[str, Any]) -> None:
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {"contents": "read"}
    assert set(release["jobs"]) == {"build", "pypi", "github"}


@pytest.mark.parametrize(("tag", "ok"), [(f"v{VERSION}", True), ("v9.9.9", False), (VERSION, False)])
def test_the_tag_must_match_the_version(release: dict[str, Any], tag: str, ok: bool, tmp_path: Path) -> None:
    script = step(release["jobs"]["build"], "The tag matches the version in pyproject.toml")["run"]
    (tmp_path / "python").symlink_to(sys.executable)  # setup-python's `python`
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=ROOT, env={"GITHUB_REF_NAME": tag,
                          "PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, text=True, timeout=30)
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    if not ok:
        assert f"does not match pyproject.toml's version {VERSION}" in done.stdout


def test_build_tests_checks_and_tries_the_wheel_before_anything_is_published(release: dict[str, Any]) -> None:
    build = release["jobs"]["build"]
    text = "\n".join(s.get("run", "") for s in build["steps"])
    for needle in ("bash scripts/test", "python -m build", "twine check --strict dist/*",
                   "\"$RUNNER_TEMP/fresh\"/bin/pip install --disable-pip-version-check dist/*.whl",
                   "\"$RUNNER_TEMP/fresh\"/bin/slogen --version",
                   "slogen render", "slogen schema -o slos.schema.json"):
        assert needle in text, needle
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"].split() == ["dist/", "slos.schema.json"]
    assert {release["jobs"]["pypi"]["needs"], release["jobs"]["github"]["needs"]} == {"build"}


def test_pypi_by_trusted_publishing_without_a_token(release: dict[str, Any]) -> None:
    pypi = release["jobs"]["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}
    assert pypi["environment"]["name"] == "pypi"
    publish = next(s for s in pypi["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@"))
    assert "password" not in publish.get("with", {}) and "secrets." not in RELEASE.read_text()


def test_the_github_release_carries_the_packages_and_the_schema(release: dict[str, Any]) -> None:
    github = release["jobs"]["github"]
    assert github["permissions"] == {"contents": "write"}
    run = step(github, "GitHub release with the packages and the JSON Schema")["run"]
    assert re.search(r"gh release create \"\$\{GITHUB_REF_NAME\}\".*dist/\*\.whl dist/\*\.tar\.gz slos\.schema\.json",
                     run.replace("\\\n", " "), re.S)


def install_source(path: Path) -> str:
    found = re.findall(r"^\s*SLOGEN_INSTALL\s*[:=]\s*'?([^'\s]+)'?\s*$", path.read_text(), re.M)
    assert len(found) == 1, (path, found)
    return found[0]


def test_the_templates_install_the_release_tag_of_this_version() -> None:
    sources = {install_source(p) for p in TEMPLATES}
    assert sources == {f"https://github.com/OWNER/slogen/archive/refs/tags/v{VERSION}.tar.gz"}
    for path in TEMPLATES:  # and say what it becomes once on PyPI
        assert f"slogen~={VERSION}" in path.read_text()
