"""Sloth (`prometheus/v1` files and the `sloth.slok.dev/v1` PrometheusServiceLevel CRD) to slogen drafts.

Field by field in docs/import.md. Sloth's period is its `--default-slo-period` (30d unless changed),
and its alert windows for 30d and 28d are the SRE workbook's, as slogen's: the thresholds match.
"""

from __future__ import annotations

from typing import Any

from slogen import conventions as c
from slogen.interop.common import SLOTH_K8S, Document, percent, text_map, window_query
from slogen.interop.report import ObjectReport, Report
from slogen.interop.specdoc import Draft

# The CRD spells the prometheus/v1 keys in camelCase.
_CAMEL = {"errorQuery": "error_query", "totalQuery": "total_query", "errorRatioQuery": "error_ratio_query",
          "pageAlert": "page_alert", "ticketAlert": "ticket_alert", "sloPlugins": "slo_plugins"}

# SLO plugins Sloth ships, and what becomes of each in slogen (None: cannot map).
SLO_PLUGINS: dict[str, str | None] = {
    "sloth.dev/core/debug/v1": "a debugging aid; nothing to map",
    "sloth.dev/core/noop/v1": "does nothing; nothing to map",
    "sloth.dev/core/validate/v1": "slogen validates the spec itself",
    "sloth.dev/core/sli_rules/v1": "slogen writes its own SLI rules (docs/rules.md)",
    "sloth.dev/core/metadata_rules/v1": "slogen writes its own metadata rules",
    "sloth.dev/core/alert_rules/v1": "slogen writes its own burn-rate alerts with the same windows",
    "sloth.dev/contrib/info_labels/v1": "the extra info-metric labels are dropped",
    "sloth.dev/contrib/remove_labels/v1": "label removal is not applied; slogen's series carry the service labels",
    "sloth.dev/contrib/rule_intervals/v1": "slogen sets each rule group's interval itself (docs/rules.md)",
    "sloth.dev/contrib/validate_victoria_metrics/v1": "slogen validates PromQL, not MetricsQL",
    "sloth.dev/contrib/error_budget_exhausted_alert/v1": "slogen has its own SLOErrorBudgetExhausted alert",
    "sloth.dev/contrib/denominator_corrected_rules/v1": None,
}


_DATA = ("labels", "annotations", "options", "config")  # user maps: their keys are never renamed


