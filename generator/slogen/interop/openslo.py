"""OpenSLO `openslo/v1` (SLO, SLI, Service) and `openslo/v1alpha` (SLO) to slogen drafts.

Documents of all input files are read together: an SLO may name an SLI (`indicatorRef`) or a
Service defined in another file. Each objective of an SLO becomes one slogen SLO. Queries are
PromQL of a Prometheus metric source; a query with Sloth's `{{.window}}` (or `$window`) becomes an
`expr` SLI, a bare selector of a counter (`counter: true`) a `ratio` SLI. Field by field in
docs/import.md.
"""

from __future__ import annotations

from typing import Any

from slogen.interop.common import Document, percent, period, window_query
from slogen.interop.openslo_export import NAME_ANNOTATION
from slogen.interop.report import ObjectReport, Report
from slogen.interop.specdoc import Draft
from slogen.promql import PromQLSyntaxError, parse_selector, render

V1, V1ALPHA = "openslo/v1", "openslo/v1alpha"
_IGNORED_KINDS = ("DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")


def _meta(data: dict[str, Any]) -> dict[str, Any]:
    meta = data.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _spec(data: dict[str, Any]) -> dict[str, Any]:
    spec = data.get("spec")
    return spec if isinstance(spec, dict) else {}


def convert(docs: list[Document], report: Report) -> list[Draft]:
    """The drafts of every OpenSLO SLO in `docs` (which also hold the SLIs, Services and data sources)."""
    slis = {str(_meta(d.data).get("name")): d for d in docs if d.data.get("kind") == "SLI"}
    services = {str(_meta(d.data).get("name")): d for d in docs if d.data.get("kind") == "Service"}
    sources = {str(_meta(d.data).get("name")): d for d in docs if d.data.get("kind") == "DataSource"}
    drafts: list[Draft] = []
    for doc in docs:
        kind = doc.data.get("kind")
        name = str(_meta(doc.data).get("name") or "?")
        api = str(doc.data.get("apiVersion"))
        if kind == "SLO":
            drafts += _slo(doc, api, slis, services, sources, report)
        elif kind in ("SLI", "Service"):
            continue  # reported through the SLOs that use them
        else:
            obj = report.add(ObjectReport(doc.where, f"{api} {kind}", name))
            why = ("slogen writes its own burn-rate alerts" if kind in _IGNORED_KINDS[1:]
                   else "data sources are read through the SLIs that use them" if kind == "DataSource"
                   else f"kind {kind!r} is not one slogen imports")
            obj.approx("kind", f"ignored: {why}")
    return drafts


def _slo(doc: Document, api: str, slis: dict[str, Document], services: dict[str, Document],
         sources: dict[str, Document], report: Report) -> list[Draft]:
    data, name = doc.data, str(_meta(doc.data).get("name") or "?")
    spec = _spec(data)
    objectives = spec.get("objectives") if isinstance(spec.get("objectives"), list) else []
    if not objectives:
        obj = report.add(ObjectReport(doc.where, f"{api} SLO", name))
        obj.cannot("spec.objectives", "missing or empty")
        return []
    service = str(spec.get("service") or "default")
    service_doc = services.get(service)
    description = str(_spec(service_doc.data).get("description") or "") if service_doc else ""
    drafts = []
    for i, objective in enumerate(objectives):
        # v1alpha: Sloth's names (`<name>-<index>`), so the series keep the slo label Sloth gave them
        suffix = f"-{i}" if api == V1ALPHA else "" if len(objectives) == 1 else f"-{i}"
        obj = report.add(ObjectReport(doc.where, f"{api} SLO", name + (f" objectives[{i}]" if suffix else "")))
        if not isinstance(objective, dict):
            obj.cannot(f"spec.objectives[{i}]", "not a mapping")
            continue
        slo = (_v1(spec, objective, slis, sources, obj, doc) if api == V1 else _v1alpha(spec, objective, obj))
        if slo is None or not obj.mapped:
            continue
        display = _meta(data).get("displayName")
        annotations = _meta(data).get("annotations")
        own = annotations.get(NAME_ANNOTATION) if isinstance(annotations, dict) else None  # from slogen export
        slo = {"name": (str(own) if own else name) + suffix, **slo}
        if spec.get("description") or display:
            slo = {**slo, "description": str(spec.get("description") or display)}
            slo = {k: slo[k] for k in ("name", "objective", "window", "description", "sli") if k in slo}
        if spec.get("alertPolicies"):
            obj.approx("spec.alertPolicies", "slogen writes its own multi-window burn-rate alerts instead")
        drafts.append(Draft(service=service, slo=slo, report=obj, service_description=description,
                            origin=f"from {doc.where} ({api} SLO {name!r}, objectives[{i}])"))
    return drafts


