"""Write rendered files into a directory as one transaction, or compare them with it (`render --check`).

Ownership: a spec owns exactly the files it wrote, recorded per spec in the directory's manifest
(`conventions.MANIFEST_FILE`, keyed by the spec's path relative to that directory). Only those
are overwritten or removed; any other file, whatever its header says, is left alone, and a
rendered path occupied by such a file is refused. A directory without an entry for the spec
(rendered before manifests existed, or a fresh checkout of files without one) adopts only a
file at a path the spec renders whose header line is exactly the one this spec writes.

Transaction: every check runs first, then every new file is staged beside its target, then
all are renamed into place; a failure at any step restores what was renamed, so a render
changes all of its files or none. Writers of one directory are serialised by a lock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from slogen import safefile
from slogen.conventions import GENERATED_MARKER, MANIFEST_FILE, MANIFEST_SCHEMA, OUTPUT_DIRS
from slogen.errors import SlogenError
from slogen.render.artifact import Bundle
from slogen.report.diff import truncated_diff
from slogen.safefile import atomic_write, directory_lock

__all__ = ["Difference", "OnDisk", "Transaction", "WriteReport", "check_tree", "plan", "signature", "write_file",
           "write_tree"]

DEFAULT_KEY = "slos.yaml"


@dataclass
class WriteReport:
    """What a write did, by relative path."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Difference:
    """One file that differs between the bundle and the disk."""

    path: str
    kind: str  # "stale" (content differs), "missing" (not on disk), "extra" (owned but no longer produced)
    diff: str = ""


@dataclass(frozen=True)
class OnDisk:
    """A file of the render that the disk already holds byte for byte (services/render_cache.py
    verified its bytes against the digest of what its service renders to), with the `signature` of
    the file it verified. The writer and `--check` neither read nor write it: they only confirm,
    by its signature, that the file there is still the one verified."""

    path: str
    signature: tuple[int, ...]


def signature(info: os.stat_result) -> tuple[int, ...]:
    """Which file, and which version of it: device, inode, size, modification and change times."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _still(root: Path, kept: OnDisk) -> bool:
    """Whether `root/kept.path` is still the very file verified (the same inode: not a link to it)."""
    try:
        return signature(os.stat(root / kept.path, follow_symlinks=False)) == kept.signature
    except OSError:
        return False


def _changed_meanwhile(root: Path, rel: str) -> SlogenError:
    return SlogenError(f"{root / rel} changed while slogen rendered; nothing was written: run it again")


def spec_key(spec_path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> str:
    """The manifest key of a spec for one output directory: its path relative to that directory."""
    return PurePosixPath(Path(os.path.relpath(Path(spec_path).resolve(), Path(directory).resolve()))).as_posix()


# ------------------------------------------------------------------ the manifest


def _valid_relative(path: Any, scope: tuple[str, ...] | None) -> bool:
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path:
        return False
    parts = PurePosixPath(path).parts
    if any(p in ("", ".", "..") for p in parts) or str(PurePosixPath(*parts)) != path:
        return False
    return scope is None or (len(parts) > 1 and parts[0] in scope) or (scope == () and len(parts) == 1)


def read_manifest(root: Path) -> dict[str, list[str]]:
    """Spec key → the files it wrote; empty when there is no manifest; SlogenError when it is unreadable."""
    path = root / MANIFEST_FILE
    try:
        safefile.check_no_links(root, MANIFEST_FILE)
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SlogenError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        doc = json.loads(raw)
        specs = doc["specs"]
        if doc.get("schema") != MANIFEST_SCHEMA or not isinstance(specs, dict):
            raise ValueError
        return {str(k): [p for p in v if isinstance(p, str)] for k, v in specs.items() if isinstance(v, list)}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SlogenError(f"{path} is not a slogen manifest (slogen records there which files it wrote); "
                          "restore it from version control, or delete it to adopt only files whose "
                          "header names this spec") from None


def manifest_text(specs: Mapping[str, Iterable[str]]) -> str:
    """The manifest file's text: deterministic (sorted), so it can be committed with the files."""
    body = {"schema": MANIFEST_SCHEMA,
            "note": "Written by slogen: the files each spec rendered here. slogen only replaces or removes these.",
            "specs": {k: sorted(set(v)) for k, v in sorted(specs.items()) if v}}
    return json.dumps(body, indent=2) + "\n"


