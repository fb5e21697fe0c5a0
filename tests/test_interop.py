"""`slogen import` and `slogen export` on the peers' own files (tests/interop/, see its README).

For every Sloth example with generated rules in Sloth's repository, each burn-rate condition of
the imported and rendered SLO (severity, window pair, threshold) equals Sloth's: Sloth's threshold
is computed here from its rule text (`factor * budget`), slogen's read from its rendered alert;
both rule files are parsed, neither side's numbers come from the importer. Every file that
imports renders rules that pass `promtool check rules --lint-fatal`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from prom import needs_prometheus, promtool
from slogen import conventions as c
from slogen.cli import main
from slogen.durations import parse_duration
from slogen.interop.report import APPROXIMATE, EXACT, NOT_MAPPABLE
from slogen.interop.specdoc import slug
from slogen.render import render
from slogen.services.interop import import_files
from slogen.spec.load import loads

INTEROP = Path(__file__).parent / "interop"
SLOTH = INTEROP / "sloth" / "examples"
# Sloth examples whose SLOs slogen cannot import (an SLI plugin, a plugin changing the math,
# MetricsQL): each is reported, checked in test_report_says_why.
UNMAPPABLE = {"plugin-getting-started.yml", "plugin-k8s-getting-started.yml", "contrib-denominator-corrected.yaml",
              "victoria-metrics.yml"}
WITH_GEN = sorted(p.name for p in SLOTH.glob("*.y*ml") if (SLOTH / "_gen" / p.name).exists() and p.name not in UNMAPPABLE)
ALL_INPUTS = sorted(p for p in INTEROP.rglob("*.y*ml") if "_gen" not in p.parts and "config" not in p.parts)

Condition = tuple[str, frozenset[float], float]  # severity, {long, short} in seconds, threshold

_SLOTH_COND = re.compile(r'slo:sli_error:ratio_rate(\w+)\{([^}]*)\} > \(([0-9.e+-]+) \* ([0-9.e+-]+)\)')
_SLOTH_LABEL = re.compile(r'(\w+)="([^"]*)"')
_OURS_RAW = re.compile(r"slogen:sli_error:ratio_rate(\w+)\{[^}]*\}\) > ([0-9.e+-]+)$")
_OURS_TILED = re.compile(r"\[(\w+)\]\)\), 1e-300\) > ([0-9.e+-]+)$")
_OURS_ABOVE = re.compile(r"\[(\w+)\]\)\) > ([0-9.e+-]+) \* sum\(")  # a short window: errors > t × events


def _sloth_alerts(path: Path) -> dict[tuple[str, str], set[Condition]]:
    """(service, slo) → the burn conditions of Sloth's generated rules (plain or PrometheusRule)."""
    out: dict[tuple[str, str], set[Condition]] = {}
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        for group in doc.get("groups") or doc.get("spec", {}).get("groups", []):
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                found = _SLOTH_COND.findall(rule["expr"])
                assert found and len(found) % 2 == 0, rule["expr"]
                labels = dict(_SLOTH_LABEL.findall(found[0][1]))
                key = (labels["sloth_service"], labels["sloth_slo"])
                conds = out.setdefault(key, set())
                for (w1, _, f1, b1), (w2, _, f2, b2) in zip(found[::2], found[1::2], strict=True):
                    assert f1 == f2 and b1 == b2
                    conds.add((rule["labels"]["sloth_severity"], frozenset({parse_duration(w1), parse_duration(w2)}),
                               float(f1) * float(b1)))
    return out


def _sloth_slis(path: Path) -> dict[tuple[str, str], tuple[float, set[float]]]:
    """(service, slo) → (objective, the windows of its SLI recordings but the period's) in Sloth's rules."""
    out: dict[tuple[str, str], tuple[float, set[float]]] = {}
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        for group in doc.get("groups") or doc.get("spec", {}).get("groups", []):
            for rule in group["rules"]:
                labels = rule.get("labels", {})
                if "sloth_service" not in labels:
                    continue
                key = (labels["sloth_service"], labels["sloth_slo"])
                _, windows = out.setdefault(key, (0.0, set()))
                if rule.get("record") == "slo:objective:ratio":
                    out[key] = (float(re.fullmatch(r"vector\((.*)\)", rule["expr"].strip())[1]), windows)
                elif rule.get("record", "").startswith("slo:sli_error:ratio_rate"):
                    window = parse_duration(labels["sloth_window"])
                    if window < 7 * 86400:  # not the period's own ratio
                        windows.add(window)
    return out


