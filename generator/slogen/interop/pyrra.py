"""Pyrra `pyrra.dev/v1alpha1` ServiceLevelObjective to a slogen draft (field by field in docs/import.md).

Pyrra's metrics are bare selectors it wraps in `sum(rate(…[w]))`, as slogen's `ratio` SLI does, so
ratio and latency indicators map exactly. Its alert table (burn rates 14/7/2/1 over windows scaled
from 28d) is not slogen's: the alerts map approximately, and the report gives both sets of factors.
"""

from __future__ import annotations

import re
from typing import Any

from slogen import conventions as c
from slogen.durations import parse_duration
from slogen.interop.common import Document, percent, period, text_map
from slogen.interop.report import ObjectReport, Report
from slogen.interop.specdoc import Draft
from slogen.promql import PromQLSyntaxError, Selector, parse_selector, render
from slogen.slo.windows import windows_for

KIND = "pyrra ServiceLevelObjective"
_DECIMAL = re.compile(r"^\d+(?:\.\d+)?$")
_PYRRA_LABEL = "pyrra.dev/"  # Pyrra copies these metadata labels, prefix removed, onto its rules


def convert(doc: Document, report: Report) -> list[Draft]:
    """The draft of one Pyrra object (none if it cannot map)."""
    data = doc.data
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    name = str(meta.get("name") or "?")
    obj = report.add(ObjectReport(doc.where, KIND, name))
    namespace = str(meta.get("namespace") or "")
    service = namespace or "default"
    obj.approx("metadata.namespace", f"Pyrra has no services: the SLO goes into service {service!r} "
                                     "(its namespace, else 'default')")
    objective = percent(spec.get("target"))
    if objective is None:
        obj.cannot("spec.target", f"{spec.get('target')!r} is not a number")
    window = period(spec.get("window"))
    if window is None:
        obj.cannot("spec.window", f"{spec.get('window')!r}: slogen's SLO periods are whole hours from 1d to 400d")
    sli = _indicator(spec.get("indicator"), obj)
    group_by = _grouping(spec.get("indicator"), obj)
    if sli is None or objective is None or window is None:
        return []
    slo: dict[str, Any] = {"name": name, "objective": objective, "window": window}
    if spec.get("description"):
        slo["description"] = str(spec["description"])
    if group_by:
        slo["group_by"] = group_by
    slo["sli"] = sli
    alerting = _alerting(spec.get("alerting"), meta, window, obj)
    if alerting:
        slo["alerting"] = alerting
    for key in ("partial_response_strategy", "performanceOverAccuracy", "ruleOutput"):
        if key in spec:
            obj.approx(f"spec.{key}", "a Pyrra rule-output option; slogen's rule layout is its own (docs/rules.md)")
    origin = f"from {doc.where} ({KIND} {name!r}{f' in namespace {namespace!r}' if namespace else ''})"
    return [Draft(service=service, slo=slo, report=obj, origin=origin)]


def _selector(value: Any, where: str, obj: ObjectReport) -> Selector | None:
    text = value.get("metric") if isinstance(value, dict) else None
    if not isinstance(text, str):
        obj.cannot(where, "missing 'metric'")
        return None
    try:
        return parse_selector(text)
    except PromQLSyntaxError as exc:
        obj.cannot(where, f"not a bare selector: {exc}")
        return None


def _grouping(indicator: Any, obj: ObjectReport) -> list[str]:
    """Pyrra's `grouping` (one SLO per value of these labels) is slogen's `group_by`."""
    if not isinstance(indicator, dict):
        return []
    for kind, ind in indicator.items():
        if isinstance(ind, dict) and ind.get("grouping"):
            grouping = ind["grouping"]
            if isinstance(grouping, list) and all(isinstance(g, str) for g in grouping):
                own = sorted(set(grouping) & c.UNGROUPABLE_LABELS)
                if own:
                    obj.approx(f"indicator.{kind}.grouping", f"slogen sets {', '.join(map(repr, own))} itself, so the "
                               "SLO is not grouped by it: its values are summed into one budget")
                return [g for g in grouping if g not in own]
            obj.cannot(f"indicator.{kind}.grouping", f"{grouping!r} is not a list of label names")
    return []


