"""The frozen model of a valid spec. Everything below the loader reads these, never raw dicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from types import MappingProxyType

from slogen.conventions import LABEL_SERVICE, LABEL_SLO
from slogen.promql.ast import Matcher
from slogen.slo.windows import BurnWindow, seconds, windows_for

Labels = Mapping[str, str]


_EMPTY: Labels = MappingProxyType({})


def frozen_labels(items: Mapping[str, str] | None) -> Labels:
    """A read-only, key-sorted copy of a label map (one shared empty map: specs have thousands)."""
    if not items:
        return _EMPTY
    return MappingProxyType(dict(sorted(items.items())))



def identity_matchers(service: str | None, slo: str | None) -> tuple[Matcher, ...]:
    """`service="…",slo="…"`: the matchers selecting one SLO's recorded series (a None side is left out)."""
    return tuple(Matcher(label, "=", value) for label, value in ((LABEL_SERVICE, service), (LABEL_SLO, slo))
                 if value is not None)


def percent_fraction(percent: float | str) -> Fraction:
    """A percent as an exact ratio, from its text: 80 → 4/5, 99.9 → 999/1000 (Fraction(99.9) would not be)."""
    return Fraction(str(percent)) / 100


def period_days(period: str) -> Fraction:
    """Days in an SLO period such as `30d`, `4w` or `36h` (whole hours: 36h is 3/2)."""
    return Fraction(seconds(period), 86400)


@dataclass(frozen=True)
class RatioSLI:
    """Events from two counter selectors (checked, printed canonically); exactly one of errors/good is set."""

    total: str
    errors: str | None = None
    good: str | None = None


@dataclass(frozen=True)
class LatencySLI:
    """A classic histogram: requests slower than `threshold_seconds` are errors.

    `selector` holds the parsed matchers (any of = != =~ !~) from either spec form; the `le`
    matcher is slogen's own and never among them.
    """

    metric: str
    threshold: str  # as written, e.g. "2s"
    threshold_seconds: float
    selector: tuple[Matcher, ...] = ()
    native: bool = False  # a native histogram: histogram_fraction() of `metric` instead of `le` buckets


WINDOW_PLACEHOLDER = "$window"  # in ExprSLI text: the range each rule substitutes (5m, 1h, 3m, …)


@dataclass(frozen=True)
class ExprSLI:
    """Checked PromQL (comments stripped) with a `$window` placeholder; exactly one of errors/good is set."""

    total: str
    errors: str | None = None
    good: str | None = None


@dataclass(frozen=True)
class GaugeSLI:
    """A 0/1 gauge sampled by Prometheus (e.g. `probe_success`): each sample is one event, 0 is an error."""

    metric: str
    selector: tuple[Matcher, ...] = ()


@dataclass(frozen=True)
class ExprRatioSLI:
    """Checked PromQL (comments stripped) with a `$window` placeholder giving the error ratio itself
    (0 = no errors, 1 = all errors), as Sloth's `raw` and OpenSLO's `raw` SLIs do.

    Budget semantics: every tile weighs one (its events are 1 while the ratio is defined), so the
    ratio over a window of tiles is the time-weighted average of the ratio (docs/spec.md).
    """

    ratio: str


SLI = RatioSLI | LatencySLI | ExprSLI | ExprRatioSLI | GaugeSLI


@dataclass(frozen=True)
class AlertOverride:
    """Per-severity alert settings."""

    disable: bool = False
    labels: Labels = field(default_factory=lambda: frozen_labels(None))
    annotations: Labels = field(default_factory=lambda: frozen_labels(None))
    for_: str | None = None  # pending period (`for:`) of the burn-rate alert; None fires at once


@dataclass(frozen=True)
class AbsentAlert:
    """The alert on a missing SLI: the total series absent for `for_` (on unless disabled)."""

    disable: bool = False
    for_: str = "10m"


