"""Load slos.yaml: read, parse with positions, check the schema and the cross-field rules, build the model.

`load()` either returns a whole `Spec` or raises `SpecError` carrying every problem found.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from fractions import Fraction
from functools import cache
from typing import Any

import yaml

from slogen import conventions, gcpause
from slogen.durations import parse_duration
from slogen.errors import Problem, SpecError
from slogen.model import (
    SLO,
    WINDOW_PLACEHOLDER,
    AbsentAlert,
    Alerting,
    AlertOverride,
    ExprRatioSLI,
    ExprSLI,
    GaugeSLI,
    Grafana,
    LatencySLI,
    Policy,
    RatioSLI,
    RuleTarget,
    Service,
    Spec,
    frozen_labels,
    percent_fraction,
)
from slogen.promql import (
    Matcher,
    PromQLSyntaxError,
    canonical_selector,
    gotemplate,
    parse_expression,
    parse_matchers,
    strip_comments,
)
from slogen.slo import windows
from slogen.spec import cache as speccache
from slogen.spec.schema import SPEC_VERSION, schema_problems
from slogen.spec.yamlpos import ExpansionError, Located, json_path, load_located

MAX_THRESHOLD_SECONDS = 1e9  # about 31 years: any larger latency threshold is a typo


MAX_SPEC_BYTES = 64 << 20  # a 10,000-SLO spec is a few MiB; more is a mistake, or /dev/zero


def read_spec(path: str) -> bytes:
    """The spec file's bytes: a regular file of at most MAX_SPEC_BYTES, else SpecError (exit 1)."""
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise SpecError(path, [Problem(1, 1, "$", "not a regular file: give the path of a slos.yaml")])
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(path, [Problem(0, 0, "$", f"cannot read the spec: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(path, [Problem(1, 1, "$", f"the spec is larger than {MAX_SPEC_BYTES >> 20} MiB; "
                                                  "split it, or check that this is the right file")])
    return raw


def load(path: str) -> Spec:
    """Read and validate the spec at `path`; raises SpecError with every problem."""
    return load_document(path)[0]


def load_document(path: str) -> tuple[Spec, dict[str, Any]]:
    """`load`, with the validated document the model was built from: `build(doc, source=` the
    spec's file name `)` is the model, whether it came from the cache or was validated afresh
    (alert windows inlined, PromQL canonical, top-level `x-` keys dropped, as the cache keeps it).
    The document is the caller's to read, not to change."""
    raw = read_spec(path)
    with gcpause.paused():  # parsing and building create hundreds of thousands of objects (gcpause.py)
        cached = speccache.get(raw)
        if cached is not None and not _windows_file_changed(cached, path):
            try:
                return build(cached, source=os.path.basename(path)), cached
            except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError):
                pass  # a damaged cache entry: validate from scratch (and overwrite it below)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(path, [Problem(0, 0, "$", f"not UTF-8 text (byte {exc.start})")]) from None
        known = KnownPromQL.cached()
        spec, doc = _validated(text, filename=path, known=known)
        speccache.put(raw, doc)
        known.store()
    return spec, speccache.stored_form(doc)


def loads(text: str, *, filename: str = "slos.yaml") -> Spec:
    """Validate spec text; `filename` is used in messages and generated-file headers."""
    with gcpause.paused():
        return _validated(text, filename=filename)[0]


def _validated(text: str, *, filename: str, known: KnownPromQL | None = None) -> tuple[Spec, dict[str, Any]]:
    known = known or KnownPromQL()
    located = _parse(text, filename)
    if any(p.message.startswith("keys must be text") for p in located.duplicates):
        raise SpecError(filename, located.duplicates)  # the schema checks assume text keys
    problems = list(located.duplicates) + _non_finite(located) + schema_problems(located)
    if not problems:
        problems = _inline_alert_windows(located, filename)
    problems += semantic_problems(located, known)
    if problems:
        raise SpecError(filename, _unique(problems))
    _canonical_promql(located.data, known)
    return build(located.data, source=os.path.basename(filename)), located.data


# ---------------------------------------------------------------- user PromQL checked before


