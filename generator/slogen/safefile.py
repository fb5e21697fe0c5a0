"""File primitives every write in slogen goes through: umask-honouring, never through a symlink.

- `stage` creates a new temp file beside the target with `O_CREAT | O_EXCL` and mode 0666, so
  the process umask decides the final mode (0644 under 022), exactly as for any other tool;
  `tempfile.mkstemp` would force 0600, which a Prometheus or Grafana running as another user
  cannot read. O_EXCL also refuses a planted link at the temp name.
- `atomic_write` = stage + rename: readers see the old or the new file, never half. A rename
  replaces a symlink at the target instead of writing through it.
- `append` opens with `O_NOFOLLOW` and refuses anything but a regular file, so an audit log or
  `GITHUB_STEP_SUMMARY` replaced by a link (a pull request can plant one in the checkout) is
  never written through.
- `directory_lock` serialises writers of one directory (an advisory `flock` on the directory
  itself: nothing is left behind in it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from slogen.errors import SlogenError

LOCK_WAIT = 30.0  # seconds a writer waits for another one on the same directory


class UnsafePathError(SlogenError):
    """A path slogen was asked to write is a symlink or not a regular file."""


def stage(path: Path, text: str, mode: int = 0o666, *, sync: bool = True) -> Path:
    """A fully written temp file beside `path` (`mode` minus the umask), fsynced unless `sync` is
    False (then the caller makes it durable, `sync_files`, before renaming it into place)."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        try:
            view = memoryview(text.encode("utf-8"))
            while view:  # unbuffered: one write call for the whole text, as a rule
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


SYNC_ALL_FROM = 16  # staged files from which one flush of everything beats an fsync each


def sync_files(paths: list[Path]) -> None:
    """Make the data of every file in `paths` durable: an fsync each, or for many files one
    `sync()` of all file systems (one journal commit instead of one per file)."""
    if len(paths) >= SYNC_ALL_FROM and hasattr(os, "sync"):
        os.sync()  # Linux waits for the writes to complete
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sync_directories(paths: list[Path]) -> None:
    """fsync each distinct directory once, so the renames into it are durable too (best effort:
    not every platform can open a directory)."""
    for directory in sorted(set(paths)):
        try:
            fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike[str], text: str, *, parents: bool = True, mode: int = 0o666) -> None:
    """Replace `path` with `text` via a temp file and rename (missing parents created when `parents`).

    `mode` (minus the umask) is the new file's: 0666 for output others read, 0600 for private files.
    """
    target = Path(path)
    if parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = stage(target, text, mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def append(path: str | os.PathLike[str], text: str, *, what: str = "file") -> None:
    """Append `text` to the regular file `path` (created if absent); never through a symlink."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{what} {path} is a symbolic link; slogen does not write through links") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePathError(f"{what} {path} is not a regular file")
        data = text.encode("utf-8")
        while data:  # one write normally; a short write continues where it stopped
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)


def check_no_links(root: Path, relative: str) -> None:
    """Raise UnsafePathError when a component of `root/relative` below `root` is a symlink or a non-file."""
    current = root
    parts = Path(relative).parts
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode):
            raise UnsafePathError(f"refusing to write {root / relative}: {current} is a symbolic link")
        last = index == len(parts) - 1
        if last and not stat.S_ISREG(mode):
            raise UnsafePathError(f"cannot write {current}: it is not a regular file (a directory is in the way?)")
        if not last and not stat.S_ISDIR(mode):
            raise UnsafePathError(f"cannot write {root / relative}: {current} is not a directory")


@contextlib.contextmanager
def directory_lock(directory: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (created if absent); SlogenError after `wait` seconds."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): writes are still atomic per file, just not serialised
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SlogenError(f"another slogen is writing into {directory}: still locked after "
                                      f"{wait:g}s; try again when it has finished") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
