"""A small client for Grafana's classic HTTP API (`/api/...`): health, folders, dashboards, search.

Every request has a timeout; connection errors, timeouts, 429 (honouring Retry-After), 502,
503 and 504 are retried a bounded number of times with exponential backoff and jitter; any
other failure becomes a `GrafanaError` (exit 3) whose one-line text names what was being done
and quotes Grafana's own `message`. Credentials travel only in headers, never in URLs, and are
scrubbed from every message and trace.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import InsecureRequestWarning, InvalidHeader
from urllib3.util.retry import Retry

from slogen.errors import RemoteError

log = logging.getLogger("slogen.http")

RETRY_STATUSES = (429, 502, 503, 504)
RETRY_AFTER_MAX = 60  # seconds: a server asking for longer is treated as failing, not waited on

HINTS = {
    400: "Grafana rejected the request",
    401: "not authenticated: check GRAFANA_TOKEN, or GRAFANA_USER/GRAFANA_PASSWORD",
    403: "not allowed",
    404: "not found",
    409: "conflict",
    412: "precondition failed",
    413: "too large",
    500: "Grafana internal error",
}


class GrafanaError(RemoteError):
    """Grafana was unreachable, unhealthy, or refused a request (exit 3)."""


@dataclass(frozen=True)
class Settings:
    """How to reach Grafana. `password` and `token` are secrets: never print this object's fields."""

    url: str = "http://localhost:3000"
    token: str | None = None
    user: str | None = None
    password: str | None = None
    org_id: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 0.5
    pool_size: int = 8

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug prints
        return f"Settings(url={self.url!r}, org_id={self.org_id!r}, auth={self.auth_kind})"

    @property
    def auth_kind(self) -> str:
        """`token`, `basic` or `none`."""
        return "token" if self.token else "basic" if self.user else "none"

    def secrets(self) -> list[str]:
        """Every secret string, for scrubbing."""
        import base64

        found = [s for s in (self.token, self.password) if s]
        if self.user is not None and self.password:
            found.append(base64.b64encode(f"{self.user}:{self.password}".encode()).decode())
        return found


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`url` without any `user:password@`, plus that user and password (credentials never stay in URLs)."""
    from urllib.parse import unquote

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url.rstrip("/"), None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)).rstrip("/")
    return clean, unquote(parts.username or ""), unquote(parts.password) if parts.password is not None else None


class _TracingRetry(Retry):
    """urllib3 Retry that logs each retry (method, path, cause) so --verbose shows the backoff.

    Retry-After is honoured only on 429 and 503 (urllib3 would also retry a 413 carrying it),
    and an unparseable Retry-After falls back to the exponential backoff instead of failing.
    """

    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            return 0.0

    def increment(self, method: str | None = None, url: str | None = None,
                  response: BaseHTTPResponse | None = None, error: Exception | None = None,
                  _pool: ConnectionPool | None = None, _stacktrace: TracebackType | None = None) -> Self:
        cause = f"HTTP {response.status}" if response is not None else type(error).__name__ if error else "?"
        log.debug("retrying %s %s after %s", method, urlsplit(url or "").path, cause)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def build_session(*, retries: int, backoff: float, pool_size: int = 8) -> requests.Session:
    """A Session whose adapter retries connection errors, timeouts and 429/502/503/504 with backoff + jitter."""
    retry = _TracingRetry(
        total=retries, connect=retries, read=retries, status=retries, other=0, redirect=0,
        allowed_methods=None,  # every call slogen makes is idempotent (overwrite: true, 409 = exists)
        status_forcelist=RETRY_STATUSES, backoff_factor=backoff, backoff_max=max(backoff * 16, backoff),
        backoff_jitter=backoff, respect_retry_after_header=True, retry_after_max=RETRY_AFTER_MAX,
        raise_on_status=False, raise_on_redirect=False,
    )
    session = requests.Session()  # trust_env stays on: HTTPS_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE apply
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text


def describe_exception(exc: requests.RequestException) -> str:
    """A short cause for a transport failure (the full urllib3 text is long and repeats the URL)."""
    text = str(exc)
    if isinstance(exc, requests.Timeout) or "timed out" in text.lower():
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (use --ca-cert FILE for a private CA)"
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "Name or service not known" in text or "getaddrinfo" in text or "nodename nor servname" in text:
        return "host name not found"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "connection closed by the server"
    return type(exc).__name__


def grafana_message(response: requests.Response) -> tuple[str, str]:
    """Grafana's (`message`, `status`) from an error body; the body's start when it is not JSON."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200], ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "").strip(), str(body.get("status") or "")
    return "", ""