def _window_v1(spec: dict[str, Any], obj: ObjectReport) -> str | None:
    windows = spec.get("timeWindow") if isinstance(spec.get("timeWindow"), list) else []
    if not windows or not isinstance(windows[0], dict):
        obj.cannot("spec.timeWindow", "missing")
        return None
    tw = windows[0]
    window = period(tw.get("duration"))
    if window is None:
        obj.cannot("spec.timeWindow.duration", f"{tw.get('duration')!r}: slogen's SLO periods are whole hours "
                                               "from 1d to 400d")
        return None
    if tw.get("isRolling") is False or "calendar" in tw:
        obj.approx("spec.timeWindow", f"calendar-aligned windows are not in slogen: a rolling {window} instead")
    return window


def _budgeting(spec: dict[str, Any], objective: dict[str, Any], obj: ObjectReport) -> bool:
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        obj.cannot("spec.budgetingMethod", f"{method}: slogen counts occurrences (good and bad events); time "
                                           "slices are not in slogen")
        return False
    for key in ("timeSliceTarget", "timeSliceWindow"):
        if key in objective:
            obj.approx(f"objectives.{key}", "ignored: only used by time-slice budgeting")
    return True


def _target(objective: dict[str, Any], obj: ObjectReport) -> float | int | None:
    if "targetPercent" in objective:
        value = percent(objective.get("targetPercent"))
    else:
        value = percent(objective.get("target"), scale=100)
    if value is None:
        obj.cannot("objectives.target", f"{objective.get('target', objective.get('targetPercent'))!r} is not a number")
    return value


def _v1(spec: dict[str, Any], objective: dict[str, Any], slis: dict[str, Document], sources: dict[str, Document],
        obj: ObjectReport, doc: Document) -> dict[str, Any] | None:
    window = _window_v1(spec, obj)
    target = _target(objective, obj)
    ok = _budgeting(spec, objective, obj)
    if isinstance(spec.get("indicator"), dict):
        sli_spec = _spec(spec["indicator"])
    elif "indicatorRef" in spec:
        ref = str(spec["indicatorRef"])
        if ref not in slis:
            obj.cannot("spec.indicatorRef", f"SLO {_meta(doc.data).get('name')!r} refers to SLI {ref!r}, which no "
                                            "input file defines")
            return None
        sli_spec = _spec(slis[ref].data)
    else:
        obj.cannot("spec.indicator", "give indicator or indicatorRef")
        return None
    if objective.get("indicator") or objective.get("indicatorRef"):
        obj.cannot("objectives.indicator", "per-objective indicators are not supported")
        return None
    sli = _sli_v1(sli_spec, sources, obj)
    if window is None or target is None or not ok or sli is None:
        return None
    return {"objective": target, "window": window, "sli": sli}


def _query(metric: Any, sources: dict[str, Document], where: str, obj: ObjectReport) -> str | None:
    """The PromQL of one OpenSLO metric (`metricSource` inline or by `metricSourceRef`)."""
    source = metric.get("metricSource") if isinstance(metric, dict) else None
    if not isinstance(source, dict):
        obj.cannot(where, "missing metricSource")
        return None
    kind = source.get("type")
    if kind is None and source.get("metricSourceRef") in sources:
        kind = _spec(sources[str(source["metricSourceRef"])].data).get("type")
    if str(kind).lower() != "prometheus":
        obj.cannot(where, f"metric source type {kind!r}: slogen reads Prometheus queries only")
        return None
    query = _spec(source).get("query") if isinstance(source.get("spec"), dict) else None
    if not isinstance(query, str) or not query.strip():
        obj.cannot(where, "missing spec.query")
        return None
    return query


