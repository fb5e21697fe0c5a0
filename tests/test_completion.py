"""Shell completion as the README documents it: `_SLOGEN_COMPLETE=<shell>_source slogen` prints the
script, and completing a command or an option answers from slogen's own commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SLOGEN = Path(sys.executable).parent / "slogen"  # the console script installed next to this Python


def complete(env: dict[str, str]) -> str:
    done = subprocess.run([str(SLOGEN)], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o nosort -F _slogen_completion slogen"),
                                               ("zsh", "compdef _slogen_completion slogen"),
                                               ("fish", "complete --no-files --command slogen")])
def test_the_completion_script_for_each_shell(shell: str, marker: str) -> None:
    assert SLOGEN.is_file(), f"{SLOGEN}: slogen's console script is not installed beside {sys.executable}"
    assert marker in complete({"_SLOGEN_COMPLETE": f"{shell}_source"})


def test_completing_a_command_and_an_option() -> None:
    commands = complete({"_SLOGEN_COMPLETE": "bash_complete", "COMP_WORDS": "slogen ga", "COMP_CWORD": "1"})
    assert commands.split() == ["plain,gate"]
    options = complete({"_SLOGEN_COMPLETE": "bash_complete", "COMP_WORDS": "slogen render --ch", "COMP_CWORD": "2"})
    assert options.split() == ["plain,--check"]
