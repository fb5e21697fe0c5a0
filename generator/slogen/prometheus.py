"""A small Prometheus HTTP API client: instant queries with an optional evaluation time.

The one module that talks to Prometheus. Every call has an explicit timeout; urllib3 retries
only the connection setup (a refused or reset connect), never a request Prometheus already
received, so a slow query is not run twice. Failures become `PrometheusError` (a `RemoteError`,
exit 3) with a message that says what went wrong: refused, timed out, HTTP status, or the
PromQL `errorType: error` Prometheus returned. `warnings` in an answer are kept, not dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from slogen import gcpause
from slogen.errors import RemoteError

DEFAULT_URL = "http://localhost:9090"
DEFAULT_TIMEOUT = 10.0
QUERY_PATH = "/api/v1/query"


class PrometheusError(RemoteError):
    """Prometheus was unreachable, too slow, or answered with an error."""


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


class PrometheusClient:
    """Instant queries against one Prometheus; `queries` counts the HTTP queries sent."""

    def __init__(self, base_url: str = DEFAULT_URL, *, timeout: float = DEFAULT_TIMEOUT,
                 connect_retries: int = 2) -> None:
        if timeout <= 0 or not math.isfinite(timeout):
            raise ValueError("timeout must be a positive number of seconds")
        self.base_url = base_url.rstrip("/")
        self.shown_url = display_url(self.base_url)  # what messages show: never a password
        self.timeout = timeout
        # The connect attempts together fit in `timeout` (a black-holed host must not take 3×);
        # the wait for the answer gets the whole `timeout` on top.
        self._timeouts = (timeout / (connect_retries + 1), timeout)
        self.queries = 0
        self._retries = connect_retries
        self._session = requests.Session()
        # Retry the connect only: reads and statuses are not retried (the query may be expensive).
        # read=False re-raises a read timeout as itself (with 0 it would surface as a connection error).
        retry = Retry(total=connect_retries, connect=connect_retries, read=False, status=0, other=0,
                      redirect=2, backoff_factor=0.1, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        """Evaluate `expr` as of `at` (unix seconds; Prometheus' now when None)."""
        params: dict[str, str] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        self.queries += 1
        url = self.base_url + QUERY_PATH
        try:
            response = self._session.get(url, params=params, timeout=self._timeouts)
        except requests.exceptions.ConnectTimeout:
            raise PrometheusError(f"cannot connect to Prometheus at {self.shown_url}: no answer to "
                                  f"{self._retries + 1} connection attempts within {self.timeout:g}s") from None
        except requests.exceptions.Timeout:
            raise PrometheusError(f"Prometheus at {self.shown_url} did not answer within "
                                  f"{self.timeout:g}s") from None
        except requests.exceptions.ConnectionError as exc:
            raise PrometheusError(f"cannot connect to Prometheus at {self.shown_url}: "
                                  f"{_reason(exc, self.base_url)}") from None
        except requests.exceptions.RequestException as exc:
            raise PrometheusError(f"request to Prometheus at {self.shown_url} failed: "
                                  f"{_reason(exc, self.base_url)}") from None
        return _parse(self.shown_url, response, expr)


def _parse(base_url: str, response: requests.Response, expr: str) -> QueryResult:
    with gcpause.paused():
        return _parse_body(base_url, response, expr)


def _parse_body(base_url: str, response: requests.Response, expr: str) -> QueryResult:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status" not in body:
        snippet = " ".join(response.text.split())[:200]
        status = " ".join(str(part) for part in (response.status_code, response.reason) if part)
        raise PrometheusError(f"Prometheus at {base_url} answered HTTP {status}, not an API response: "
                              f"{snippet!r}")
    warnings = [str(w) for w in body.get("warnings") or []]
    if body["status"] != "success":
        raise PrometheusError(f"Prometheus rejected the query (HTTP {response.status_code}) "
                              f"{body.get('errorType', 'error')}: {body.get('error', 'no message')}; "
                              f"query: {expr}")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "vector" and isinstance(result, list):
        try:
            return QueryResult([_sample(item) for item in result], warnings)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise PrometheusError(f"Prometheus at {base_url} returned a malformed instant vector (an element "
                                  f"without a metric object and a [time, value] pair); query: {expr}") from None
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return QueryResult([Sample({}, float(result[1]), float(result[0]))], warnings)
    raise PrometheusError(f"Prometheus returned a {kind!r} result where an instant vector was expected; "
                          f"query: {expr}")


def _sample(item: dict[str, Any]) -> Sample:
    timestamp, value = item["value"]
    labels = item.get("metric", {})
    if not isinstance(labels, dict):
        raise TypeError("metric is not an object")
    # JSON object keys and Prometheus label values are strings already: the dict is used as is.
    return Sample(labels, float(value), float(timestamp))


def display_url(url: str) -> str:
    """`url` without its password (PROMETHEUS_URL may carry basic-auth credentials)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _reason(exc: BaseException, url: str) -> str:
    """The innermost cause of a requests/urllib3 error, without the pool's boilerplate or secrets."""
    text = str(exc)
    password = urlsplit(url).password
    if password:
        text = text.replace(password, "***")
    for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                   "No route to host", "Connection reset by peer", "Network is unreachable"):
        if marker in text:
            return marker.lower()
    return text[:300]
