"""Golden files: tests/specs/<name>.yaml renders to tests/golden/<name>/ byte for byte.

A change to any generator shows up here as a plain diff. To accept a change, run
`pytest tests/test_golden.py --update-golden` and review `git diff tests/golden`
(the flag is refused when CI is set).
"""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import GOLDEN, SPECS
from slogen.cli import main
from slogen.render import render
from slogen.spec.load import load

SPEC_FILES = sorted(SPECS.glob("*.yaml"))


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_render_matches_golden(spec_file: Path, update_golden: bool) -> None:
    produced = {a.path: a.text for a in render(load(str(spec_file)))}
    golden_dir = GOLDEN / spec_file.stem
    if update_golden:
        shutil.rmtree(golden_dir, ignore_errors=True)
        for path, text in produced.items():
            (golden_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (golden_dir / path).write_text(text)
        return
    assert golden_dir.is_dir(), f"no golden files for {spec_file.name}: run pytest --update-golden and review"
    expected = _tree(golden_dir)
    assert sorted(produced) == sorted(expected), "the set of rendered files changed"
    for path, text in produced.items():
        if text != expected[path]:
            diff = "\n".join(difflib.unified_diff(expected[path].splitlines(), text.splitlines(),
                                                  f"golden/{path}", f"rendered/{path}", lineterm=""))
            pytest.fail(f"{path} differs from its golden file:\n{diff}")


def test_there_are_golden_specs() -> None:
    assert len(SPEC_FILES) >= 2


def test_cli_render_writes_the_golden_tree(tmp_path: Path) -> None:
    spec_file = SPECS / "full.yaml"
    result = CliRunner().invoke(main, ["render", "-f", str(spec_file), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    tree = _tree(tmp_path)
    manifest = json.loads(tree.pop(".slogen-manifest.json"))  # what this spec wrote: exactly the golden files
    assert tree == _tree(GOLDEN / "full")
    assert list(manifest["specs"].values()) == [sorted(tree)]


def test_render_is_deterministic() -> None:
    spec_file = SPECS / "full.yaml"
    assert render(load(str(spec_file))) == render(load(str(spec_file)))
