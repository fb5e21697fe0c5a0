"""Which services' rule files need no rebuilding: a render's work in proportion to what changed.

After a render, the cache records, per service, a key and the SHA-256 of the rule file text that
service rendered to. The key covers everything that text is a function of: slogen's version and
the bytes of its whole package (spec/cache.py's fingerprint), the rules format, the spec's
settings (every field of the model but the services: defaults, policy, Grafana, the rule target,
the source name in the header) and the service's own model (its SLOs with their inlined alert
windows, labels and alerting). On the next render a service whose key is recorded is reused only
when the file on disk still hashes to the recorded digest: its text is then exactly what the
generator would write, so it is taken from the disk instead of being built. Anything else (a
changed key, an edited or missing file, an unreadable, foreign or tampered cache entry, which the
HMAC of spec/cache.py turns into a miss) renders that service from scratch.

The cache lives in slogen's private cache directory, one signed entry per combination of
version, format and settings; `SLOGEN_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from slogen.conventions import rule_path
from slogen.model import Spec
from slogen.render.artifact import Bundle
from slogen.safefile import UnsafePathError, check_no_links
from slogen.spec import cache as speccache

MAX_ENTRIES = 100_000  # services remembered per settings; older ones are forgotten first


@dataclasses.dataclass(frozen=True)
class Keys:
    """The cache entry for one spec's settings: its file name, MAC material, and each service's key."""

    name: str
    material: bytes
    services: dict[str, str]


def keys(spec: Spec, rules_format: str) -> Keys:
    """The cache keys of `spec` rendered in `rules_format`."""
    settings = repr(dataclasses.replace(spec, services=()))
    base = hashlib.sha256(speccache.fingerprint() + b"\0" + rules_format.encode() + b"\0" + settings.encode())
    material = base.digest()
    services = {}
    for service in spec.services:
        digest = base.copy()
        digest.update(repr(service).encode())
        services[service.name] = digest.hexdigest()
    return Keys(f"render-{base.hexdigest()}.json", material, services)


def _recorded(name: str, material: bytes) -> dict[str, str]:
    text = speccache.get_named(name, material)
    if text is None:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(doc, dict) else {}


def reusable(found: Keys, rules_format: str, root: Path) -> dict[str, str]:
    """Service name → its rule file's text on disk under `root`, for each service whose rendered
    text is recorded and the file still holds exactly that text."""
    recorded = _recorded(found.name, found.material)
    out = {}
    for service, key in found.services.items():
        digest = recorded.get(key)
        if digest is None:
            continue
        rel = rule_path(service, rules_format)
        try:
            check_no_links(root, rel)
            data = (root / rel).read_bytes()
        except (OSError, UnsafePathError):
            continue
        if hashlib.sha256(data).hexdigest() == digest:
            try:
                out[service] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
    return out


def remember(found: Keys, rules_format: str, artifacts: Bundle, reused: Mapping[str, str]) -> None:
    """Record the digest of every service's rule file in `artifacts`, rendered from the spec `found`
    was made from (services in `reused` are recorded already)."""
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
