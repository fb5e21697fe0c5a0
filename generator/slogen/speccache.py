"""A cache of validated specs, so `status`, `gate` and `push` over thousands of SLOs start fast.

Parsing and validating a 10,000-SLO spec takes seconds (PyYAML's constructor dominates); the
deploy gate should not pay that on every run. After a spec validates, its document (plain data,
as JSON — never pickle, so a cache file can not run code) is stored under a key that covers
everything that decides validity: the spec's bytes, slogen's version, and the bytes of the
validating code and schema. Any change to either makes a new key; old entries are never read.

Location: `$SLOGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/slogen`, else `~/.cache/slogen`.
`SLOGEN_NO_CACHE=1` turns it off. The cache is best effort: any I/O problem means a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from slogen import __version__

# The modules whose code decides whether a document is valid and what it means.
_VALIDATORS = ("spec.py", "schema.py", "promql/ast.py", "promql/check.py", "gotemplate.py", "lint.py",
               "yamlpos.py", "durations.py", "model.py",
               "data/slos.schema.json")


@cache
def _fingerprint() -> bytes:
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    for name in _VALIDATORS:
        try:
            digest.update((package / name).read_bytes())
        except OSError:
            digest.update(b"missing:" + name.encode())
    return digest.digest()


def _directory() -> Path | None:
    if os.environ.get("SLOGEN_NO_CACHE"):
        return None
    explicit = os.environ.get("SLOGEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "slogen"


def _path(raw: bytes) -> Path | None:
    directory = _directory()
    if directory is None:
        return None
    key = hashlib.sha256(_fingerprint() + raw).hexdigest()
    return directory / f"spec-{key}.json"


def get(raw: bytes) -> dict[str, Any] | None:
    """The validated document for these spec bytes, or None."""
    path = _path(raw)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def put(raw: bytes, doc: dict[str, Any]) -> None:
    """Remember that these spec bytes validate to `doc` (extension `x-` keys dropped)."""
    path = _path(raw)
    if path is None:
        return
    data = {k: v for k, v in doc.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:
        text = json.dumps(data, separators=(",", ":"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".spec-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        return  # best effort: a read-only home or an odd value just means no cache
