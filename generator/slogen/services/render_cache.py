"""Which services' rule files need no rebuilding: a render's work in proportion to what changed.

After a render, the cache records, per service, a key and the SHA-256 of the rule file text that
service rendered to. The key covers everything that text is a function of: slogen's version and
the bytes of its whole package (spec/cache.py's fingerprint), the rules format, and the validated
document the model was built from (spec.load.load_document: `build(doc, source)` is the whole
model, so the document and the spec's file name are every input of it). It is made of the spec's
settings (the source name and every part of the document but the services: defaults with the
inlined alert windows, policy, Grafana, the rule target) and the service's own part of the
document (its SLOs, labels and alerting). The document's JSON is the key's text: it is what the
spec cache stores, the same whether the model came from the cache or was validated afresh, and
encoding it is one C call per service (the model's dataclass `repr` was ten times that).

On the next render a service whose key is recorded is reused only when the file on disk still
hashes to the recorded digest: its bytes are then exactly what the generator would write, so
neither the generator, nor the writer, nor `--check` needs its text (writer.OnDisk: the writer
only confirms, by the file's `stat`, that it is the file verified). Anything else (a changed key,
an edited or missing file, an unreadable, foreign or tampered cache entry, which the HMAC of
spec/cache.py turns into a miss) renders that service from scratch.

The cache lives in slogen's private cache directory, one signed entry per combination of
version, format and settings; `SLOGEN_NO_CACHE=1` turns it off (and then no key is computed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slogen.conventions import rule_path
from slogen.model import Spec
from slogen.render.artifact import Bundle
from slogen.safefile import UnsafePathError, check_no_links
from slogen.services.writer import OnDisk, signature
from slogen.spec import cache as speccache

MAX_ENTRIES = 100_000  # services remembered per settings; older ones are forgotten first


@dataclasses.dataclass(frozen=True)
class Keys:
    """The cache entry for one spec's settings: its file name, MAC material, and each service's key."""

    name: str
    material: bytes
    services: dict[str, str]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def keys(spec: Spec, doc: Mapping[str, Any], rules_format: str) -> Keys | None:
    """The cache keys of `spec`, built from the validated document `doc` (spec.load.load_document),
    rendered in `rules_format`; None when there is no cache or the document does not match the model."""
    if not speccache.enabled():
        return None
    services = doc.get("services")
    if not isinstance(services, list) or [s.get("name") if isinstance(s, dict) else None for s in services] \
            != [s.name for s in spec.services]:
        return None  # not the document of this model: no reuse rather than a wrong one
    try:
        settings = _json([spec.source, {k: v for k, v in doc.items() if k != "services"}])
        parts = [_json(s) for s in services]
    except (TypeError, ValueError):
        return None
    base = hashlib.sha256(speccache.fingerprint() + b"\0" + rules_format.encode() + b"\0" + settings)
    material = base.digest()
    found = {}
    for service, part in zip(spec.services, parts, strict=True):
        digest = base.copy()
        digest.update(part)
        found[service.name] = digest.hexdigest()
    return Keys(f"render-{base.hexdigest()}.json", material, found)


def _recorded(name: str, material: bytes) -> dict[str, str]:
    text = speccache.get_named(name, material)
    if text is None:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(doc, dict) else {}


def _verified(root: Path, rel: str, digest: str, checked: set[str]) -> OnDisk | None:
    """The file `root/rel` as an OnDisk when it is a regular file, not a link and not under one,
    and its bytes hash to `digest` (and it did not change while read). `checked`: the directories
    (relative to `root`) already found to hold no link: each is checked once, not per file."""
    parent = os.path.dirname(rel)
    try:
        if parent not in checked:
            check_no_links(root, rel)
            checked.add(parent)
        fd = os.open(root / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as handle:
            before = os.fstat(fd)
            data = handle.read() if stat.S_ISREG(before.st_mode) else None
            after = os.fstat(fd)
    except (OSError, UnsafePathError):
        return None
    seen = signature(before)
    if data is None or seen != signature(after) or hashlib.sha256(data).hexdigest() != digest:
        return None
    return OnDisk(rel, seen)


def reusable(found: Keys | None, rules_format: str, root: Path) -> dict[str, OnDisk]:
    """Service name → its rule file under `root`, for each service whose rendered text is recorded
    and the file holds exactly that text."""
    if found is None:
        return {}
    recorded = _recorded(found.name, found.material)
    out = {}
    checked: set[str] = set()
    for service, key in found.services.items():
        digest = recorded.get(key)
        if digest is not None:
            kept = _verified(root, rule_path(service, rules_format), digest, checked)
            if kept is not None:
                out[service] = kept
    return out


def remember(found: Keys | None, rules_format: str, artifacts: Bundle, reused: Mapping[str, OnDisk]) -> None:
    """Record the digest of every service's rule file in `artifacts`, rendered from the spec `found`
    was made from (services in `reused` are recorded already)."""
    if found is None:
        return
    texts = {a.path: a.text for a in artifacts}
    fresh = {}
    for service, key in found.services.items():
        text = texts.get(rule_path(service, rules_format))
        if text is not None and service not in reused:
            fresh[key] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if not fresh:
        return
    recorded = _recorded(found.name, found.material)
    merged = {**{k: v for k, v in recorded.items() if k not in fresh}, **fresh}
    if len(merged) > MAX_ENTRIES:
        merged = dict(list(merged.items())[-MAX_ENTRIES:])
    speccache.put_named(found.name, found.material, json.dumps(merged, separators=(",", ":")))
