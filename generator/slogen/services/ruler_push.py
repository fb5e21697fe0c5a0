"""`push --ruler-url`: make one namespace of a Mimir/Cortex ruler tenant hold exactly the rendered groups.

Read what the tenant holds (one GET), then per group: create it when missing, replace it when it
differs (compared as parsed YAML, durations as lengths of time: the ruler prints `60m` as `1h`),
leave it alone when equal. Groups slogen created earlier and no longer renders are deleted; a
group is slogen's only when it lives in the namespace given, its name has slogen's form
(`slogen:<service>:<stage>[:<n>]`, conventions.group_name) and every rule in it carries that
service's `service` label. Anything else, in that namespace or any other, is never touched.

Deletes go first (they free room under the ruler's groups-per-tenant limit), then writes, one
group per request, in rendered order (the order data flows); the first failure stops it: the
report says what was done and what failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from slogen import conventions as c
from slogen.clients.ruler import RulerClient, RulerError
from slogen.render.artifact import Bundle

CREATE, UPDATE, UNCHANGED, DELETE = "create", "update", "unchanged", "delete"
PAST = {CREATE: "created", UPDATE: "updated", UNCHANGED: "unchanged", DELETE: "deleted"}
THANOS_ONLY_KEYS = ("partial_response_strategy",)  # Mimir and Cortex refuse keys they do not know
DURATION_KEYS = frozenset({"interval", "for", "keep_firing_for", "evaluation_delay", "query_offset"})
_GROUP_NAME = re.compile(rf"^{c.NAMESPACE}:(?P<service>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?):"
                         rf"(?:{'|'.join(c.STAGES)})(?::[0-9]+)?$")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


@dataclass(frozen=True)
class RulerAction:
    """What to do with one rule group."""

    kind: str
    group: str
    rules: int = 0


@dataclass
class RulerReport:
    """What a ruler push did (or, dry, would do); `error` is the failure that stopped it."""

    base: str
    tenant: str | None
    namespace: str
    dry_run: bool
    done: list[RulerAction] = field(default_factory=list)
    error: str | None = None

    def count(self, kind: str) -> int:
        """How many groups got `kind`."""
        return sum(1 for a in self.done if a.kind == kind)


def desired_groups(artifacts: Bundle) -> list[dict[str, Any]]:
    """The rule groups of the rendered plain rule files, in path and file order, without Thanos-only keys."""
    out = []
    for artifact in artifacts:
        if artifact.path.startswith("rules/") and artifact.path.endswith(".rules.yaml"):
            for group in (yaml.safe_load(artifact.text) or {}).get("groups") or []:
                out.append({k: v for k, v in group.items() if k not in THANOS_ONLY_KEYS})
    return out


def is_slogens(group: Mapping[str, Any]) -> bool:
    """True when `group` has slogen's name form and every rule carries that service's label."""
    match = _GROUP_NAME.match(str(group.get("name", "")))
    rules = group.get("rules")
    if match is None or not isinstance(rules, list) or not rules:
        return False
    service = match.group("service")
    return all(isinstance(r, dict) and isinstance(r.get("labels"), dict)
               and r["labels"].get(c.LABEL_SERVICE) == service for r in rules)


def _millis(text: str) -> int | None:
    found = _DURATION.match(text.strip())
    if found is None or not any(found.groups()):
        return None
    return sum(int(v) * unit for v, unit in zip(found.groups(), _UNIT_MS, strict=True) if v)


def comparable(value: Any, key: str = "") -> Any:
    """`value` as the ruler would hand it back: no empty or null values, durations as milliseconds."""
    if isinstance(value, Mapping):
        out = {str(k): comparable(v, str(k)) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if key in DURATION_KEYS and isinstance(value, str):
        millis = _millis(value)
        return value if millis is None else ("0" if millis == 0 else millis)
    if isinstance(value, bool) or value is None:
        return value
    return str(value) if isinstance(value, int | float) else value


def plan(held: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]]) -> list[RulerAction]:
    """Actions that make the namespace's groups `held` into `wanted` (foreign groups untouched)."""
    by_name = {str(g.get("name")): g for g in held}
    actions = []
    for group in wanted:
        name = str(group["name"])
        rules = len(group.get("rules") or [])
        have = by_name.get(name)
        if have is None:
            actions.append(RulerAction(CREATE, name, rules))
        elif comparable(have) == comparable(group):
            actions.append(RulerAction(UNCHANGED, name, rules))
        else:
            actions.append(RulerAction(UPDATE, name, rules))
    keep = {str(g["name"]) for g in wanted}
    doomed = sorted(str(g.get("name")) for g in held if str(g.get("name")) not in keep and is_slogens(g))
    # Deletes first: they free room under the ruler's groups-per-tenant limit for what follows.
    return [RulerAction(DELETE, name) for name in doomed] + actions


def push_rules(client: RulerClient, namespace: str, wanted: list[dict[str, Any]], *,
               dry_run: bool = False) -> RulerReport:
    """Read the tenant, plan, and (unless dry) write; the report holds every action done and any failure."""
    report = RulerReport(client.base, client.settings.tenant, namespace, dry_run)
    try:
        held = client.list_rules().get(namespace, [])
    except RulerError as exc:
        report.error = str(exc)
        return report
    by_name = {str(g["name"]): g for g in wanted}
    for action in plan(held, wanted):
        try:
            if not dry_run and action.kind in (CREATE, UPDATE):
                client.set_group(namespace, by_name[action.group])
            elif not dry_run and action.kind == DELETE:
                client.delete_group(namespace, action.group)
        except RulerError as exc:
            report.error = str(exc)
            return report
        report.done.append(action)
    return report