def _our_alerts(rule_texts: list[str]) -> dict[tuple[str, str], set[Condition]]:
    out: dict[tuple[str, str], set[Condition]] = {}
    severity = {c.ALERT_PAGE: "page", c.ALERT_TICKET: "ticket"}
    for text in rule_texts:
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") not in severity:
                    continue
                key = (rule["labels"]["service"], rule["labels"]["slo"])
                lines = [line.strip() for line in rule["expr"].splitlines()]
                found = []
                for line in lines:
                    raw, tiled = _OURS_RAW.search(line), _OURS_TILED.search(line) or _OURS_ABOVE.search(line)
                    if raw:
                        found.append((parse_duration(raw[1]), float(raw[2])))
                    elif tiled:  # the range is 1 ms short of the window
                        found.append((round(parse_duration(tiled[1]) + 0.001, 3), float(tiled[2])))
                assert found and len(found) % 2 == 0, rule["expr"]
                conds = out.setdefault(key, set())
                for (w1, t1), (w2, t2) in zip(found[::2], found[1::2], strict=True):
                    assert t1 == t2
                    conds.add((severity[rule["alert"]], frozenset({w1, w2}), t1))
    return out


def _imported(*paths: Path, fmt: str | None = None, allow_partial: bool = False) -> tuple[str | None, list]:
    outcome = import_files([str(p) for p in paths], fmt, None, allow_partial=allow_partial)
    return outcome.text, outcome.report.objects


def _close(a: set[Condition], b: set[Condition]) -> bool:
    def canon(conds: set[Condition]) -> list[tuple[str, list[float], float]]:
        return sorted((s, sorted(w), t) for s, w, t in conds)
    return len(a) == len(b) and all(
        x[0] == y[0] and x[1] == y[1] and abs(x[2] - y[2]) <= 1e-12 * max(1.0, abs(y[2]))
        for x, y in zip(canon(a), canon(b), strict=True))


@pytest.mark.parametrize("name", WITH_GEN)
def test_sloth_thresholds_and_windows_match_sloths_rules(name: str) -> None:
    text, objects = _imported(SLOTH / name)
    assert text is not None, [o.lines() for o in objects]
    spec = loads(text)
    ours = _our_alerts([a.text for a in render(spec) if a.path.startswith("rules/")])
    theirs = _sloth_alerts(SLOTH / "_gen" / name)
    # slogen's name of each Sloth SLO, from the report (long names are shortened to 32 characters)
    targets = {(o.target.split("/")[0], o.name): tuple(o.target.split("/")) for o in objects if o.mapped}
    assert len(targets) == len(objects)
    for (service, slo), conditions in theirs.items():
        key = targets.get((slug(service), slo), (slug(service), slug(slo)))
        assert key in ours, (key, sorted(ours))
        assert _close(ours[key], conditions), (key, sorted(ours[key]), sorted(conditions))
    # Sloth writes no alerts for OpenSLO input: there the SLI windows and objectives must match
    slis = _sloth_slis(SLOTH / "_gen" / name)
    assert slis and len(slis) == len(targets)
    objectives = {(s.service, s.name): s.objective_percent / 100 for s in spec.slos}
    for (service, slo), (objective, windows) in slis.items():
        key = targets.get((slug(service), slo), (slug(service), slug(slo)))
        if key in ours or theirs:
            assert windows == {w for _, pair, _ in ours[key] for w in pair}
        assert abs(objectives[key] - objective) < 1e-12
    if any("openslo" in o.kind for o in objects):
        assert theirs == {}
    else:
        assert sum(len(v) for v in ours.values()) == sum(len(v) for v in theirs.values())