class KnownPromQL:
    """User PromQL this slogen has checked before: ratio selectors with their canonical text, and
    expressions that parse as instant vectors. `cached()` reads them from the private cache
    (signed, keyed on slogen's code and the parser's version), so a spec with one SLO changed
    parses only that SLO's PromQL. Only successes are kept: a text that fails is parsed (and
    reported) every time."""

    def __init__(self, selectors: dict[str, str] | None = None, expressions: set[str] | None = None) -> None:
        self.selectors = selectors or {}
        self.expressions = expressions or set()
        self.learned = False

    def selector(self, text: str) -> str:
        """The canonical text of a ratio selector; PromQLSyntaxError if it does not parse."""
        found = self.selectors.get(text)
        if found is None:
            found = self.selectors[text] = canonical_selector(text)
            self.learned = True
        return found

    def expression(self, text: str) -> None:
        """PromQLSyntaxError unless `text` parses as an instant vector."""
        if text not in self.expressions:
            parse_expression(text)
            self.expressions.add(text)
            self.learned = True

    @staticmethod
    def _entry() -> tuple[str, bytes]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            parser = version("promql-parser") + "/" + version("google-re2")
        except PackageNotFoundError:
            parser = "unknown"
        material = hashlib.sha256(speccache.fingerprint() + b"\0" + parser.encode()).digest()
        return f"promql-{material.hex()}.json", material

    @classmethod
    def cached(cls) -> KnownPromQL:
        """What the private cache remembers (nothing when it is off, absent or not ours)."""
        name, material = cls._entry()
        text = speccache.get_named(name, material)
        try:
            doc = json.loads(text) if text else {}
            selectors = {str(k): str(v) for k, v in doc.get("selectors", {}).items()}
            expressions = {str(e) for e in doc.get("expressions", [])}
        except (ValueError, AttributeError, TypeError):
            return cls()
        return cls(selectors, expressions)

    def store(self) -> None:
        """Remember what was learned (best effort; bounded, the newest kept)."""
        if not self.learned:
            return
        selectors = dict(list(self.selectors.items())[-MAX_KNOWN:])
        expressions = sorted(self.expressions)[-MAX_KNOWN:]
        name, material = self._entry()
        speccache.put_named(name, material, json.dumps({"selectors": selectors, "expressions": expressions},
                                                        separators=(",", ":")))


MAX_KNOWN = 200_000


# ---------------------------------------------------------------- alert windows from a file

MAX_WINDOWS_BYTES = 1 << 20
WINDOWS_FILE_KEY = "_alert_windows_file"  # in the cached document (not x-: the cache drops those): file and hash


def _windows_path(spec_path: str, name: str) -> str:
    return os.path.join(os.path.dirname(spec_path), name)


def _inline_alert_windows(located: Located, filename: str) -> list[Problem]:
    """Replace `defaults.alert_windows: FILE` by the file's rows, so every later step (and the
    cache) sees rows; problems in the file are reported at the key, naming the file and row."""
    defaults = located.data.get("defaults") or {}
    name = defaults.get("alert_windows")
    if not isinstance(name, str):
        return []
    where = ("defaults", "alert_windows")
    line, col = located.position(where)

    def problem(message: str) -> list[Problem]:
        return [Problem(line, col, json_path(where), f"{name}: {message}")]

    path = _windows_path(filename, name)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_WINDOWS_BYTES + 1)
    except OSError as exc:
        return problem(f"cannot read the alert windows file ({exc.strerror or exc}); the path is relative to the spec")
    if len(raw) > MAX_WINDOWS_BYTES:
        return problem("larger than 1 MiB: not an alert windows file")
    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return problem(f"not YAML: {str(exc).splitlines()[0]}")
    rows = doc.get("rows") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not rows:
        return problem("expected a list of rows {severity, long, short, budget_share}, or a mapping with 'rows:'")
    out = [Problem(line, col, json_path(where), f"{name}: rows[{i}]{'.' + key if key else ''}: {message}")
           for i, row in enumerate(rows) for key, message in windows.row_problems(row)]
    if not out:
        defaults["alert_windows"] = rows
        located.data[WINDOWS_FILE_KEY] = {"path": name, "sha256": hashlib.sha256(raw).hexdigest()}
    return out


