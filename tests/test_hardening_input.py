"""Input limits (issue 14): oversized and non-regular spec files, alias bombs, .nan, --time nan, duplicate
keys beside a merge key and absurd thresholds are clear errors with documented exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SPECS
from slogen.cli import main
from slogen.spec import load as spec_loader

MINIMAL = (SPECS / "minimal.yaml").read_text()
BOMB = "version: slogen/v1\nx-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"x-{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
) + "services: *i\n"


def validate(path: Path | str):
    return CliRunner().invoke(main, ["validate", "-f", str(path)])


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "slos.yaml"
    path.write_text(text)
    return path


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    assert len(BOMB) < 600
    started = time.monotonic()
    result = validate(spec_file(tmp_path, BOMB))
    assert result.exit_code == 1, result.output
    assert "aliases expand to more than" in result.output and "Traceback" not in result.output
    assert time.monotonic() - started < 5


def test_modest_aliases_and_merges_still_work(tmp_path: Path) -> None:
    text = MINIMAL.replace("        sli:\n", "        sli: &s\n") + "  - name: web\n    slos:\n      - name: a\n" \
        "        objective: 99\n        sli: *s\n"
    assert validate(spec_file(tmp_path, text)).exit_code == 0


def test_non_regular_and_oversized_specs_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = validate("/dev/zero")
    assert result.exit_code == 1 and "not a regular file" in result.output
    monkeypatch.setattr(spec_loader, "MAX_SPEC_BYTES", 1000)
    big = spec_file(tmp_path, MINIMAL + "#" * 2000 + "\n")
    result = validate(big)
    assert result.exit_code == 1 and "larger than" in result.output


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_nan_objective_is_a_validation_error(tmp_path: Path, value: str) -> None:
    result = validate(spec_file(tmp_path, MINIMAL.replace("objective: 99.9", f"objective: {value}")))
    assert result.exit_code == 1, result.output
    assert "$.services[0].slos[0].objective" in result.output and "not a number slogen can use" in result.output


def test_a_duplicate_key_beside_a_merge_key_is_reported(tmp_path: Path) -> None:
    text = MINIMAL.replace("version: slogen/v1\n", "version: slogen/v1\nx-base: &base {objective: 99}\n").replace(
        "        objective: 99.9\n", "        <<: *base\n        objective: 99.9\n        objective: 98\n")
    result = validate(spec_file(tmp_path, text))
    assert result.exit_code == 1, result.output
    assert "duplicate key 'objective' beside a '<<' merge" in result.output
    overriding = text.replace("        objective: 98\n", "")  # overriding a merged key is what merges are for
    assert validate(spec_file(tmp_path, overriding)).exit_code == 0


def test_a_400_digit_threshold_is_a_validation_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("""        sli:
          ratio:
            errors: http_requests_total{job="api",code=~"5.."}
            total: http_requests_total{job="api"}""", f"""        sli:
          latency:
            metric: http_request_duration_seconds
            threshold: "1{'0' * 400}s"
""")
    result = validate(spec_file(tmp_path, text))
    assert result.exit_code == 1, result.output
    assert "threshold" in result.output and "Traceback" not in result.output
    out = CliRunner().invoke(main, ["render", "-f", str(tmp_path / "slos.yaml"), "-o", str(tmp_path / "o")])
    assert out.exit_code == 1 and not (tmp_path / "o").exists()


@pytest.mark.parametrize("when", ["nan", "inf", "-inf", "1e400"])
def test_status_time_nan_is_a_usage_error(tmp_path: Path, when: str) -> None:
    spec = spec_file(tmp_path, MINIMAL)
    result = CliRunner().invoke(main, ["status", "-f", str(spec), "--time", when, "--prometheus-url",
                                       "http://127.0.0.1:1"])
    assert result.exit_code == 2, result.output
    assert "is not a time" in result.output
    gate = CliRunner().invoke(main, ["gate", "-f", str(spec), "--time", when, "--prometheus-url", "http://127.0.0.1:1"])
    assert gate.exit_code == 99  # the gate's usage errors never read as a state


@pytest.mark.parametrize("annotation", ["{{", "{{ nosuchfunc }}", "{{ .Nope | nosuch }}"])  # promtool refuses each
def test_an_alert_template_prometheus_would_reject_is_a_validation_error(tmp_path: Path, annotation: str) -> None:
    # Found by tests/test_fuzz_promtool.py: `{{` passed validate, then promtool refused the rule file.
    text = MINIMAL + f"        alerting:\n          annotations: {{runbook: {json.dumps(annotation)}}}\n"
    result = validate(spec_file(tmp_path, text))
    assert result.exit_code == 1, result.output
    assert "$.services[0].slos[0].alerting.annotations.runbook" in result.output and "template" in result.output
    fine = MINIMAL + '        alerting:\n          annotations: {runbook: "{{ $labels.service }}: {{ $value | humanize }}"}\n'
    assert validate(spec_file(tmp_path, fine)).exit_code == 0
