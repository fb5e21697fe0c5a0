"""render(spec) → Bundle: the one ordered list of pure generators. No I/O, clock or environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from slogen import conventions, gcpause
from slogen.model import Spec
from slogen.render import dashboards, provisioning, rules
from slogen.render.artifact import Artifact, Bundle, bundle

# Explicit, in one place: every artifact slogen produces comes from one of these.
GENERATORS = (rules.generate, dashboards.generate, provisioning.generate)


def render(spec: Spec, rules_format: str = conventions.RULES_FORMAT_PROMETHEUS,
           skip: Collection[str] = ()) -> Bundle:
    """Every output file for `spec`, sorted by path; same spec, same bytes. `rules_format` chooses
    plain rule files, PrometheusRule or VMRule objects (conventions.RULES_FORMATS).

    `skip`: names of services whose rule files are left out of the bundle: the caller has them
    already, known to be exactly what they render to (services/render_cache.py). A service's rule
    file is a function of that service and the spec's settings alone, so the others are built from
    the spec without them; every other file is built from the whole spec."""
    artifacts: list[Artifact] = []
    skipped = set(skip)
    fresh = dataclasses.replace(spec, services=tuple(s for s in spec.services if s.name not in skipped)) \
        if skipped else spec
    # Hundreds of thousands of short-lived dicts and lists: the collector would re-traverse the
    # model meanwhile (gcpause.py; figures in docs/performance.md).
    with gcpause.paused():
        for generate in GENERATORS:
            artifacts.extend(rules.generate(fresh, rules_format) if generate is rules.generate else generate(spec))
    return bundle(artifacts)
