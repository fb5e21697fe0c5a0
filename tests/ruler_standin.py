"""A stand-in Grafana Mimir ruler for tests: a real, stateful HTTP server on 127.0.0.1 speaking the ruler's
configuration API (Mimir's HTTP API reference, "Ruler": https://grafana.com/docs/mimir/latest/references/http-api/).

What it does as Mimir does:
* tenancy by `X-Scope-OrgID`: without it 401 `no org id` (multi-tenancy enabled); each tenant's
  namespaces and groups are separate;
* `GET {prefix}/config/v1/rules` → YAML map namespace → groups (an empty map for a tenant without
  groups: Mimir answers 200, Cortex and Loki 404 `no rule groups found`, see `cortex_empty_404`);
  `GET .../{namespace}` → that namespace (404 `no rule groups found`), `GET .../{namespace}/{group}`
  → the group (404 `group does not exist`);
* `POST .../{namespace}` with one YAML group: 202 and a JSON success body; the group is parsed
  strictly as Mimir's rulefmt does (an unknown key is a 400), must have a name, and the default
  limits apply: at most 20 rules per group (400 `per-user rules per rule group limit (limit: 20
  actual: N) exceeded`) and 70 groups per tenant (400 `per-user rule groups limit (limit: 70 actual:
  N) exceeded`);
* `DELETE .../{namespace}/{group}` → 202 (404 `group does not exist`); `DELETE .../{namespace}` →
  202 (404 `group namespace does not exist`);
* groups are stored parsed and printed back the way the ruler prints them: durations
  re-formatted as Prometheus' model.Duration does (`60m` → `1h`), empty fields dropped.

Optional basic auth in front (as a gateway does), and faults injected per method and path: a
status, body and headers for the next N matching requests.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from loopback import serve

GROUP_KEYS = {"name", "interval", "rules", "limit", "source_tenants", "evaluation_delay", "query_offset",
              "align_evaluation_time_on_interval", "labels"}
RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
DURATION_KEYS = {"interval", "for", "keep_firing_for", "evaluation_delay", "query_offset"}
_UNITS = (("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000),
          ("s", 1000), ("ms", 1))
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
SUCCESS = {"status": "success", "data": None, "errorType": "", "error": ""}


def model_duration(text: str) -> str:
    """A duration as Prometheus' model.Duration prints it (largest units first; 0 is `0s`)."""
    found = _DURATION.match(text)
    if found is None or not any(found.groups()):
        raise ValueError(f'not a valid duration string: "{text}"')
    millis = sum(int(v) * unit for v, (_, unit) in zip(found.groups(), _UNITS, strict=True) if v)
    if millis == 0:
        return "0s"
    out = ""
    for name, unit in _UNITS:
        if millis >= unit:
            out += f"{millis // unit}{name}"
            millis %= unit
    return out


@dataclass
class Fault:
    """The next `times` requests matching method and path prefix get this answer."""

    method: str
    path: str
    times: int
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    """One request as received."""

    method: str
    path: str
    headers: dict[str, str]
    body: str
    status: int = 0


