"""Warnings about a valid spec: things that render fine but will not behave as the author expects."""

from __future__ import annotations

from slogen.model import Spec
from slogen.windows import windows_for


def warnings(spec: Spec) -> list[str]:
    """Human-readable warnings, one per finding, in spec order."""
    out = []
    for slo in spec.slos:
        for row in windows_for(slo.window):
            threshold = row.factor(slo.window) * slo.error_budget
            if threshold >= 1:
                out.append(
                    f"{slo.service}/{slo.name}: the {row.severity} alert over {row.long}/{row.short} can never "
                    f"fire: burning {float(row.factor(slo.window)):g}x a {float(slo.error_budget):.3%} budget needs "
                    f"an error ratio of {float(threshold):.0%}; raise the objective or shorten the window"
                )
    return out