class _Bearer(AuthBase):
    """`Authorization: Bearer <token>`; the token is never part of repr()."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(***)"


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty dict (callers check the keys they need)."""
    return dict(value) if isinstance(value, dict) else {}


class Client:
    """Grafana over HTTP. Thread-safe: each thread gets its own Session (connection pool)."""

    def __init__(self, settings: Settings) -> None:
        url, user, password = split_credentials(settings.url)
        if user is not None and settings.auth_kind == "none":
            settings = Settings(**{**settings.__dict__, "user": user, "password": password})
        self.settings = settings
        self.base = url
        self._local = threading.local()
        self._secrets = settings.secrets() + [s for s in (password,) if s]
        self._headers = {"Accept": "application/json", "User-Agent": "slogen"}
        if settings.org_id:
            self._headers["X-Grafana-Org-Id"] = str(settings.org_id)
        if settings.insecure:
            warnings.simplefilter("ignore", InsecureRequestWarning)  # the CLI already warned once, loudly

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            s = self.settings
            session = build_session(retries=s.retries, backoff=s.backoff, pool_size=s.pool_size)
            session.headers.update(self._headers)
            # Auth goes through session.auth (not a default header) so that a ~/.netrc entry can
            # never replace the token: requests consults netrc only when no auth is set.
            if s.token:
                session.auth = _Bearer(s.token)
            elif s.auth_kind == "basic" and s.user is not None:
                session.auth = HTTPBasicAuth(s.user, s.password or "")
            session.verify = s.ca_cert if s.ca_cert else not s.insecure
            self._local.session = session
        return session

    def close(self) -> None:
        """Close this thread's session (pools of worker threads are closed with their threads)."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()

    def scrub(self, text: str) -> str:
        """`text` without any secret of these settings."""
        return scrub(text, self._secrets)

    def request(self, method: str, path: str, what: str, *, ok: Iterable[int] = (200,),
                **kwargs: Any) -> requests.Response:
        """Send one request (with retries); a status outside `ok` raises GrafanaError about `what`."""
        started = time.monotonic()
        try:
            session = self._session()
            # verify is passed per request: requests lets REQUESTS_CA_BUNDLE override session.verify
            response = session.request(method, self.base + path, timeout=self.settings.timeout,
                                       verify=session.verify, **kwargs)
        except requests.RequestException as exc:
            log.debug("%s %s failed after %.2fs: %s", method, path, time.monotonic() - started,
                      self.scrub(describe_exception(exc)))
            raise GrafanaError(self.scrub(f"{what}: cannot reach Grafana at {self.base}: "
                                          f"{describe_exception(exc)}")) from None
        log.debug("%s %s -> %s in %.2fs", method, path, response.status_code, time.monotonic() - started)
        if response.status_code not in set(ok):
            raise self.error(what, response)
        return response

    def json(self, response: requests.Response, what: str) -> Any:
        """The response's JSON body; a GrafanaError when it is not JSON (a proxy page, not Grafana)."""
        try:
            return response.json()
        except ValueError:
            raise GrafanaError(f"{what}: {self.base} answered HTTP {response.status_code} without JSON "
                               "(is this Grafana, or a proxy in front of it?)") from None

    def error(self, what: str, response: requests.Response) -> GrafanaError:
        """A one-line GrafanaError for an unexpected response."""
        code = response.status_code
        message, status = grafana_message(response)
        hint = HINTS.get(code, "unexpected answer")
        if code == 403 and "quota" in message.lower():
            hint = "quota reached: delete dashboards or raise the org's quota"
        elif code == 412 and status == "version-mismatch":
            hint = "changed by someone else meanwhile"
        elif code == 412 and status == "plugin-dashboard":
            hint = "the dashboard belongs to a plugin"
        elif code == 400 and "provisioned" in message.lower():
            hint = "the dashboard is file-provisioned; change it through provisioning, not push"
        elif code in RETRY_STATUSES:
            hint = f"still failing after {self.settings.retries} retries"
        quoted = f': "{message}"' if message else ""
        text = f"{what}: HTTP {code} {hint}{quoted}".replace("\n", " ")
        return GrafanaError(self.scrub(text))

    # ------------------------------------------------------------------ API calls
    def health(self) -> dict[str, Any]:
        """`GET /api/health`; raises unless the database is ok."""
        response = self.request("GET", "/api/health", "Grafana health check", ok=(200, 503))
        body = self.json(response, "Grafana health check")
        if response.status_code != 200 or not isinstance(body, dict) or body.get("database") != "ok":
            database = body.get("database") if isinstance(body, dict) else None
            raise GrafanaError(f"Grafana at {self.base} is unhealthy: database {database or 'unknown'}")
        return body

    def get_folder(self, uid: str) -> dict[str, Any] | None:
        """The folder, or None when it does not exist."""
        response = self.request("GET", f"/api/folders/{quote(uid, safe='')}", f"folder {uid}", ok=(200, 404))
        return None if response.status_code == 404 else _object(self.json(response, f"folder {uid}"))

    def ensure_folder(self, uid: str, title: str) -> tuple[dict[str, Any], bool]:
        """The folder, created when missing; (folder, created). A 409/412 race on create means it exists."""
        found = self.get_folder(uid)
        if found is not None:
            return found, False
        response = self.request("POST", "/api/folders", f"folder {uid} ({title})", ok=(200, 409, 412),
                                json={"uid": uid, "title": title})
        if response.status_code == 200:
            return _object(self.json(response, f"folder {uid}")), True
        found = self.get_folder(uid)  # another writer created it between our GET and POST
        if found is None:
            raise self.error(f"folder {uid} ({title})", response)
        return found, False

    def get_dashboard(self, uid: str, what: str = "") -> dict[str, Any] | None:
        """`{"dashboard": ..., "meta": ...}` or None when there is no dashboard with that uid."""
        what = what or f"dashboard {uid}"
        response = self.request("GET", f"/api/dashboards/uid/{quote(uid, safe='')}", what, ok=(200, 404))
        return None if response.status_code == 404 else _object(self.json(response, what))

    def save_dashboard(self, model: dict[str, Any], folder_uid: str, message: str, what: str) -> dict[str, Any]:
        """`POST /api/dashboards/db` with id null and overwrite; Grafana's answer (uid, version, url)."""
        body = {"dashboard": {**model, "id": None}, "folderUid": folder_uid, "overwrite": True,
                "message": message[:500]}
        return _object(self.json(self.request("POST", "/api/dashboards/db", what, json=body), what))

    def delete_dashboard(self, uid: str, what: str) -> None:
        """Delete a dashboard; already gone counts as deleted."""
        self.request("DELETE", f"/api/dashboards/uid/{quote(uid, safe='')}", what, ok=(200, 404))

    def search(self, *, tag: str, folder_uid: str, page_size: int = 1000) -> list[dict[str, Any]]:
        """Every dashboard in `folder_uid` carrying `tag` (all pages)."""
        hits: list[dict[str, Any]] = []
        page = 1
        while True:
            params: dict[str, str | int] = {"type": "dash-db", "tag": tag, "folderUIDs": folder_uid,
                                            "limit": page_size, "page": page}
            what = f"search of folder {folder_uid}"
            batch = self.json(self.request("GET", "/api/search", what, params=params), what)
            if not isinstance(batch, list):
                raise GrafanaError(f"search of folder {folder_uid}: unexpected answer from Grafana")
            hits.extend(h for h in batch if isinstance(h, dict))
            if len(batch) < page_size:
                return hits
            page += 1