def _windows_file_changed(doc: dict[str, Any], spec_path: str) -> bool:
    """True when a cached document took its alert windows from a file that has changed since."""
    marker = doc.get(WINDOWS_FILE_KEY)
    if not isinstance(marker, dict):
        return False
    try:
        with open(_windows_path(spec_path, marker["path"]), "rb") as handle:
            return bool(hashlib.sha256(handle.read(MAX_WINDOWS_BYTES + 1)).hexdigest() != marker["sha256"])
    except (OSError, KeyError, TypeError):
        return True


def _non_finite(located: Located) -> list[Problem]:
    """`.nan` and `.inf` anywhere: YAML has them, no field of a spec means them (and NaN defeats range checks)."""
    if located.finite:
        return []  # the loader saw every value while building
    out = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), located.data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            line, col = located.position(path)
            out.append(Problem(line, col, json_path(path), f"{value!r} is not a number slogen can use: "
                                                           "write a finite number"))
        elif isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
    return out


def _unique(problems: list[Problem]) -> list[Problem]:
    return sorted(set(problems))


def _parse(text: str, filename: str) -> Located:
    try:
        located = load_located(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        what = exc.problem or exc.context or "invalid YAML"
        raise SpecError(filename, [Problem(line, col, "$", f"YAML syntax error: {what}")]) from None
    except ExpansionError as exc:
        raise SpecError(filename, [Problem(1, 1, "$", str(exc))]) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise SpecError(filename, [Problem(0, 0, "$", f"YAML error: {exc}")]) from None
    if located.data is None:
        raise SpecError(filename, [Problem(1, 1, "$", f"the spec is empty: start with 'version: {SPEC_VERSION}'")])
    if not isinstance(located.data, dict):
        raise SpecError(filename, [Problem(1, 1, "$", f"expected a mapping with 'version: {SPEC_VERSION}' "
                                                      f"and 'services', got {type(located.data).__name__}")])
    return located


# ---------------------------------------------------------------- cross-field rules


def semantic_problems(located: Located, known: KnownPromQL | None = None) -> list[Problem]:
    """Rules a JSON Schema cannot say; tolerant of wrongly typed parts (the schema reports those)."""
    known = known or KnownPromQL()
    doc = located.data
    out: list[Problem] = []

    def at(path: tuple[Any, ...], message: str, *, key: bool = False) -> None:
        line, col = located.position(path, key=key)
        out.append(Problem(line, col, json_path(path), message))

    policy = doc.get("policy")
    if isinstance(policy, dict):
        values = {k: policy.get(k, getattr(Policy(), k)) for k in ("caution", "warning", "freeze")}
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()) and not (
            values["caution"] > values["warning"] > values["freeze"]
        ):
            at(("policy",), "thresholds out of order: need caution > warning > freeze "
                            f"(got {values['caution']:g}, {values['warning']:g}, {values['freeze']:g})")
    target = doc.get("prometheus")
    if isinstance(target, dict) and isinstance(target.get("rule_labels"), dict) \
            and conventions.MANAGED_BY_LABEL in target["rule_labels"]:
        at(("prometheus", "rule_labels", conventions.MANAGED_BY_LABEL),
           f"label {conventions.MANAGED_BY_LABEL!r} is set by slogen (to {conventions.NAMESPACE!r}); "
           "choose another name", key=True)
    defaults = doc.get("defaults") if isinstance(doc.get("defaults"), dict) else {}
    default_window = defaults.get("window", "30d")
    if isinstance(default_window, str) and (why := windows.period_problem(default_window)):
        at(("defaults", "window"), why)
    rows = _custom_rows(defaults, at)
    # Per (rows, period), keyed on the rows' identity: every SLO shares the spec's rows or the
    # period's default tuple, and hashing a tuple of rows hashes their Fractions, which for
    # 10,000 SLOs cost more than the check. The entry holds the rows, so the id stays theirs.
    by_rows: dict[tuple[int, str], tuple[tuple[windows.BurnWindow, ...], tuple[str, ...]]] = {}

    def rows_problems(chosen: tuple[windows.BurnWindow, ...], window: str) -> tuple[str, ...]:
        key = (id(chosen), window)
        found = by_rows.get(key)
        if found is None:
            found = by_rows[key] = (chosen, _rows_problems(chosen, window))
        return found[1]

    services = doc.get("services")
    if not isinstance(services, list):
        return out
    seen_services: dict[str, int] = {}
    for si, service in enumerate(services):
        if not isinstance(service, dict):
            continue
        name = service.get("name")
        if isinstance(name, str):
            if name in seen_services:
                at(("services", si, "name"), f"duplicate service name {name!r} (first at $.services"
                                             f"[{seen_services[name]}])")
            seen_services.setdefault(name, si)
        labels = service.get("labels")
        if isinstance(labels, dict):
            for reserved in sorted(set(labels) & conventions.RESERVED_LABELS, key=str):
                at(("services", si, "labels", reserved), f"label {reserved!r} is set by slogen; choose another "
                                                         "name", key=True)
        slos = service.get("slos")
        if not isinstance(slos, list):
            continue
        seen_slos: dict[str, int] = {}
        for li, slo in enumerate(slos):
            if not isinstance(slo, dict):
                continue
            slo_name = slo.get("name")
            if isinstance(slo_name, str):
                if slo_name in seen_slos:
                    at(("services", si, "slos", li, "name"), f"duplicate SLO name {slo_name!r} in service "
                                                            f"{name!r} (first at slos[{seen_slos[slo_name]}])")
                seen_slos.setdefault(slo_name, li)
            where = ("services", si, "slos", li)
            window = slo.get("window", default_window)
            if "window" in slo and isinstance(window, str) and (why := _period_problem(window)):
                at((*where, "window"), why)
            elif isinstance(window, str) and not _period_problem(window):
                for message in rows_problems(rows or windows.windows_for(window), window):
                    at((*where, "window") if "window" in slo else ("defaults", "alert_windows"),
                       f"{name}/{slo_name}: {message}")
            _check_group_by(slo, service, where, at)
            slo_labels = slo.get("labels")
            if isinstance(slo_labels, dict):
                for reserved in sorted(set(slo_labels) & conventions.RESERVED_LABELS, key=str):
                    at((*where, "labels", reserved), f"label {reserved!r} is set by slogen; choose another name",
                       key=True)
            sli = slo.get("sli")
            if isinstance(sli, dict):
                _check_sli(sli, (*where, "sli"), at, known)
            alerting = slo.get("alerting")
            if isinstance(alerting, dict):
                _check_templates(alerting, (*where, "alerting"), at)
    return out


