"""render(spec) → Bundle: the one ordered list of pure generators. No I/O, clock or environment."""

from __future__ import annotations

from slogen import conventions, gcpause
from slogen.model import Spec
from slogen.render import dashboards, provisioning, rules
from slogen.render.artifact import Artifact, Bundle, bundle

# Explicit, in one place: every artifact slogen produces comes from one of these.
GENERATORS = (rules.generate, dashboards.generate, provisioning.generate)


def render(spec: Spec, rules_format: str = conventions.RULES_FORMAT_PROMETHEUS) -> Bundle:
    """Every output file for `spec`, sorted by path; same spec, same bytes. `rules_format` chooses
    plain rule files, PrometheusRule or VMRule objects (conventions.RULES_FORMATS)."""
    artifacts: list[Artifact] = []
    # Hundreds of thousands of short-lived dicts and lists: the collector would re-traverse the
    # model meanwhile (gcpause.py; figures in docs/performance.md).
    with gcpause.paused():
        for generate in GENERATORS:
            artifacts.extend(rules.generate(spec, rules_format) if generate is rules.generate else generate(spec))
    return bundle(artifacts)
