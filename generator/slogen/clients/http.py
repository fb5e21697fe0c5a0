"""The one HTTP session factory of slogen: every request to Grafana, Prometheus or a ruler goes through here.

What every request gets, whoever sends it:
- a total deadline per attempt (connect, headers and body together, not per byte): a watchdog
  shuts the socket down when it passes, so a server dripping one byte a second cannot hold a
  deploy gate past `--timeout`;
- bounded retries, each announced through `on_retry(delay, cause, what)` (the CLI prints
  `retrying in 2 s (503)`); which failures are retried is the caller's `Limits`;
- a bounded response size (`max_bytes`), checked while reading;
- redirects followed by hand: credentials go only to the configured origin (scheme, host, port),
  a write redirected to another origin is refused, and the hops are bounded;
- credentials from a `user:pass@` URL become a header for that origin only, never stay in the URL;
- `redact` is the one function through which any URL is shown (no password, no token parameter).

`paginate` bounds any paged listing: it stops on a repeated page or after `max_pages`.
"""

from __future__ import annotations

import base64
import contextlib
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

RetryCallback = Callable[[float, str, str], None]  # (seconds until the retry, cause, what was being done)

MiB = 1 << 20
RETRY_AFTER_MAX = 60.0  # a server asking to wait longer is failing, not busy
READS = frozenset({"GET", "HEAD"})
# Query parameters whose values are secrets wherever they appear in a URL.
_SECRET_PARAM = re.compile(r"(?i)token|key|secret|passw|auth|signature|^sig$|credential|session")


class HttpError(Exception):
    """A request that produced no usable answer; the message is safe to show (URLs redacted)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # refused, timeout, reset, too-large, redirect, pages, tls, dns, error


@dataclass(frozen=True)
class Limits:
    """How one client's requests are bounded and retried."""

    timeout: float = 10.0  # seconds per attempt: connect + headers + body
    connect_timeout: float | None = None  # seconds to connect (default: `timeout`)
    retries: int = 4
    backoff: float = 0.5  # base of the exponential backoff (plus up to as much jitter)
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    retry_after_read: bool = True  # also retry timeouts and resets after the request was sent
    max_bytes: int = 32 * MiB
    max_redirects: int = 3


# ------------------------------------------------------------------ redaction


def redact(url: str) -> str:
    """`url` as it may be shown: `user:***@` for a password, `***` for token-like query values."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}" if ":" in userinfo else f"***@{host}"
        query = "&".join(_redact_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return re.sub(r"//[^/?#]*@", "//***@", url)


def _redact_pair(pair: str) -> str:
    name, sep, _ = pair.partition("=")
    return f"{name}=***" if sep and _SECRET_PARAM.search(unquote(name)) else pair


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (also URL-encoded) replaced by `***`."""
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`url` without `user:password@` (and without a trailing slash), plus that user and password."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url.rstrip("/"), None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)).rstrip("/")
    return clean, unquote(parts.username or ""), unquote(parts.password) if parts.password is not None else None


def basic_auth(user: str, password: str) -> str:
    """The `Authorization` value for HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in: credentials go to exactly one origin."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


# ------------------------------------------------------------------ the deadline watchdog

_current = threading.local()  # the connection the current thread's request is using


@dataclass
class _Attempt:
    conn: Any = None
    expired: bool = False

    def abort(self) -> None:
        self.expired = True
        sock = getattr(self.conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read; the request then fails


class _Tracking:
    """Mixin for urllib3 pools: note the connection an attempt uses, so its deadline can close it."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.conn = conn
        return conn


class _TrackingPool(_Tracking, HTTPConnectionPool):
    pass


class _TrackingHTTPSPool(_Tracking, HTTPSConnectionPool):
    pass


_POOLS = {"http": _TrackingPool, "https": _TrackingHTTPSPool}