def test_no_alerts_stays_without_alerts() -> None:
    text, _ = _imported(SLOTH / "no-alerts.yml")
    assert text is not None
    ours = _our_alerts([a.text for a in render(loads(text)) if a.path.startswith("rules/")])
    assert ours == {} and _sloth_alerts(SLOTH / "_gen" / "no-alerts.yml") == {}


@needs_prometheus
def test_every_importable_file_validates_renders_and_passes_promtool(tmp_path: Path) -> None:
    rule_files = []
    imported = 0
    for i, path in enumerate(ALL_INPUTS):
        text, objects = _imported(path, allow_partial=True)
        assert objects, path
        if text is None:
            assert all(o.status == NOT_MAPPABLE for o in objects if not o.skipped), path
            continue
        imported += 1
        spec = loads(text, filename=path.name)  # the written spec validates with slogen's own loader
        for artifact in render(spec):
            if artifact.path.startswith("rules/"):
                target = tmp_path / f"{i}-{Path(artifact.path).name}"
                target.write_text(artifact.text)
                rule_files.append(str(target))
    assert imported >= 35
    result = promtool("check", "rules", "--lint-fatal", *rule_files)
    assert result.returncode == 0, result.stdout + result.stderr


def _status(objects: list, name: str) -> str:
    [obj] = [o for o in objects if o.name == name]
    return str(obj.status)


def test_report_says_why() -> None:
    _, objects = _imported(SLOTH / "plugin-getting-started.yml")
    assert _status(objects, "requests-availability") == NOT_MAPPABLE
    assert "SLI plugin 'getting_started_availability'" in objects[0].notes[0].detail
    _, objects = _imported(SLOTH / "contrib-denominator-corrected.yaml")
    assert "denominator_corrected_rules" in objects[0].notes[0].detail
    _, objects = _imported(INTEROP / "pyrra" / "examples" / "pyrra-connect-latency.yaml")
    # grouping by `service` (slogen's own label) is summed, and the report says so
    assert any(n.field == "indicator.latencyNative.grouping" and "'service'" in n.detail for n in objects[0].notes)
    _, objects = _imported(INTEROP / "openslo" / "examples" / "budgeting-method" / "timeslices-slo.yaml")
    assert all(any("Timeslices" in n.detail for n in o.notes) for o in objects)
    _, objects = _imported(SLOTH / "no-alerts.yml")
    assert _status(objects, "http-availability") == EXACT
    _, objects = _imported(SLOTH / "getting-started.yml")
    assert _status(objects, "requests-availability") == APPROXIMATE  # the alert name is slogen's


def test_sloth_fields_map_as_documented() -> None:
    text, _ = _imported(SLOTH / "getting-started.yml")
    assert text is not None
    [slo] = loads(text).slos
    assert (slo.service, slo.name, slo.objective_percent, slo.window) == ("myservice", "requests-availability", 99.9,
                                                                          "30d")
    assert slo.sli.errors == 'sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[$window]))'
    assert dict(slo.labels) == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2"}
    assert dict(slo.alerting.page.labels) == {"severity": "pageteam", "routing_key": "myteam"}
    assert dict(slo.alerting.ticket.labels) == {"severity": "slack", "slack_channel": "#alerts-myteam"}
    assert slo.alerting.annotations["summary"] == "High error rate on 'myservice' requests responses"
    assert "# from " in text and "getting-started.yml" in text  # where it came from, as a comment
    text, _ = _imported(SLOTH / "raw-home-wifi.yml")
    assert text is not None
    [slo] = loads(text).slos
    assert slo.sli_kind == "expr.ratio" and "[$window]" in slo.sli.ratio  # type: ignore[union-attr]


def test_pyrra_latency_keeps_the_bucket_pyrra_reads() -> None:
    text, _ = _imported(INTEROP / "pyrra" / "examples" / "caddy-response-latency.yaml")
    assert text is not None
    spec = loads(text)
    [slo] = spec.slos
    assert (slo.sli_kind, slo.window, slo.objective_percent) == ("latency", "28d", 90.0)
    rules_text = next(a.text for a in render(spec) if a.path.startswith("rules/"))
    assert 'caddy_http_response_duration_seconds_bucket{job="caddy",handler="subroute",code!~"5..",le="0.05"}' \
        in rules_text


