"""Every name that crosses artifacts: recorded series, labels, groups, alerts, files, uids.

Rules, dashboards, provisioning, push and the gate import these; none of them spells a series
name itself, so they agree by construction (tests/test_dashboards.py checks that every series the
dashboards query is recorded by the rendered rules).
"""

from __future__ import annotations

import hashlib

# ------------------------------------------------------------------ labels
LABEL_SERVICE = "service"
LABEL_SLO = "slo"
LABEL_SEVERITY = "severity"
IDENTITY_LABELS = (LABEL_SERVICE, LABEL_SLO)  # on every recorded series and alert of an SLO
LABEL_ALERT_TIER = "slo_alert_tier"  # stable whatever `severity` is renamed to: Alertmanager inhibits by it
LABEL_ALERT_WINDOWS = "slo_alert_windows"  # on a burn-rate alert split by `for`: its rows' long windows
RESERVED_LABELS = frozenset({LABEL_SERVICE, LABEL_SLO, LABEL_ALERT_TIER, LABEL_ALERT_WINDOWS, "__name__"})
SEVERITY_PAGE = "page"
SEVERITY_TICKET = "ticket"
# Labels slogen sets (or matches) itself, so no SLO can be grouped by them.
UNGROUPABLE_LABELS = RESERVED_LABELS | {LABEL_SEVERITY, "le"}
TIER_PAGE = "page"  # the burn-rate page
TIER_TICKET = "ticket"  # the burn-rate ticket
TIER_POLICY = "policy"  # budget below the freeze threshold, budget exhausted
TIER_ABSENT = "absent"  # the SLI's total series is missing

# ------------------------------------------------------------------ recorded series
NAMESPACE = "slogen"


def error_ratio(window: str) -> str:
    """Bad events ÷ all events over `window`; 0 when there was no traffic."""
    return f"{NAMESPACE}:sli_error:ratio_rate{window}"


# Tiles: rates over a window exactly as long as their group's interval, so consecutive samples
# cover consecutive stretches of time. Summing a tile series over a range gives the events (or
# errors) of that range ÷ the tile length, without re-reading raw counters.
#  * short tiles (3m, group `tiles`): alerts sum them over 30m to 3d, at most one tile late;
#  * hour tiles (1h rates recorded every 30m, group `hours`): the period and the 7d window pick
#    one per whole hour through a `[W:1h]` subquery, so a skipped evaluation or a group rename
#    shifts one hour by 30m instead of losing it.
SHORT_TILE = "3m"
HOUR_TILE = "1h"
HOUR_TILE_EVERY = "30m"
ERRORS_TILE = f"{NAMESPACE}:sli_errors:tile_rate{SHORT_TILE}"
EVENTS_TILE = f"{NAMESPACE}:sli_events:tile_rate{SHORT_TILE}"
ERRORS_HOUR = f"{NAMESPACE}:sli_errors:hour_rate{HOUR_TILE}"
EVENTS_HOUR = f"{NAMESPACE}:sli_events:hour_rate{HOUR_TILE}"

ERROR_RATIO_PERIOD = f"{NAMESPACE}:sli_error:ratio_period"  # event-weighted over the SLO's whole period
OBJECTIVE = f"{NAMESPACE}:objective:ratio"
ERROR_BUDGET = f"{NAMESPACE}:error_budget:ratio"
PERIOD_DAYS = f"{NAMESPACE}:period:days"
BUDGET_REMAINING = f"{NAMESPACE}:error_budget_remaining:ratio"  # 1 untouched, 0 spent, < 0 overspent
# Share of the period the budget covers (1 once hour tiles span the whole period; 1h ÷ period while
# the budget still falls back to the 1h window).
PERIOD_COVERAGE = f"{NAMESPACE}:period_coverage:ratio"
BURN_RATE_1H = f"{NAMESPACE}:burn_rate:rate1h"
BURN_RATE_PERIOD = f"{NAMESPACE}:burn_rate:period"
DAYS_TO_EXHAUSTION = f"{NAMESPACE}:error_budget_exhaustion:days"  # absent when the 1h burn rate is 0
STATE = f"{NAMESPACE}:deploy_state:code"
SLO_INFO = f"{NAMESPACE}_slo_info"  # value 1; labels service, slo, objective, window, sli

# Deploy states, worst last; the numeric code is what STATE records and dashboards colour.
NORMAL, CAUTION, WARNING, FREEZE, EXHAUSTED = "NORMAL", "CAUTION", "WARNING", "FREEZE", "EXHAUSTED"
STATES = (NORMAL, CAUTION, WARNING, FREEZE, EXHAUSTED)
STATE_CODES = {name: code for code, name in enumerate(STATES)}
UNKNOWN = "UNKNOWN"

# ------------------------------------------------------------------ alerts
ALERT_PAGE = "SLOErrorBudgetBurnPage"
ALERT_TICKET = "SLOErrorBudgetBurnTicket"
ALERT_FREEZE = "SLOErrorBudgetFreeze"
ALERT_EXHAUSTED = "SLOErrorBudgetExhausted"
ALERT_ABSENT = "SLOMetricAbsent"


