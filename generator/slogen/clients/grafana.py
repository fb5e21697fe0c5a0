"""A small client for Grafana's classic HTTP API (`/api/...`): health, folders, dashboards, search.

Transport, deadlines, retries (connection errors, timeouts, 429 honouring Retry-After, 502,
503, 504), size limits, redirects and redaction are `slogen.clients.http`'s; this module adds
Grafana's meaning: any other failure becomes a `GrafanaError` (exit 3) whose one-line text names
what was being done and quotes Grafana's own `message`. Credentials travel only in headers to
Grafana's own origin, never in URLs, and are scrubbed from every message and trace.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import InsecureRequestWarning

from slogen.clients import http
from slogen.clients.http import HttpError, Limits, RetryCallback, basic_auth, split_credentials
from slogen.errors import RemoteError

log = logging.getLogger("slogen.http")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
SEARCH_PAGE = 1000
SEARCH_MAX_PAGES = 100  # 100,000 dashboards in one folder is not a folder slogen manages
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}")

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


def grafana_message(response: requests.Response) -> tuple[str, str]:
    """Grafana's (`message`, `status`) from an error body; the body's start when it is not JSON."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text[:4000].split())[:200], ""
    if isinstance(body, dict):
        return (" ".join(str(body.get("message") or body.get("error") or "").split())[:300],
                str(body.get("status") or "")[:40])
    return "", ""


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty dict (callers check the keys they need)."""
    return dict(value) if isinstance(value, dict) else {}


class Client:
    """Grafana over HTTP (thread-safe: the session keeps one connection pool per thread)."""

    def __init__(self, settings: Settings, on_retry: RetryCallback | None = None) -> None:
        url, user, password = split_credentials(settings.url)
        if user is not None and settings.auth_kind == "none":
            settings = Settings(**{**settings.__dict__, "user": user, "password": password})
        self.settings = settings
        s = settings
        auth = f"Bearer {s.token}" if s.token else basic_auth(s.user, s.password or "") \
            if s.auth_kind == "basic" and s.user is not None else None
        headers = {"Accept": "application/json", "User-Agent": "slogen"}
        if s.org_id:
            headers["X-Grafana-Org-Id"] = str(s.org_id)
        if s.insecure:
            warnings.simplefilter("ignore", InsecureRequestWarning)  # the CLI already warned once, loudly
        limits = Limits(timeout=s.timeout, retries=s.retries, backoff=s.backoff, retry_statuses=RETRY_STATUSES)
        self.http = http.Session(url, limits=limits, headers=headers, auth=auth,
                                 verify=s.ca_cert if s.ca_cert else not s.insecure, on_retry=on_retry,
                                 secrets=[*s.secrets(), *(p for p in (password,) if p)], pool_size=s.pool_size)
        self.base = self.http.shown

    def close(self) -> None:
        """Close the connection pools."""
        self.http.close()

    def scrub(self, text: str) -> str:
        """`text` without any secret of these settings."""
        return self.http.scrub(text)

    def request(self, method: str, path: str, what: str, *, ok: Iterable[int] = (200,),
                **kwargs: Any) -> requests.Response:
        """Send one request (with retries); a status outside `ok` raises GrafanaError about `what`."""
        try:
            response = self.http.request(method, path, what=what, **kwargs)
        except HttpError as exc:
            log.debug("%s %s failed: %s", method, path, self.scrub(str(exc)))
            raise GrafanaError(self.scrub(f"{what}: cannot reach Grafana at {self.base}: {exc}")) from None
        log.debug("%s %s -> %s", method, path, response.status_code)
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

    def search(self, *, tag: str, folder_uid: str, page_size: int = SEARCH_PAGE,
               max_pages: int = SEARCH_MAX_PAGES) -> list[dict[str, Any]]:
        """Every dashboard in `folder_uid` carrying `tag` (all pages, bounded: see http.paginate)."""
        what = f"search of folder {folder_uid}"

        def page(number: int) -> list[Any]:
            params: dict[str, str | int] = {"type": "dash-db", "tag": tag, "folderUIDs": folder_uid,
                                            "limit": page_size, "page": number}
            batch = self.json(self.request("GET", "/api/search", what, params=params), what)
            if not isinstance(batch, list):
                raise GrafanaError(f"{what}: unexpected answer from Grafana")
            return batch

        try:
            hits = http.paginate(page, page_size=page_size, max_pages=max_pages, what=what,
                                 key=lambda h: str(h.get("uid")) if isinstance(h, dict) else repr(h))
        except HttpError as exc:
            raise GrafanaError(str(exc)) from None
        return [h for h in hits if isinstance(h, dict)]


def shown_version(health: dict[str, Any]) -> str:
    """Grafana's version for a message: only a version-shaped string (a proxy may echo request headers)."""
    version = health.get("version")
    return version if isinstance(version, str) and _VERSION.fullmatch(version) else "unknown"
