"""A client of the Grafana Mimir / Cortex ruler configuration API (one tenant, YAML bodies).

Endpoints, under `{prefix}/config/v1/rules` (`{prefix}` is `/prometheus` on Mimir, `/api/prom`
on Cortex; a prefix ending in `/rules` is taken as the rules path itself, for Cortex' legacy
`/api/v1/rules`):

* `GET  {rules}`                     every namespace of the tenant → its groups (YAML map);
* `POST {rules}/{namespace}`         one rule group (YAML), created or replaced; 202;
* `DELETE {rules}/{namespace}/{group}` one group; 202.

The tenant goes in `X-Scope-OrgID`; credentials from a `user:pass@` URL are sent as basic auth
to the ruler's own origin only (clients/http.py). Every failure is a `RulerError` (exit 3) of one
line naming what was being done, the status, a hint, and the ruler's own words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
import yaml

from slogen.clients import http
from slogen.clients.http import HttpError, Limits, RetryCallback
from slogen.errors import RemoteError
from slogen.report.textsafe import oneline

log = logging.getLogger("slogen.http")
MIMIR_PREFIX = "/prometheus"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # every call here is safe to repeat
MAX_ANSWER = 64 * http.MiB
_HINTS = {
    400: "refused by the ruler",
    401: "not authenticated: give the tenant (--tenant or RULER_TENANT) and credentials in the URL "
         "(https://user:password@host)",
    403: "forbidden: these credentials may not change this tenant's rules",
    404: "not found: check --ruler-prefix (Mimir /prometheus, Cortex /api/prom) and that the ruler API "
         "is enabled (-ruler.enable-api)",
    405: "method not allowed: the ruler storage may be read-only (local storage)",
    413: "the group is larger than the ruler accepts",
}
_LIMIT_WORDS = ("limit", "exceeded")


class RulerError(RemoteError):
    """The ruler was unreachable, too slow, or refused a request."""


@dataclass(frozen=True)
class RulerSettings:
    """Where the ruler is and how requests are bounded."""

    url: str
    tenant: str | None = None
    prefix: str = MIMIR_PREFIX
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 0.5


def rules_path(prefix: str) -> str:
    """The rules API path under the base URL for `prefix`."""
    clean = "/" + prefix.strip("/") if prefix.strip("/") else ""
    return clean if clean.endswith("/rules") else f"{clean}/config/v1/rules"


class RulerClient:
    """Reads and writes one tenant's rule groups."""

    def __init__(self, settings: RulerSettings, *, on_retry: RetryCallback | None = None) -> None:
        self.settings = settings
        # Every body slogen sends here is YAML (the ruler reads the group from it).
        headers = {"User-Agent": "slogen", "Accept": "application/yaml, application/json",
                   "Content-Type": "application/yaml"}
        if settings.tenant:
            headers["X-Scope-OrgID"] = settings.tenant
        limits = Limits(timeout=settings.timeout, retries=settings.retries, backoff=settings.backoff,
                        retry_statuses=RETRY_STATUSES, max_bytes=MAX_ANSWER)
        self.http = http.Session(settings.url, limits=limits, headers=headers, on_retry=on_retry)
        self.base = self.http.shown  # never a password
        self.path = rules_path(settings.prefix)

    def close(self) -> None:
        """Release pooled connections."""
        self.http.close()

    def __enter__(self) -> RulerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scrub(self, text: str) -> str:
        """`text` without any credential of this client."""
        return self.http.scrub(text)

    # ------------------------------------------------------------------ requests
    def _request(self, method: str, path: str, what: str, ok: tuple[int, ...], **kwargs: Any) -> requests.Response:
        try:
            response = self.http.request(method, path, what=what, **kwargs)
        except HttpError as exc:
            log.debug("%s %s failed: %s", method, path, self.scrub(str(exc)))
            raise RulerError(self.scrub(f"{what}: cannot reach the ruler at {self.base}: {exc}")) from None
        log.debug("%s %s -> %s", method, path, response.status_code)
        if response.status_code not in ok:
            raise self.error(what, response)
        return response

    def error(self, what: str, response: requests.Response) -> RulerError:
        """A one-line RulerError for an unexpected answer."""
        code = response.status_code
        message = oneline(response.text, 300)
        hint = _HINTS.get(code, "unexpected answer")
        if code == 400 and all(word in message.lower() for word in _LIMIT_WORDS):
            hint = "over a limit of the ruler (ruler_max_rules_per_rule_group, ruler_max_rule_groups_per_tenant)"
        elif code in RETRY_STATUSES:
            hint = f"still failing after {self.settings.retries} retries"
        quoted = f': "{message}"' if message else ""
        return RulerError(self.scrub(f"{what}: HTTP {code} {hint}{quoted}"))

    # ------------------------------------------------------------------ API calls
    def list_rules(self) -> dict[str, list[dict[str, Any]]]:
        """Every namespace of the tenant → its rule groups, as parsed YAML."""
        what = f"listing the rule groups of tenant {self.settings.tenant or '(none)'}"
        response = self._request("GET", self.path, what, ok=(200, 404))
        if response.status_code == 404:
            if "no rule groups found" in response.text.lower():
                return {}  # Cortex and Loki answer 404 for a tenant without groups; Mimir answers 200
            raise self.error(what, response)
        try:
            doc = yaml.safe_load(response.text) if response.text.strip() else {}
        except yaml.YAMLError:
            doc = None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict) or not all(isinstance(v, list) for v in doc.values()):
            raise RulerError(f"{what}: {self.base} answered HTTP 200 without a YAML map of namespaces to rule "
                             "groups (is this a Mimir or Cortex ruler, and is --ruler-prefix right?)")
        return {str(k): [g for g in v if isinstance(g, dict)] for k, v in doc.items()}

    def set_group(self, namespace: str, group: dict[str, Any]) -> None:
        """Create or replace one rule group in `namespace`."""
        name = str(group.get("name", ""))
        body = yaml.safe_dump(group, sort_keys=False, allow_unicode=True, width=1_000_000)
        self._request("POST", f"{self.path}/{quote(namespace, safe='')}", f"rule group {name}", ok=(200, 201, 202),
                      data=body.encode())

    def delete_group(self, namespace: str, name: str) -> None:
        """Delete one rule group; already gone counts as deleted."""
        self._request("DELETE", f"{self.path}/{quote(namespace, safe='')}/{quote(name, safe='')}",
                      f"deleting rule group {name}", ok=(200, 202, 204, 404))
