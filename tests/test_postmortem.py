"""`slogen postmortem new`: file names, the template's sections, never overwriting, and the budget
impact read from a real Prometheus with backfilled history, checked against the model's values."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ROOT
from prom import backfill, free_port, needs_prometheus, prometheus
from slogen import conventions as c
from slogen.cli import main
from slogen.report.postmortem import filename, slugify

SPEC = str(ROOT / "slos.yaml")
SECTIONS = ("Executive summary", "Timeline", "Detection", "Root cause", "Five whys", "Resolution",
            "Error budget impact", "Action items", "Short term", "Medium term", "Long term",
            "Lessons learned", "What went well", "What went badly", "Where we were lucky",
            "Process improvements", "Communication", "Sensitive information", "Attachments",
            "Approvals", "Notes")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["postmortem", "new", *args])


@pytest.mark.parametrize(("title", "slug"), [
    ("Ünïcode Outage: DB — Part 2!", "unicode-outage-db-part-2"),
    ("Checkout 5xx after deploy v1.2.3", "checkout-5xx-after-deploy-v1-2-3"),
    ("Straße über Øresund", "strasse-uber-oresund"),
    ("日本語の障害", "untitled"),
    ("  --!!--  ", "untitled"),
    ("ﬁle ① of Çà", "file-1-of-ca"),
])
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_long_titles_are_cut_at_a_word_boundary() -> None:
    slug = slugify("database " * 30)
    assert len(slug) <= 80 and slug.endswith("database") and not slug.endswith("-")
    assert filename("DB down", date(2026, 3, 4)) == "2026-03-04-db-down.md"


def test_new_writes_every_section_and_the_review_date(tmp_path: Path) -> None:
    result = run("Ünïcode Outage: DB — Part 2!", "-f", SPEC, "--dir", str(tmp_path), "--date", "2026-01-15")
    assert result.exit_code == 0, result.output
    path = tmp_path / "2026-01-15-unicode-outage-db-part-2.md"
    assert f"wrote {path}" in result.output
    text = path.read_text()
    assert text.startswith("# Postmortem: Ünïcode Outage: DB — Part 2!\n")
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    for section in SECTIONS:
        assert any(h == section or h.startswith(section + " (") for h in headings), section
    for field in ("Date", "Duration", "Severity", "Author", "Reviewer"):
        assert f"| **{field}** |" in text
    for item in ("Users affected", "Downtime", "SLO violated", "Error budget consumed"):
        assert f"**{item}:**" in text
    assert "| **Next review** | 2026-02-14 " in text  # 30 days on
    assert "| Time | Event | Action |" in text
    assert "Blameless" in text and "$" not in text  # every placeholder substituted
    assert "| **Services** | checkout, search |" in text
    assert "Not measured" in text


def test_new_never_overwrites(tmp_path: Path) -> None:
    args = ("Outage", "-f", SPEC, "--dir", str(tmp_path), "--date", "2026-01-15")
    assert run(*args).exit_code == 0
    path = tmp_path / "2026-01-15-outage.md"
    path.write_text("my edits\n")
    again = run(*args)
    assert again.exit_code == 1
    assert "already exists" in again.output and "never overwrites" in again.output
    assert path.read_text() == "my edits\n"
    assert "Traceback" not in again.output


@pytest.mark.parametrize(("args", "message"), [
    (("--from", "2026-01-01T10:00:00Z"), "go together"),
    (("--from", "2026-01-01T10:00:00Z", "--to", "2026-01-01T09:00:00Z"), "later than --from"),
    (("--from", "2026-01-01T10:00:00", "--to", "2026-01-01T11:00:00Z"), "no time zone"),
    (("--service", "nope"), "unknown service"),
    (("--date", "15/01/2026"), "Invalid value"),
])
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run("Outage", "-f", SPEC, "--dir", str(tmp_path), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not list(tmp_path.iterdir())


def test_prometheus_failure_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = run("Outage", "-f", SPEC, "--dir", str(tmp_path), "--from", "1700000000", "--to", "1700003600",
                 "--prometheus-url", dead, "--timeout", "2")
    assert result.exit_code == 3, result.output
    assert "cannot connect to Prometheus" in result.output
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


# ------------------------------------------------------------------ measured impact

STEP = 60
HISTORY = 6 * 3600


def model(slo: str, t: float, start: float, end: float) -> float:
    """Budget remaining (ratio) of each SLO over time: an incident from `start` to `end`."""
    progress = min(max((t - start) / (end - start), 0.0), 1.0)
    after = max(t - end, 0.0) / 3600  # hours since the incident ended
    return {
        # 85 % → 35 % during the incident, then 1 point per hour more.
        "checkout/availability": 0.85 - 0.50 * progress - 0.01 * after,
        "checkout/latency": 0.97,  # untouched
        # 30 % → −12 % (overspent: the SLO is violated).
        "search/availability": 0.30 - 0.42 * progress,
        "search/latency": 0.90 - 0.05 * progress,
    }[slo]


# checkout/latency is grouped by route in slos.yaml: its budget is one series per route
ROWS = {"checkout/availability": "", "checkout/latency{route=/cart}": ',route="/cart"',
        "checkout/latency{route=/pay}": ',route="/pay"', "search/availability": "", "search/latency": ""}


def openmetrics(times: list[int], start: float, end: float) -> str:
    lines: list[str] = []
    for row, group in ROWS.items():
        name = row.split("{")[0]
        service, slo = name.split("/")
        for t in times:
            lines.append(f'{c.BUDGET_REMAINING}{{service="{service}",slo="{slo}"{group}}} '
                         f"{model(name, t, start, end)!r} {t}")
    return "\n".join([*lines, "# EOF", ""])


def pct(ratio: float) -> str:
    return f"{ratio * 100:.2f} %"


@needs_prometheus
def test_impact_table_from_backfilled_history(tmp_path: Path) -> None:
    end_of_data = int(time.time()) // STEP * STEP
    times = list(range(end_of_data - HISTORY, end_of_data + 1, STEP))
    start, end = end_of_data - 4 * 3600, end_of_data - 2 * 3600  # a 2h incident, over 2h ago
    backfill(openmetrics(times, start, end), tmp_path / "data")
    with prometheus("global: {scrape_interval: 1m}\n", data_dir=tmp_path / "data") as (url, _):
        all_slos = run("Search and checkout errors", "-f", SPEC, "--dir", str(tmp_path / "pm"),
                       "--from", str(start), "--to", str(end), "--prometheus-url", url, "--date", "2026-01-15")
        one = run("Checkout errors", "-f", SPEC, "--dir", str(tmp_path / "pm"), "--service", "checkout",
                  "--from", str(start), "--to", str(end), "--prometheus-url", url, "--date", "2026-01-15")
    assert all_slos.exit_code == 0, all_slos.output
    assert one.exit_code == 0, one.output
    text = (tmp_path / "pm/2026-01-15-search-and-checkout-errors.md").read_text()

    expected_states = {"checkout/availability": ("WARNING", "WARNING"),
                       "checkout/latency{route=/cart}": ("NORMAL", "NORMAL"),
                       "checkout/latency{route=/pay}": ("NORMAL", "NORMAL"),
                       "search/availability": ("EXHAUSTED", "EXHAUSTED"), "search/latency": ("NORMAL", "NORMAL")}
    assert expected_states.keys() == ROWS.keys()
    for row_name, (state_end, state_now) in expected_states.items():
        name = row_name.split("{")[0]
        before, after = model(name, start, start, end), model(name, end, start, end)
        now = model(name, end_of_data, start, end)
        consumed = (before - after) * 100
        shown = row_name.replace("{", "\\{").replace("}", "\\}")  # Markdown-escaped in the table
        row = next(line for line in text.splitlines() if line.startswith(f"| {shown} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[2:] == [pct(before), pct(after), pct(now), f"{consumed:.2f} pp", state_end, state_now], row
    # The checkout numbers spelled out: 85 % before, 35 % at the end, 33 % now (2 h later), 50 points.
    assert "| checkout/availability | 99.9 % | 85.00 % | 35.00 % | 33.00 % | 50.00 pp | WARNING | WARNING |" in text
    assert "**Resulting deploy state:** EXHAUSTED" in text
    assert "**SLO violated:** yes: search/availability" in text
    assert "**Error budget consumed:** 50.00 pp of checkout/availability, 42.00 pp of search/availability" in text
    assert "| **Duration** | 2h 00m |" in text
    assert f"/d/error-budget-slo?from={start * 1000}&to={end * 1000}" in text

    checkout_only = (tmp_path / "pm/2026-01-15-checkout-errors.md").read_text()
    assert "search/" not in checkout_only
    assert "**Resulting deploy state:** WARNING: Reliability focus" in checkout_only
    assert "| **Services** | checkout |" in checkout_only
    assert "resulting deploy state: WARNING" in one.output


@needs_prometheus
def test_no_data_is_reported_not_invented(tmp_path: Path) -> None:
    with prometheus("global: {scrape_interval: 1m}\n") as (url, _):
        now = int(time.time())
        result = run("Quiet", "-f", SPEC, "--dir", str(tmp_path), "--from", str(now - 7200), "--to",
                     str(now - 3600), "--prometheus-url", url, "--date", "2026-01-15")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "2026-01-15-quiet.md").read_text()
    assert "| checkout/availability | 99.9 % | no data | no data | no data | n/a | UNKNOWN | UNKNOWN |" in text
    assert "**Resulting deploy state:** UNKNOWN" in text


def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("Outage", "-f", SPEC, "--dir", str(blocker / "sub"), "--date", "2026-01-15")
    assert result.exit_code == 1, result.output
    assert "cannot" in result.output and "internal error" not in result.output


def test_multi_line_titles_become_one_heading(tmp_path: Path) -> None:
    assert run("DB\n  down", "-f", SPEC, "--dir", str(tmp_path), "--date", "2026-01-15").exit_code == 0
    assert (tmp_path / "2026-01-15-db-down.md").read_text().startswith("# Postmortem: DB down\n")
