"""Text that reaches Markdown or CI logs (issue 14): server and spec text is escaped and bounded, the step
summary stays under GitHub's 1 MiB, and no stdout/stderr line can become a workflow command."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from grafana_standin import grafana_standin
from hostile import Reply, hostile

from conftest import SPECS
from slogen.cli import main
from slogen.report import summary
from slogen.report.textsafe import md, oneline
from slogen.slo.budget import Snapshot

EVIL = "boom\n\n## Fake heading\n::error::pwned\n[click](http://evil.example) | <details> ![x](y)"


def no_command_lines(*texts: str) -> None:
    for text in texts:
        for line in text.splitlines():
            assert not line.lstrip().startswith("::"), line


def test_a_server_error_cannot_forge_markdown_or_workflow_commands(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    body = {"status": "error", "errorType": "bad_data", "error": EVIL}
    with hostile(lambda r: Reply(400, body)) as server:
        result = CliRunner().invoke(main, ["gate", "-f", str(SPECS / "minimal.yaml"), "--prometheus-url", server.url],
                                    env={"GITHUB_STEP_SUMMARY": str(summary), "PROMETHEUS_URL": None})
    assert result.exit_code == 99
    no_command_lines(result.stdout, result.stderr)
    text = summary.read_text()
    assert "pwned" in text  # the reason is kept, as literal text
    assert not any(line.startswith("## Fake") for line in text.splitlines())
    assert "[click](" not in text and "\\[click\\]\\(http" in text and "<details>" not in text


def test_a_spec_title_cannot_forge_workflow_commands(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text((SPECS / "minimal.yaml").read_text() + 'grafana:\n  dashboard:\n    title: "SLOs\\n::error::pwned"\n')
    with grafana_standin(token="t") as g:
        result = CliRunner().invoke(main, ["push", "-f", str(spec), "--grafana-url", g.url], env={"GRAFANA_TOKEN": "t"})
    assert result.exit_code == 0, result.output
    assert "pwned" in result.stdout
    no_command_lines(result.stdout, result.stderr)


def test_the_step_summary_stays_under_the_limit() -> None:
    text = summary.step_summary(Snapshot(0.0, ()), 99, None, "http://grafana/d/x", error="e" * (20 << 20))
    assert len(text.encode()) < summary.SUMMARY_MAX_BYTES
    assert "…" in text


def test_escaping_helpers() -> None:
    assert oneline("::set-output name=x::y") == ": :set-output name=x::y"
    assert oneline("a\r\nb\x1b[31m") == "a b [31m"
    assert len(oneline("x" * 1000, 50)) == 50
    assert md("a|b*c*_d_ [l](u) `c` <b>") == "a\\|b\\*c\\*\\_d\\_ \\[l\\]\\(u\\) \\`c\\` \\<b\\>"