def _indicator(indicator: Any, obj: ObjectReport) -> dict[str, Any] | None:
    if not isinstance(indicator, dict):
        obj.cannot("spec.indicator", "missing")
        return None
    if isinstance(indicator.get("ratio"), dict):
        ind = indicator["ratio"]
        errors = _selector(ind.get("errors"), "indicator.ratio.errors", obj)
        total = _selector(ind.get("total"), "indicator.ratio.total", obj)
        if errors is None or total is None:
            return None
        return {"ratio": {"errors": render(errors), "total": render(total)}}
    if isinstance(indicator.get("latency"), dict):
        ind = indicator["latency"]
        success = _selector(ind.get("success"), "indicator.latency.success", obj)
        total = _selector(ind.get("total"), "indicator.latency.total", obj)
        if success is None or total is None:
            return None
        return _latency(success, total, obj)
    if isinstance(indicator.get("bool_gauge"), dict):
        ind = indicator["bool_gauge"]
        gauge = _selector(ind, "indicator.bool_gauge", obj)
        if gauge is None:
            return None
        if not gauge.metric:
            obj.cannot("indicator.bool_gauge.metric", "the selector has no metric name")
            return None
        # Pyrra's math and slogen's gauge kind agree: samples over the window, the 0s are errors.
        out: dict[str, Any] = {"metric": gauge.metric}
        if gauge.matchers:
            out["selector"] = render(Selector(None, gauge.matchers))
        return {"gauge": out}
    if isinstance(indicator.get("latencyNative"), dict):
        ind = indicator["latencyNative"]
        total = _selector(ind.get("total"), "indicator.latencyNative.total", obj)
        threshold = ind.get("latency")
        if total is None:
            return None
        if not total.metric:
            obj.cannot("indicator.latencyNative.total", "the selector has no metric name")
            return None
        try:
            parse_duration(str(threshold))
        except ValueError:
            obj.cannot("indicator.latencyNative.latency", f"{threshold!r} is not a duration")
            return None
        native: dict[str, Any] = {"metric": total.metric, "threshold": str(threshold), "native": True}
        if total.matchers:
            native["selector"] = render(Selector(None, total.matchers))
        return {"latency": native}
    obj.cannot("spec.indicator", "give one of ratio, latency, latencyNative or bool_gauge")
    return None


def _latency(success: Selector, total: Selector, obj: ObjectReport) -> dict[str, Any]:
    """A classic histogram when the selectors say so (`X_bucket{…,le}` over `X_count{…}`), else a ratio of the two."""
    le = [m for m in success.matchers if m.name == "le"]
    rest = tuple(m for m in success.matchers if m.name != "le")
    metric, total_metric = success.metric or "", total.metric or ""
    if (len(le) == 1 and le[0].op == "=" and _DECIMAL.match(le[0].value) and metric.endswith("_bucket")
            and total_metric == metric.removesuffix("_bucket") + "_count" and set(rest) == set(total.matchers)):
        latency = {"metric": metric.removesuffix("_bucket"), "threshold": f"{le[0].value}s"}
        if rest:
            latency["selector"] = render(Selector(None, rest))
        return {"latency": latency}
    obj.approx("indicator.latency", "the selectors are not one histogram's _bucket{le} and _count: written as a "
                                    "ratio SLI (good: success, total: total), the same math")
    return {"ratio": {"good": render(success), "total": render(total)}}


def _alerting(alerting: Any, meta: dict[str, Any], window: str, obj: ObjectReport) -> dict[str, Any]:
    alerting = alerting if isinstance(alerting, dict) else {}
    out: dict[str, Any] = {}
    labels = {k[len(_PYRRA_LABEL):]: v for k, v in text_map(meta.get("labels")).items() if k.startswith(_PYRRA_LABEL)}
    others = sorted(k for k in text_map(meta.get("labels")) if not k.startswith(_PYRRA_LABEL))
    if others:
        obj.approx("metadata.labels", f"{', '.join(others)}: Kubernetes labels for selecting the object; not copied")
    if labels:
        out["labels"] = labels
        obj.approx("metadata.labels", "pyrra.dev/* labels go on the alerts (Pyrra puts them on every rule)")
    disabled = alerting.get("disabled") is True or alerting.get("burnrates") is False
    if disabled:
        out["page"] = {"disable": True}
        out["ticket"] = {"disable": True}
    else:
        ours = "/".join(f"{float(r.factor(window)):g}" for r in windows_for(window))
        obj.approx("alerting", f"Pyrra's burn rates 14/7/2/1 (windows scaled from 28d) become slogen's {ours} over "
                               "1h/5m, 6h/30m, 1d/2h, 3d/6h (page, page, ticket, ticket)")
    if alerting.get("name"):
        out["annotations"] = {"pyrra_alert_name": str(alerting["name"])}
        obj.approx("alerting.name", "slogen names its alerts itself; kept as the annotation pyrra_alert_name")
    if alerting.get("absent") is not False:
        obj.approx("alerting.absent", "slogen has no absent-metric alert; its dashboards show missing data")
    if isinstance(alerting.get("severities"), dict):
        obj.approx("alerting.severities", "not mapped: slogen's severities are page and ticket "
                                          "(rename them with alerting.page/ticket.labels.severity)")
    return out