def header_line(text: str) -> str | None:
    """The generated-file header of a rendered text: its first comment line, or a dashboard's description."""
    first = text.split("\n", 1)[0]
    if first.startswith(f"# {GENERATED_MARKER}"):
        return first
    if text.startswith("{"):
        try:
            description = json.loads(text).get("description")
        except (ValueError, AttributeError):
            return None
        if isinstance(description, str) and description.startswith(GENERATED_MARKER):
            return description
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# ------------------------------------------------------------------ the transaction


@dataclass
class Change:
    """One file a transaction replaces (`new` text) or removes (`new` None); `old` None: it did not exist."""

    path: str
    new: str | None
    old: str | None


@dataclass
class Transaction:
    """Planned changes under `root`; `commit` applies all of them or none, `rollback` undoes a commit."""

    root: Path
    changes: list[Change]
    report: WriteReport
    manifest_old: str | None = None
    manifest_new: str | None = None

    def commit(self) -> None:
        """Stage every new file, then rename all into place; on any failure restore the old state."""
        staged: list[tuple[Change, Path, Path]] = []
        done: list[Change] = []
        renamed = 0
        manifest = self.manifest_new if self.manifest_new is not None and self.manifest_new != self.manifest_old \
            else None
        manifest_tmp: Path | None = None
        try:
            writes = [(change, self.root / change.path) for change in self.changes if change.new is not None]
            for directory in sorted({target.parent for _, target in writes}):  # each once, not per file
                directory.mkdir(parents=True, exist_ok=True)
            for change, target in writes:
                assert change.new is not None
                staged.append((change, target, safefile.stage(target, change.new, sync=False)))
            if manifest is not None and self.changes:  # made durable with the files: one sync for all
                manifest_tmp = safefile.stage(self.root / MANIFEST_FILE, manifest, sync=False)
            # Durable before any rename: a crash then leaves each target old or whole, never empty.
            safefile.sync_files([tmp for _, _, tmp in staged] + ([manifest_tmp] if manifest_tmp else []))
            for change, target, tmp in staged:
                os.replace(tmp, target)
                renamed += 1
                done.append(change)
            for change in self.changes:
                if change.new is None:
                    (self.root / change.path).unlink(missing_ok=True)
                    done.append(change)
            if manifest_tmp is not None:  # last: it lists the files now in place
                os.replace(manifest_tmp, self.root / MANIFEST_FILE)
                manifest_tmp = None
            elif manifest is not None:
                atomic_write(self.root / MANIFEST_FILE, manifest)
            if self.changes:  # the renames and removals durable too: each directory once
                safefile.sync_directories([(self.root / c.path).parent for c in self.changes] + [self.root])
        except OSError as exc:
            self._undo(done)
            failed = getattr(exc, "filename", None) or self.root
            raise SlogenError(f"cannot write {failed}: {exc.strerror or exc}; nothing was changed") from None
        except BaseException:
            self._undo(done)
            raise
        finally:
            for _, _, tmp in staged[renamed:]:  # the renamed ones are gone already
                tmp.unlink(missing_ok=True)
            if manifest_tmp is not None:
                manifest_tmp.unlink(missing_ok=True)

    def rollback(self) -> None:
        """Put back what `commit` changed (files and manifest) as it was before."""
        self._undo(list(self.changes))
        if self.manifest_new is not None and self.manifest_new != self.manifest_old:
            if self.manifest_old is None:
                (self.root / MANIFEST_FILE).unlink(missing_ok=True)
            else:
                atomic_write(self.root / MANIFEST_FILE, self.manifest_old)

    def _undo(self, done: list[Change]) -> None:
        for change in reversed(done):
            target = self.root / change.path
            if change.old is None:
                target.unlink(missing_ok=True)
            else:
                atomic_write(target, change.old)


