"""Planning a push, without I/O: which dashboards to create, update, leave alone or prune.

A stored dashboard equals a rendered one when their models match after dropping what Grafana
owns (`id`, `version`, `iteration`) and null-valued keys (Grafana drops or fills them), and the
stored one is in the managed folder. Anything else is an update.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slogen.conventions import DASHBOARD_DIR, MARKER_TAG
from slogen.errors import SlogenError
from slogen.render.artifact import Bundle
from slogen.report.diff import truncated_diff

GRAFANA_OWNED = frozenset({"id", "version", "iteration"})  # set by Grafana on save, never by slogen

CREATE, UPDATE, UNCHANGED, DELETE = "create", "update", "unchanged", "delete"
PAST = {CREATE: "created", UPDATE: "updated", UNCHANGED: "unchanged", DELETE: "deleted"}


@dataclass(frozen=True)
class Dashboard:
    """One rendered dashboard: its uid, title and model (the data its artifact carries)."""

    uid: str
    title: str
    model: dict[str, Any]
    path: str


@dataclass(frozen=True)
class Action:
    """What to do with one dashboard; `diff` is a short unified diff (updates) for --dry-run."""

    kind: str
    uid: str
    title: str
    diff: str = ""
    note: str = ""


def dashboards(artifacts: Bundle) -> list[Dashboard]:
    """The dashboards among the rendered artifacts (`dashboards/*.json`), in path order."""
    found = []
    for artifact in artifacts:
        if not (artifact.path.startswith(f"{DASHBOARD_DIR}/") and artifact.path.endswith(".json")):
            continue
        model = artifact.data if artifact.data is not None else json.loads(artifact.text)
        if not isinstance(model, dict) or not model.get("uid"):
            raise SlogenError(f"{artifact.path}: rendered dashboard has no uid (a bug in slogen)")
        found.append(Dashboard(str(model["uid"]), str(model.get("title", "")), model, artifact.path))
    return found


def normalise(value: Any, *, top: bool = True) -> Any:
    """The comparable part of a dashboard model: no Grafana-owned top-level keys, no null-valued keys."""
    if isinstance(value, Mapping):
        return {k: normalise(v, top=False) for k, v in value.items()
                if v is not None and not (top and k in GRAFANA_OWNED)}
    if isinstance(value, list):
        return [normalise(v, top=False) for v in value]
    return value


def short_diff(old: Any, new: Any, name: str, *, max_lines: int = 40) -> str:
    """A unified diff of two models (sorted keys, indented), at most `max_lines` lines."""
    a = json.dumps(old, indent=2, sort_keys=True).splitlines() if old is not None else []
    b = json.dumps(new, indent=2, sort_keys=True).splitlines()
    return truncated_diff(a, b, f"grafana/{name}", f"rendered/{name}", max_lines=max_lines)


def compare(dashboard: Dashboard, stored: Mapping[str, Any] | None, folder_uid: str) -> Action:
    """The action for one rendered dashboard given Grafana's `{dashboard, meta}` (None: absent)."""
    if stored is None:
        return Action(CREATE, dashboard.uid, dashboard.title)
    want = normalise(dashboard.model)
    have = normalise(stored.get("dashboard") or {})
    meta = stored.get("meta") or {}
    stored_folder = meta.get("folderUid")
    moved = stored_folder is not None and stored_folder != folder_uid
    if want == have and not moved:
        return Action(UNCHANGED, dashboard.uid, dashboard.title)
    note = f"move from folder {stored_folder or 'General'} to {folder_uid}" if moved else ""
    diff = short_diff(have, want, f"{dashboard.uid}.json") if want != have else ""
    return Action(UPDATE, dashboard.uid, dashboard.title, diff, note)


def prunable(hits: Sequence[Mapping[str, Any]], keep: set[str], folder_uid: str) -> list[Action]:
    """Search hits to delete: in the managed folder, carrying the marker tag, and not rendered.

    The search already filtered by tag and folder; both are checked again here so that a
    server ignoring a filter can never make slogen delete a dashboard it does not own.
    """
    out = []
    for hit in hits:
        uid = str(hit.get("uid") or "")
        if (not uid or uid in keep or hit.get("type", "dash-db") != "dash-db"
                or MARKER_TAG not in (hit.get("tags") or []) or hit.get("folderUid") != folder_uid):
            continue
        out.append(Action(DELETE, uid, str(hit.get("title", ""))))
    return sorted(out, key=lambda a: a.uid)