@cache  # thousands of SLOs share a handful of periods
def _period_problem(window: str) -> str | None:
    return windows.period_problem(window)


@cache
def _rows_problems(rows: tuple[windows.BurnWindow, ...], window: str) -> tuple[str, ...]:
    return tuple(windows.rows_for_period_problems(rows, window, conventions.SHORT_TILE))


def _check_group_by(slo: dict[str, Any], service: dict[str, Any], where: tuple[Any, ...], at: Any) -> None:
    """Grouping labels come from the SLI's series: not slogen's own, not the bucket label, and not
    one the spec sets on the rules (that would overwrite every group with one value)."""
    group_by = slo.get("group_by")
    if not isinstance(group_by, list):
        return
    fixed = {label for labels in (service.get("labels"), slo.get("labels")) if isinstance(labels, dict)
             for label in labels}  # other types: the schema reports them
    for i, label in enumerate(group_by):
        if not isinstance(label, str):
            continue
        if label in conventions.UNGROUPABLE_LABELS:
            at((*where, "group_by", i), f"cannot group by {label!r}: slogen sets it")
        elif label in fixed:
            at((*where, "group_by", i), f"cannot group by {label!r}: the spec's labels set it on every rule, "
                                        "so all groups would collapse into one")


def _custom_rows(defaults: dict[str, Any], at: Any) -> tuple[windows.BurnWindow, ...] | None:
    """The spec's own alert rows (inline, or inlined from their file), checked; None when it has none
    or they are wrong (each problem reported)."""
    rows = defaults.get("alert_windows")
    if not isinstance(rows, list):
        return None
    problems = [(i, key, message) for i, row in enumerate(rows) for key, message in windows.row_problems(row)]
    for i, key, message in problems:
        at(("defaults", "alert_windows", i, *((key,) if key else ())), message)
    return None if problems else tuple(windows.row_from(r) for r in rows)


