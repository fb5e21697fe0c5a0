"""render(spec) → Bundle: the one ordered list of pure generators. No I/O, clock or environment."""

from __future__ import annotations

from slogen.model import Spec
from slogen.render import dashboards, provisioning, rules
from slogen.render.artifact import Artifact, Bundle, bundle

# Explicit, in one place: every artifact slogen produces comes from one of these.
GENERATORS = (rules.generate, dashboards.generate, provisioning.generate)


def render(spec: Spec) -> Bundle:
    """Every output file for `spec`, sorted by path; same spec, same bytes."""
    artifacts: list[Artifact] = []
    for generate in GENERATORS:
        artifacts.extend(generate(spec))
    return bundle(artifacts)
