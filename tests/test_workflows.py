"""The CI templates: the GitHub workflow's jobs, conditions, override wiring and the gate step's
exit-code handling (its shell script run for real with a stand-in `slogen`), the PR comment
script (run under node with a mocked GitHub API when node is installed), GitLab/Jenkins
equivalents and the pre-commit hooks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT
from slogen import conventions as c
from slogen.slo import policy

WORKFLOW = ROOT / ".github/workflows/slogen.yml"
STATES_BY_CODE = {0: "ALLOWED", 1: "WARNING", 2: "FREEZE", 3: "EXHAUSTED", 99: "UNDECIDED", 70: "ERROR"}


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1 reads the bare key `on` as a boolean
    return dict(doc)


# ------------------------------------------------------------------ a tiny GitHub expression evaluator

TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|!|\(|\))|'((?:[^']|'')*)'|([A-Za-z_][\w.\-]*)(\(\))?)")


def evaluate(expr: str, context: dict[str, Any]) -> Any:
    """Evaluate a GitHub Actions expression (the subset the workflow uses) against dotted `context`."""
    expr = expr.strip()
    if expr.startswith("${{") and expr.endswith("}}"):
        expr = expr[3:-2]
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(expr.rstrip()):
        m = TOKEN.match(expr, pos)
        assert m, f"cannot parse {expr[pos:]!r}"
        op, literal, name, call = m.groups()
        if op:
            tokens.append(("op", op))
        elif literal is not None:
            tokens.append(("val", literal.replace("''", "'")))
        elif call:
            assert name in {"always", "success", "failure"}, name
            tokens.append(("val", context.get(f"{name}()", name == "always")))
        else:
            tokens.append(("val", context.get(name, "")))
        pos = m.end()

    def parse_or(i: int) -> tuple[Any, int]:
        value, i = parse_and(i)
        while i < len(tokens) and tokens[i] == ("op", "||"):
            right, i = parse_and(i + 1)
            value = value or right
        return value, i

    def parse_and(i: int) -> tuple[Any, int]:
        value, i = parse_cmp(i)
        while i < len(tokens) and tokens[i] == ("op", "&&"):
            right, i = parse_cmp(i + 1)
            value = value and right
        return value, i

    def parse_cmp(i: int) -> tuple[Any, int]:
        value, i = parse_unary(i)
        while i < len(tokens) and tokens[i][1] in ("==", "!=") and tokens[i][0] == "op":
            op = tokens[i][1]
            right, i = parse_unary(i + 1)
            equal = str(value).lower() == str(right).lower()  # GitHub compares strings case-insensitively
            value = equal if op == "==" else not equal
        return value, i

    def parse_unary(i: int) -> tuple[Any, int]:
        if tokens[i] == ("op", "!"):
            value, i = parse_unary(i + 1)
            return not value, i
        if tokens[i] == ("op", "("):
            value, i = parse_or(i + 1)
            assert tokens[i] == ("op", ")")
            return value, i + 1
        return tokens[i][1], i + 1

    value, end = parse_or(0)
    assert end == len(tokens), expr
    return value


def test_evaluator_follows_github_semantics() -> None:
    ctx = {"inputs.override": "FREEZE", "github.event_name": "workflow_dispatch"}
    assert evaluate("${{ inputs.override == 'FREEZE' && 'true' || '' }}", ctx) == "true"
    assert evaluate("${{ inputs.override == 'WARNING' && 'true' || '' }}", ctx) == ""
    assert evaluate("github.event_name != 'push' && (inputs.override == 'freeze')", ctx) is True
    assert evaluate("!always()", ctx) is False


# ------------------------------------------------------------------ structure


def all_runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_triggers_and_dispatch_inputs(workflow: dict[str, Any]) -> None:
    on = workflow["on"]
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["override"]["type"] == "choice"
    assert inputs["override"]["options"] == ["none", *policy.OVERRIDES]  # WARNING, FREEZE, EXHAUSTED
    assert inputs["override"]["default"] == "none"
    assert "override_reason" in inputs
    assert workflow["permissions"] == {"contents": "read"}  # least privilege by default


def test_jobs_and_what_they_run(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    assert set(jobs) == {"validate", "push", "gate", "deploy"}
    assert re.search(r"^slogen validate\b", all_runs(jobs["validate"]), re.MULTILINE)
    assert re.search(r"^slogen render .*--check", all_runs(jobs["validate"]), re.MULTILINE)
    assert re.search(r"^slogen push\b", all_runs(jobs["push"]), re.MULTILINE)
    assert jobs["push"]["env"]["GRAFANA_TOKEN"] == "${{ secrets.GRAFANA_TOKEN }}"
    assert "slogen gate" in all_runs(jobs["gate"])
    assert jobs["push"]["needs"] == "validate" and jobs["gate"]["needs"] == "validate"
    assert set(jobs["deploy"]["needs"]) == {"gate", "push"}
    for job in jobs.values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+", step["uses"]), step["uses"]  # pinned major


@pytest.mark.parametrize(("event", "ref", "runs"), [
    ("push", "refs/heads/main", True), ("push", "refs/heads/feature", False),
    ("pull_request", "refs/pull/1/merge", False), ("workflow_dispatch", "refs/heads/main", False),
])
def test_push_runs_only_on_main(workflow: dict[str, Any], event: str, ref: str, runs: bool) -> None:
    ctx = {"github.event_name": event, "github.ref": ref, "vars.GRAFANA_URL": "https://grafana.example"}
    assert bool(evaluate(workflow["jobs"]["push"]["if"], ctx)) is runs
    assert not evaluate(workflow["jobs"]["push"]["if"], {**ctx, "vars.GRAFANA_URL": ""})


def test_gate_is_skipped_without_prometheus_and_then_nothing_deploys(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    assert evaluate(jobs["gate"]["if"], {"vars.PROMETHEUS_URL": "http://prometheus:9090"}) is True
    assert evaluate(jobs["gate"]["if"], {}) is False
    skipped = {"github.event_name": "push", "needs.gate.result": "skipped", "needs.push.result": "success"}
    assert not evaluate(jobs["deploy"]["if"], skipped)


@pytest.mark.parametrize("choice", ["none", "WARNING", "FREEZE", "EXHAUSTED"])
@pytest.mark.parametrize("event", ["workflow_dispatch", "push", "pull_request"])
def test_override_input_sets_exactly_its_own_variable(workflow: dict[str, Any], choice: str, event: str) -> None:
    env = workflow["jobs"]["gate"]["env"]
    ctx = {"github.event_name": event, "inputs.override": choice, "inputs.override_reason": "hotfix for #12"}
    if event != "workflow_dispatch":
        ctx = {"github.event_name": event}  # inputs exist only on manual runs
    values = {var: evaluate(env[var], ctx) for var in policy.OVERRIDES.values()}
    expected = {var: ("true" if event == "workflow_dispatch" and state == choice else "")
                for state, var in policy.OVERRIDES.items()}
    assert values == expected
    # What the gate itself will make of it: the override applies to its own state only.
    for state in policy.OVERRIDES:
        wanted = policy.OVERRIDES[state] if event == "workflow_dispatch" and choice == state else None
        assert policy.override_for(state, values) == wanted
    reason = evaluate(env[policy.REASON_VAR], ctx)
    assert reason == ("hotfix for #12" if event == "workflow_dispatch" else "")


def test_an_override_without_a_reason_is_refused(workflow: dict[str, Any], tmp_path: Path) -> None:
    step = next(s for s in workflow["jobs"]["gate"]["steps"] if s.get("name") == "An override needs a reason")
    ctx = {"github.event_name": "workflow_dispatch", "inputs.override": "FREEZE"}
    assert evaluate(step["if"], ctx) is True
    assert evaluate(step["if"], {**ctx, "inputs.override": "none"}) is False
    script = step["run"].replace("${{ inputs.override }}", "FREEZE")
    for reason, code in (("", 1), ("   ", 1), ("rollback of #41", 0)):
        done = subprocess.run(["bash", "-e", "-c", script], env={"PATH": os.environ["PATH"], "OVERRIDE_REASON": reason},
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == code, (reason, done.stdout)


# ------------------------------------------------------------------ the gate step, run for real


def run_gate_step(workflow: dict[str, Any], tmp_path: Path, code: int, writes_summary: bool = True
                  ) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    step = next(s for s in workflow["jobs"]["gate"]["steps"] if s.get("id") == "gate")
    assert "${{" not in step["run"]
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    summary_line = 'echo "## Deploy gate: from slogen" >> "$GITHUB_STEP_SUMMARY"' if writes_summary else ":"
    (fake_bin / "slogen").write_text(f'#!/bin/sh\necho "$@" > "$CALLED"\n{summary_line}\nexit {code}\n')
    (fake_bin / "slogen").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    outputs, summary = tmp_path / "out", tmp_path / "summary.md"
    outputs.write_text("")
    summary.write_text("")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    (work / "gate-summary.md").symlink_to("/etc/passwd")  # planted by a pull request: never read
    env = {"PATH": f"{fake_bin}:{os.environ['PATH']}", "GITHUB_OUTPUT": str(outputs), "RUNNER_TEMP": str(runner_temp),
           "GITHUB_STEP_SUMMARY": str(summary), "CALLED": str(tmp_path / "called")}
    # GitHub runs `run:` steps with `bash -e {0}`.
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=work, env=env, capture_output=True, text=True,
                          timeout=30)
    (work / "gate-summary.md").unlink()
    assert "root:" not in summary.read_text()
    parsed = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return done, parsed, summary.read_text()


@pytest.mark.parametrize("code", sorted(STATES_BY_CODE))
def test_gate_step_exit_codes(workflow: dict[str, Any], tmp_path: Path, code: int) -> None:
    done, outputs, summary = run_gate_step(workflow, tmp_path, code)
    assert done.returncode == code  # the job fails exactly when the gate blocks
    assert outputs == {"exit_code": str(code), "state": STATES_BY_CODE[code]}
    assert "## Deploy gate: from slogen" in summary  # the gate's own summary reaches the job summary
    assert ("::error title=Deploy blocked::" in done.stdout) is (code != 0)
    args = (tmp_path / "called").read_text().split()
    assert args[0] == "gate" and "--json" in args and "--audit-log" in args
    # The step's names agree with the gate's own exit-code table.
    if code in (1, 2, 3):
        assert policy.EXIT_CODES[STATES_BY_CODE[code]] == code
    elif code == 0:
        assert policy.EXIT_CODES["NORMAL"] == policy.EXIT_CODES["CAUTION"] == 0
    elif code == 99:
        assert policy.EXIT_CODES[c.UNKNOWN] == 99


def test_gate_step_without_a_summary_still_reports(workflow: dict[str, Any], tmp_path: Path) -> None:
    done, outputs, summary = run_gate_step(workflow, tmp_path, 2, writes_summary=False)
    assert done.returncode == 2 and outputs["state"] == "FREEZE"
    assert "## Deploy gate: FREEZE" in summary and "exited 2" in summary


# ------------------------------------------------------------------ PR comment and deploy conditions


def test_comment_only_on_pull_requests_the_gate_blocks(workflow: dict[str, Any]) -> None:
    step = next(s for s in workflow["jobs"]["gate"]["steps"] if s.get("uses", "").startswith("actions/github-script"))
    assert workflow["jobs"]["gate"]["permissions"]["pull-requests"] == "write"
    for event, code, expected in (("pull_request", "2", True), ("pull_request", "99", True),
                                  ("pull_request", "0", False), ("pull_request", "", False),
                                  ("push", "3", False)):
        ctx = {"github.event_name": event, "steps.gate.outputs.exit_code": code}
        assert bool(evaluate(step["if"], ctx)) is expected, (event, code)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_comment_script_creates_then_updates_one_comment(workflow: dict[str, Any], tmp_path: Path) -> None:
    step = next(s for s in workflow["jobs"]["gate"]["steps"] if s.get("uses", "").startswith("actions/github-script"))
    script = step["with"]["script"].replace("${{ steps.gate.outputs.exit_code }}", "2")
    assert "${{" not in script
    (tmp_path / "slogen-gate-summary.md").write_text("## Deploy gate: FREEZE (blocked)\n")
    harness = """
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const calls = [];
const existing = JSON.parse(process.env.EXISTING);
const github = {
  paginate: async (fn, args) => { calls.push(['list', args]); return existing; },
  rest: { issues: {
    listComments: 'listComments',
    createComment: async (args) => { calls.push(['create', args]); },
    updateComment: async (args) => { calls.push(['update', args]); },
  } },
};
const context = { repo: { owner: 'acme', repo: 'shop' }, issue: { number: 7 } };
new AsyncFunction('github', 'context', 'core', 'require', process.env.SCRIPT)(github, context, {}, require)
  .then(() => console.log(JSON.stringify(calls)));
