"""The one module that imports grafana-foundation-sdk (pinned `~=0.0.21`, see PRODUCT §8).

`dashboards.py` describes a dashboard with the plain, SDK-neutral dataclasses below; `build()`
turns that description into Grafana's classic dashboard JSON (as a dict) through the SDK's
builders. Replacing the SDK means rewriting this file only.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

from slogen.promql import ast as e

# The SDK warns at import that it prefers the v2 dashboard model; slogen builds v1 on purpose.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as cb
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.builders import gauge, prometheus, table, timeseries
    from grafana_foundation_sdk.cog import builder as cogbuilder
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common as cm
    from grafana_foundation_sdk.models import dashboard as dm
    from grafana_foundation_sdk.models import prometheus as pm

DATASOURCE_VARIABLE = "datasource"
DATASOURCE_REF = "${" + DATASOURCE_VARIABLE + "}"

Step = tuple[float | None, str]  # (lower bound or None for the base step, colour)


@dataclass(frozen=True)
class Query:
    """One PromQL target; `instant` queries come back as a table frame."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class ValueText:
    """A value mapping: `value` is shown as `text` in `color`."""

    value: str
    text: str
    color: str


@dataclass(frozen=True)
class FieldStyle:
    """Field settings, used as panel defaults or as an override of one field/query."""

    unit: str | None = None
    decimals: int | None = None
    steps: tuple[Step, ...] = ()
    mappings: tuple[ValueText, ...] = ()
    cell: str | None = None  # table cell colouring: "color-background" or "color-text"
    dashed: bool = False  # timeseries: dashed line
    color: str | None = None  # fixed series colour


@dataclass(frozen=True)
class Override:
    """A FieldStyle for fields matched by display name (`name`) or by query (`ref`)."""

    style: FieldStyle
    name: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class Grid:
    """Position on Grafana's 24-column grid."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Panel:
    """A gauge, timeseries or table panel."""

    kind: str  # "gauge" | "timeseries" | "table"
    title: str
    description: str
    grid: Grid
    queries: tuple[Query, ...]
    style: FieldStyle = field(default_factory=FieldStyle)
    min: float | None = None
    max: float | None = None
    no_value: str | None = None
    threshold_lines: bool = False  # timeseries: draw the threshold steps as lines
    overrides: tuple[Override, ...] = ()
    transformations: tuple[tuple[str, dict[str, Any]], ...] = ()
    sort_by: str | None = None  # table: initial sort column (ascending: worst budget first)


@dataclass(frozen=True)
class Link:
    """A dashboard link: an external `url`, or a dropdown of dashboards carrying `tag`."""

    title: str
    url: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Variables:
    """Template variables: datasource, then service and slo filled from `info_metric`'s labels."""

    datasource_uid: str
    info_metric: str
    service_label: str
    slo_label: str
    fixed_service: str | None = None  # per-service dashboards: a hidden constant
    group_labels: tuple[str, ...] = ()  # one more variable each, filled from `group_metric`'s labels
    group_metric: str = ""


@dataclass(frozen=True)
class Dashboard:
    """A whole dashboard."""

    uid: str
    title: str
    description: str
    tags: tuple[str, ...]
    refresh: str
    time_from: str
    variables: Variables
    panels: tuple[Panel, ...]
    links: tuple[Link, ...] = ()


