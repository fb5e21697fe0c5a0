"""Generators build PromQL as trees: no generator module formats PromQL text itself.

A static check over the source of the rule, alert and dashboard generators: every string
literal and f-string template (docstrings excepted) is searched for what gluing PromQL looks
like: a function call opened in text (`f"sum({x})"`, `"vector(1)"`), selector braces or
matchers around a value (`f"{name}{{"`, `f"{k}={v}"`), a range (`f"[{w}]"`), a binary operator
between values (`f"{a} / {b}"`) or an operator alone as glue (`" + ".join(...)`). Only the
printer (`slogen/promql/ast.py`) may do that. Alert prose is text, not PromQL; the functions
that write it are listed in PROSE, and each must exist so the list cannot go stale.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import ROOT

RENDER = ROOT / "generator" / "slogen" / "render"
MODULES = ("rules.py", "alerts.py", "promql_builders.py", "dashboards.py")
PROSE = {("alerts.py", "_describe")}  # the burn-rate description: "… over 1h and 5m …"

HOLE = "\x00"  # a formatted value's place in an f-string template
_OPERATORS = r"(?:\+|-|\*|/|\^|==|!=|<=|>=|<|>|and|or|unless|atan2)"  # `%`: see "modulo" (prose says "5 %")
PATTERNS = {  # searched in every string and f-string template
    "function call in text": re.compile(r"\b[a-z_][a-z0-9_]*\("),
    "selector braces after a value": re.compile(rf"{HOLE}\{{(?!\{{)"),
    "label matcher in text": re.compile(rf"(?:{HOLE}|\b[a-zA-Z_]\w*)(?:=~|!~|!=|=)(?:{HOLE}|\")"),
    "range in text": re.compile(rf"\[(?:{HOLE}|\d+(?:ms|[smhdwy]))"),
    "binary operator between values": re.compile(
        rf"(?:{HOLE}|\)|\b\d+)\s+{_OPERATORS}(?:\s+bool)?\s+(?:{HOLE}|\(|\d)"),
    "bool modifier in text": re.compile(rf"\bbool\s+(?:{HOLE}|\d)"),
    "modulo between values": re.compile(rf"{HOLE}\s+%\s+{HOLE}"),
}
GLUE_PATTERNS = {  # searched in strings that join or are concatenated (`" + ".join(...)`, `a + " / " + b`)
    "operator as glue": re.compile(rf"^\s+(?:{_OPERATORS}|%)(?:\s+bool)?\s+$"),
    "bracket as glue": re.compile(r"^\s*[{}\[\]()]+\s*$"),
}


def _template(node: ast.JoinedStr) -> str:
    return "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else HOLE
                   for v in node.values)


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


class _Finder(ast.NodeVisitor):
    """Collects (line, enclosing function, template, used as glue) of every string but docstrings."""

    def __init__(self) -> None:
        self.function = "<module>"
        self.found: list[tuple[int, str, str, bool]] = []
        self.docstrings: set[int] = set()
        self.glue: set[int] = set()

    def _body(self, node: ast.Module | ast.ClassDef | ast.FunctionDef) -> None:
        if node.body and isinstance(node.body[0], ast.Expr) and _is_str(node.body[0].value):
            self.docstrings.add(id(node.body[0].value))

    def visit_Module(self, node: ast.Module) -> None:
        self._body(node)
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._body(node)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._body(node)
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Add | ast.Mod):
            self.glue.update(id(side) for side in (node.left, node.right) if _is_str(side))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("join", "format") and _is_str(func.value):
            self.glue.add(id(func.value))
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self.found.append((node.lineno, self.function, _template(node), True))
        for value in node.values:  # strings nested in the formatted expressions are visited too
            if isinstance(value, ast.FormattedValue):
                self.visit(value.value)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and id(node) not in self.docstrings:
            self.found.append((node.lineno, self.function, node.value, id(node) in self.glue))


def problems(source: str, module: str = "snippet.py") -> list[str]:
    """Every PromQL-formatting string in `source`, as `module:line (function): kind: text`."""
    finder = _Finder()
    finder.visit(ast.parse(source))
    out = []
    for line, function, text, glue in finder.found:
        if (module, function) in PROSE:
            continue
        for kind, pattern in (PATTERNS | GLUE_PATTERNS if glue else PATTERNS).items():
            if pattern.search(text):
                out.append(f"{module}:{line} ({function}): {kind}: {text.replace(HOLE, '{…}')!r}")
    return out


def functions(source: str) -> set[str]:
    return {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("module", MODULES)
def test_generator_formats_no_promql(module: str) -> None:
    assert problems((RENDER / module).read_text(), module) == []


def test_prose_functions_exist() -> None:
    for module, function in PROSE:
        assert function in functions((RENDER / module).read_text()), (module, function)


# What gluing PromQL looked like in these modules before they built trees: each must be caught.
GLUED = [
    'def f(x):\n    return f"sum({x})"\n',
    'def f(slo):\n    return f"{{{c.LABEL_SERVICE}={quote(slo.service)}}}"\n',
    'def f(name, m):\n    return name + "{" + m + "}"\n',
    'def f(name, ids):\n    return f"{name}{{{ids}}}"\n',
    'def f(s, w):\n    return f"{s}[{w}]"\n',
    'def f(a, b):\n    return f"{a} / clamp_min({b}, 1e-300)"\n',
    'def f(a, t):\n    return f"{a} > {t}"\n',
    'def f(r, t):\n    return f"({r} <= bool {t})"\n',
    'def f(a, b):\n    return f"{a} or {b}"\n',
    'def f(parts):\n    return " + ".join(parts)\n',
    'def f(parts):\n    return "\\nor\\n".join(parts)\n',
    'def f(a, b):\n    return a + " / " + b\n',
    'def f():\n    return "vector(1)"\n',
    'def f(x):\n    return "sum(%s)" % x\n',
    'def f(x):\n    return "rate({}[5m])".format(x)\n',
    'def f(x):\n    return f"1 - ({x}) / 0.001"\n',
    'def f(x):\n    return f"1 - {x}"\n',
    'def f(r, op, t):\n    return f"({r} {op} bool {t})"\n',
]

# Prose, docstrings and names: none of them is flagged.
PLAIN = [
    'def f(who, window):\n    """Returns `sum(x) / y` text."""\n    return f"{who} has spent its {window} budget"\n',
    'def f(slo):\n    return f"{slo.service}/{slo.name}: error budget exhausted"\n',
    'def f():\n    return "{{ $value | humanizePercentage }}"\n',
    'LEGEND = f"{{{{{c.LABEL_SERVICE}}}}}/{{{{{c.LABEL_SLO}}}}}"\n',
    'def f(spec):\n    return f"Green above {spec.caution:g} %, yellow above {spec.warning:g} %"\n',
    'def f(ms, unit):\n    return f"{ms}{unit}"\n',
    'def f(q):\n    return urlencode({f"var-{c.LABEL_SERVICE}": q})\n',
]


@pytest.mark.parametrize("source", GLUED)
def test_the_check_catches_glued_promql(source: str) -> None:
    assert problems(source), source


@pytest.mark.parametrize("source", PLAIN)
def test_the_check_leaves_prose_alone(source: str) -> None:
    assert problems(source) == [], source


def test_the_check_catches_every_builder_that_glued_strings() -> None:
    # promql_builders.py as it was before the trees: each function that formatted PromQL is found.
    old = (Path(__file__).parent / "data" / "glued_promql_builders.py.txt").read_text()
    flagged = {p.split("(", 1)[1].split(")", 1)[0] for p in problems(old)}
    assert flagged == {"id_matchers", "series", "_with_range", "events_expr", "_good_expr", "_bad_expr", "_per_event",
                       "errors_expr", "raw_ratio_expr", "tiled_ratio", "_hour_picks", "hour_ratio", "hour_coverage"}