class _Adapter(HTTPAdapter):
    """An adapter whose pools tell the watchdog which connection a request uses; no urllib3 retries."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


# ------------------------------------------------------------------ the session


@dataclass
class Session:
    """Requests to one base URL under `limits`. Thread-safe: each thread gets its own connection pool.

    `auth` is the `Authorization` header value, sent only to the base URL's origin; a password in
    `base_url` becomes basic auth when `auth` is not given. `secrets` are scrubbed from every message.
    """

    base_url: str
    limits: Limits = field(default_factory=Limits)
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: str | None = None
    verify: bool | str = True
    on_retry: RetryCallback | None = None
    secrets: Sequence[str] = ()
    pool_size: int = 8

    def __post_init__(self) -> None:
        self.shown = redact(self.base_url.rstrip("/"))
        clean, user, password = split_credentials(self.base_url)
        self.base_url = clean
        if self.auth is None and user is not None:
            self.auth = basic_auth(user, password or "")
        found = [s for s in (*self.secrets, password) if s]
        if self.auth:
            found += [self.auth, self.auth.split(" ", 1)[-1]]
        self.secrets = tuple(found)
        self._origin = origin(clean)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()  # trust_env on: HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE apply
            session.trust_env = True
            adapter = _Adapter(max_retries=0, pool_connections=self.pool_size, pool_maxsize=self.pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every pool this session opened."""
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    def scrub(self, text: str) -> str:
        """`text` without any secret of this session."""
        return scrub(text, self.secrets)

    def url(self, path: str) -> str:
        """The absolute URL of `path` under the base URL."""
        return self.base_url + path

    def request(self, method: str, path: str, *, what: str = "", params: Mapping[str, Any] | None = None,
                json: Any = None, data: Any = None) -> requests.Response:
        """One request with the limits' retries; the response of the last attempt (any status)."""
        method = method.upper()
        what = what or f"{method} {urlsplit(path).path}"
        limits = self.limits
        attempt = 0
        while True:
            try:
                response = self._follow(method, self.url(path), params, json, data, what)
            except HttpError as exc:
                retryable = exc.kind in ("refused", "dns", "connect-timeout") or (
                    limits.retry_after_read and exc.kind in ("timeout", "reset"))
                if not retryable or attempt >= limits.retries:
                    raise
                delay, cause = self._backoff(attempt), str(exc.kind).replace("-", " ")
            else:
                if response.status_code not in limits.retry_statuses or attempt >= limits.retries:
                    return response
                wait = _retry_after(response)
                if wait is not None and wait > RETRY_AFTER_MAX:
                    return response  # asked to come back much later: a failure now, not a wait
                delay, cause = (wait if wait is not None else self._backoff(attempt)), str(response.status_code)
            attempt += 1
            if self.on_retry is not None:
                self.on_retry(delay, cause, what)
            time.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        base = self.limits.backoff
        return float(min(base * 2.0 ** attempt, base * 16.0)) + random.uniform(0, base)

    def _follow(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any, data: Any,
                what: str) -> requests.Response:
        for _ in range(self.limits.max_redirects + 1):
            response = self._send(method, url, params, json, data)
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                return response
            target = urljoin(url, location)
            same = origin(target) == self._origin
            if urlsplit(target).scheme not in ("http", "https"):
                raise HttpError(f"{what}: redirected to {redact(target)}: not an http(s) URL", "redirect")
            if method not in READS and not same:
                raise HttpError(f"{what}: {redact(url)} redirected the write to another host "
                                f"({redact(target)}); refused: check the URL", "redirect")
            if method not in READS and response.status_code not in (307, 308):
                raise HttpError(f"{what}: {redact(url)} answered HTTP {response.status_code} to a write "
                                f"(moved to {redact(target)}); refused: check the URL", "redirect")
            url, params = target, None  # the Location carries its own query
        raise HttpError(f"{what}: more than {self.limits.max_redirects} redirects from {redact(url)}", "redirect")

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
              data: Any) -> requests.Response:
        limits = self.limits
        headers = dict(self.headers)
        if self.auth and origin(url) == self._origin:
            headers["Authorization"] = self.auth
        attempt = _Attempt()
        watchdog = threading.Timer(limits.timeout, attempt.abort)
        watchdog.daemon = True
        deadline = time.monotonic() + limits.timeout
        _current.attempt = attempt
        watchdog.start()
        shown = redact(url)
        try:
            connect = min(limits.connect_timeout or limits.timeout, limits.timeout)
            response = self._session().request(
                method, url, params=params, json=json, data=data, headers=headers, stream=True,
                allow_redirects=False, verify=self.verify, timeout=(connect, limits.timeout),
                auth=_NoAuth(),
            )
            try:
                declared = int(response.headers.get("Content-Length") or 0)
            except ValueError:
                declared = 0
            if declared > limits.max_bytes:
                response.close()
                raise HttpError(f"the answer is {declared} bytes, more than the {_size(limits.max_bytes)} "
                                "slogen accepts", "too-large")
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > limits.max_bytes:
                    response.close()
                    raise HttpError(f"the answer is larger than the {_size(limits.max_bytes)} slogen accepts",
                                    "too-large")
                if time.monotonic() > deadline:
                    raise _expired(shown, limits.timeout)
            if attempt.expired:
                raise _expired(shown, limits.timeout)
            response._content = bytes(body)
            response._content_consumed = True  # type: ignore[attr-defined]
            return response
        except requests.RequestException as exc:
            if attempt.expired:
                raise _expired(shown, limits.timeout) from None
            raise _transport_error(exc, shown, limits) from None
        finally:
            watchdog.cancel()
            _current.attempt = None


