"""A cache of validated specs, so `status`, `gate` and `push` over thousands of SLOs start fast.

Parsing and validating a 10,000-SLO spec takes seconds (PyYAML's constructor dominates); the
deploy gate should not pay that on every run. After a spec validates, its document (plain data,
as JSON — never pickle, so a cache file can not run code) is stored under a key that covers
everything that decides validity: the spec's bytes, slogen's version, and the bytes of every
module and data file of the package (all validator code, whatever imports what). Any change to
either makes a new key; old entries are never read.

A cache is an optimisation, never a trust boundary: an entry is used only when it carries an
HMAC made with this user's secret key (`key`, mode 0600, in a directory of mode 0700 owned by
this user) over the key material and the document, so a planted or edited entry is a miss; a
directory or key file another user could write disables the cache. Paths are never taken from
an entry (the writer checks every path it writes whatever the document says).

Location: `$SLOGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/slogen`, else `~/.cache/slogen`.
`SLOGEN_NO_CACHE=1` turns it off. The cache is best effort: any I/O problem means a miss.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from functools import cache
from pathlib import Path
from typing import Any

from slogen import __version__, safefile

KEY_FILE = "key"


@cache
def _fingerprint() -> bytes:
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent.parent  # the whole slogen package, not only spec/
    files = sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".md", ".yaml")
                   and "__pycache__" not in p.parts)
    for path in files:
        try:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
        except OSError:
            digest.update(b"missing:" + path.name.encode())
    return digest.digest()


def _private(path: Path, *, directory: bool) -> bool:
    """True when `path` is this user's and nobody else can write it (nor read it, for the key)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    kind_ok = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
    mask = 0o022 if directory else 0o077
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return kind_ok and owner_ok and not info.st_mode & mask


def _directory() -> Path | None:
    if os.environ.get("SLOGEN_NO_CACHE"):
        return None
    explicit = os.environ.get("SLOGEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "slogen"


def _secret(directory: Path, *, create: bool) -> bytes | None:
    """This user's HMAC key in `directory`; None when the directory or key is not private to this user."""
    if create:
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            return None
    if not _private(directory, directory=True):
        return None
    path = directory / KEY_FILE
    if create and not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
        except OSError:
            pass  # another process created it first: read theirs
    if not _private(path, directory=False):
        return None
    try:
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == 32 else None


def _entry(raw: bytes) -> tuple[Path, bytes] | None:
    directory = _directory()
    if directory is None:
        return None
    material = _fingerprint() + hashlib.sha256(raw).digest()
    return directory / f"spec-{hashlib.sha256(material).hexdigest()}.json", material


def _mac(key: bytes, material: bytes, text: str) -> str:
    return hmac.new(key, material + text.encode("utf-8"), hashlib.sha256).hexdigest()


def get(raw: bytes) -> dict[str, Any] | None:
    """The validated document for these spec bytes, or None (absent, unreadable, or not signed by us)."""
    found = _entry(raw)
    if found is None:
        return None
    path, material = found
    text = _read_signed(path, material)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None


def put(raw: bytes, doc: dict[str, Any]) -> None:
    """Remember that these spec bytes validate to `doc` (extension `x-` keys dropped)."""
    found = _entry(raw)
    if found is None:
        return
    path, material = found
    data = stored_form(doc)
    try:
        text = json.dumps(data, separators=(",", ":"))
    except (TypeError, ValueError):
        return  # an odd value just means no cache
    _write_signed(path, material, text)


def stored_form(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as an entry keeps it: without its top-level extension (`x-`) keys."""
    return {k: v for k, v in doc.items() if not (isinstance(k, str) and k.startswith("x-"))}


def enabled() -> bool:
    """Whether there is a cache to read and write (not turned off by `SLOGEN_NO_CACHE`)."""
    return _directory() is not None


def fingerprint() -> bytes:
    """A digest of slogen's version and of every module and data file of the package."""
    return _fingerprint()


def _read_signed(path: Path, material: bytes) -> str | None:
    """The text of a signed entry, or None (absent, unreadable, not private, or not signed by us)."""
    key = _secret(path.parent, create=False)
    if key is None or not _private(path, directory=False):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            mac, _, text = handle.read().partition("\n")
    except (OSError, ValueError):
        return None
    return text if hmac.compare_digest(mac, _mac(key, material, text)) else None


def _write_signed(path: Path, material: bytes, text: str) -> None:
    try:
        key = _secret(path.parent, create=True)
        if key is None:
            return
        safefile.atomic_write(path, _mac(key, material, text) + "\n" + text, parents=False, mode=0o600)  # private
    except OSError:
        return  # best effort: a read-only home just means no cache


def get_named(name: str, material: bytes) -> str | None:
    """Another signed entry: the text stored under `name` (a file name) with `material` in its MAC."""
    directory = _directory()
    return None if directory is None else _read_signed(directory / name, material)


def put_named(name: str, material: bytes, text: str) -> None:
    """Store `text` as the signed entry `name`; `material` (what the text is a function of) is in the MAC."""
    directory = _directory()
    if directory is not None:
        _write_signed(directory / name, material, text)