@dataclass(frozen=True)
class Alerting:
    """Alert labels and annotations shared by both severities, per-severity overrides, and tuning."""

    labels: Labels = field(default_factory=lambda: frozen_labels(None))
    annotations: Labels = field(default_factory=lambda: frozen_labels(None))
    page: AlertOverride = field(default_factory=AlertOverride)
    ticket: AlertOverride = field(default_factory=AlertOverride)
    min_events: int = 0  # burn-rate alerts stay silent while the long window saw fewer events
    absent: AbsentAlert = field(default_factory=AbsentAlert)


@dataclass(frozen=True)
class SLO:
    """One objective of one service."""

    service: str
    name: str
    objective: Fraction  # as a ratio: 99.9 % → 999/1000, exact so thresholds print cleanly
    window: str  # e.g. "30d"
    sli: SLI
    description: str = ""
    labels: Labels = field(default_factory=lambda: frozen_labels(None))  # the service's, then the SLO's own
    alerting: Alerting = field(default_factory=Alerting)
    alert_rows: tuple[BurnWindow, ...] | None = None  # the spec's own alert windows; None: the period's defaults
    group_by: tuple[str, ...] = ()  # one SLO per value of these labels of the SLI's series

    @property
    def windows(self) -> tuple[BurnWindow, ...]:
        """The burn-rate alert rows of this SLO."""
        return self.alert_rows if self.alert_rows is not None else windows_for(self.window)

    @property
    def error_budget(self) -> Fraction:
        """1 − objective, as a ratio."""
        return _budget(self.objective)

    @property
    def objective_percent(self) -> float:
        """The objective as the percent the user wrote."""
        return float(self.objective * 100)

    @property
    def window_days(self) -> Fraction:
        """The SLO period in days (whole hours, so 36h is 3/2)."""
        return period_days(self.window)

    @property
    def sli_kind(self) -> str:
        """`ratio`, `latency`, `expr`, `expr.ratio` or `gauge`."""
        return {RatioSLI: "ratio", LatencySLI: "latency", ExprSLI: "expr", ExprRatioSLI: "expr.ratio",
                GaugeSLI: "gauge"}[type(self.sli)]


@cache  # read hundreds of thousands of times in a render; specs have a handful of objectives
def _budget(objective: Fraction) -> Fraction:
    return 1 - objective


@dataclass(frozen=True)
class Service:
    """A service and its SLOs."""

    name: str
    slos: tuple[SLO, ...]
    labels: Labels = field(default_factory=lambda: frozen_labels(None))
    description: str = ""


@dataclass(frozen=True)
class Policy:
    """Deploy-policy thresholds on % of error budget remaining."""

    caution: float = 80.0
    warning: float = 50.0
    freeze: float = 20.0


@dataclass(frozen=True)
class Grafana:
    """Where and how dashboards are published."""

    url: str = "http://localhost:3000"
    datasource: str = "prometheus"
    folder_uid: str = "slo"
    folder_title: str = "SLOs"
    dashboard_uid: str = "error-budget-slo"
    dashboard_title: str = "Error Budget & SLO Tracking"
    refresh: str = "30s"
    time: str = "7d"
    tags: tuple[str, ...] = ("slo", "error-budget", "observability")
    per_service: bool = False


@dataclass(frozen=True)
class RuleTarget:
    """How rule groups are packaged for rulers beyond one Prometheus (the spec's `prometheus:`).

    `namespace` and `rule_labels` go on PrometheusRule objects (`render --rules-format operator`);
    `partial_response_strategy` (Thanos Ruler) on every rule group, in every format.
    """

    namespace: str | None = None
    rule_labels: Labels = field(default_factory=lambda: frozen_labels(None))
    partial_response_strategy: str | None = None


@dataclass(frozen=True)
class Spec:
    """A whole, valid spec."""

    source: str  # the spec's file name as shown in generated headers, e.g. "slos.yaml"
    services: tuple[Service, ...]
    default_window: str = "30d"
    policy: Policy = field(default_factory=Policy)
    grafana: Grafana = field(default_factory=Grafana)
    prometheus: RuleTarget = field(default_factory=RuleTarget)

    @property
    def slos(self) -> tuple[SLO, ...]:
        """Every SLO of every service, in spec order."""
        return tuple(slo for service in self.services for slo in service.slos)