def _snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {_CAMEL.get(k, k): v if k in _DATA else _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def convert(doc: Document, fmt: str, report: Report) -> list[Draft]:
    """The drafts of one Sloth document (`fmt` is SLOTH or SLOTH_K8S)."""
    data = doc.data
    kind = "sloth prometheus/v1" if fmt != SLOTH_K8S else "sloth PrometheusServiceLevel"
    if fmt == SLOTH_K8S:
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        spec = _snake(data.get("spec")) if isinstance(data.get("spec"), dict) else {}
        container = f"{kind} {meta.get('name', '?')!r}"
    else:
        spec = data
        container = kind
    service = str(spec.get("service") or "")
    slos = spec.get("slos")
    if not service or not isinstance(slos, list) or not slos:
        obj = report.add(ObjectReport(doc.where, kind, str(service or "?")))
        obj.cannot("service/slos", "a Sloth spec needs 'service' and a non-empty 'slos' list")
        return []
    labels = text_map(spec.get("labels"))
    service_plugins = _plugins(spec.get("slo_plugins"))
    drafts = []
    for i, slo in enumerate(slos):
        name = str(slo.get("name", f"slos[{i}]")) if isinstance(slo, dict) else f"slos[{i}]"
        obj = report.add(ObjectReport(doc.where, f"{kind} SLO", name))
        if not isinstance(slo, dict):
            obj.cannot(f"slos[{i}]", "not a mapping")
            continue
        for plugin_id in service_plugins:
            _plugin_note(obj, "slo_plugins", plugin_id)
        draft = _slo(slo, obj)
        if draft is None:
            continue
        drafts.append(Draft(service=service, slo=draft, report=obj, service_labels=labels,
                            origin=f"from {doc.where} ({container}), service {service!r}, slos[{i}] {name!r}"))
    return drafts


def _plugins(value: Any) -> list[str]:
    chain = value.get("chain") if isinstance(value, dict) else None
    return [str(p.get("id")) for p in chain if isinstance(p, dict)] if isinstance(chain, list) else []


def _plugin_note(obj: ObjectReport, where: str, plugin_id: str) -> None:
    if plugin_id not in SLO_PLUGINS:
        obj.cannot(where, f"unknown Sloth plugin {plugin_id!r}: slogen cannot tell what it changes")
        return
    fate = SLO_PLUGINS[plugin_id]
    if fate is None:
        obj.cannot(where, f"Sloth plugin {plugin_id!r} changes the SLI math; slogen has no equivalent")
    else:
        obj.approx(where, f"Sloth plugin {plugin_id!r}: {fate}")


def _slo(slo: dict[str, Any], obj: ObjectReport) -> dict[str, Any] | None:
    for plugin_id in _plugins(slo.get("plugins")):
        _plugin_note(obj, "plugins", plugin_id)
    sli = _sli(slo.get("sli"), obj)
    objective = percent(slo.get("objective"))
    if objective is None:
        obj.cannot("objective", f"{slo.get('objective')!r} is not a number")
    if sli is None or objective is None or any(n.status == "not mappable" for n in obj.notes):
        return None
    out: dict[str, Any] = {"name": str(slo["name"]) if "name" in slo else obj.name, "objective": objective}
    if slo.get("description"):
        out["description"] = str(slo["description"])
    out["sli"] = sli
    alerting = _alerting(slo.get("alerting"), text_map(slo.get("labels")), obj)
    if alerting:
        out["alerting"] = alerting
    known = {"name", "objective", "description", "sli", "alerting", "labels", "plugins"}
    for extra in sorted(set(slo) - known, key=str):
        obj.approx(str(extra), "not a Sloth prometheus/v1 field; ignored")
    return out


def _sli(sli: Any, obj: ObjectReport) -> dict[str, Any] | None:
    if not isinstance(sli, dict):
        obj.cannot("sli", "missing")
        return None
    if isinstance(sli.get("plugin"), dict):
        obj.cannot("sli.plugin", f"Sloth SLI plugin {sli['plugin'].get('id')!r}: its Go code builds the query, "
                                 "which slogen cannot run; write the query it produces as sli.expr")
        return None
    events, raw = sli.get("events"), sli.get("raw")
    if isinstance(events, dict):
        out = {}
        for key, ours in (("error_query", "errors"), ("total_query", "total")):
            text, has_window = window_query(str(events.get(key) or ""))
            if not has_window:
                obj.cannot(f"sli.events.{key}", "needs the {{.window}} placeholder")
                return None
            out[ours] = text
        return {"expr": out}
    if isinstance(raw, dict):
        text, has_window = window_query(str(raw.get("error_ratio_query") or ""))
        if not has_window:
            obj.cannot("sli.raw.error_ratio_query", "needs the {{.window}} placeholder")
            return None
        return {"expr": {"ratio": text}}
    obj.cannot("sli", "give one of events, raw or plugin")
    return None


def _templates(values: dict[str, str], obj: ObjectReport, where: str) -> dict[str, str]:
    """Sloth's label names in alert templates, renamed to slogen's (`sloth_service` → `service`)."""
    out = {}
    for key, value in values.items():
        new = value.replace(".sloth_service", ".service").replace(".sloth_slo", ".slo")
        if new != value:
            obj.approx(f"{where}.{key}", "template reads $labels.sloth_service/sloth_slo: renamed to service/slo")
        if ".sloth_" in new:
            obj.approx(f"{where}.{key}", "template reads another sloth_* label, which slogen's alerts do not have")
        out[key] = new
    return out


def _alerting(alerting: Any, slo_labels: dict[str, str], obj: ObjectReport) -> dict[str, Any]:
    out: dict[str, Any] = {}
    alerting = alerting if isinstance(alerting, dict) else {}
    if alerting.get("name"):
        obj.approx("alerting.name", f"slogen names its alerts itself ({c.ALERT_PAGE}, {c.ALERT_TICKET}); "
                                    f"{alerting['name']!r} is kept as the annotation sloth_alert_name")
    labels = {**slo_labels, **text_map(alerting.get("labels"))}
    if slo_labels:
        obj.approx("labels", "SLO labels go on the alerts only (slogen's recorded series carry the service's labels)")
    annotations = _templates(text_map(alerting.get("annotations")), obj, "alerting.annotations")
    if alerting.get("name"):
        annotations = {"sloth_alert_name": str(alerting["name"]), **annotations}
    if labels:
        out["labels"] = _templates(labels, obj, "alerting.labels")
    if annotations:
        out["annotations"] = annotations
    for sloth_key, ours in (("page_alert", "page"), ("ticket_alert", "ticket")):
        alert = alerting.get(sloth_key)
        if not isinstance(alert, dict):
            continue
        override: dict[str, Any] = {}
        if alert.get("disable"):
            override["disable"] = True
        if text_map(alert.get("labels")):
            override["labels"] = _templates(text_map(alert.get("labels")), obj, f"alerting.{sloth_key}.labels")
        if text_map(alert.get("annotations")):
            override["annotations"] = _templates(text_map(alert.get("annotations")), obj,
                                                 f"alerting.{sloth_key}.annotations")
        if override:
            out[ours] = override
    return out