def ref_id(index: int) -> str:
    """Query refIds A…Z, AA, AB…, as Grafana numbers them."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(ord("A") + rem) + out
    return out


def _ds() -> cm.DataSourceRef:
    return cm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_REF)


def _thresholds(steps: tuple[Step, ...]) -> db.ThresholdsConfig:
    return db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(
        [dm.Threshold(value=value, color=color) for value, color in steps])


def _mappings(items: tuple[ValueText, ...]) -> list[dm.ValueMapping]:
    options = {m.value: dm.ValueMappingResult(text=m.text, color=m.color, index=i) for i, m in enumerate(items)}
    return [dm.ValueMap(options=options)]


def _properties(style: FieldStyle) -> list[dm.DynamicConfigValue]:
    # Grafana's published schema types an override value as an object, so unit, decimals and
    # mappings (a string, a number, a list) cannot be overridden per field: set them as defaults.
    if style.unit is not None or style.decimals is not None or style.mappings:
        raise ValueError("unit, decimals and mappings are panel-wide settings, not overrides")
    props: list[tuple[str, object]] = []
    if style.steps:
        props.append(("thresholds", _thresholds(style.steps).build()))
    if style.cell is not None:
        props.append(("custom.cellOptions", {"type": style.cell}))
    if style.dashed:
        props.append(("custom.lineStyle", cm.LineStyle(fill="dash", dash=[10, 10])))
    if style.color is not None:
        props.append(("color", dm.FieldColor(mode=dm.FieldColorModeId.FIXED, fixed_color=style.color)))
    return [dm.DynamicConfigValue(id_val=key, value=value) for key, value in props]


def _target(query: Query, index: int) -> prometheus.Dataquery:
    target = (prometheus.Dataquery().expr(query.expr).ref_id(ref_id(index)).datasource(_ds())
              .legend_format(query.legend or "__auto"))
    if query.instant:
        return target.instant().format(pm.PromQueryFormat.TABLE)
    return target.range()


_KINDS: dict[str, Any] = {"gauge": gauge.Panel, "timeseries": timeseries.Panel, "table": table.Panel}


def _panel(panel: Panel, panel_id: int) -> cogbuilder.Builder[dm.Panel]:
    b = (_KINDS[panel.kind]().id(panel_id).title(panel.title).description(panel.description).datasource(_ds())
         .grid_pos(dm.GridPos(x=panel.grid.x, y=panel.grid.y, w=panel.grid.w, h=panel.grid.h))
         .targets([_target(q, i) for i, q in enumerate(panel.queries)]))
    style = panel.style
    if style.unit is not None:
        b = b.unit(style.unit)
    if style.decimals is not None:
        b = b.decimals(style.decimals)
    if style.steps:
        b = b.thresholds(_thresholds(style.steps))
    if style.mappings:
        b = b.mappings(_mappings(style.mappings))
    if panel.min is not None:
        b = b.min(panel.min)
    if panel.max is not None:
        b = b.max(panel.max)
    if panel.no_value is not None:
        b = b.no_value(panel.no_value)
    for override in panel.overrides:
        if override.name is not None:
            b = b.override_by_name(override.name, _properties(override.style))
        elif override.ref is not None:
            b = b.override_by_query(override.ref, _properties(override.style))
    for transform_id, options in panel.transformations:
        b = b.with_transformation(dm.DataTransformerConfig(id_val=transform_id, options=options))
    if panel.kind == "gauge":
        b = (b.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
             .show_threshold_markers(True).show_threshold_labels(False))
    elif panel.kind == "timeseries":
        b = (b.legend(cb.VizLegendOptions().show_legend(True).display_mode(cm.LegendDisplayMode.TABLE)
                      .placement(cm.LegendPlacement.BOTTOM).calcs(["lastNotNull", "max"]))
             .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
             .line_width(1).fill_opacity(0).span_nulls(True))
        if panel.threshold_lines:
            b = b.thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
    elif panel.kind == "table":
        b = b.show_header(True).cell_height(cm.TableCellHeight.SM)
        if panel.sort_by is not None:
            b = b.sort_by([cb.TableSortByFieldState().display_name(panel.sort_by).desc(False)])
    built: cogbuilder.Builder[dm.Panel] = b
    return built


def _variables(v: Variables) -> list[cogbuilder.Builder[dm.VariableModel]]:
    ds = v.datasource_uid
    out: list[cogbuilder.Builder[dm.VariableModel]] = [
        db.DatasourceVariable(DATASOURCE_VARIABLE).label("Data source").type("prometheus")
        .current(dm.VariableOption(selected=True, text=ds, value=ds))]
    if v.fixed_service is not None:
        out.append(db.ConstantVariable(v.service_label).value(v.fixed_service))
    else:
        services = _label_values(e.Selector(v.info_metric), v.service_label)
        out.append(_label_variable(v.service_label, "Service", services))
    chosen = e.Selector(v.info_metric, (e.Matcher(v.service_label, "=~", f"${v.service_label}"),))
    slo_query = _label_values(chosen, v.slo_label)
    out.append(_label_variable(v.slo_label, "SLO", slo_query))
    chosen_slo = e.Selector(v.group_metric, (*chosen.matchers, e.Matcher(v.slo_label, "=~", f"${v.slo_label}")))
    for label in v.group_labels:
        out.append(_label_variable(label, label, _label_values(chosen_slo, label)))
    return out


def _label_values(selector: e.Selector, label: str) -> str:
    """Grafana's `label_values(<selector>, <label>)` variable query; the selector is PromQL."""
    return f"label_values({e.render(selector)}, {e.label_name_text(label)})"


def _label_variable(name: str, label: str, query: str) -> db.QueryVariable:
    # allValue `.*`: with thousands of SLOs, Grafana's default "All" would be one giant regex.
    return (db.QueryVariable(name).label(label).datasource(_ds()).query(query).definition(query)
            .multi(True).include_all(True).all_value(".*").refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC)
            .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"])))


def _link(link: Link) -> db.DashboardLink:
    b = db.DashboardLink(link.title).target_blank(link.url is not None)
    if link.url is not None:
        return b.type(dm.DashboardLinkType.LINK).url(link.url).icon("doc")
    return (b.type(dm.DashboardLinkType.DASHBOARDS).tags([link.tag or ""]).as_dropdown(True)
            .include_vars(True).keep_time(True))


def build(d: Dashboard) -> dict[str, Any]:
    """Grafana's classic dashboard JSON for `d`, as plain data (panel ids 1…n in order)."""
    b = (db.Dashboard(d.title).uid(d.uid).description(d.description).tags(list(d.tags)).refresh(d.refresh)
         .time(f"now-{d.time_from}", "now").timezone("browser").readonly()
         .tooltip(dm.DashboardCursorSync.CROSSHAIR).variables(_variables(d.variables)))
    model = b.build()
    model.links = [_link(link).build() for link in d.links]
    for link_model in model.links:
        # The SDK defaults to the controls menu; unset, Grafana shows links above the panels.
        link_model.placement = None  # type: ignore[assignment]
    # Set panels on the model: the builder's with_panel() re-flows any panel placed at x=0,y=0.
    model.panels = [_panel(p, i + 1).build() for i, p in enumerate(d.panels)]
    data: dict[str, Any] = json.loads(JSONEncoder().encode(model))
    return data