# ------------------------------------------------------------------ rule groups and files
# Stages, in the order data flows. A rule reads raw counters or series that *other* groups record,
# never its own group's (vmalert and remote-writing rulers do not show a group its own results).
STAGE_SLI = "sli"        # every 1m, raw: 5m and 1h error ratios (the fast page pair)
STAGE_TILES = "tiles"    # every 3m, raw: short tiles
STAGE_HOURS = "hours"    # every 30m, raw: hour tiles
STAGE_ALERTS = "alerts"  # every 1m: 1h burn rate, page alert (reads sli, tiles)
STAGE_BUDGET = "budget"  # every 2m: budget remaining, coverage, 7d ratio, ticket alert (reads hours, sli, tiles)
STAGE_STATE = "state"    # every 2m: period ratio and burn, days left, state, policy alerts (reads budget, alerts)
STAGES = (STAGE_SLI, STAGE_TILES, STAGE_HOURS, STAGE_ALERTS, STAGE_BUDGET, STAGE_STATE)
MAX_RULES_PER_GROUP = 20  # Grafana Mimir's and Cortex's default per-group limit


def group_name(service: str, stage: str, chunk: int = 0) -> str:
    """Rule group of one service for a stage; a stage with more rules than a group may hold is
    split into chunks of whole SLOs in spec order: `…:<stage>`, `…:<stage>:2`, `…:<stage>:3`."""
    base = f"{NAMESPACE}:{service}:{stage}"
    return base if chunk == 0 else f"{base}:{chunk + 1}"


def rule_file(service: str) -> str:
    """Path, relative to the output root, of a service's rule file."""
    return f"rules/{service}.rules.yaml"


# `render --rules-format`: plain rule files for Prometheus' rule_files (the default), or one
# prometheus-operator PrometheusRule object per service (its `spec` is the same rule file).
RULES_FORMAT_PROMETHEUS = "prometheus"
RULES_FORMAT_OPERATOR = "operator"
RULES_FORMAT_VMRULE = "vmrule"  # VictoriaMetrics operator's VMRule: the same groups for vmalert
RULES_FORMATS = (RULES_FORMAT_PROMETHEUS, RULES_FORMAT_OPERATOR, RULES_FORMAT_VMRULE)
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"  # on every PrometheusRule object, value NAMESPACE


def operator_rule_file(service: str) -> str:
    """Path, relative to the output root, of a service's PrometheusRule object."""
    return f"rules/{service}.prometheusrule.yaml"


def vmrule_file(service: str) -> str:
    """Path, relative to the output root, of a service's VMRule object."""
    return f"rules/{service}.vmrule.yaml"


def rule_path(service: str, rules_format: str = RULES_FORMAT_PROMETHEUS) -> str:
    """Where a service's rule file goes in `rules_format` (one of RULES_FORMATS)."""
    if rules_format == RULES_FORMAT_OPERATOR:
        return operator_rule_file(service)
    if rules_format == RULES_FORMAT_VMRULE:
        return vmrule_file(service)
    return rule_file(service)


def prometheus_rule_name(service: str) -> str:
    """`metadata.name` of a service's PrometheusRule or VMRule object (a DNS subdomain: service names are)."""
    return f"{NAMESPACE}-{service}"


OUTPUT_DIRS = ("rules", "dashboards", "provisioning")
DASHBOARD_DIR = "dashboards"
MARKER_TAG = "slogen"  # on every dashboard slogen manages; `push --prune` touches nothing without it


def dashboard_file(uid: str) -> str:
    """Path of a dashboard's JSON file."""
    return f"{DASHBOARD_DIR}/{uid}.json"


def service_dashboard_uid(base_uid: str, service: str) -> str:
    """Deterministic uid (≤ 40 chars of [a-zA-Z0-9-_]) of a per-service dashboard."""
    uid = f"{base_uid}-{service}"
    if len(uid) <= 40:
        return uid
    digest = hashlib.sha256(uid.encode()).hexdigest()[:8]
    return f"{uid[:31]}-{digest}"


def dashboard_url(grafana_url: str, uid: str) -> str:
    """Link to a dashboard in Grafana."""
    return f"{grafana_url.rstrip('/')}/d/{uid}"


def generated_header(source: str) -> str:
    """The first line of every generated file (as a comment where the format has comments)."""
    return f"Generated by slogen from {source}. DO NOT EDIT."


GENERATED_MARKER = "Generated by slogen from "  # the start of the header (docs; ownership is the manifest's)
# Beside the files a spec wrote, in the directory it wrote them to: which spec wrote which files.
# slogen overwrites or removes only files listed there for the same spec (writer.py).
MANIFEST_FILE = ".slogen-manifest.json"
MANIFEST_SCHEMA = "slogen/manifest/v1"

# ------------------------------------------------------------------ provisioning (docker-compose stack)
PROVISIONING_DASHBOARDS = "provisioning/dashboards/slogen.yaml"
PROVISIONING_DATASOURCES = "provisioning/datasources/slogen.yaml"
PROVISIONING_RULE_FILES = "provisioning/prometheus/rule_files.yaml"
GRAFANA_DASHBOARDS_PATH = "/var/lib/grafana/dashboards/slogen"  # where compose mounts ./dashboards
PROMETHEUS_RULES_GLOB = "/etc/prometheus/rules/*.rules.yaml"  # where compose mounts ./rules
PROMETHEUS_URL_IN_STACK = "http://prometheus:9090"  # Prometheus as Grafana reaches it inside compose
DATASOURCE_NAME = "Prometheus"