class _NoAuth(requests.auth.AuthBase):
    """Stops requests from applying ~/.netrc or URL credentials: auth is the Session's header, per origin."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def _size(n: int) -> str:
    return f"{n / MiB:g} MiB" if n >= MiB else f"{n} bytes"


def _expired(shown: str, timeout: float) -> HttpError:
    return HttpError(f"timed out: no complete answer within {timeout:g}s", "timeout")


def _transport_error(exc: requests.RequestException, shown: str, limits: Limits) -> HttpError:
    """The cause of a transport failure, short (the caller names the server); never a URL with secrets."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return HttpError(f"no answer to the connection attempt within {limits.connect_timeout or limits.timeout:g}s",
                         "connect-timeout")
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text.lower():
        return _expired(shown, limits.timeout)
    if isinstance(exc, requests.exceptions.SSLError):
        return HttpError("TLS error (use --ca-cert FILE for a private CA)", "tls")
    if "Name or service not known" in text or "getaddrinfo" in text or "nodename nor servname" in text \
            or "Temporary failure in name resolution" in text:
        return HttpError("host name not found", "dns")
    if isinstance(exc, requests.exceptions.ConnectionError) and (
            "Connection refused" in text or "NewConnectionError" in text or "No route to host" in text):
        return HttpError("connection refused", "refused")
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text.lower() \
            or isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return HttpError("connection closed by the server", "reset")
    return HttpError(type(exc).__name__, "error")


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from a Retry-After header (on 429 and 503 only), None when absent or unparseable."""
    value = response.headers.get("Retry-After")
    if response.status_code not in (429, 503) or not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


# ------------------------------------------------------------------ pagination


def paginate(fetch: Callable[[int], Sequence[Any]], *, page_size: int, max_pages: int,
             key: Callable[[Any], str], what: str) -> list[Any]:
    """Every item of a paged listing (pages 1, 2, ...; a short page is the last).

    Raises HttpError (kind `pages`) when a page repeats one already read (a server ignoring the
    page parameter would otherwise be read forever) or when there are more than `max_pages`.
    """
    items: list[Any] = []
    seen: set[str] = set()
    for page in range(1, max_pages + 1):
        batch = list(fetch(page))
        keys = [key(item) for item in batch]
        if batch and all(k in seen for k in keys):
            raise HttpError(f"{what}: page {page} repeats items already read (the server ignores paging); "
                            "stopped", "pages")
        seen.update(keys)
        items.extend(batch)
        if len(batch) < page_size:
            return items
    raise HttpError(f"{what}: more than {max_pages} pages of {page_size}; stopped", "pages")
