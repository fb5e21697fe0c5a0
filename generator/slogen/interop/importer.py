"""`slogen import` without the files: parsed documents in, the spec text and the report out."""

from __future__ import annotations

from collections import Counter
from typing import Any

from slogen import __version__
from slogen.errors import SlogenError
from slogen.interop import openslo, pyrra, sloth
from slogen.interop.common import FAMILY, OPENSLO, PYRRA, SLOTH, SLOTH_K8S, Document, detect
from slogen.interop.report import ObjectReport, Report
from slogen.interop.specdoc import Draft, assemble


class MixedFormatsError(SlogenError):
    """The inputs hold documents of more than one tool and no `--from` says which to read."""

    exit_code = 1


def _object_name(doc: Document) -> str:
    data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
    meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    return str(meta.get("name") or data.get("service") or data.get("kind") or f"document {doc.index + 1}")


def _wanted(fmt: str | None, found: str | None) -> bool:
    if found is None:
        return False
    if fmt is None or fmt == found:
        return True
    return fmt == SLOTH and found == SLOTH_K8S  # `--from sloth` reads both of Sloth's formats


def convert(docs: list[Document], fmt: str | None,
            report: Report | None = None) -> tuple[str | None, Report]:
    """The spec text (None when nothing could be imported) and the report of every input object.

    `report` may hold entries already (files the caller skipped). `fmt` is one of FORMATS, or None
    to detect each document's format; detected documents of more than one tool raise
    MixedFormatsError (name the one to read with `--from`).
    """
    report = report if report is not None else Report()
    detected = [(doc, detect(doc.data)) for doc in docs]
    if fmt is None:
        families = Counter(FAMILY[f] for _, f in detected if f is not None)
        if len(families) > 1:
            first = {FAMILY[f]: doc for doc, f in reversed(detected) if f is not None}
            listing = "; ".join(f"{family}: {first[family].where} ({_object_name(first[family])})"
                                for family in sorted(families))
            raise MixedFormatsError(f"the inputs mix formats ({listing}): import one tool's files at a time, "
                                    "or choose one with --from")
    drafts: list[Draft] = []
    openslo_docs = []
    for doc, found in detected:
        if not _wanted(fmt, found):
            obj = report.add(ObjectReport(doc.where, found or "document", _object_name(doc)))
            expected = f"a {fmt} document" if fmt else "a Sloth, Pyrra or OpenSLO document"
            if doc.scanned:  # foreign YAML in a directory, or another tool's file beside the chosen one's
                obj.skipped = True
                obj.approx("document", f"skipped: not {expected}" + (f" (it is {found})" if found else ""))
            else:
                obj.cannot("document", f"not {expected}" + (f" (it is {found})" if found else ""))
        elif found in (SLOTH, SLOTH_K8S):
            drafts += sloth.convert(doc, found, report)
        elif found == PYRRA:
            drafts += pyrra.convert(doc, report)
        elif found == OPENSLO:
            openslo_docs.append(doc)
    if openslo_docs:
        drafts += openslo.convert(openslo_docs, report)
    # Objects the converters refused have no draft; report order follows the input.
    files = sorted({d.file for d in docs})
    header = (f"Imported by slogen {__version__} (slogen import) from {', '.join(files)}.\n"
              "Each SLO says where it came from and what mapped only approximately; "
              "see docs/import.md.")
    return assemble(drafts, header), report
