"""The package's directions, enforced: only `cli/` prints or exits, only `clients/` speaks HTTP,
only the service layer (and the file primitives it uses) writes files.

A scan of the source (the AST, so comments and docstrings do not count) rather than a convention.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "generator" / "slogen"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
HTTP_LIBRARIES = ("requests", "urllib3", "http.client", "urllib.request", "httpx", "aiohttp")
# Where files are written: the services, the file primitives they use, and the private spec cache.
WRITERS = ("services/", "safefile.py", "spec/cache.py")


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _calls(tree: ast.AST) -> list[tuple[int, str]]:
    """Every call in `tree` as (line, dotted name of what is called), e.g. `click.echo`, `print`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts = []
            func = node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(func.id)
                found.append((node.lineno, ".".join(reversed(parts))))
    return found


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def _scan(predicate_calls: set[str], allowed: tuple[str, ...]) -> list[str]:
    offences = []
    for path in MODULES:
        rel = _rel(path)
        if rel.startswith(allowed):
            continue
        for line, name in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            if name in predicate_calls:
                offences.append(f"{rel}:{line}: {name}")
    return offences


def test_the_scan_sees_the_whole_package() -> None:
    names = {_rel(p) for p in MODULES}
    assert {"cli/status.py", "services/gate.py", "clients/http.py", "slo/policy.py", "report/summary.py"} <= names
    # and it finds what it looks for where it is allowed (so an empty result below means something)
    assert _scan({"click.echo", "sys.exit"}, ())
    assert _scan({"safefile.atomic_write", "atomic_write"}, ())


def test_only_the_cli_prints_or_exits() -> None:
    forbidden = {"print", "sys.exit", "exit", "quit", "os._exit", "click.echo", "click.secho", "click.clear",
                 "SystemExit", "click.get_current_context"}
    assert _scan(forbidden, ("cli/",)) == []


@pytest.mark.parametrize("library", HTTP_LIBRARIES)
def test_only_clients_import_an_http_library(library: str) -> None:
    offences = [f"{_rel(p)}:{line}: {name}" for p in MODULES if not _rel(p).startswith("clients/")
                for line, name in _imports(ast.parse(p.read_text(encoding="utf-8")))
                if name == library or name.startswith(library + ".")]
    assert offences == []


def test_only_the_service_layer_writes_files() -> None:
    writes = {"atomic_write", "safefile.atomic_write", "safefile.stage", "stage", "safefile.append", "os.replace",
              "os.rename", "shutil.rmtree", "shutil.copy", "shutil.move", "write_text", "write_bytes"}
    offences = _scan(writes, WRITERS)
    # open(..., "w"/"a"/"x") and Path.write_text/open for writing outside the writers
    for path in MODULES:
        rel = _rel(path)
        if rel.startswith(WRITERS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
                modes += [k.value.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)]
                if name in ("open", "fdopen") and any(isinstance(m, str) and set(m) & set("wax+") for m in modes):
                    offences.append(f"{rel}:{node.lineno}: open for writing")
                if name in ("write_text", "write_bytes", "mkdir", "unlink", "rmdir", "touch"):
                    offences.append(f"{rel}:{node.lineno}: {name}")
    assert offences == []
