"""The published JSON Schema of slos.yaml (slogen/v1) and its translation into plain-English problems."""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from slogen.errors import Problem
from slogen.spec.yamlpos import Located, json_path

if TYPE_CHECKING:  # jsonschema is imported when a spec is validated: a cached spec never needs it
    import jsonschema
    from jsonschema.exceptions import ValidationError

SPEC_VERSION = "slogen/v1"
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
}


@cache
def schema_text() -> str:
    """The JSON Schema as shipped in the package (what `slogen schema` prints)."""
    return resources.files("slogen").joinpath("data/slos.schema.json").read_text(encoding="utf-8")


@cache
def _validator() -> jsonschema.Draft202012Validator:
    # Compiled once per process: building the validator dominates small validations.
    import jsonschema

    strict = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})
    return strict(json.loads(schema_text()))


@cache
def _anchored(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262, where `$` is the end of the string; in Python's `re` it
    # also matches before a final newline, which let "name\n" through as a label name.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _anchored(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _fast_validator() -> Any:
    """jsonschema-rs's compiled validator for the same schema (ECMA-262 patterns, where `$` is the
    end of the string as `_anchored` makes it), or None where it cannot be had."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.validator_for(json.loads(schema_text()))


def _surely_valid(data: Any) -> bool:
    """True when jsonschema-rs finds no violation: tens of times faster than `jsonschema`, which
    then is only asked for the messages of an invalid document (tests/test_schema_fast.py checks
    the two agree)."""
    fast = _fast_validator()
    if fast is None:
        return False
    try:
        return bool(fast.is_valid(data))
    except Exception:  # a value it cannot convert (a YAML timestamp, a huge integer): ask jsonschema
        return False


def schema_problems(located: Located) -> list[Problem]:
    """Every schema violation in the document, each with its position and a readable message."""
    if _surely_valid(located.data):
        return []
    out: list[Problem] = []
    for error in _validator().iter_errors(located.data):
        out.extend(_translate(error, located))
    return out


def _typename(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _at(located: Located, path: tuple[Any, ...], message: str, *, key: bool = False) -> Problem:
    line, col = located.position(path, key=key)
    return Problem(line, col, json_path(path), message)


def _translate(error: ValidationError, located: Located) -> list[Problem]:
    path = tuple(error.absolute_path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        problems = []
        for extra in sorted((k for k in instance if k not in known), key=str):
            hint = difflib.get_close_matches(str(extra), known, n=1, cutoff=0.6)
            advice = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(known)}"
            problems.append(_at(located, (*path, extra), f"unknown key {extra!r}{advice}", key=True))
        return problems
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [_at(located, path, f"missing required key {missing!r}")]
    if kind == "type" and path and path[-1] == "threshold":
        return [_at(located, path, f"threshold {instance!r} is not a duration: write it with a unit, e.g. 300ms or 2s")]
    if kind == "type":
        want = schema.get("type")
        wanted = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in (want if isinstance(want, list) else [want]))
        return [_at(located, path, f"expected {wanted}, got {_typename(instance)}")]
    if kind == "const" and path == ("version",):
        return [_at(located, path, f"unknown version {instance!r}; this slogen reads {SPEC_VERSION!r}")]
    if kind == "enum":
        choices = ", ".join(str(c) for c in schema.get("enum", []))
        what = "unsupported window" if path and path[-1] == "window" else "unsupported value"
        return [_at(located, path, f"{what} {instance!r}; use one of {choices}")]
    if kind == "pattern" and path and path[-1] == "name":
        return [_at(located, path, f"invalid name {instance!r}: use lower-case letters, digits and '-', "
                                   "starting and ending with a letter or digit (it becomes part of rule "
                                   "names, dashboard uids and file names)")]
    if kind == "pattern" and path and path[-1] == "metric":
        return [_at(located, path, f"{instance!r} is not a valid Prometheus metric name")]
    if kind == "pattern" and path and path[-1] == "uid":
        return [_at(located, path, f"invalid uid {instance!r}: at most 40 of a-z A-Z 0-9 '-' '_'")]
    if "propertyNames" in error.schema_path:
        return [_at(located, (*path, instance), f"{instance!r} is not a valid Prometheus label name "
                                                "(letters, digits and '_', not starting with a digit)", key=True)]
    if kind in ("exclusiveMinimum", "exclusiveMaximum") and path and path[-1] == "objective":
        return [_at(located, path, f"objective {instance!r} is out of range: give a percent strictly between "
                                   "0 and 100, e.g. 99.9")]
    if kind in ("minimum", "maximum"):
        return [_at(located, path, f"{instance!r} is out of range: give a percent from 0 to 100")]
    if kind == "maxLength":
        return [_at(located, path, f"{instance!r} is too long (at most {schema.get('maxLength')} characters)")]
    if kind == "minLength":
        return [_at(located, path, "must not be empty")]
    if kind == "minItems":
        return [_at(located, path, f"needs at least {schema.get('minItems')} item")]
    if kind == "oneOf" and isinstance(instance, dict) and "ratio" in schema.get("properties", {}):
        return [_expr_shape(located, path, instance)]
    if kind == "oneOf" and isinstance(instance, dict) and "total" in schema.get("properties", {}):
        return [_at(located, path, "give exactly one of 'errors' or 'good' (beside 'total')")]
    if kind in ("minProperties", "maxProperties") and path and path[-1] == "sli":
        return [_at(located, path, "choose exactly one SLI kind: ratio, latency or expr")]
    return [_at(located, path, error.message)]


def _expr_shape(located: Located, path: tuple[Any, ...], instance: dict[str, Any]) -> Problem:
    """An `expr` SLI is either `ratio` alone or `total` with one of `errors`/`good`."""
    if "ratio" in instance:
        others = ", ".join(repr(k) for k in ("errors", "good", "total") if k in instance)
        return _at(located, path, f"'ratio' gives the error ratio by itself: drop {others}")
    if "total" not in instance:
        return _at(located, path, "missing required key 'total' (or give 'ratio' alone)")
    return _at(located, path, "give exactly one of 'errors' or 'good' (beside 'total')")