def _check_sli(sli: dict[str, Any], path: tuple[Any, ...], at: Any, known: KnownPromQL) -> None:
    ratio = sli.get("ratio")
    if isinstance(ratio, dict):
        parsed = {}
        for key in ("errors", "good", "total"):
            value = ratio.get(key)
            if isinstance(value, str):
                try:
                    parsed[key] = known.selector(value)
                except PromQLSyntaxError as exc:
                    at((*path, "ratio", key), f"selector does not parse: {exc}")
        for key in ("errors", "good"):
            if key in parsed and parsed[key] == parsed.get("total"):
                at((*path, "ratio", key), f"'{key}' is the same selector as 'total': the SLI would always be "
                                          f"{'100' if key == 'errors' else '0'} % errors")
    expr = sli.get("expr")
    if isinstance(expr, dict):
        texts = {}
        for key in ("errors", "good", "total", "ratio"):
            value = expr.get(key)
            if not isinstance(value, str):
                continue
            clean = strip_comments(value)
            texts[key] = " ".join(clean.split())
            if WINDOW_PLACEHOLDER not in clean:
                at((*path, "expr", key), f"missing the {WINDOW_PLACEHOLDER} placeholder: write the range as "
                                         f"[{WINDOW_PLACEHOLDER}] so slogen can evaluate each alert window")
                continue
            try:
                # 5m stands for every window slogen substitutes: all are plain durations.
                known.expression(clean.replace(WINDOW_PLACEHOLDER, "5m"))
            except PromQLSyntaxError as exc:
                at((*path, "expr", key), f"PromQL does not parse: {exc}")
        for key in ("errors", "good"):
            if key in texts and texts[key] == texts.get("total"):
                at((*path, "expr", key), f"'{key}' is the same expression as 'total'")
    latency = sli.get("latency")
    if isinstance(latency, dict):
        _check_latency(latency, (*path, "latency"), at)
    gauge = sli.get("gauge")
    if isinstance(gauge, dict):
        _check_selector(gauge.get("selector"), (*path, "gauge", "selector"), at)


def _check_templates(alerting: dict[str, Any], path: tuple[Any, ...], at: Any) -> None:
    """Alert labels and annotations are Go templates: Prometheus refuses the rule file on an error."""
    sections = [(alerting, path)] + [(alerting[k], (*path, k)) for k in ("page", "ticket")
                                     if isinstance(alerting.get(k), dict)]
    for section, where in sections:
        for kind in ("labels", "annotations"):
            values = section.get(kind)
            if not isinstance(values, dict):
                continue
            if kind == "labels" and conventions.LABEL_ALERT_TIER in values:
                at((*where, kind, conventions.LABEL_ALERT_TIER), f"label {conventions.LABEL_ALERT_TIER!r} is set "
                   "by slogen (page, ticket, policy or absent, for Alertmanager inhibition); choose another name",
                   key=True)
            for key, value in values.items():
                if isinstance(value, str):
                    try:
                        gotemplate.check(value)
                    except gotemplate.TemplateError as exc:
                        at((*where, kind, key), f"template does not parse: {exc}")


def _check_latency(latency: dict[str, Any], path: tuple[Any, ...], at: Any) -> None:
    threshold = latency.get("threshold")
    if isinstance(threshold, str):  # other types: the schema reports them
        try:
            seconds = parse_duration(threshold)
            if not 0 < seconds < MAX_THRESHOLD_SECONDS:  # 400 digits would render le="inf"
                raise ValueError
        except ValueError:
            at((*path, "threshold"), f"threshold {threshold!r} is not a duration: write it "
                                     "with a unit, e.g. 300ms or 2s")
    metric = latency.get("metric")
    if isinstance(metric, str) and metric.endswith(("_bucket", "_count", "_sum")):
        at((*path, "metric"), f"give the histogram's base name without the suffix: "
                              f"{metric.rsplit('_', 1)[0]!r}")
    _check_selector(latency.get("selector"), (*path, "selector"), at)


