"""Assemble converted SLOs into one `slogen/v1` spec: names made valid and unique, YAML with a comment
above each SLO saying where it came from, and the result checked by slogen's own loader.

An SLO the loader refuses (a query slogen's PromQL check rejects, an objective of 100, ...) is taken
out and reported as not mappable with the loader's message, so the written spec always validates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from slogen.errors import SpecError
from slogen.interop.report import ObjectReport
from slogen.spec.load import loads
from slogen.spec.schema import SPEC_VERSION

RENAMED, RENAMED_SERVICE = "slogen name", "slogen service name"  # report fields of the renames done here
NAME_MAX = 32  # the schema's limit for service and SLO names
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_SLO_PATH = re.compile(r"^\$\.services\[(\d+)\]\.slos\[(\d+)\]")
_SERVICE_PATH = re.compile(r"^\$\.services\[(\d+)\]")


def slug(text: str, fallback: str = "slo") -> str:
    """`text` as a slogen name: lower-case letters, digits and single `-`, at most 32 characters."""
    out = _NOT_NAME.sub("-", text.lower()).strip("-")[:NAME_MAX].strip("-")
    return out or fallback


@dataclass(eq=False)  # identity: drafts are dict keys while refused ones are taken out
class Draft:
    """One converted SLO and the service it belongs to, with the report of its source object."""

    service: str
    slo: dict[str, Any]  # the SLO's keys as slogen/v1 spells them (name, objective, sli, ...)
    report: ObjectReport
    origin: str  # the comment line above the SLO: file and object
    service_labels: dict[str, str] = field(default_factory=dict)
    service_description: str = ""


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as `|` literals (queries stay readable)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.strip("\n") and not any(line != line.rstrip() for line in value.split("\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=1 << 16)


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def _comment(text: str, spaces: int) -> str:
    return "".join(f"{' ' * spaces}# {line}\n" for line in text.splitlines())


@dataclass
class _Service:
    name: str
    labels: dict[str, str]
    description: str
    drafts: list[Draft] = field(default_factory=list)


def _group(drafts: list[Draft]) -> list[_Service]:
    """Services in first-seen order; a service name seen again with other labels gets a new name."""
    services: list[_Service] = []
    taken: dict[str, _Service] = {}
    for draft in drafts:
        base = slug(draft.service, "service")
        name, n = base, 1
        while name in taken and taken[name].labels != draft.service_labels:
            n += 1
            name = f"{base[:NAME_MAX - len(str(n)) - 1]}-{n}"
        if name != base:
            draft.report.approx(RENAMED_SERVICE, f"service {base!r} already came with other labels: named {name!r}")
        elif name != draft.service:
            draft.report.approx(RENAMED_SERVICE, f"{draft.service!r} is not a valid slogen name: named {name!r}")
        if name not in taken:
            taken[name] = _Service(name, draft.service_labels, draft.service_description)
            services.append(taken[name])
        service = taken[name]
        if not service.description and draft.service_description:
            service.description = draft.service_description
        service.drafts.append(draft)
    for service in services:
        _unique_slo_names(service)
    return services


def _unique_slo_names(service: _Service) -> None:
    seen: set[str] = set()
    for draft in service.drafts:
        wanted = str(draft.slo["name"])
        base = slug(wanted)
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base[:NAME_MAX - len(str(n)) - 1]}-{n}"
        seen.add(name)
        if name != wanted:
            why = "is taken in this service" if base == wanted else "is not a valid slogen name"
            draft.report.approx(RENAMED, f"{wanted!r} {why}: named {name!r}")
        draft.slo = {"name": name, **{k: v for k, v in draft.slo.items() if k != "name"}}
        draft.report.target = f"{service.name}/{name}"


def spec_text(services: list[_Service], header: str) -> str:
    """The spec as YAML: the header comment, then each service with a comment above each SLO."""
    out = [_comment(header, 0), f"version: {SPEC_VERSION}\n", "services:\n"]
    for service in services:
        head: dict[str, Any] = {"name": service.name}
        if service.description:
            head["description"] = service.description
        if service.labels:
            head["labels"] = dict(service.labels)
        out.append(_indent(_dump([head]), 2))
        out.append("    slos:\n")
        for draft in service.drafts:
            notes = [draft.origin] + [f"  {n.status}: {n.field}: {n.detail}" for n in draft.report.notes]
            out.append(_comment("\n".join(notes), 6))
            out.append(_indent(_dump([draft.slo]), 6))
    return "".join(out)


def assemble(drafts: list[Draft], header: str, *, filename: str = "slos.yaml") -> str | None:
    """The validated spec text holding every draft slogen's loader accepts (None if none is left)."""
    live = list(drafts)
    for _ in range(len(drafts) + 1):
        if not live:
            return None
        services = _group(live)
        text = spec_text(services, header)
        try:
            loads(text, filename=filename)
        except SpecError as exc:
            refused = _refused(services, exc)
            if not refused:
                raise  # a problem outside any one SLO: a converter bug, not the user's input
            for draft, messages in refused.items():
                draft.report.cannot("slogen validation", "; ".join(messages))
            live = [d for d in live if d not in refused]
            for d in live:  # names are re-derived on the next round
                d.report.notes = [n for n in d.report.notes if n.field not in (RENAMED, RENAMED_SERVICE)]
            continue
        return text
    raise AssertionError("assemble did not converge")


def _refused(services: list[_Service], exc: SpecError) -> dict[Draft, list[str]]:
    out: dict[Draft, list[str]] = {}
    for problem in exc.problems:
        match = _SLO_PATH.match(problem.path)
        if match:
            si, li = int(match[1]), int(match[2])
            drafts = [services[si].drafts[li]] if si < len(services) and li < len(services[si].drafts) else []
        else:
            smatch = _SERVICE_PATH.match(problem.path)
            drafts = services[int(smatch[1])].drafts if smatch and int(smatch[1]) < len(services) else []
        for draft in drafts:
            out.setdefault(draft, []).append(problem.message)
    return out
