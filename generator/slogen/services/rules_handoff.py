"""Hand the rendered rule files to a running Prometheus: write them, reload, confirm every group loaded.

Files go straight into the rules directory (the one Prometheus' `rule_files` glob reads) as one
transaction (writer.py): slogen replaces or removes only the files its manifest there lists for
this spec; a foreign file of the same name is refused, foreign files beside them are never touched.

A rejected reload is undone: the previous files are restored and Prometheus is reloaded again,
so its next restart still finds rules it accepts; the error names the rejected file and the
reason. The confirmation compares the full path Prometheus reports for each group
(`/api/v1/rules` `file`) with the full path slogen wrote, and names the directory Prometheus
actually reads when they differ. When Prometheus runs in a container, `prometheus_path` is the
rules directory as Prometheus sees it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from slogen import safefile
from slogen.clients.prometheus import DEFAULT_URL, PrometheusClient, PrometheusError
from slogen.render.artifact import Artifact, Bundle
from slogen.services.writer import DEFAULT_KEY, Transaction, plan

RULES_DIR = "rules"
RULE_SUFFIX = ".rules.yaml"


class HandoffError(PrometheusError):
    """Prometheus refused the reload or did not load a rendered group (exit 3)."""


@dataclass
class HandoffReport:
    """What the handoff did: file names written/unchanged/removed, groups confirmed loaded."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def _rule_artifacts(artifacts: Bundle) -> list[Artifact]:
    return [a for a in artifacts if a.path.startswith(f"{RULES_DIR}/") and a.path.endswith(RULE_SUFFIX)]


def rule_files(artifacts: Bundle) -> dict[str, str]:
    """File name → text of every rendered rule file."""
    return {PurePosixPath(a.path).name: a.text for a in _rule_artifacts(artifacts)}


def group_names(artifacts: Bundle) -> dict[str, str]:
    """Rule group name → the file name it lives in, from the data each rule artifact carries.

    An artifact made from text alone (no data) is parsed.
    """
    out = {}
    for artifact in _rule_artifacts(artifacts):
        doc = artifact.data if artifact.data is not None else yaml.safe_load(artifact.text) or {}
        for group in doc.get("groups") or []:
            out[str(group["name"])] = PurePosixPath(artifact.path).name
    return out


def _report(transaction: Transaction) -> HandoffReport:
    r = transaction.report
    return HandoffReport(list(r.written), list(r.unchanged), list(r.removed))


def write_rules(files: dict[str, str], directory: Path, *, key: str = DEFAULT_KEY,
                dry_run: bool = False) -> HandoffReport:
    """Write `files` into `directory` as one transaction; remove this spec's rule files no longer produced."""
    return _write(files, directory, key, dry_run)[0]


def _write(files: dict[str, str], directory: Path, key: str, dry_run: bool) -> tuple[HandoffReport, Transaction]:
    if dry_run:
        transaction = plan(files, directory, key, scope=())
        return _report(transaction), transaction
    with safefile.directory_lock(directory):
        transaction = plan(files, directory, key, scope=())
        transaction.commit()
    return _report(transaction), transaction


def rejected_files(paths: list[Path]) -> list[str]:
    """`path: reason` for each of `paths` that `promtool check rules` rejects (empty without promtool)."""
    promtool = shutil.which("promtool")
    out = []
    for path in paths if promtool else []:
        try:
            done = subprocess.run([str(promtool), "check", "rules", str(path)], capture_output=True, text=True,
                                  timeout=60, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode != 0:
            lines = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
            reason = next((ln for ln in reversed(lines) if "FAILED" not in ln and "Checking" not in ln), "")
            out.append(f"{path}: {reason[:300]}")
    return out


def reload(prom: PrometheusClient, transaction: Transaction) -> None:
    """Reload Prometheus; when it rejects the new files, restore the old ones, reload again and raise."""
    code, detail = prom.post_reload()
    if code == 200:
        return
    if code == 403:
        raise HandoffError(f"Prometheus at {prom.shown_url} refused the reload (HTTP 403: \"{detail}\"): "
                           "start it with --web.enable-lifecycle, or send it SIGHUP yourself and "
                           "run without --reload")
    written = [transaction.root / c.path for c in transaction.changes if c.new is not None]
    beside = sorted(p for p in transaction.root.glob(f"*{RULE_SUFFIX}") if p not in written and p.is_file())
    culprits = rejected_files(written + beside) or [f"{p}: (run 'promtool check rules' on it)" for p in written] \
        or ["no rule file changed"]
    transaction.rollback()
    again, _ = prom.post_reload()
    restored = ("the previous rule files were restored and Prometheus reloaded them" if again == 200 else
                f"the previous rule files were restored, but reloading them failed too (HTTP {again})")
    raise HandoffError(f"Prometheus at {prom.shown_url} rejected the new rules (HTTP {code}: \"{detail}\"): "
                       f"{'; '.join(culprits)}; {restored}")


def confirm_loaded(prom: PrometheusClient, expected: dict[str, str], directory: Path, *,
                   prometheus_path: str | None = None, wait: float = 5.0) -> list[str]:
    """Every expected group, loaded from the full path slogen wrote; raises naming what differs."""
    seen_as = prometheus_path or os.path.abspath(directory)
    want = {group: os.path.normpath(os.path.join(seen_as, name)) for group, name in expected.items()}
    deadline = time.monotonic() + wait
    while True:
        loaded: dict[str, list[str]] = {}
        for group in prom.rule_groups():
            loaded.setdefault(str(group.get("name")), []).append(os.path.normpath(str(group.get("file", ""))))
        missing = sorted(g for g, path in want.items() if path not in loaded.get(g, []))
        if not missing:
            return sorted(expected)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)  # reload is synchronous; this only covers a reload racing with ours
    elsewhere = sorted({os.path.dirname(f) for g in missing for f in loaded.get(g, [])
                        if os.path.basename(f) == expected[g]})
    plural = "s" if len(missing) > 1 else ""
    if elsewhere:
        raise HandoffError(
            f"Prometheus at {prom.shown_url} loads rule group{plural} {', '.join(missing)} from "
            f"{', '.join(elsewhere)}, not from {seen_as} where slogen wrote them: it still evaluates the old "
            f"rules. Point --prometheus-rules-dir at {elsewhere[0]}, or add {seen_as}/*{RULE_SUFFIX} to its "
            "rule_files (if Prometheus runs in a container, give --prometheus-rules-path as it sees the directory)")
    raise HandoffError(
        f"Prometheus at {prom.shown_url} has not loaded rule group{plural} {', '.join(missing)} from "
        f"{seen_as}: does its rule_files include {seen_as}/*{RULE_SUFFIX}?")


def handoff(artifacts: Bundle, directory: Path, *, prometheus_url: str | None, reload_rules: bool,
            key: str = DEFAULT_KEY, timeout: float = 10.0, retries: int = 4, prometheus_path: str | None = None,
            dry_run: bool = False, client: PrometheusClient | None = None) -> HandoffReport:
    """Write the rule files; with `reload_rules`, reload Prometheus and confirm every rendered group is loaded."""
    files = rule_files(artifacts)
    report, transaction = _write(files, directory, key, dry_run)
    if not reload_rules or dry_run:
        return report
    prom = client or PrometheusClient(prometheus_url or DEFAULT_URL, timeout=timeout,
                                      connect_retries=retries)
    try:
        reload(prom, transaction)
        report.groups = confirm_loaded(prom, group_names(artifacts), directory, prometheus_path=prometheus_path)
    finally:
        if client is None:
            prom.close()
    return report
