"""`slogen import` and `slogen export` with their files: find and parse the inputs, convert, and write
the result atomically (a temp file renamed into place: readers see the old file or the new one).

An existing output that differs is replaced only with `force`; an identical one is left alone.
Nothing is written when something could not map, unless `allow_partial`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slogen.errors import SlogenError
from slogen.interop import importer, openslo_export
from slogen.interop.common import Document
from slogen.interop.report import ObjectReport, Report
from slogen.safefile import atomic_write, check_no_links, directory_lock
from slogen.spec import load as spec_loader

MAX_INPUT_BYTES = 16 << 20  # a peer's spec file is kilobytes; more is the wrong file
SUFFIXES = (".yaml", ".yml")


class InteropError(SlogenError):
    """Inputs that cannot be read, an output that would be overwritten, or nothing to import (exit 1)."""

    exit_code = 1


@dataclass
class Outcome:
    """What a run did: the report, the text produced, and the files written or left unchanged."""

    report: Report
    text: str | None = None  # import: the spec; export without a directory: all documents
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withheld: bool = False  # something could not map and allow_partial was not given: nothing written


MAX_NODES = 200_000  # values in one file, counting repeats through YAML aliases (a "billion laughs" is more)
MAX_DEPTH = 64  # nesting; SLO specs are about 8 deep


def _check_size(data: Any, shown: str) -> None:
    """Refuse documents whose aliases expand to a huge tree, or nested absurdly deep: the
    converters walk them recursively."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES or depth > MAX_DEPTH:
            raise InteropError(f"{shown}: the YAML is too large or too deeply nested once aliases are expanded "
                               f"(more than {MAX_NODES} values or {MAX_DEPTH} levels): not an SLO spec")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _files(paths: list[str]) -> list[tuple[Path, bool]]:
    out: list[tuple[Path, bool]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            out += [(p, True) for p in found]
        elif path.exists():
            out.append((path, False))
        else:
            raise InteropError(f"{given}: no such file or directory")
    return out


def _read(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InteropError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InteropError(f"{path}: larger than {MAX_INPUT_BYTES >> 20} MiB: not an SLO spec")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InteropError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read_documents(paths: list[str], report: Report) -> list[Document]:
    """Every YAML document of the files named or found below the directories named (`*.yaml`, `*.yml`).

    A file named on the command line must parse; one found in a directory that does not is
    reported as skipped, like any other foreign YAML there (Helm values, compose files, ...).
    """
    docs = []
    for path, scanned in _files(paths):
        shown = str(path)
        try:
            parsed = [d for d in yaml.safe_load_all(_read(path)) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
            what = getattr(exc, "problem", None) or "invalid YAML"
            if not scanned:
                raise InteropError(f"{where}: YAML syntax error: {what}") from None
            obj = report.add(ObjectReport(shown, "file", path.name, skipped=True))
            obj.approx("file", f"skipped: YAML syntax error: {what}")
            continue
        except RecursionError:
            raise InteropError(f"{shown}: YAML nested too deeply") from None
        for doc in parsed:
            _check_size(doc, shown)
        docs += [Document(shown, i, d, scanned) for i, d in enumerate(parsed)]
    if not docs and not report.objects:
        raise InteropError(f"no YAML files in {', '.join(paths)}")
    return docs


def _existing(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InteropError(f"cannot read {path} to compare: {exc}") from None


def _write_all(files: dict[Path, str], force: bool, outcome: Outcome) -> None:
    """Write every file, or none: all targets are checked before the first one is written."""
    todo = {}
    for path, text in files.items():
        check_no_links(path.parent, path.name)
        old = _existing(path)
        if old == text:
            outcome.unchanged.append(str(path))
        elif old is not None and not force:
            raise InteropError(f"{path} exists and differs: pass --force to replace it (or choose another -o)")
        else:
            todo[path] = text
    for path, text in todo.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with directory_lock(path.parent):
            try:
                atomic_write(path, text)
            except OSError as exc:
                raise InteropError(f"cannot write {path}: {exc.strerror or exc}") from None
        outcome.written.append(str(path))


def import_files(paths: list[str], fmt: str | None, output: str | None, *, force: bool = False,
                 allow_partial: bool = False) -> Outcome:
    """Convert the inputs; write the spec to `output` (when given) if everything mapped or `allow_partial`."""
    report = Report()
    docs = read_documents(paths, report)
    text, report = importer.convert(docs, fmt, report)
    outcome = Outcome(report, text)
    if text is None:
        return outcome
    if report.unmapped and not allow_partial:
        outcome.withheld = True
        return outcome
    if output is not None:
        _write_all({Path(output): text}, force, outcome)
    return outcome


def _yaml_docs(docs: list[dict[str, Any]], header: str) -> str:
    body = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1 << 16,
                              explicit_start=True)
    return f"# {header}\n{body}"


def export_openslo(spec_path: str, out_dir: str | None, *, force: bool = False) -> Outcome:
    """The spec as OpenSLO v1: one `<service>.openslo.yaml` per service in `out_dir`, or all as text."""
    spec = spec_loader.load(spec_path)
    report = Report()
    per_service = openslo_export.export(spec, report)
    header = f"Exported by slogen from {os.path.basename(spec_path)} (slogen export --to openslo)."
    outcome = Outcome(report)
    if out_dir is None:
        outcome.text = _yaml_docs([d for docs in per_service.values() for d in docs], header)
        return outcome
    files = {Path(out_dir) / f"{name}.openslo.yaml": _yaml_docs(docs, header) for name, docs in per_service.items()}
    _write_all(files, force, outcome)
    return outcome
