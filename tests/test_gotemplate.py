"""The Go-template checker agrees with promtool on alert labels and annotations, both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from prom import needs_prometheus, promtool
from slogen.promql import gotemplate

ACCEPTED = [
    "plain text, no action",
    "{{ $value | humanizePercentage }}",
    "{{ $labels.job }} on {{ $labels.instance }}",
    "{{- $value | printf \"%.2f\" -}}",
    "{{ if gt $value 0.5 }}high{{ else }}low{{ end }}",
    "{{ if eq $labels.env \"prod\" }}P{{ else if eq $labels.env \"stg\" }}S{{ else }}D{{ end }}",
    "{{ with $labels.team }}team {{ . }}{{ end }}",
    "{{ range $i, $e := (query \"up\") }}{{ $e.Value }}{{ end }}",
    "{{ range query \"up\" }}{{ if eq .Value 0.0 }}{{ break }}{{ end }}{{ end }}",
    "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
    "{{/* a comment */}}text",
    "{{- /* trimmed comment */ -}}",
    "{{ `raw {{ braces }}` }}",
    "{{ \"}}\" }}",
    "{{ 'a' }} {{ -1 }} {{ 0x1F }} {{ 1e3 }} {{ true }} {{ nil | print }}",
    "{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}",
    "{{ humanizeDuration (parseDuration \"1h\") }}",
    "{{ (index $labels \"job\") | toUpper }}",
    "{{ template \"x\" }}{{ define \"x\" }}X{{ end }}",
    "}} stray closing braces are text",
    "https://grafana/d/x?var-slo={{ $labels.slo | urlquery }}",
    "ünïcødé {{ $externalURL }} {{ $externalLabels.cluster }}",
    "{{ $value | }}",  # Go's parser takes a trailing pipe
]

REJECTED = [
    ("{{ $value ", "unclosed action"),
    ("{{ $value }", "unclosed action"),
    ("{{ }}", "empty action"),
    ("{{ if }}x{{ end }}", "missing value for if"),
    ("{{ if true }}x", "never closed"),
    ("x{{ end }}", "unexpected end"),
    ("{{ else }}", "unexpected else"),
    ("{{ nosuchfunc $value }}", "not defined"),
    ("{{ toDuration 1 }}", "not defined"),
    ("{{ $undefined }}", "undefined variable"),
    ("{{ (humanize $value }}", "unclosed '('"),
    ("{{ humanize $value) }}", "unexpected ')'"),
    ("{{ \"unterminated }}", "unterminated"),
    ("{{ $value || humanize }}", "missing command"),
    ("{{ | humanize }}", "missing command"),
    ("{{ break }}", "outside range"),
    ("{{ template x }}", "quoted template name"),
    ("{{ $value ; }}", "unexpected ';'"),
    ("{{/* unclosed comment }}", "unclosed comment"),
    ("{{ if true }}{{ end }}{{ end }}", "unexpected end"),
    ("{{ end extra }}", "after end"),
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted(text: str) -> None:
    gotemplate.check(text)


@pytest.mark.parametrize(("text", "why"), REJECTED)
def test_rejected_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(gotemplate.TemplateError, match=why.replace("(", r"\(").replace(")", r"\)")):
        gotemplate.check(text)


def _rules(path: Path, annotations: list[str]) -> Path:
    rules = [{"alert": f"A{i}", "expr": "up == 0", "annotations": {"x": text}, "labels": {"y": text}}
             for i, text in enumerate(annotations)]
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}, allow_unicode=True))
    return path


@needs_prometheus
def test_promtool_accepts_what_the_checker_accepts(tmp_path: Path) -> None:
    result = promtool("check", "rules", str(_rules(tmp_path / "ok.yaml", ACCEPTED)))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_prometheus
@pytest.mark.parametrize(("text", "why"), REJECTED)
def test_promtool_rejects_what_the_checker_rejects(tmp_path: Path, text: str, why: str) -> None:
    result = promtool("check", "rules", str(_rules(tmp_path / "bad.yaml", [text])))
    assert result.returncode != 0, (text, result.stdout)
