"""spec/blockyaml.py reads what PyYAML's safe loader reads, or declines (None): never a different document.

Compared with PyYAML's own loaders (the C one slogen parses with, and the pure-Python one) on
every YAML file in the repository, on hand-picked edge cases, on random data dumped in several
styles and on random line soup; and the spec loader's answers (data, problems, positions) are
the same whether or not it is used.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_encode import HOSTILE as HOSTILE_STRINGS

from bench import gen_spec
from slogen.errors import SpecError
from slogen.spec import blockyaml
from slogen.spec import load as specload

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 5_000_000
LOADERS = [getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader]


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down, keys in the same order (1 == True == 1.0 is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def _check(text: str) -> bool:
    """Assert that read() declines or agrees with both PyYAML loaders; True when it answered."""
    got = blockyaml.read(text, LIMIT)
    if got is None:
        return False
    data, _, finite = got
    for loader in LOADERS:
        want = yaml.load(text, Loader=loader)  # raises if read() accepted bad YAML
        assert _same(data, want), (text, data, want)
    floats = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float):
            floats.append(item)
    assert finite == all(math.isfinite(f) for f in floats)
    return True


def _repository_yaml() -> list[Path]:
    files = subprocess.run(["git", "ls-files", "*.yaml", "*.yml"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return [ROOT / f for f in files]


def test_every_yaml_file_of_the_repository() -> None:
    answered = 0
    files = _repository_yaml()
    assert len(files) > 100
    for path in files:
        answered += _check(path.read_text(encoding="utf-8"))
    assert answered >= len(files) // 2  # the subset covers most of the repository's YAML


def test_a_generated_spec_is_read_and_matches() -> None:
    text = yaml.dump(gen_spec.build(7, 6), Dumper=yaml.SafeDumper, sort_keys=False)
    assert _check(text)
    assert _check(yaml.safe_dump(gen_spec.build(3, 4), indent=4, default_flow_style=False))


ANSWERED = [
    "a: 1\n",
    "a: value # a comment\nb: 'it''s'  # another\n",
    'a: "x\\ty\\u00e9"\nb: "plain"\n',
    "a: |\n  line one\n\n    indented\n  # not a comment\nb: 1\n",
    "a: |-\n  x\n  y\n\n\nb: ~\n",
    "a:\n- 1\n- 2.5\nb: 3\n",
    "a:\n  - x: 1\n    y:\n    - z\n  -\n  - null\n",
    "a: 0o17\nb: 1_000\nc: 2001-12-14\nd: 2001-12-14 21:59:43.10 -5\ne: 0x1F\nf: 1e3\ng: +.5\n",
    "a: .nan\nb: -.inf\n",
    "a: -1\nb: -x\nc: yes\nd: Off\ne: ''\nf: \"\"\n",
    "a: []\nb: {}  # empty\n",
    "a: [1, yes, x.y, '1', \"q, r\", null]\nb: {uid: slo, title: \"A: b\", n: 0x1f}  # c\nc:\n- [a]\n- {k: 'v'}\n",
    "tags: [slo, error-budget, observability]\nlabels: {team: payments, tier: \"1\"}\n",
    "a: {labels: {severity: slack}, u: https://x.example/a:b, n: [[1, 2], [], {}], m: { }}  # c\n",
    "rows:\n- {severity: page, long: 1h, budget_share: 2%}\n- [a, {b: c}]\n",
    "---\n# comment\na:   spaced   out  \n",
    "k:v: 1\nurl: http://x/#frag\nx: a:b\n",
    "a:\n\n  # between\n  b: 1\n",
    "a: |  # header comment\n   three\n",
    "é: ü\n",
]


@pytest.mark.parametrize("text", ANSWERED)
def test_edge_cases_it_reads(text: str) -> None:
    assert _check(text)


DECLINED = [
    "- a\n",  # the root is not a mapping
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "yes: 1\n",  # a key that is not text
    "1: a\n",
    "a: 1\na: 2\n",  # duplicate
    "<<: {a: 1}\n",
    "a: b: c\n",  # a YAML error
    "a: [1, [2]\n",
    "a: [b: c]\n",
    "a: {b:c}\n",
    "a: {b: c d}\n",
    'a: {b: "c"d}\n',
    "a: [1, 2] x\n",
    "a: [a, ]\n",
    "a: [a b]\n",
    "a: {b: 1, b: 2}\n",
    "a: {1: b}\n",
    "a: [x]]\n",
    'a: ["a\\"b"]\n',
    "a: [1,\n  2]\n",
    "- {a: b}\n",
    "a: >\n  folded\n",
    "a: |+\n  kept\n",
    "a: |2\n   x\n",
    "a: multi\n  line\n",
    "a: 'multi\n  line'\n",
    "a: 1\n---\nb: 2\n",
    "a:\tb\n",
    "a: b\r\n",
    "\ufeffa: b\n",
    "a: b\u2028c\n",
    "? a\n: b\n",
    "a:\n  - - x\n",
    "a: |\n  no final newline",
    "a: x\n b: y\n",
    "a:\n    b: 1\n  c: 2\n",
    "a: =\n",
    "%YAML 1.1\n---\na: 1\n",
    "",
    "# only a comment\n",
]


@pytest.mark.parametrize("text", DECLINED)
def test_edge_cases_it_leaves_to_pyyaml(text: str) -> None:
    assert blockyaml.read(text, LIMIT) is None


def test_more_nodes_than_the_limit_is_left_to_pyyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    from slogen.spec import yamlpos

    text = "a:\n" + "".join(f"- {i}\n" for i in range(20)) + "b: |\n  x\nc:\nd: {e: [1, {f: g}], h: []}\n"
    assert blockyaml.read(text, 37) is not None
    assert blockyaml.read(text, 36) is None
    # PyYAML's path counts the same nodes: it refuses at the same limit (the message users see).
    monkeypatch.setattr(blockyaml, "read", lambda text, limit: None)
    monkeypatch.setattr(yamlpos, "MAX_EXPANDED_NODES", 37)
    yamlpos.load_located(text)
    monkeypatch.setattr(yamlpos, "MAX_EXPANDED_NODES", 36)
    with pytest.raises(yamlpos.ExpansionError):
        yamlpos.load_located(text)


_text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=12),
                  st.sampled_from(["yes", "no", "~", "null", "1.5", "0x1f", "2001-12-14", "-", "- x", "a: b", " #",
                                   "'q'", '"d"', "|", ">", "*a", "&a", "!t", "[x]", "{}", "%", "@", "`", "---",
                                   "...", "=", "<<", ".nan", "1_0", "0o7", "+1", "x:", ":x", "?"]))
_scalars = st.one_of(_text, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none())
_data = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(_text, inner, max_size=4)), max_leaves=20)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(_text, _data, min_size=1, max_size=5), st.sampled_from([2, 3, 4]), st.booleans(),
       st.sampled_from([None, False, True]), st.sampled_from([20, 80]))
def test_random_data_dumped_by_pyyaml(doc: dict[str, Any], indent: int, unicode: bool, flow: bool | None,
                                      width: int) -> None:
    try:
        text = yaml.safe_dump(doc, indent=indent, allow_unicode=unicode, default_flow_style=flow, width=width,
                              sort_keys=False)
    except yaml.YAMLError:
        return
    _check(text)


_piece = st.sampled_from(["a", "b", "key", "- ", "-", ": ", ":", " ", "  ", "#", " # c", "'", "''", '"', "\\",
                          "|", "|-", ">", "x y", "1", "1.5", "yes", "~", "[]", "{}", "[", "]", "{", "}", ",",
                          "&a", "*a", "!", "?", "---", "...", "é", "\t", "%", "=", "<<", "0x1", "2001-12-14"])
_line = st.tuples(st.integers(0, 6), st.lists(_piece, max_size=6)).map(lambda t: " " * t[0] + "".join(t[1]))


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_line, min_size=1, max_size=10), st.booleans())
def test_random_line_soup(lines: list[str], final_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    got = blockyaml.read(text, LIMIT)
    if got is None:
        return
    _check(text)


def _answers(text: str) -> Any:
    try:
        return ("ok", specload.loads(text))
    except SpecError as exc:
        return ("problems", exc.problems)


SPECS = sorted((ROOT / "tests/specs").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_the_loader_answers_the_same_without_it(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_text(encoding="utf-8")
    broken = text.replace("objective: 99.9", "objective: 199.9").replace("name: ", "name: Bad_", 1)
    for variant in (text, broken):
        with_reader = _answers(variant)
        with monkeypatch.context() as m:
            m.setattr(blockyaml, "read", lambda text, limit: None)
            without = _answers(variant)
        assert with_reader == without


def test_problems_have_pyyaml_positions_when_it_read_the_text() -> None:
    text = yaml.dump(gen_spec.build(2, 3), Dumper=yaml.SafeDumper, sort_keys=False)
    assert blockyaml.read(text, LIMIT) is not None
    bad = text.replace("objective: 99.5", "objective: 100.5").replace("threshold: 300ms", "threshold: 300")
    with pytest.raises(SpecError) as info:
        specload.loads(bad)
    lines = bad.split("\n")
    assert info.value.problems
    for problem in info.value.problems:
        line = lines[problem.line - 1]
        assert line[problem.column - 1:].startswith(("100.5", "'300'", "300")), (problem, line)
