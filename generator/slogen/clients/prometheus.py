"""A small Prometheus HTTP API client: instant queries with an optional evaluation time, parsed strictly.

The one module that asks Prometheus queries. Transport is `slogen.clients.http`: a total deadline
per attempt, retries of the connection setup only (never a request Prometheus already received,
so a slow query is not run twice), a bounded answer size, credentials from `user:pass@` sent as
a header to Prometheus' own origin only. Failures become `PrometheusError` (a `RemoteError`,
exit 3) with a message that says what went wrong.

The answer is parsed strictly: a non-2xx status is a failure whatever the body says; a sample
value must be a string in Prometheus' float format ("0.5", "1e-3", "NaN", "+Inf"), never a JSON
number, a bool or Python-only spellings such as "0_9" or " 1"; a timestamp must be a number.
Anything else is a malformed answer, never a value. `warnings` in an answer are kept.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import requests

from slogen import gcpause
from slogen.clients import http
from slogen.clients.http import HttpError, Limits, RetryCallback, redact
from slogen.errors import RemoteError

DEFAULT_URL = "http://localhost:9090"
DEFAULT_TIMEOUT = 10.0
QUERY_PATH = "/api/v1/query"


class PrometheusError(RemoteError):
    """Prometheus was unreachable, too slow, or answered with an error."""


class QueryRejectedError(PrometheusError):
    """Prometheus answered, and refused the query itself (bad PromQL, an evaluation error)."""


class Sample(NamedTuple):
    """One element of an instant vector: its labels (with `__name__` if any) and value.

    A NamedTuple, not a dataclass: a status read over 10,000 SLOs builds 20,000 of them.
    """

    labels: dict[str, str]
    value: float
    timestamp: float


@dataclass(frozen=True)
class QueryResult:
    """What an instant query returned, with any warnings Prometheus attached."""

    samples: list[Sample]
    warnings: list[str] = field(default_factory=list)


MAX_ANSWER = 256 * http.MiB  # 10,000 SLOs answer a few MiB
# Go's strconv.FormatFloat output as Prometheus writes sample values.
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN")


class PrometheusClient:
    """Instant queries against one Prometheus; `queries` counts the HTTP queries sent."""

    def __init__(self, base_url: str = DEFAULT_URL, *, timeout: float = DEFAULT_TIMEOUT,
                 connect_retries: int = 2, on_retry: RetryCallback | None = None) -> None:
        if timeout <= 0 or not math.isfinite(timeout):
            raise ValueError("timeout must be a positive number of seconds")
        self.timeout = timeout
        self.queries = 0
        self._retries = connect_retries
        # The connect attempts together fit in `timeout` (a black-holed host must not take 3x);
        # each attempt, once connected, gets the whole `timeout` for the answer.
        limits = Limits(timeout=timeout, connect_timeout=timeout / (connect_retries + 1), retries=connect_retries,
                        backoff=0.1, retry_statuses=frozenset(), retry_after_read=False, max_bytes=MAX_ANSWER)
        self.http = http.Session(base_url, limits=limits, headers={"Accept": "application/json",
                                                                   "User-Agent": "slogen"}, on_retry=on_retry)
        self.base_url = self.http.base_url  # without credentials
        self.shown_url = self.http.shown  # what messages show: never a password

    def close(self) -> None:
        """Release pooled connections."""
        self.http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        """Evaluate `expr` as of `at` (unix seconds; Prometheus' now when None)."""
        params: dict[str, str] = {"query": expr}
        if at is not None:
            if not math.isfinite(at):
                raise ValueError("the evaluation time must be a finite number of unix seconds")
            params["time"] = f"{at:.3f}"
        self.queries += 1
        try:
            response = self.http.request("GET", QUERY_PATH, params=params, what="query")
        except HttpError as exc:
            raise self._unreachable(exc) from None
        return _parse(self.shown_url, response, expr)

    def _unreachable(self, exc: HttpError, what: str = "") -> PrometheusError:
        cause = self.http.scrub(str(exc))
        if what:
            return PrometheusError(f"{what}: cannot reach Prometheus at {self.shown_url}: {cause}")
        if exc.kind == "connect-timeout":
            return PrometheusError(f"cannot connect to Prometheus at {self.shown_url}: no answer to "
                                   f"{self._retries + 1} connection attempts within {self.timeout:g}s")
        if exc.kind == "timeout":
            return PrometheusError(f"Prometheus at {self.shown_url} did not answer within {self.timeout:g}s")
        if exc.kind in ("refused", "dns", "tls"):
            return PrometheusError(f"cannot connect to Prometheus at {self.shown_url}: {cause}")
        return PrometheusError(f"request to Prometheus at {self.shown_url} failed: {cause}")

    def post_reload(self) -> tuple[int, str]:
        """`POST /-/reload` (the lifecycle API): the status and Prometheus' answer text (one line, bounded)."""
        try:
            response = self.http.request("POST", "/-/reload", what="reload")
        except HttpError as exc:
            raise self._unreachable(exc, "reload") from None
        return response.status_code, _error_text(response)

    def query_range(self, expr: str, start: float, end: float,
                    step: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """Evaluate `expr` at start, start + step, … ≤ end (unix seconds): each series' labels and
        (time, value) points. Sent as a form (POST): backfill expressions are long."""
        for value in (start, end, step):
            if not math.isfinite(value):
                raise ValueError("range query times must be finite unix seconds")
        self.queries += 1
        form = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        try:
            response = self.http.request("POST", "/api/v1/query_range", data=form, what="range query")
        except HttpError as exc:
            raise self._unreachable(exc) from None
        data = self._data(response, expr)
        try:
            if not isinstance(data, dict) or data.get("resultType") != "matrix":
                raise TypeError
            out = []
            for item in data["result"]:
                labels = item["metric"]
                if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                    raise TypeError
                points = [(s.timestamp, s.value) for s in (_pair({}, pair) for pair in item["values"])]
                out.append((labels, points))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise PrometheusError(f"Prometheus at {self.shown_url} returned a malformed range result; "
                                  f"query: {expr}") from None
        return out

    def api_data(self, path: str, what: str) -> Any:
        """The `data` of a GET of one of Prometheus' JSON API paths (`/api/v1/status/flags`, …)."""
        try:
            response = self.http.request("GET", path, what=what)
        except HttpError as exc:
            raise self._unreachable(exc, what) from None
        return self._data(response, path)

    def _data(self, response: requests.Response, what: str) -> Any:
        if response.status_code != 200:
            raise PrometheusError(f"Prometheus at {self.shown_url} answered HTTP {response.status_code} "
                                  f"(\"{_error_text(response)}\"); {what}")
        try:
            body = response.json()
            if not isinstance(body, dict) or body.get("status") != "success":
                raise TypeError
        except (ValueError, TypeError):
            raise PrometheusError(f"Prometheus at {self.shown_url} did not answer like Prometheus; {what}") from None
        return body.get("data")

    def rule_groups(self) -> list[dict[str, Any]]:
        """The rule groups Prometheus has loaded (`GET /api/v1/rules`), each with its `name` and `file`."""
        try:
            response = self.http.request("GET", "/api/v1/rules", what="rules listing")
        except HttpError as exc:
            raise self._unreachable(exc, "rules listing") from None
        if response.status_code != 200:
            raise PrometheusError(f"GET {self.shown_url}/api/v1/rules: HTTP {response.status_code}: "
                                  f"\"{_error_text(response)}\"")
        try:
            groups = response.json()["data"]["groups"]
            if not isinstance(groups, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise PrometheusError(f"{self.shown_url}/api/v1/rules did not answer like Prometheus") from None
        return [g for g in groups if isinstance(g, dict)]


def _parse(base_url: str, response: requests.Response, expr: str) -> QueryResult:
    with gcpause.paused():
        return _parse_body(base_url, response, expr)


def _parse_body(base_url: str, response: requests.Response, expr: str) -> QueryResult:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    status = " ".join(str(part) for part in (response.status_code, response.reason) if part)
    if not 200 <= response.status_code < 300:
        detail = body.get("error") if isinstance(body, dict) and body.get("status") == "error" else None
        shown = _snippet(str(detail) if detail else response.text)
        if detail:
            raise QueryRejectedError(f"Prometheus rejected the query (HTTP {response.status_code}) "
                                  f"{_snippet(str(body.get('errorType', 'error')))}: {shown}; query: {expr}")
        nature = "not an API response" if not isinstance(body, dict) else "an error status, whatever the body says"
        raise PrometheusError(f"Prometheus at {base_url} answered HTTP {status}, {nature}: {shown!r}")
    if not isinstance(body, dict) or "status" not in body:
        raise PrometheusError(f"Prometheus at {base_url} answered HTTP {status}, not an API response: "
                              f"{_snippet(response.text)!r}")
    raw_warnings = body.get("warnings") or []
    warnings = [_snippet(str(w)) for w in raw_warnings[:20]] if isinstance(raw_warnings, list) else []
    if body["status"] != "success":
        raise QueryRejectedError(f"Prometheus rejected the query (HTTP {response.status_code}) "
                              f"{_snippet(str(body.get('errorType', 'error')))}: "
                              f"{_snippet(str(body.get('error', 'no message')))}; query: {expr}")
    data = body.get("data")
    kind, result = (data.get("resultType"), data.get("result")) if isinstance(data, dict) else (None, None)
    try:
        if kind == "vector" and isinstance(result, list):
            return QueryResult(_vector(result), warnings)
        if kind == "scalar" and isinstance(result, list):
            return QueryResult([_pair({}, result)], warnings)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise PrometheusError(f"Prometheus at {base_url} returned a malformed instant vector (each element needs "
                              "a metric object of strings and a [time, \"value\"] pair with the value a float "
                              f"string); query: {expr}") from None
    raise PrometheusError(f"Prometheus returned a {_snippet(repr(kind))} result where an instant vector was "
                          f"expected; query: {expr}")


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            return _snippet(str(body.get("error") or body.get("message") or ""))
    except ValueError:
        pass
    return _snippet(response.text)


def _snippet(text: str, limit: int = 300) -> str:
    """At most `limit` characters of server text, on one line."""
    return " ".join(text[: limit * 4].split())[:limit]


def _vector(result: list[Any]) -> list[Sample]:
    """The samples of an instant vector, each checked strictly (a metric object of strings, a
    [time, "value"] pair): one loop without a call per item, as 10,000 SLOs answer 20,000 items."""
    out: list[Sample] = []
    append, fullmatch, finite, strings = out.append, _FLOAT.fullmatch, math.isfinite, itertools.repeat(str)
    for item in result:
        labels = item["metric"]
        if not isinstance(labels, dict) or not all(map(isinstance, labels.values(), strings)):
            raise TypeError("metric is not an object of strings")
        pair = item["value"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise TypeError("value is not a [time, value] pair")
        timestamp, value = pair
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float) or not finite(timestamp):
            raise TypeError("the timestamp is not a number")
        if not isinstance(value, str) or not fullmatch(value):
            raise ValueError("the value is not a float string")
        append(Sample(labels, float(value), float(timestamp)))
    return out


def _pair(labels: dict[str, str], pair: Any) -> Sample:
    if not isinstance(pair, list) or len(pair) != 2:
        raise TypeError("value is not a [time, value] pair")
    timestamp, value = pair
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float) or not math.isfinite(timestamp):
        raise TypeError("the timestamp is not a number")
    if not isinstance(value, str) or not _FLOAT.fullmatch(value):
        raise ValueError("the value is not a float string")
    return Sample(labels, float(value), float(timestamp))


def display_url(url: str) -> str:
    """`url` as messages show it (clients.http.redact: no password, no token parameter)."""
    return redact(url)