def plan(files: Mapping[str, str], root: Path, key: str, *, scope: tuple[str, ...] | None,
         kept: Iterable[OnDisk] = ()) -> Transaction:
    """Check ownership and paths for writing `files` (relative path → text) as spec `key`; writes nothing.

    `scope`: the top directories the spec's files live in (OUTPUT_DIRS), or () for files directly
    in `root` (a Prometheus rules directory). Manifest entries outside it are ignored.
    `kept`: more files of the spec, already on disk as they would be written (OnDisk): they are
    checked like the others, not read, and are unchanged unless they changed since verified
    (then SlogenError: their text is not known here).
    """
    on_disk = {k.path: k for k in kept}
    if on_disk.keys() & files.keys():
        raise SlogenError(f"refusing to write {sorted(on_disk.keys() & files.keys())[0]!r} twice (a bug in slogen)")
    if root.exists() and not root.is_dir():
        raise SlogenError(f"{root} is not a directory")
    manifests = read_manifest(root)
    entry = manifests.get(key)
    owned = {p for p in entry if _valid_relative(p, scope)} if entry is not None else set()
    report = WriteReport()
    changes = []
    everything: dict[str, str | OnDisk] = {**files, **on_disk}
    for rel, text in sorted(everything.items()):
        if not _valid_relative(rel, scope):
            raise SlogenError(f"refusing to write {rel!r}: not a plain relative path (a bug in slogen)")
        target = root / rel
        safefile.check_no_links(root, rel)
        if isinstance(text, OnDisk):
            if not _still(root, text):
                raise _changed_meanwhile(root, rel)
            if rel in owned:
                report.unchanged.append(rel)
                continue
            # Not ours yet (rare): its text is the file's, so the checks below decide whether to adopt it.
            text = _read(target) or ""
        current = _read(target) if target.exists() else None
        if target.exists():
            other = next((k for k, v in sorted(manifests.items()) if k != key and rel in v), None)
            if other is not None and rel not in owned:
                raise SlogenError(f"refusing to overwrite {target}: slogen wrote it from another spec, {other} "
                                  f"(see {root / MANIFEST_FILE}); render into another directory")
            adoptable = entry is None and current is not None and header_line(current) is not None \
                and header_line(current) == header_line(text)
            if rel not in owned and not adoptable:
                raise SlogenError(f"refusing to overwrite {target}: it was not written by slogen from {key} "
                                  f"(not listed in {root / MANIFEST_FILE}); move it away or delete it")
            if current is None:
                raise SlogenError(f"cannot read {target} (not UTF-8 text?); move it away or delete it")
        if current == text:
            report.unchanged.append(rel)
            continue
        changes.append(Change(rel, text, current))
        report.written.append(rel)
    for rel in sorted(owned - everything.keys()):
        target = root / rel
        try:
            safefile.check_no_links(root, rel)
        except safefile.UnsafePathError:
            continue  # replaced by a link or a directory since: no longer the file slogen wrote
        current = _read(target) if target.exists() else None
        if current is not None:
            changes.append(Change(rel, None, current))
            report.removed.append(rel)
    others = {k: v for k, v in manifests.items() if k != key}
    old = _read(root / MANIFEST_FILE)
    return Transaction(root, changes, report, old, manifest_text({**others, key: everything.keys()}))


def write_tree(artifacts: Bundle, root: Path, key: str = DEFAULT_KEY, *, kept: Iterable[OnDisk] = ()) -> WriteReport:
    """Write every artifact under `root` as spec `key`: all or nothing, under the directory's lock.
    `kept`: the spec's other files, verified to be on disk as rendered (`plan`)."""
    files = {a.path: a.text for a in artifacts}
    with directory_lock(root):
        transaction = plan(files, root, key, scope=OUTPUT_DIRS, kept=kept)
        transaction.commit()
    return transaction.report


def check_tree(artifacts: Bundle, root: Path, key: str = DEFAULT_KEY, *, context_lines: int = 2,
               max_diff_lines: int = 40, kept: Iterable[OnDisk] = ()) -> list[Difference]:
    """Differences between the bundle (and `kept`, files verified to be on disk as rendered) and the
    files under `root`; writes nothing."""
    out = []
    produced = {a.path for a in artifacts}
    for file in kept:
        if not _still(root, file):
            raise _changed_meanwhile(root, file.path)
        produced.add(file.path)
    for artifact in artifacts:
        current = _read(root / artifact.path)
        if current is None:
            out.append(Difference(artifact.path, "missing"))
        elif current != artifact.text:
            diff = truncated_diff(current.splitlines(), artifact.text.splitlines(), f"a/{artifact.path}",
                                  f"b/{artifact.path}", context=context_lines, max_lines=max_diff_lines)
            out.append(Difference(artifact.path, "stale", diff))
    try:
        owned = read_manifest(root).get(key) or []
    except SlogenError:
        owned = []
    extra = {p for p in owned if _valid_relative(p, OUTPUT_DIRS) and (root / p).is_file()} - produced
    out.extend(Difference(p, "extra") for p in sorted(extra))
    return out


def write_file(path: str | os.PathLike[str], text: str) -> None:
    """Replace one file outside the output tree (`schema -o`) atomically; SlogenError when impossible."""
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise SlogenError(f"cannot write {path}: {exc.strerror or exc}") from None