def _check_selector(selector: Any, path: tuple[Any, ...], at: Any) -> None:
    """A latency or gauge selector: parses, and leaves the name and `le` to slogen."""
    names: list[str] = []
    if isinstance(selector, str):
        try:
            names = [m.name for m in parse_matchers(selector)]
        except PromQLSyntaxError as exc:
            at(path, f"selector does not parse: {exc}")
    elif isinstance(selector, dict):
        names = [k for k in selector if isinstance(k, str)]
    for name in names:
        if name in ("le", "__name__"):
            what = "the bucket matcher comes from 'threshold'" if name == "le" else "the name comes from 'metric'"
            at(path, f"the selector must not match {name!r}: {what}")


def _canonical_promql(doc: dict[str, Any], known: KnownPromQL) -> None:
    """Rewrite the user PromQL of a valid document as the rules take it: ratio selectors printed
    canonically, comments dropped from `expr`. Done once here, so the cached document (speccache)
    holds the final text and building from it parses nothing."""
    for service in doc["services"]:
        for slo in service["slos"]:
            sli = slo["sli"]
            if "ratio" in sli:
                ratio = sli["ratio"]
                for key in ("errors", "good", "total"):
                    if key in ratio:
                        ratio[key] = known.selector(ratio[key])
            elif "expr" in sli:
                expr = sli["expr"]
                for key in ("errors", "good", "total", "ratio"):
                    if key in expr:
                        expr[key] = strip_comments(expr[key])


# ---------------------------------------------------------------- the model


def build(doc: dict[str, Any], *, source: str) -> Spec:
    """The frozen model of a document that passed every check."""
    defaults = doc.get("defaults") or {}
    window = defaults.get("window", "30d")
    policy_doc = doc.get("policy") or {}
    policy = Policy(**{k: float(v) for k, v in policy_doc.items()})
    rows_doc = defaults.get("alert_windows")
    rows = tuple(windows.row_from(r) for r in rows_doc) if isinstance(rows_doc, list) else None
    services = tuple(_build_service(s, window, rows) for s in doc["services"])
    return Spec(source=source, services=services, default_window=window, policy=policy,
                grafana=_build_grafana(doc.get("grafana") or {}), prometheus=_build_target(doc.get("prometheus") or {}))


def _build_target(doc: dict[str, Any]) -> RuleTarget:
    return RuleTarget(namespace=doc.get("namespace"), rule_labels=frozen_labels(doc.get("rule_labels")),
                      partial_response_strategy=doc.get("partial_response_strategy"))


def _build_grafana(doc: dict[str, Any]) -> Grafana:
    folder = doc.get("folder") or {}
    dash = doc.get("dashboard") or {}
    base = Grafana()
    return Grafana(
        url=doc.get("url", base.url).rstrip("/"),
        datasource=doc.get("datasource", base.datasource),
        folder_uid=folder.get("uid", base.folder_uid),
        folder_title=folder.get("title", base.folder_title),
        dashboard_uid=dash.get("uid", base.dashboard_uid),
        dashboard_title=dash.get("title", base.dashboard_title),
        refresh=dash.get("refresh", base.refresh),
        time=dash.get("time", base.time),
        tags=tuple(dash.get("tags", base.tags)),
        per_service=bool(dash.get("per_service", base.per_service)),
    )


def _build_service(doc: dict[str, Any], default_window: str, rows: tuple[windows.BurnWindow, ...] | None) -> Service:
    labels = frozen_labels(doc.get("labels"))
    slos = tuple(_build_slo(s, doc["name"], labels, default_window, rows) for s in doc["slos"])
    return Service(name=doc["name"], slos=slos, labels=labels, description=doc.get("description", ""))