def _as_sli(queries: dict[str, str], counter: bool, obj: ObjectReport, where: str) -> dict[str, Any] | None:
    """`ratio` if every query is a bare selector of a counter, `expr` if every one has a window placeholder."""
    converted = {k: window_query(v) for k, v in queries.items()}
    if all(has for _, has in converted.values()):
        return {"expr": {k: text for k, (text, _) in converted.items()}}
    if counter:
        try:
            return {"ratio": {k: render(parse_selector(v)) for k, v in queries.items()}}
        except PromQLSyntaxError:
            pass
    obj.cannot(where, "a query needs a {{.window}} (or $window) placeholder, or counter: true with bare selectors, "
                      "so slogen can evaluate it over each alert window")
    return None


def _sli_v1(sli: dict[str, Any], sources: dict[str, Document], obj: ObjectReport) -> dict[str, Any] | None:
    if "thresholdMetric" in sli:
        obj.cannot("indicator.thresholdMetric", "a threshold on one metric is a time-slice SLI: not in slogen")
        return None
    ratio = sli.get("ratioMetric")
    if not isinstance(ratio, dict):
        obj.cannot("indicator", "give ratioMetric")
        return None
    if "raw" in ratio:
        query = _query(ratio["raw"], sources, "ratioMetric.raw", obj)
        if query is None:
            return None
        text, has_window = window_query(query)
        if not has_window:
            obj.cannot("ratioMetric.raw", "needs a {{.window}} (or $window) placeholder")
            return None
        if ratio.get("rawType", "failure") == "success":
            text = f"1 - (\n{text.strip()}\n)"
        return {"expr": {"ratio": text}}
    queries = {}
    for ours, theirs in (("good", "good"), ("errors", "bad"), ("total", "total")):
        if theirs in ratio:
            query = _query(ratio[theirs], sources, f"ratioMetric.{theirs}", obj)
            if query is None:
                return None
            queries[ours] = query
    if "total" not in queries or len(queries) != 2:
        obj.cannot("ratioMetric", "give total and one of good or bad")
        return None
    return _as_sli(queries, ratio.get("counter") is True, obj, "ratioMetric")


def _v1alpha(spec: dict[str, Any], objective: dict[str, Any], obj: ObjectReport) -> dict[str, Any] | None:
    windows = spec.get("timeWindows") if isinstance(spec.get("timeWindows"), list) else []
    tw = windows[0] if windows and isinstance(windows[0], dict) else {}
    units = {"day": "d", "week": "w"}
    unit = units.get(str(tw.get("unit", "")).lower())
    window = period(f"{tw.get('count')}{unit}") if unit else None
    if window is None:
        obj.cannot("spec.timeWindows", f"{tw.get('count')} {tw.get('unit')}: slogen's SLO windows are 7d, 14d, "
                                       "28d, 30d and 90d")
    elif tw.get("isRolling") is False or "calendar" in tw:
        obj.approx("spec.timeWindows", f"calendar-aligned windows are not in slogen: a rolling {window} instead")
    target = _target(objective, obj)
    ok = _budgeting(spec, objective, obj)
    ratio = objective.get("ratioMetrics")
    if not isinstance(ratio, dict):
        obj.cannot("objectives.ratioMetrics", "missing (thresholds on a single metric are not in slogen)")
        return None
    queries = {}
    for ours, theirs in (("good", "good"), ("errors", "bad"), ("total", "total")):
        metric = ratio.get(theirs)
        if isinstance(metric, dict):
            if str(metric.get("source", "prometheus")).lower() != "prometheus":
                obj.cannot(f"ratioMetrics.{theirs}.source", f"{metric.get('source')!r}: slogen reads Prometheus only")
                return None
            queries[ours] = str(metric.get("query") or "")
    if "total" not in queries or len(queries) != 2:
        obj.cannot("ratioMetrics", "give total and one of good or bad")
        return None
    if ratio.get("incremental") is False:
        obj.approx("ratioMetrics.incremental", "ignored: the queries give rates over the window either way")
    sli = _as_sli(queries, ratio.get("counter") is True, obj, "ratioMetrics")
    if window is None or target is None or not ok or sli is None:
        return None
    return {"objective": target, "window": window, "sli": sli}