class RulerStandin:
    """The ruler's state and controls; `url` is its base URL while running."""

    def __init__(self, *, prefix: str = "/prometheus", user: str | None = None, password: str | None = None,
                 max_rules_per_group: int = 20, max_groups_per_tenant: int = 70,
                 cortex_empty_404: bool = False) -> None:
        self.prefix, self.user, self.password = prefix, user, password
        self.max_rules, self.max_groups = max_rules_per_group, max_groups_per_tenant
        self.cortex_empty_404 = cortex_empty_404
        self.lock = threading.Lock()
        self.tenants: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}  # tenant → namespace → name → group
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.url = ""

    # ------------------------------------------------------------------ test controls
    def fail(self, method: str, path: str, status: int, body: str = "", *, times: int = 1,
             headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` `method path*` requests with `status` and `body`."""
        self.faults.append(Fault(method, path, times, status, body or f"injected {status}", headers or {}))

    def add_group(self, tenant: str, namespace: str, group: dict[str, Any]) -> None:
        """Store a group as if someone had pushed it."""
        stored = _normalise(group)
        self.tenants.setdefault(tenant, {}).setdefault(namespace, {})[stored["name"]] = stored

    def groups(self, tenant: str, namespace: str) -> dict[str, dict[str, Any]]:
        """The groups of one namespace of one tenant, as stored."""
        return dict(self.tenants.get(tenant, {}).get(namespace, {}))

    def requests(self, method: str | None = None) -> list[Seen]:
        """Requests received, optionally only one method."""
        return [s for s in self.seen if method is None or s.method == method]

    def writes(self) -> list[Seen]:
        """POST and DELETE requests received."""
        return [s for s in self.seen if s.method in ("POST", "DELETE")]

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ the API
    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, str, str]:
        """(status, content type, body) for one request."""
        if self.user is not None:
            expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            if headers.get("authorization") != expected:
                return 401, "text/plain", "Unauthorized\n"
        base = f"{self.prefix}/config/v1/rules"
        if path != base and not path.startswith(base + "/"):
            return 404, "text/plain", "404 page not found\n"
        tenant = headers.get("x-scope-orgid")
        if not tenant:
            return 401, "text/plain", "no org id\n"
        parts = [unquote(p) for p in path[len(base):].split("/") if p]
        with self.lock:
            spaces = self.tenants.setdefault(tenant, {})
            if method == "GET":
                return self._get(spaces, parts)
            if method == "POST" and len(parts) == 1:
                return self._set(spaces, parts[0], body)
            if method == "DELETE" and len(parts) == 2:
                if parts[1] not in spaces.get(parts[0], {}):
                    return 404, "text/plain", "group does not exist\n"
                del spaces[parts[0]][parts[1]]
                if not spaces[parts[0]]:
                    del spaces[parts[0]]
                return 202, "application/json", json.dumps(SUCCESS)
            if method == "DELETE" and len(parts) == 1:
                if parts[0] not in spaces:
                    return 404, "text/plain", "group namespace does not exist\n"
                del spaces[parts[0]]
                return 202, "application/json", json.dumps(SUCCESS)
        return 405, "text/plain", "method not allowed\n"

    def _get(self, spaces: dict[str, dict[str, dict[str, Any]]], parts: list[str]) -> tuple[int, str, str]:
        if not parts:
            found = {ns: list(groups.values()) for ns, groups in sorted(spaces.items()) if groups}
            if not found and self.cortex_empty_404:
                return 404, "text/plain", "no rule groups found\n"
            return 200, "application/yaml", yaml.safe_dump(found, sort_keys=False)
        namespace = spaces.get(parts[0])
        if len(parts) == 1:
            if not namespace:
                return 404, "text/plain", "no rule groups found\n"
            return 200, "application/yaml", yaml.safe_dump({parts[0]: list(namespace.values())}, sort_keys=False)
        group = (namespace or {}).get(parts[1])
        if group is None:
            return 404, "text/plain", "group does not exist\n"
        return 200, "application/yaml", yaml.safe_dump(group, sort_keys=False)

    def _set(self, spaces: dict[str, dict[str, dict[str, Any]]], namespace: str, body: str) -> tuple[int, str, str]:
        try:
            group = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            return 400, "text/plain", f"error unmarshalling YAML: {exc}\n"
        if not isinstance(group, dict):
            return 400, "text/plain", "error unmarshalling YAML: not a rule group\n"
        unknown = sorted(set(group) - GROUP_KEYS) + sorted(
            {k for r in group.get("rules") or [] if isinstance(r, dict) for k in r} - RULE_KEYS)
        if unknown:
            return 400, "text/plain", f"yaml: unmarshal errors:\n  field {unknown[0]} not found in type rulefmt.RuleGroup\n"
        if not group.get("name"):
            return 400, "text/plain", "invalid rules config: rule group name must not be empty\n"
        rules = group.get("rules") or []
        if len(rules) > self.max_rules:
            return 400, "text/plain", (f"per-user rules per rule group limit (limit: {self.max_rules} actual: "
                                       f"{len(rules)}) exceeded\n")
        total = sum(len(g) for g in spaces.values())
        exists = group["name"] in spaces.get(namespace, {})
        if not exists and total + 1 > self.max_groups:
            return 400, "text/plain", (f"per-user rule groups limit (limit: {self.max_groups} actual: {total + 1}) "
                                       "exceeded\n")
        try:
            stored = _normalise(group)
        except ValueError as exc:
            return 400, "text/plain", f"invalid rules config: {exc}\n"
        spaces.setdefault(namespace, {})[stored["name"]] = stored
        return 202, "application/json", json.dumps(SUCCESS)


def _normalise(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        out = {k: _normalise(v, k) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if key in DURATION_KEYS:
        return model_duration(str(value))
    return value


def _handler(standin: RulerStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _serve(self, method: str) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            body = (self.rfile.read(length) if length else b"").decode(errors="replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen = Seen(method, path, headers, body)
            with standin.lock:
                standin.seen.append(seen)
            fault = standin.take_fault(method, path)
            extra: dict[str, str] = {}
            if fault is not None:
                status, kind, text, extra = fault.status, "text/plain", fault.body, fault.headers
            else:
                status, kind, text = standin.handle(method, path, headers, body)
            seen.status = status
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


@contextlib.contextmanager
def ruler_standin(**kwargs: Any) -> Iterator[RulerStandin]:
    """Run a RulerStandin on a free loopback port; stopped on exit."""
    standin = RulerStandin(**kwargs)
    with serve(_handler(standin)) as standin.url:
        yield standin