@cache
def _objective(percent: str) -> Fraction:
    # From the text: Fraction(99.9) would be 99.900000000000005684..., Fraction("99.9") is exact.
    # Cached: specs repeat a handful of objectives, and Fraction() dominated building 10,000 SLOs.
    return percent_fraction(percent)


def _build_slo(doc: dict[str, Any], service: str, labels: Any, default_window: str,
               rows: tuple[windows.BurnWindow, ...] | None) -> SLO:
    own = doc.get("labels")
    return SLO(
        service=service,
        name=doc["name"],
        objective=_objective(str(doc["objective"])),
        window=doc.get("window", default_window),
        sli=_build_sli(doc["sli"]),
        description=doc.get("description", ""),
        labels=frozen_labels({**labels, **own}) if own else labels,
        alerting=_build_alerting(doc.get("alerting") or {}),
        alert_rows=rows,
        group_by=tuple(doc.get("group_by", ())),
    )


def _build_sli(doc: dict[str, Any]) -> RatioSLI | LatencySLI | ExprSLI | ExprRatioSLI | GaugeSLI:
    if "gauge" in doc:
        gauge = doc["gauge"]
        return GaugeSLI(metric=gauge["metric"], selector=_latency_matchers(gauge.get("selector")))
    if "ratio" in doc:
        r = doc["ratio"]
        return RatioSLI(total=r["total"], errors=r.get("errors"), good=r.get("good"))
    if "expr" in doc:
        e = doc["expr"]
        if "ratio" in e:
            return ExprRatioSLI(ratio=e["ratio"])
        return ExprSLI(total=e["total"], errors=e.get("errors"), good=e.get("good"))
    lat = doc["latency"]
    return LatencySLI(metric=lat["metric"], threshold=lat["threshold"],
                      threshold_seconds=parse_duration(lat["threshold"]),
                      selector=_latency_matchers(lat.get("selector")), native=bool(lat.get("native", False)))


def _latency_matchers(selector: str | dict[str, str] | None) -> tuple[Matcher, ...]:
    """Both spec forms as matchers: a mapping means equality, in key order; a string is parsed."""
    if isinstance(selector, str):
        return parse_matchers(selector)
    return tuple(Matcher(k, "=", v) for k, v in sorted((selector or {}).items()))


def _override(d: dict[str, Any] | None) -> AlertOverride:
    if not d:
        return _NO_OVERRIDE
    return AlertOverride(disable=bool(d.get("disable", False)), labels=frozen_labels(d.get("labels")),
                         annotations=frozen_labels(d.get("annotations")), for_=d.get("for"))


_NO_OVERRIDE = AlertOverride()


_NO_ALERTING = Alerting()
_LABELS_ONLY = frozenset({"labels", "annotations"})
_SHARED_ALERTING: dict[tuple[tuple[tuple[str, str], ...], ...], Alerting] = {}
_DEFAULT_ABSENT = AbsentAlert()


def _build_alerting(doc: dict[str, Any]) -> Alerting:
    if not doc:
        return _NO_ALERTING  # frozen, so one shared default serves every SLO without alerting settings
    if doc.keys() <= _LABELS_ONLY:
        # Only labels and annotations (text to text, as validated): SLOs of a service often share
        # them (a runbook per service), and one frozen Alerting serves them all.
        key = tuple(tuple((doc.get(kind) or {}).items()) for kind in ("labels", "annotations"))
        found = _SHARED_ALERTING.get(key)
        if found is None:
            found = _SHARED_ALERTING[key] = Alerting(
                labels=frozen_labels(doc.get("labels")), annotations=frozen_labels(doc.get("annotations")),
                page=_NO_OVERRIDE, ticket=_NO_OVERRIDE, absent=_DEFAULT_ABSENT)
        return found
    absent = doc.get("absent") or {}
    return Alerting(labels=frozen_labels(doc.get("labels")), annotations=frozen_labels(doc.get("annotations")),
                    page=_override(doc.get("page")), ticket=_override(doc.get("ticket")),
                    min_events=int(doc.get("min_events", 0)),
                    absent=AbsentAlert(disable=bool(absent.get("disable", False)),
                                       for_=absent.get("for", AbsentAlert.for_)) if absent else _DEFAULT_ABSENT)
