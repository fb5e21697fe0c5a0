"""A stand-in Grafana for tests: a real, stateful HTTP server on 127.0.0.1 speaking the classic `/api`.

It implements what `slogen push` uses, with Grafana's documented status codes and bodies
(Grafana's HTTP API reference, https://grafana.com/docs/grafana/latest/developers/http_api/): health, folders (GET, POST with 409 on an existing uid),
dashboards (POST /api/dashboards/db with versions incremented per save, 412 version-mismatch
without overwrite, 400 folder-not-found / provisioned / message too long, 403 "Quota reached"),
GET/DELETE by uid, search by tag and folder. Auth is enforced (Bearer token or basic), and so
is the org header. Faults are injected per method and path: a status with a body and headers
for the next N matching requests, a delay, or an action run before the normal handling.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback import serve


@dataclass
class Fault:
    """The next `times` requests matching method and path prefix get this treatment."""

    method: str
    path: str
    times: int
    status: int | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    before: Callable[[], None] | None = None


@dataclass
class Seen:
    """One request as received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float
    status: int = 0


class Standin:
    """The server's state and controls; `url` is its base URL while running."""

    def __init__(self, *, token: str | None = "good-token", user: str | None = None, password: str | None = None,
                 orgs: tuple[int, ...] = (1,), quota: int | None = None) -> None:
        self.token, self.user, self.password, self.orgs, self.quota = token, user, password, orgs, quota
        self.lock = threading.Lock()
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}  # uid → {model, folderUid, provisioned}
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.next_id = 1
        self.healthy = True
        self.url = ""
        self.inflight = 0
        self.max_inflight = 0  # most requests handled at once: shows the client's concurrency

    # ------------------------------------------------------------------ test controls
    def fail(self, method: str, path: str, status: int, body: dict[str, Any] | None = None, *, times: int = 1,
             headers: dict[str, str] | None = None, before: Callable[[], None] | None = None) -> None:
        """Answer the next `times` `method path*` requests with `status` and `body` (after `before()`)."""
        self.faults.append(Fault(method, path, times, status, body, headers or {}, before=before))

    def slow(self, method: str, path: str, delay: float, *, times: int = 1) -> None:
        """Delay the next `times` matching requests by `delay` seconds (then answer normally)."""
        self.faults.append(Fault(method, path, times, delay=delay))

    def before(self, method: str, path: str, action: Callable[[], None], *, times: int = 1) -> None:
        """Run `action` before handling the next matching requests (e.g. another writer's change)."""
        self.faults.append(Fault(method, path, times, before=action))

    def add_folder(self, uid: str, title: str) -> None:
        """A folder that exists before the test's push."""
        with self.lock:
            self.folders[uid] = {"id": self._id(), "uid": uid, "title": title, "version": 1}

    def add_dashboard(self, model: dict[str, Any], folder_uid: str, *, provisioned: bool = False) -> None:
        """A dashboard that exists before the test's push (not counted as a request)."""
        with self.lock:
            stored = {**model, "id": self._id(), "version": 1}
            self.dashboards[model["uid"]] = {"model": stored, "folderUid": folder_uid, "provisioned": provisioned}

    def requests(self, method: str | None = None, path: str = "") -> list[Seen]:
        """Requests received, optionally only `method path*`."""
        with self.lock:
            return [s for s in self.seen if (method is None or s.method == method) and s.path.startswith(path)]

    def writes(self) -> list[Seen]:
        """Every POST/PUT/DELETE received."""
        return [s for s in self.requests() if s.method in ("POST", "PUT", "DELETE")]

    # ------------------------------------------------------------------ internals
    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and path.startswith(fault.path):
                    fault.times -= 1
                    return fault
        return None

    def authorised(self, headers: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        """None when the credentials and org are acceptable, else (status, body)."""
        auth = headers.get("authorization", "")
        ok = False
        if auth.startswith("Bearer ") and self.token is not None:
            ok = auth[7:] == self.token
        elif auth.startswith("Basic ") and self.user is not None:
            try:
                ok = base64.b64decode(auth[6:]).decode() == f"{self.user}:{self.password}"
            except ValueError:
                ok = False
        if not ok:
            return 401, {"message": "Invalid API key" if auth.startswith("Bearer") else "Invalid username or password",
                         "messageId": "auth.unauthorized", "statusCode": 401}
        org = headers.get("x-grafana-org-id")
        if org is not None and (not org.isdigit() or int(org) not in self.orgs):
            return 401, {"message": "User not a member of organization", "statusCode": 401}
        return None

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        """The API proper, under the state lock."""
        with self.lock:
            if method == "GET" and path.startswith("/api/folders/"):
                folder = self.folders.get(path.removeprefix("/api/folders/"))
                return (200, folder) if folder else (404, {"status": "not-found", "message": "folder not found"})
            if method == "POST" and path == "/api/folders":
                return self._create_folder(body)
            if path.startswith("/api/dashboards/uid/"):
                uid = path.removeprefix("/api/dashboards/uid/")
                entry = self.dashboards.get(uid)
                if entry is None:
                    return 404, {"message": "Dashboard not found", "status": "not-found"}
                if method == "GET":
                    return 200, self._full(entry)
                if method == "DELETE":
                    if entry["provisioned"]:
                        return 400, {"message": "provisioned dashboard cannot be deleted"}
                    del self.dashboards[uid]
                    return 200, {"title": entry["model"].get("title"), "uid": uid,
                                 "message": f"Dashboard {entry['model'].get('title')} deleted"}
            if method == "POST" and path == "/api/dashboards/db":
                return self._save(body)
            if method == "GET" and path == "/api/search":
                return 200, self._search(query)
        return 404, {"message": "Not found"}

    def _create_folder(self, body: dict[str, Any]) -> tuple[int, Any]:
        uid, title = body.get("uid"), body.get("title")
        if not title:
            return 400, {"message": "folder title cannot be empty"}
        if uid in self.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        folder = {"id": self._id(), "uid": uid, "title": title, "version": 1, "url": f"/dashboards/f/{uid}/"}
        self.folders[str(uid)] = folder
        return 200, folder

    def _full(self, entry: dict[str, Any]) -> dict[str, Any]:
        folder = self.folders.get(entry["folderUid"] or "", {})
        model = entry["model"]
        return {"dashboard": model, "meta": {
            "type": "db", "canSave": True, "slug": str(model.get("title", "")).lower().replace(" ", "-"),
            "url": f"/d/{model['uid']}/x", "version": model["version"], "provisioned": entry["provisioned"],
            "folderUid": entry["folderUid"] or "", "folderTitle": folder.get("title", "General"),
            "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z"}}

    def _save(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
            return 400, {"message": "bad request data"}
        model = dict(body["dashboard"])
        if not model.get("title"):
            return 400, {"status": "empty-name", "message": "Dashboard title cannot be empty"}
        if len(str(body.get("message") or "")) > 500:
            return 400, {"message": "message too long, max 500 characters"}
        folder_uid = body.get("folderUid") or ""
        if folder_uid and folder_uid not in self.folders:
            return 400, {"message": "folder not found"}
        uid = model.get("uid")
        existing = self.dashboards.get(uid) if uid else None
        if model.get("id") is not None and (existing is None or existing["model"]["id"] != model["id"]):
            return 404, {"message": "Dashboard not found", "status": "not-found"}
        if existing is not None:
            if existing["provisioned"]:
                return 400, {"message": "Cannot save provisioned dashboard"}
            if not body.get("overwrite") and model.get("version") != existing["model"]["version"]:
                return 412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}
            version, ident = existing["model"]["version"] + 1, existing["model"]["id"]
        else:
            if self.quota is not None and len(self.dashboards) >= self.quota:
                return 403, {"message": "Quota reached", "status": "quota-reached"}
            version, ident = 1, self._id()
        uid = uid or f"gen{ident}"
        stored = {**model, "id": ident, "uid": uid, "version": version}
        self.dashboards[uid] = {"model": stored, "folderUid": folder_uid, "provisioned": False}
        return 200, {"id": ident, "uid": uid, "url": f"/d/{uid}/x", "status": "success", "version": version,
                     "slug": "x", "folderUid": folder_uid}

    def _search(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        tags = query.get("tag", [])
        folders = [f for v in query.get("folderUIDs", []) for f in v.split(",") if f]
        limit = int(query.get("limit", ["1000"])[0])
        page = int(query.get("page", ["1"])[0])
        hits = []
        for uid, entry in sorted(self.dashboards.items()):
            model = entry["model"]
            if not set(tags) <= set(model.get("tags") or []):
                continue
            if folders and entry["folderUid"] not in folders:
                continue
            hits.append({"id": model["id"], "uid": uid, "title": model.get("title"), "type": "dash-db",
                         "tags": list(model.get("tags") or []), "folderUid": entry["folderUid"],
                         "url": f"/d/{uid}/x", "isStarred": False})
        return hits[(page - 1) * limit: page * limit]


def _handler(standin: Standin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes: avoid the delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen = Seen(method, parts.path, parse_qs(parts.query), headers, body, time.monotonic())
            with standin.lock:
                standin.seen.append(seen)
                standin.inflight += 1
                standin.max_inflight = max(standin.max_inflight, standin.inflight)
            try:
                status, payload, extra = self._answer(method, parts.path, seen.query, headers, body)
            finally:
                with standin.lock:
                    standin.inflight -= 1
            seen.status = status
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def _answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                    body: Any) -> tuple[int, Any, dict[str, str]]:
            fault = standin.take_fault(method, path)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.before is not None:
                    fault.before()
                if fault.status is not None:
                    return fault.status, fault.body or {"message": f"injected {fault.status}"}, fault.headers
            if path == "/api/health" and method == "GET":
                if standin.healthy:
                    return 200, {"database": "ok", "version": "11.6.0", "commit": "standin"}, {}
                return 503, {"database": "failing", "version": "11.6.0"}, {}
            denied = standin.authorised(headers)
            if denied is not None:
                return denied[0], denied[1], {}
            status, payload = standin.handle(method, path, query, body)
            return status, payload, {}

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PUT(self) -> None:
            self._serve("PUT")

    return Handler


@contextlib.contextmanager
def grafana_standin(*, tls: tuple[str, str] | None = None, **kwargs: Any) -> Iterator[Standin]:
    """Run a Standin on a free loopback port (HTTPS with `tls=(certfile, keyfile)`); stopped on exit."""
    standin = Standin(**kwargs)
    with serve(_handler(standin), tls=tls) as standin.url:
        yield standin
