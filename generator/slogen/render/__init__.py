"""render(spec) → Bundle: the one ordered list of pure generators. No I/O, clock or environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from slogen import conventions, gcpause
from slogen.model import Spec
from slogen.render import dashboards, provisioning, rules
from slogen.render.artifact import Artifact, Bundle, bundle

# Explicit, in one place: every artifact slogen produces comes from one of these.
GENERATORS = (rules.generate, dashboards.generate, provisioning.generate)


def render(spec: Spec, rules_format: str = conventions.RULES_FORMAT_PROMETHEUS,
           reuse: Mapping[str, str] | None = None) -> Bundle:
    """Every output file for `spec`, sorted by path; same spec, same bytes. `rules_format` chooses
    plain rule files, PrometheusRule or VMRule objects (conventions.RULES_FORMATS).

    `reuse`: service name → the exact text its rule file renders to, known from an earlier render
    (services/render_cache.py); those services' rules are not built again. A service's rule file
    is a function of that service and the spec's settings alone, so the others are built from the
    spec without them. Reused artifacts carry no `data`."""
    artifacts: list[Artifact] = []
    names = {s.name for s in spec.services}
    reuse = {name: text for name, text in (reuse or {}).items() if name in names}
    fresh = dataclasses.replace(spec, services=tuple(s for s in spec.services if s.name not in reuse)) \
        if reuse else spec
    # Hundreds of thousands of short-lived dicts and lists: the collector would re-traverse the
    # model meanwhile (gcpause.py; figures in docs/performance.md).
    with gcpause.paused():
        for generate in GENERATORS:
            artifacts.extend(rules.generate(fresh, rules_format) if generate is rules.generate else generate(spec))
    artifacts.extend(Artifact(conventions.rule_path(name, rules_format), text) for name, text in reuse.items())
    return bundle(artifacts)
