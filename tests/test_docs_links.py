"""The docs name only what exists: every relative link in README.md and docs/, and every repository
file path they name in backticks, resolves to a file or directory in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")
TOP = "generator|tests|docs|bench|demo|deploy|scripts|rules|dashboards|provisioning|\\.github|\\.ci"
# A file name with an extension, a folder (trailing /), or anything under a top-level folder of the repository.
PATHLIKE = re.compile(rf"^[\w.][\w./-]*(?:/|\.(?:py|md|ya?ml|json|toml|txt|sh|log))$|^(?:{TOP})/[\w./-]*$")
# Where a bare path in a doc may live: the repository root, the doc's folder, the package, tests.
BASES = ("", "generator/slogen", "generator", "tests")
# Paths the docs name that are not repository files: outputs of commands, paths inside
# containers or on the user's machine, and examples of users' own files.
NOT_REPO_FILES = {
    "bench/results/bench.json",  # written by python -m bench.run (git-ignored)
    "deploy-overrides.log",  # written by the gate on an override
    "gate.json", "status.json", "slos.schema.json",  # written by the commands the docs show
    ".venv/bin/activate",  # created by the README's first command
    ".gitlab-ci.yml", ".pre-commit-config.yaml", "prometheus.yml",  # the user's files
    "dashboards/archive/",  # an example of a folder of hand-kept copies slogen never touches
}


BENCH_RESULTS = "bench/results/"  # every benchmark writes its JSON there (git-ignored)


def doc_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def links(doc: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)  # code blocks hold commands, not links
    return [target for target in LINK.findall(text)
            if not re.match(r"^[a-z][a-z+.-]*:", target) and not target.startswith("#")]


def named_paths(doc: Path) -> list[str]:
    found = []
    for token in CODE.findall(doc.read_text()):
        token = token.rstrip(".,:;)")
        if token.startswith(("/", "~", "http", "-", "$")) or any(ch in token for ch in "<>*{}$=[]|:"):
            continue  # absolute (container, system), options, globs, placeholders, URLs
        if PATHLIKE.match(token) and "YYYY" not in token and not token.startswith("DIR/"):
            found.append(token)
    return found


def exists(doc: Path, target: str) -> bool:
    candidates = [doc.parent / target, *(ROOT / base / target for base in BASES)]
    return any(c.exists() and c.resolve().is_relative_to(ROOT) for c in candidates)


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_relative_link_exists(doc: Path) -> None:
    missing = [t for t in links(doc) if not (doc.parent / t.split("#")[0]).exists()]
    assert missing == []


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_file_path_named_exists(doc: Path) -> None:
    missing = [t for t in named_paths(doc)
               if t not in NOT_REPO_FILES and not t.startswith(BENCH_RESULTS) and not exists(doc, t)]
    assert missing == []


def test_the_checks_see_links_and_paths_and_catch_a_missing_one(tmp_path: Path) -> None:
    readme = links(ROOT / "README.md")
    assert "docs/spec.md" in readme and "docs/README.md" in readme
    assert "generator/slogen/slo/budget.py" in named_paths(ROOT / "docs" / "status-and-gate.md")
    fake = ROOT / "docs" / "spec.md"
    assert not exists(fake, "docs/no-such-file.md") and not exists(fake, "tests/test_conventions.py")
    assert exists(fake, "conventions.py") and exists(fake, "../README.md")
