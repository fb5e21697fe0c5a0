"""The plain terminal table of `slogen status`: alignment, colour conventions, size."""

from __future__ import annotations

import io
import re

import click
import pytest

from slogen.report.table import ASCII_RULE, RULE, colour_enabled, rule_for, table

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_columns_align_and_numbers_right_justify() -> None:
    text = table(("name", "n", "state"), [("a", "1", "OK"), ("long-name", "100", "BAD")], right=frozenset({1}))
    lines = text.splitlines()
    assert lines[0] == " name         n  state"
    assert set(lines[1].strip()) == {"━"} and len(lines[1]) == len(lines[0])
    assert lines[2] == " a            1  OK"
    assert lines[3] == " long-name  100  BAD"  # no trailing spaces after the last column


def test_colour_is_applied_after_padding_and_only_when_asked() -> None:
    rows = [("a", "OK"), ("bb", "BAD")]
    styles = [{"fg": "green"}, {"fg": "red", "bold": True}]
    plain = table(("x", "state"), rows, styles=styles)
    coloured = table(("x", "state"), rows, styles=styles, colour=True)
    assert "\x1b[" not in plain
    assert ANSI.sub("", coloured) == plain  # the same layout once the codes are removed
    assert click.style("OK", fg="green") in coloured and "\x1b[31m\x1b[1mBAD" in coloured


@pytest.mark.parametrize(("env", "tty", "on"), [
    ({}, False, False), ({}, True, True), ({"NO_COLOR": "1"}, True, False),
    ({"FORCE_COLOR": "1"}, False, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False)])
def test_colour_follows_no_color_force_color_and_the_terminal(monkeypatch: pytest.MonkeyPatch,
                                                              env: dict[str, str], tty: bool, on: bool) -> None:
    for var in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    assert colour_enabled(Stream()) is on


def test_ten_thousand_rows_render_every_row() -> None:
    rows = [(f"svc-{i:05d}", f"{i / 7:.3f}%", "NORMAL") for i in range(10_000)]
    text = table(("service", "SLI", "state"), rows, right=frozenset({1}))
    lines = text.splitlines()
    assert len(lines) == 2 + 10_000 and lines[-1] == " svc-09999  1428.429%  NORMAL"
    assert {line.index("NORMAL") for line in lines[2:]} == {lines[0].index("state")}  # one column


def test_a_stream_that_cannot_encode_the_rule_gets_dashes() -> None:
    latin1 = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    assert rule_for(latin1) == ASCII_RULE and rule_for(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")) == RULE
    assert table(("a",), [("x",)], rule=ASCII_RULE).splitlines()[1] == " -"


def test_plain_rows_are_padded_as_coloured_ones_are() -> None:
    # Without colour the rows take a faster path (one format string); both must lay out alike.
    headers = ("a", "bb", "c")
    rows = [("x{}", "1", "wide {0} cell"), ("longer", "22222", "z"), ("", "", "")]
    for right in (frozenset(), frozenset({1}), frozenset({0, 2})):
        plain = table(headers, rows, right=right)
        styled = table(headers, rows, right=right, colour=True, styles=[None] * len(rows))
        assert plain == styled
        assert plain.splitlines()[3] == " " + "  ".join(
            (c.rjust(w) if i in right else c if i == 2 and i not in right else c.ljust(w))
            for i, (c, w) in enumerate(zip(rows[1], (6, 5, 13), strict=True)))