def test_openslo_v1_with_prometheus_queries(tmp_path: Path) -> None:
    (tmp_path / "slo.yaml").write_text("""\
apiVersion: openslo/v1
kind: Service
metadata: {name: web}
spec: {description: The shop's web tier}
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: web-errors}
spec:
  ratioMetric:
    counter: true
    bad: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="web",code=~"5.."}'}}}
    total: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="web"}'}}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability}
spec:
  service: web
  indicatorRef: web-errors
  timeWindow: [{duration: 4w, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.995}]
""")
    text, objects = _imported(tmp_path)
    assert text is not None and [o.status for o in objects] == [EXACT]
    [service] = loads(text).services
    [slo] = service.slos
    assert (service.description, slo.window, slo.objective_percent) == ("The shop's web tier", "28d", 99.5)
    assert slo.sli.errors == 'http_requests_total{job="web",code=~"5.."}'  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------- the command


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_writes_the_spec_and_refuses_to_overwrite_a_different_one(tmp_path: Path) -> None:
    out = tmp_path / "slos.yaml"
    code, _, err = _run("import", str(SLOTH / "getting-started.yml"), "-o", str(out))
    assert code == 0, err
    assert "approximate" in err and f"wrote {out}" in err
    first = out.read_text()
    code, _, err = _run("validate", "-f", str(out))
    assert code == 0, err
    code, _, err = _run("import", str(SLOTH / "getting-started.yml"), "-o", str(out))
    assert code == 0 and "unchanged" in err
    code, _, err = _run("import", str(SLOTH / "home-wifi.yml"), "-o", str(out))
    assert code == 1 and "exists and differs" in err and "--force" in err
    assert out.read_text() == first  # untouched
    code, _, err = _run("import", str(SLOTH / "home-wifi.yml"), "-o", str(out), "--force")
    assert code == 0 and "home-wifi" in out.read_text()


def test_cli_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services: {web: {image: nginx}}\n")
    code, out, err = _run("import", str(path))
    assert code == 1 and out == ""
    assert f"{path}: document 'document 1': not mappable" in err
    assert "not a Sloth, Pyrra or OpenSLO document" in err


def test_cli_mixed_formats(tmp_path: Path) -> None:
    code, out, err = _run("import", str(SLOTH / "getting-started.yml"), str(SLOTH / "openslo-getting-started.yml"))
    assert code == 1 and out == ""
    assert "mix formats" in err and "openslo-getting-started.yml" in err and "--from" in err
    assert "Traceback" not in err


def test_cli_unknown_sloth_plugin_and_allow_partial(tmp_path: Path) -> None:
    out = tmp_path / "slos.yaml"
    plugin = INTEROP / "sloth" / "testdata" / "in-slo-plugin.yaml"
    code, _, err = _run("import", str(plugin), str(SLOTH / "getting-started.yml"), "-o", str(out))
    assert code == 1 and not out.exists()
    assert f"{plugin}: sloth prometheus/v1 SLO 'slo1': not mappable" in err
    assert "unknown Sloth plugin 'integration-tests/plugin1'" in err and "nothing written" in err
    code, _, err = _run("import", str(plugin), str(SLOTH / "getting-started.yml"), "-o", str(out), "--allow-partial")
    assert code == 0, err
    assert [s.name for s in loads(out.read_text()).slos] == ["requests-availability"]


def test_cli_openslo_slo_with_a_missing_sli(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: checkout}\nspec:\n  service: shop\n"
                    "  indicatorRef: checkout-errors\n  timeWindow: [{duration: 30d, isRolling: true}]\n"
                    "  budgetingMethod: Occurrences\n  objectives: [{target: 0.99}]\n")
    code, out, err = _run("import", str(path))
    assert code == 1 and out == ""
    assert f"{path}: openslo/v1 SLO 'checkout': not mappable" in err
    assert "SLO 'checkout' refers to SLI 'checkout-errors', which no input file defines" in err