"""
    results = []
    for existing in ([], [{"id": 5, "body": "<!-- slogen-gate -->\nold"}, {"id": 6, "body": "lgtm"}]):
        done = subprocess.run(["node", "-e", harness], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={"PATH": os.environ["PATH"], "SCRIPT": script, "EXISTING": json.dumps(existing),
                                   "RUNNER_TEMP": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout))
    created, updated = results[0][-1], results[1][-1]
    assert created[0] == "create" and created[1]["issue_number"] == 7
    assert created[1]["body"].startswith("<!-- slogen-gate -->\n## Deploy gate: FREEZE (blocked)")
    assert "exited 2" in created[1]["body"]
    assert updated[0] == "update" and updated[1]["comment_id"] == 5  # one comment per PR, kept current


@pytest.mark.parametrize(("event", "gate_result", "gate_code", "push_result", "deploys"), [
    ("push", "success", "0", "success", True),
    ("workflow_dispatch", "success", "0", "skipped", True),   # e.g. an overridden FREEZE exits 0
    ("push", "failure", "2", "success", False),
    ("push", "success", "0", "failure", False),
    ("pull_request", "success", "0", "skipped", False),
])
def test_deploy_waits_for_the_gate(workflow: dict[str, Any], event: str, gate_result: str, gate_code: str,
                                   push_result: str, deploys: bool) -> None:
    ctx = {"github.event_name": event, "needs.gate.result": gate_result, "needs.gate.outputs.exit_code": gate_code,
           "needs.push.result": push_result}
    assert bool(evaluate(workflow["jobs"]["deploy"]["if"], ctx)) is deploys
    outputs = workflow["jobs"]["gate"]["outputs"]
    assert outputs["exit_code"] == "${{ steps.gate.outputs.exit_code }}"


# ------------------------------------------------------------------ other CI systems and pre-commit


def test_gitlab_and_jenkins_equivalents() -> None:
    gitlab = yaml.safe_load((ROOT / "docs/ci/gitlab-ci.yml").read_text())
    scripts = {name: "\n".join(job.get("script", [])) for name, job in gitlab.items() if isinstance(job, dict)
               and "script" in job}
    joined = "\n".join(scripts.values())
    for command in ("slogen validate", "slogen render", "--check", "slogen push", "slogen gate"):
        assert command in joined, command
    gate_job = next(job for job in gitlab.values() if isinstance(job, dict) and "slogen gate" in
                    "\n".join(job.get("script", [])))
    assert "OVERRIDE_REASON" in json.dumps(gitlab)
    for var in policy.OVERRIDES.values():
        assert var in json.dumps(gitlab), var
    assert gate_job.get("artifacts"), "the gate's decision and audit log are kept"
    jenkins = (ROOT / "docs/ci/Jenkinsfile").read_text()
    for needle in ("slogen validate", "render", "--check", "slogen push", "slogen gate", "OVERRIDE_REASON",
                   *policy.OVERRIDES.values()):
        assert needle in jenkins, needle
    assert jenkins.count("{") == jenkins.count("}")


def test_pre_commit_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"slogen-validate", "slogen-render-check"}
    assert hooks["slogen-validate"]["entry"].split()[:2] == ["slogen", "validate"]
    assert hooks["slogen-render-check"]["entry"].split()[:2] == ["slogen", "render"]
    assert "--check" in hooks["slogen-render-check"]["entry"]
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert re.search(hook["files"], "slos.yaml")
        assert not re.search(hook["files"], "src/app.py")
