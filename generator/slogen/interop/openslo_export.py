"""A slogen spec as OpenSLO `openslo/v1` documents: one Service per service, one SLO per SLO with
its SLI inline. What OpenSLO cannot say (alerting, policy, dashboards) is reported, not lost silently.

Queries keep slogen's meaning: ratio and latency SLIs become counter selectors (`counter: true`), as
OpenSLO's Prometheus examples write them; `expr` SLIs keep their window as Sloth's `{{.window}}`,
the placeholder the one Prometheus tool that reads OpenSLO (Sloth) understands.
"""

from __future__ import annotations

from typing import Any

from slogen.interop.report import ObjectReport, Report
from slogen.model import SLO, WINDOW_PLACEHOLDER, ExprRatioSLI, ExprSLI, LatencySLI, RatioSLI, Service, Spec
from slogen.promql import number_text, render
from slogen.render import promql_builders as q

API = "openslo/v1"
NAME_ANNOTATION = "slogen/slo"  # the SLO's own name: `import` takes it back (metadata.name has the service too)
SLOTH_WINDOW = "{{.window}}"


def slo_name(slo: SLO) -> str:
    """OpenSLO names are unique per kind across all files: service and SLO together."""
    return f"{slo.service}-{slo.name}"


def _metric(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _indicator(slo: SLO, obj: ObjectReport) -> dict[str, Any]:
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        ratio: dict[str, Any] = {"counter": True}
        if sli.errors is not None:
            ratio["bad"] = _metric(sli.errors)
        else:
            assert sli.good is not None
            ratio["good"] = _metric(sli.good)
        ratio["total"] = _metric(sli.total)
        return {"ratioMetric": ratio}
    if isinstance(sli, LatencySLI):
        good = render(q.latency_series(sli, "_bucket", q.le_matcher(sli.threshold_seconds)))
        obj.approx("sli.latency", f"written as a ratio of the histogram's counters (good: requests within "
                                  f"{sli.threshold}); OpenSLO has no histogram SLI")
        return {"ratioMetric": {"counter": True, "good": _metric(good),
                                "total": _metric(render(q.latency_series(sli, "_count")))}}
    obj.approx("sli.expr", f"queries keep their window as {SLOTH_WINDOW} (Sloth's placeholder): OpenSLO has none")
    if isinstance(sli, ExprRatioSLI):
        return {"ratioMetric": {"counter": False, "rawType": "failure", "raw": _metric(_window(sli.ratio))}}
    assert isinstance(sli, ExprSLI)
    ratio = {"counter": False}
    if sli.errors is not None:
        ratio["bad"] = _metric(_window(sli.errors))
    else:
        assert sli.good is not None
        ratio["good"] = _metric(_window(sli.good))
    ratio["total"] = _metric(_window(sli.total))
    return {"ratioMetric": ratio}


def _window(text: str) -> str:
    return text.strip().replace(WINDOW_PLACEHOLDER, SLOTH_WINDOW)


def _service_doc(service: Service) -> dict[str, Any]:
    spec = {"description": service.description} if service.description else {}
    return {"apiVersion": API, "kind": "Service", "metadata": {"name": service.name}, "spec": spec}


def _slo_doc(slo: SLO, obj: ObjectReport) -> dict[str, Any]:
    if slo.alerting.labels or slo.alerting.annotations or slo.alerting.page != type(slo.alerting.page)() \
            or slo.alerting.ticket != type(slo.alerting.ticket)():
        obj.approx("alerting", "not exported: an OpenSLO AlertPolicy cannot express the multi-window pairs")
    spec: dict[str, Any] = {}
    if slo.description:
        spec["description"] = slo.description
    spec.update({
        "service": slo.service,
        "indicator": {"metadata": {"name": f"{slo_name(slo)}-sli"}, "spec": _indicator(slo, obj)},
        "timeWindow": [{"duration": slo.window, "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"displayName": slo.name, "target": float(number_text(slo.objective))}],
    })
    if isinstance(slo.sli, ExprRatioSLI):
        obj.approx("budgetingMethod", "expr.ratio budgets average the ratio over time (docs/spec.md); OpenSLO's "
                                      "nearest is Occurrences")
    meta = {"name": slo_name(slo), "displayName": slo.name, "annotations": {NAME_ANNOTATION: slo.name}}
    return {"apiVersion": API, "kind": "SLO", "metadata": meta, "spec": spec}


def export(spec: Spec, report: Report) -> dict[str, list[dict[str, Any]]]:
    """The OpenSLO documents of each service, keyed by service name, in spec order."""
    out = {}
    for service in spec.services:
        docs = [_service_doc(service)]
        if service.labels:
            obj = report.add(ObjectReport(spec.source, "slogen service", service.name))
            obj.approx("labels", "not exported: OpenSLO metadata labels are not copied onto series or alerts")
        for slo in service.slos:
            obj = report.add(ObjectReport(spec.source, "slogen SLO", f"{slo.service}/{slo.name}"))
            obj.target = f"SLO {slo_name(slo)}"
            docs.append(_slo_doc(slo, obj))
        out[service.name] = docs
    if spec.policy != type(spec.policy)():
        obj = report.add(ObjectReport(spec.source, "slogen policy", "policy"))
        obj.approx("policy", "not exported: OpenSLO has no deploy policy")
    return out