def test_cli_directory_skips_foreign_yaml() -> None:
    code, out, err = _run("import", "--from", "pyrra", str(INTEROP / "pyrra"), "--allow-partial")
    assert code == 0, err
    assert "servicelevelobjectives.pyrra.dev': skipped" in err
    assert len(loads(out).slos) == 27  # every ServiceLevelObjective, latencyNative too


def test_cli_bad_yaml_in_a_named_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: prometheus/v1\nslos: [\n")
    code, _, err = _run("import", str(path))
    assert code == 1 and f"{path}:" in err and "YAML syntax error" in err and "Traceback" not in err


# --------------------------------------------------------------------------------------- export


@pytest.mark.parametrize("name", ["full", "expr-ratio"])
def test_export_openslo_and_back(tmp_path: Path, name: str) -> None:
    spec_file = Path(__file__).parent / "specs" / f"{name}.yaml"
    code, _, err = _run("export", "--to", "openslo", "-f", str(spec_file), "-o", str(tmp_path / "openslo"))
    assert code == 0, err
    files = sorted((tmp_path / "openslo").glob("*.openslo.yaml"))
    original = loads(spec_file.read_text())
    assert [f.name for f in files] == sorted(f"{s.name}.openslo.yaml" for s in original.services)
    docs = [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]
    assert sum(d["kind"] == "SLO" for d in docs) == len(original.slos)
    assert all(d["apiVersion"] == "openslo/v1" for d in docs)
    text, objects = _imported(tmp_path / "openslo")
    assert text is not None, [o.lines() for o in objects]
    back = {(s.service, s.name): s for s in loads(text).slos}
    for slo in original.slos:
        again = back[(slo.service, slo.name)]
        assert (again.objective, again.window) == (slo.objective, slo.window)
        if slo.sli_kind == "ratio":
            assert again.sli == slo.sli
        elif slo.sli_kind == "latency":  # exported as the histogram's two counters
            assert again.sli_kind == "ratio" and again.sli.good.startswith(slo.sli.metric + "_bucket{")  # type: ignore[union-attr]
        else:
            def texts(sli: object) -> dict[str, str]:
                return {k: " ".join(v.split()) for k, v in vars(sli).items() if v is not None}
            assert texts(again.sli) == texts(slo.sli)
    kinds = {s.sli_kind for s in original.slos}
    assert {"ratio", "latency", "expr"} <= kinds or kinds == {"expr.ratio"}, kinds  # the round trip covers every kind the spec has


@pytest.mark.parametrize("body", [
    "version: prometheus/v1\nservice: a\nx0: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"x{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8)),
    "version: prometheus/v1\nservice: a\nslos: " + "[" * 200 + "]" * 200 + "\n",
])
def test_cli_hostile_yaml_is_refused_cleanly(tmp_path: Path, body: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(body)
    code, out, err = _run("import", str(path))
    assert code == 1 and out == "" and "Traceback" not in err and "internal error" not in err
    assert str(path) in err


def test_pyrra_grouping_and_bool_gauge_map_to_group_by_and_gauge() -> None:
    code, out, err = _run("import", "--from", "pyrra", str(INTEROP / "pyrra" / "examples" / "prometheus-probe-success.yaml"))
    assert code == 0, err
    slo = loads(out).slos[0]
    assert slo.group_by == ("target",)
    assert slo.sli_kind == "gauge" and slo.sli.metric == "probe_success"  # type: ignore[union-attr]
    code, out, err = _run("import", "--from", "pyrra", str(INTEROP / "pyrra" / "examples" / "prometheus-http.yaml"))
    assert code == 0, err
    assert loads(out).slos[0].group_by == ("handler",)
    assert "grouping" not in err  # mapped exactly: nothing to report about it


def test_pyrra_latency_native_imports_as_a_native_histogram_sli() -> None:
    code, out, err = _run("import", "--from", "pyrra", str(INTEROP / "pyrra" / "examples" / "pyrra-connect-latency.yaml"))
    assert code == 0, err
    sli = loads(out).slos[0].sli
    assert (sli.metric, sli.threshold_seconds, sli.native) == (  # type: ignore[union-attr]
        "connect_server_requests_duration_seconds", 0.2, True)
