"""The honest part of an import or export: per input object, what mapped exactly, what mapped
approximately (and how), and what could not map (and why)."""

from __future__ import annotations

from dataclasses import dataclass, field

EXACT = "exact"
APPROXIMATE = "approximate"
NOT_MAPPABLE = "not mappable"
SKIPPED = "skipped"  # a document of no known format found while scanning a directory

_RANK = {EXACT: 0, SKIPPED: 0, APPROXIMATE: 1, NOT_MAPPABLE: 2}


@dataclass(frozen=True)
class Note:
    """One field's fate: `status` is APPROXIMATE or NOT_MAPPABLE, `detail` says how or why."""

    status: str
    field: str
    detail: str


@dataclass
class ObjectReport:
    """One input object (a Sloth SLO, a Pyrra ServiceLevelObjective, an OpenSLO SLO objective, ...)."""

    file: str
    kind: str  # e.g. "sloth prometheus/v1 SLO"
    name: str
    notes: list[Note] = field(default_factory=list)
    target: str = ""  # the result's service/slo, when it mapped
    skipped: bool = False

    def approx(self, field_name: str, how: str) -> None:
        """`field_name` mapped, but not exactly: `how` says what differs."""
        self._note(Note(APPROXIMATE, field_name, how))

    def cannot(self, field_name: str, why: str) -> None:
        """`field_name` cannot map: the object is left out of the result."""
        self._note(Note(NOT_MAPPABLE, field_name, why))

    def _note(self, note: Note) -> None:
        if note not in self.notes:  # a plugin listed five times is one finding
            self.notes.append(note)

    @property
    def status(self) -> str:
        """The worst of the notes; SKIPPED for a foreign document; EXACT when nothing is noted."""
        if self.skipped:
            return SKIPPED
        worst = max((n.status for n in self.notes), key=_RANK.__getitem__, default=EXACT)
        return worst

    @property
    def mapped(self) -> bool:
        """Whether the object is in the result."""
        return self.status in (EXACT, APPROXIMATE)

    def lines(self) -> list[str]:
        """The report of this object as text lines (the CLI prints them)."""
        head = f"{self.file}: {self.kind} {self.name!r}: {self.status}"
        if self.target and self.mapped:
            head += f" -> {self.target}"
        return [head] + [f"  {n.status}: {n.field}: {n.detail}" for n in self.notes]


@dataclass
class Report:
    """Every object of one run, in input order."""

    objects: list[ObjectReport] = field(default_factory=list)

    def add(self, obj: ObjectReport) -> ObjectReport:
        """Append `obj` and return it (converters fill it in as they go)."""
        self.objects.append(obj)
        return obj

    @property
    def unmapped(self) -> list[ObjectReport]:
        """Objects left out because something could not map."""
        return [o for o in self.objects if o.status == NOT_MAPPABLE]

    def counts(self) -> dict[str, int]:
        """How many objects have each status."""
        out = {EXACT: 0, APPROXIMATE: 0, NOT_MAPPABLE: 0, SKIPPED: 0}
        for o in self.objects:
            out[o.status] += 1
        return out

    def summary(self) -> str:
        """One line: `3 exact, 1 approximate, 1 not mappable`."""
        return ", ".join(f"{n} {status}" for status, n in self.counts().items() if n or status != SKIPPED)
