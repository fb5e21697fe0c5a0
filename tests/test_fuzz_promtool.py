"""Property (issue 14): every spec `validate` accepts renders rule files that `promtool check rules` accepts.

Hypothesis builds specs inside the schema's shapes but with adversarial contents (label values and
annotations with quotes, backslashes, newlines, Go-template braces and unicode; odd objectives,
windows, thresholds, selectors and expressions). Specs slogen rejects are skipped; each accepted one
is rendered and every rule file is checked by the real promtool.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from prom import PROMTOOL, needs_prometheus
from slogen.errors import SpecError
from slogen.render import render
from slogen.spec.load import loads

names = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?\Z")
label_names = st.from_regex(r"\A[a-zA-Z_][a-zA-Z0-9_]{0,10}\Z").filter(lambda n: n not in ("service", "slo"))
nasty = st.one_of(
    st.text(max_size=30),
    st.sampled_from(['"quoted"', "back\\slash", "new\nline", "{{ $labels.service }}", "{{", "}}", "100%",
                     "$value", "é ü 日本", "a'b", "tab\there", "{{ .Value }}", "x}}y{{z",
                     "{{ $value | humanizePercentage }}", "{{$labels.job}} is {{ $value }}"]),
)
totals = st.sampled_from(['http_requests_total{job="api",x="1"}', "requests_all", 'all{q="\\\\"}'])
total_exprs = st.sampled_from(["sum(rate(all_total[$window]))", "sum(increase(jobs[$window]))"])
selectors = st.sampled_from(['http_requests_total{job="api"}', 'req{code=~"5..",job!="x"}', "up",
                             'a:b:c{l="v\\"q"}', 'h_total{route="/a b",method=~"GET|POST"}'])
exprs = st.sampled_from(["sum(rate(x_total[$window]))", "sum(increase(jobs{r=\"f\"}[$window]))",
                         "count_over_time(up[$window]) - 1", "sum by (job) (rate(e[$window]))"])
objectives = st.one_of(st.floats(min_value=0.001, max_value=99.999, allow_nan=False),
                       st.sampled_from([50, 90, 99, 99.9, 99.95, 99.99, 99.999]))
windows = st.sampled_from(["7d", "14d", "28d", "30d", "90d"])
thresholds = st.sampled_from(["100ms", "250ms", "0.5s", "1s", "2s", "1m", "1.5s", "10ms"])
label_maps = st.dictionaries(label_names, nasty, max_size=3)


@st.composite
def sli(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["ratio", "latency", "expr"]))
    if kind == "ratio":
        which = draw(st.sampled_from(["errors", "good"]))
        return {"ratio": {which: draw(selectors), "total": draw(totals)}}
    if kind == "latency":
        out: dict[str, Any] = {"metric": draw(st.sampled_from(["http_request_duration_seconds", "rpc:latency"])),
                               "threshold": draw(thresholds)}
        if draw(st.booleans()):
            out["selector"] = draw(st.dictionaries(label_names, nasty, max_size=2))
        return {"latency": out}
    return {"expr": {"errors": draw(exprs), "total": draw(total_exprs)}}


@st.composite
def slo(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"name": draw(names), "objective": draw(objectives), "sli": draw(sli())}
    if draw(st.booleans()):
        out["window"] = draw(windows)
    if draw(st.booleans()):
        out["description"] = draw(nasty)
    if draw(st.booleans()):
        out["alerting"] = {"labels": draw(label_maps), "annotations": draw(label_maps),
                           "page": {"labels": draw(label_maps), "disable": draw(st.booleans())},
                           "ticket": {"annotations": draw(label_maps)}}
    return out


@st.composite
def specs(draw: st.DrawFn) -> str:
    services = [{"name": draw(names), "labels": draw(label_maps), "slos": draw(st.lists(slo(), min_size=1, max_size=3))}
                for _ in range(draw(st.integers(1, 2)))]
    doc: dict[str, Any] = {"version": "slogen/v1", "services": services}
    if draw(st.booleans()):
        doc["defaults"] = {"window": draw(windows)}
    return yaml.safe_dump(doc, allow_unicode=True)


@needs_prometheus
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(specs())
def test_every_valid_spec_renders_rules_promtool_accepts(text: str) -> None:
    try:
        spec = loads(text)
    except SpecError:
        assume(False)
        return
    rules = [a for a in render(spec) if a.path.startswith("rules/")]
    assert rules
    with tempfile.TemporaryDirectory(prefix="slogen-fuzz-") as tmp:
        paths = []
        for artifact in rules:
            path = Path(tmp) / Path(artifact.path).name
            path.write_text(artifact.text)
            paths.append(str(path))
        assert PROMTOOL
        done = subprocess.run([PROMTOOL, "check", "rules", *paths], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"promtool rejected the rules of a valid spec:\n{done.stdout}{done.stderr}\n{text}"
