"""`slogen test`: write the generated promtool suites atomically, and run them with promtool."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from slogen.errors import SlogenError
from slogen.model import Spec
from slogen.render import alert_tests
from slogen.safefile import directory_lock
from slogen.services.writer import WriteReport, plan, spec_key

PROMTOOL_TIMEOUT = 600.0  # seconds per suite file


class PromtoolMissingError(SlogenError):
    """`--run` without promtool on PATH (or promtool could not run at all)."""

    exit_code = 3


@dataclass(frozen=True)
class Failure:
    """One suite file promtool failed, with what it said."""

    path: str
    output: str


@dataclass
class TestReport:
    """What `slogen test` wrote and, with --run, what promtool said."""

    out_dir: Path
    files: tuple[str, ...]
    written: WriteReport
    skipped: tuple[tuple[str, str], ...]
    ran: bool = False
    passed: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def write_suites(spec: Spec, spec_path: str, out_dir: Path, rules_dir: Path) -> TestReport:
    """Generate every suite and write them into `out_dir` (all or nothing; only files this spec wrote
    there are replaced or removed). The suites read the rule files in `rules_dir`."""
    relative = PurePosixPath(Path(os.path.relpath(rules_dir.resolve(), out_dir.resolve()))).as_posix()
    suites = alert_tests.generate(spec, relative)
    files = {a.path: a.text for a in suites.artifacts}
    out_dir.mkdir(parents=True, exist_ok=True)
    with directory_lock(out_dir):
        transaction = plan(files, out_dir, spec_key(spec_path, out_dir), scope=())
        transaction.commit()
    return TestReport(out_dir, tuple(sorted(files)), transaction.report, suites.skipped)


def run_suites(report: TestReport, rules_dir: Path, spec: Spec, promtool: str | None = None) -> TestReport:
    """`promtool test rules` on each suite; failures are listed, a missing promtool raises."""
    tool = promtool or shutil.which("promtool")
    if tool is None:
        raise PromtoolMissingError("promtool is not on PATH: install Prometheus' promtool (Debian/Ubuntu: "
                                   "apt-get install prometheus) or run without --run")
    missing = [s.name for s in spec.services if not (rules_dir / f"{s.name}.rules.yaml").is_file()]
    if missing:
        raise SlogenError(f"no rendered rule file for {', '.join(missing)} in {rules_dir}; run 'slogen render' "
                          "first (or give --rules-dir)")
    report.ran = True
    for name in report.files:
        try:
            done = subprocess.run([tool, "test", "rules", name], cwd=report.out_dir, capture_output=True,
                                  text=True, timeout=PROMTOOL_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PromtoolMissingError(f"promtool could not run {name}: {exc}") from None
        if done.returncode == 0:
            report.passed.append(name)
        else:
            report.failures.append(Failure(name, (done.stdout + done.stderr).strip()))
    return report
