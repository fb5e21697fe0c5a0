"""The docker-compose stack, checked without Docker: it parses, images are pinned, every mounted
path exists after `slogen render`, the mounts agree with the rendered files, Prometheus' config
passes `promtool check config` with the rendered rules, and Alertmanager routes every alert."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT
from prom import needs_prometheus, promtool
from slogen import conventions as c
from slogen.cli import main
from slogen.durations import parse_duration
from slogen.model import LatencySLI, RatioSLI
from slogen.spec import load as spec_loader
from vm import VICTORIA_METRICS, VMALERT, needs_victoria_metrics

COMPOSE = ROOT / "docker-compose.yml"
PROM_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
AM_CONFIG = ROOT / "deploy/alertmanager/alertmanager.yml"
LONGEST_PERIOD_DAYS = 90  # the longest SLO period the spec accepts


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = load(COMPOSE)
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict)
    return doc


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout-like copy of the stack's inputs after `slogen render` ran in it."""
    root = tmp_path_factory.mktemp("stack")
    for name in ("docker-compose.yml", "slos.yaml"):
        shutil.copy(ROOT / name, root / name)
    for name in ("deploy", "demo"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    result = CliRunner().invoke(main, ["render", "-f", str(root / "slos.yaml"), "-o", str(root)])
    assert result.exit_code == 0, result.output
    return root


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of every bind mount (short syntax; named volumes excluded)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def mount_target(compose: dict[str, Any], service: str, host_path: str) -> str:
    for source, target in bind_mounts(compose["services"][service]):
        if PurePosixPath(source) == PurePosixPath(host_path):
            return target
    raise AssertionError(f"{service} does not mount {host_path}")


def command_flags(service: dict[str, Any]) -> dict[str, str]:
    flags = {}
    for arg in service.get("command", []):
        name, _, value = str(arg).partition("=")
        flags[name] = value
    return flags


# ------------------------------------------------------------------ compose file


def test_compose_has_the_whole_stack(compose: dict[str, Any]) -> None:
    assert {"prometheus", "alertmanager", "grafana", "checkout", "search", "loadgen", "webhook"} <= set(
        compose["services"])


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image or service.get("build"), name
        if service.get("build"):
            # A locally built image: its base image is what must be pinned.
            dockerfile = ROOT / service["build"] / "Dockerfile"
            bases = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.MULTILINE)
            assert bases, dockerfile
            images = bases
        else:
            images = [image]
        for ref in images:
            if "@sha256:" in ref:
                continue
            name_part, _, tag = ref.rpartition(":")
            assert name_part and "/" not in tag, f"{name}: {ref} has no tag"
            assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {ref} is not pinned to a version"


def test_demo_dependencies_are_pinned() -> None:
    for line in (ROOT / "demo/requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", line.strip()), line


def test_every_mounted_path_exists_after_render(compose: dict[str, Any], rendered: Path) -> None:
    checked = 0
    for name, service in compose["services"].items():
        for source, target in bind_mounts(service):
            path = rendered / source
            assert path.exists(), f"{name} mounts {source}, which does not exist after `slogen render`"
            # A file mounted where a directory is expected (or the reverse) breaks the container.
            looks_like_file = PurePosixPath(target).suffix in {".yml", ".yaml", ".json", ".env"}
            assert path.is_file() == looks_like_file, f"{name}: {source} -> {target}"
            checked += 1
        for env_file in service.get("env_file", []):
            assert (rendered / env_file).is_file(), env_file
        if service.get("build"):
            assert (rendered / service["build"] / "Dockerfile").is_file()
    assert checked >= 6


def test_prometheus_service_flags(compose: dict[str, Any]) -> None:
    flags = command_flags(compose["services"]["prometheus"])
    assert "--web.enable-lifecycle" in flags
    retention = parse_duration(flags["--storage.tsdb.retention.time"])
    assert retention >= LONGEST_PERIOD_DAYS * 86400
    spec = spec_loader.load(str(ROOT / "slos.yaml"))
    assert all(retention >= slo.window_days * 86400 for slo in spec.slos)
    config_target = mount_target(compose, "prometheus", "./deploy/prometheus/prometheus.yml")
    assert flags["--config.file"] == config_target


def test_grafana_is_dark_with_admin_credentials_from_env(compose: dict[str, Any], rendered: Path) -> None:
    grafana = compose["services"]["grafana"]
    env = dict(grafana.get("environment", {}))
    for env_file in grafana.get("env_file", []):
        for line in (rendered / env_file).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                env.setdefault(key.strip(), value.strip())
    assert env["GF_USERS_DEFAULT_THEME"] == "dark"
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-admin}"
    assert env["GF_SECURITY_ADMIN_USER"] == "${GRAFANA_ADMIN_USER:-admin}"
    # The home dashboard path points into the dashboards mount, at a file that render writes.
    home = PurePosixPath(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    mounted = PurePosixPath(mount_target(compose, "grafana", "./dashboards"))
    assert (rendered / "dashboards" / home.relative_to(mounted)).is_file()


# ------------------------------------------------------------------ mounts agree with rendered files


def test_grafana_provisioning_matches_the_mounts(compose: dict[str, Any], rendered: Path) -> None:
    spec = spec_loader.load(str(rendered / "slos.yaml"))
    assert mount_target(compose, "grafana", "./provisioning/dashboards") == "/etc/grafana/provisioning/dashboards"
    assert mount_target(compose, "grafana", "./provisioning/datasources") == "/etc/grafana/provisioning/datasources"
    dashboards_at = PurePosixPath(mount_target(compose, "grafana", "./dashboards"))
    providers = [p for f in sorted((rendered / "provisioning/dashboards").glob("*.yaml"))
                 for p in load(f)["providers"]]
    assert providers
    for provider in providers:
        path = PurePosixPath(provider["options"]["path"])
        # Grafana scans the provider's path recursively, so the mount may sit at or below it.
        assert dashboards_at == path or path in dashboards_at.parents, (path, dashboards_at)
    sources = [d for f in sorted((rendered / "provisioning/datasources").glob("*.yaml"))
               for d in load(f)["datasources"]]
    ours = [d for d in sources if d.get("uid") == spec.grafana.datasource]
    assert len(ours) == 1, sources
    url = urlsplit(ours[0]["url"])
    prometheus_port = int(compose["services"]["prometheus"]["ports"][0].split(":")[-1])
    assert (url.hostname, url.port) == ("prometheus", prometheus_port)


def test_rule_files_glob_loads_every_rendered_rule_file(compose: dict[str, Any], rendered: Path) -> None:
    config = load(PROM_CONFIG)
    rules_at = PurePosixPath(mount_target(compose, "prometheus", "./rules"))
    rule_files = [PurePosixPath(p) for p in config["rule_files"]]
    assert all(p.parent == rules_at for p in rule_files)
    rendered_rules = sorted(p.name for p in (rendered / "rules").iterdir())
    spec = spec_loader.load(str(rendered / "slos.yaml"))
    assert rendered_rules == sorted(PurePosixPath(c.rule_file(s.name)).name for s in spec.services)
    for name in rendered_rules:
        assert any(fnmatch.fnmatch(name, p.name) for p in rule_files), name
    wiring = rendered / "provisioning/prometheus/rule_files.yaml"
    if wiring.exists():  # the rendered wiring, where the renderer provides it, must agree
        assert sorted(load(wiring)["rule_files"]) == sorted(config["rule_files"])


def test_every_job_the_spec_selects_is_a_scrape_job(compose: dict[str, Any]) -> None:
    config = load(PROM_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    spec = spec_loader.load(str(ROOT / "slos.yaml"))
    wanted = set()
    for slo in spec.slos:
        if isinstance(slo.sli, RatioSLI):
            wanted |= set(re.findall(r'\bjob="([^"]+)"', slo.sli.total))
        elif isinstance(slo.sli, LatencySLI):
            wanted |= {m.value for m in slo.sli.selector if m.name == "job"}
    assert wanted == {"checkout", "search"}
    for job in wanted:
        (target,) = jobs[job]["static_configs"][0]["targets"]
        host, port = target.split(":")
        assert host in compose["services"], target
        assert port == "8080"  # DEMO_PORT's default, where the demo listens
    am_host = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0].split(":")[0]
    assert am_host in compose["services"]


@needs_prometheus
def test_prometheus_config_passes_promtool_with_the_rendered_rules(rendered: Path, tmp_path: Path) -> None:
    # Mirror the container's paths under tmp_path so the absolute rule_files glob resolves.
    config = load(PROM_CONFIG)
    (tmp_path / "etc/prometheus").mkdir(parents=True)
    shutil.copytree(rendered / "rules", tmp_path / "etc/prometheus/rules")
    config["rule_files"] = [str(tmp_path) + p for p in config["rule_files"]]
    path = tmp_path / "etc/prometheus/prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = promtool("check", "config", "--lint-fatal", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    checked = re.findall(r"Checking (\S+\.rules\.yaml)", done.stdout + done.stderr)
    assert len(checked) == len(list((rendered / "rules").iterdir())) >= 2
    assert "SUCCESS" in done.stdout + done.stderr


# ------------------------------------------------------------------ Alertmanager


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    name, op, value = re.fullmatch(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"(.*)"\s*', matcher).groups()  # type: ignore[union-attr]
    actual = labels.get(name, "")
    return {"=": actual == value, "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None, "!~": re.fullmatch(value, actual) is None}[op]


def route(tree: dict[str, Any], labels: dict[str, str]) -> str:
    """The receiver Alertmanager picks for `labels` (first matching child, no `continue`)."""
    for child in tree.get("routes", []):
        if all(_matches(m, labels) for m in child.get("matchers", [])):
            return route({"receiver": child.get("receiver", tree["receiver"]), **child}, labels)
    return str(tree["receiver"])


def test_alertmanager_config_is_consistent(compose: dict[str, Any]) -> None:
    config = load(AM_CONFIG)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert {"page", "ticket"} <= set(receivers)

    def walk(node: dict[str, Any]) -> None:
        assert node.get("receiver", "page") in receivers
        for m in node.get("matchers", []):
            assert re.fullmatch(r'\s*\w+\s*(=~|!~|!=|=)\s*".*"\s*', m), m
        for child in node.get("routes", []):
            walk(child)

    walk(config["route"])
    webhook_port = str(compose["services"]["webhook"].get("environment", {}).get("WEBHOOK_PORT", "5001"))
    for receiver in receivers.values():
        for hook in receiver["webhook_configs"]:
            url = urlsplit(hook["url"])
            assert url.hostname == "webhook" and str(url.port) == webhook_port
    flags = command_flags(compose["services"]["alertmanager"])
    assert flags["--config.file"] == mount_target(compose, "alertmanager", "./deploy/alertmanager/alertmanager.yml")


def test_every_rendered_alert_reaches_the_receiver_of_its_severity(rendered: Path) -> None:
    config = load(AM_CONFIG)
    seen = set()
    for rule_file in sorted((rendered / "rules").iterdir()):
        for group in load(rule_file)["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                labels = {k: str(v) for k, v in rule.get("labels", {}).items()}
                severity = labels.get(c.LABEL_SEVERITY, "")
                receiver = route(config["route"], {"alertname": rule["alert"], **labels})
                expected = "page" if severity == c.SEVERITY_PAGE else "ticket"
                assert receiver == expected, (rule["alert"], labels)
                seen.add(severity)
    assert c.SEVERITY_PAGE in seen


def _inhibited(rule: dict[str, Any], labels: dict[str, str], firing: dict[str, str]) -> bool:
    return (all(_matches(m, firing) for m in rule["source_matchers"])
            and all(_matches(m, labels) for m in rule["target_matchers"])
            and all(labels.get(k) == firing.get(k) for k in rule["equal"]))


def test_a_page_inhibits_only_the_burn_rate_ticket_of_its_own_slo(rendered: Path) -> None:
    config = load(AM_CONFIG)
    alerts = [{"alertname": r["alert"], **{k: str(v) for k, v in r["labels"].items()}}
              for f in sorted((rendered / "rules").iterdir()) for g in load(f)["groups"]
              for r in g["rules"] if "alert" in r]
    pages = [a for a in alerts if a["alertname"] == c.ALERT_PAGE]
    assert pages
    for page in pages:
        for alert in alerts:
            inhibited = any(_inhibited(rule, alert, page) for rule in config["inhibit_rules"])
            same_slo = (alert["service"], alert["slo"]) == (page["service"], page["slo"])
            assert inhibited == (same_slo and alert["alertname"] == c.ALERT_TICKET), (page, alert)


def test_route_helper_follows_alertmanager_semantics() -> None:
    tree = {"receiver": "d", "routes": [{"receiver": "a", "matchers": ['x=~"1|2"']},
                                        {"receiver": "b", "matchers": ['x!="3"']}]}
    assert [route(tree, {"x": v}) for v in ("1", "2", "3", "4")] == ["a", "a", "d", "b"]


def test_history_is_seeded_before_prometheus_starts(compose: dict[str, Any]) -> None:
    services = compose["services"]
    # promtool of the same release that reads the blocks writes them.
    assert services["backfill"]["image"] == services["prometheus"]["image"]
    assert services["prometheus"]["depends_on"]["backfill"]["condition"] == "service_completed_successfully"
    assert services["backfill"]["depends_on"]["history"]["condition"] == "service_completed_successfully"
    script = services["backfill"]["command"][0]
    assert "create-blocks-from openmetrics --max-block-duration=" in script  # minutes, not hours, to build
    assert mount_target(compose, "history", "./slos.yaml") in services["history"]["command"]
    data_volume = next(v for v in services["prometheus"]["volumes"] if v.endswith(":/prometheus"))
    assert data_volume in services["backfill"]["volumes"]


def test_every_demo_command_is_in_the_image(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "demo/Dockerfile").read_text()
    copied = set(" ".join(re.findall(r"^COPY (.+) \./?$", dockerfile, re.MULTILINE)).split())
    for name, service in compose["services"].items():
        if service.get("build"):
            command = service.get("command", ["python", "app.py"])
            assert command[0] == "python" and command[1] in copied, (name, command)
            assert (ROOT / "demo" / command[1]).is_file()


# ------------------------------------------------------------------ engines and the vm profile

VM_SCRAPE = ROOT / "deploy/victoriametrics/scrape.yml"
VM_DATASOURCE = ROOT / "deploy/grafana/victoriametrics/slogen-vm.yaml"
VM_SERVICES = {"victoriametrics", "vmalert", "grafana-vm"}


def image_version(image: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", image.rpartition(":")[2])[:3])


def test_prometheus_3_and_current_grafana(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert image_version(services["prometheus"]["image"])[0] == 3
    assert image_version(services["grafana"]["image"]) >= (12, 0, 0)
    assert services["grafana-vm"]["image"] == services["grafana"]["image"]
    assert image_version(services["vmalert"]["image"]) == image_version(services["victoriametrics"]["image"])


def test_the_vm_profile_is_separate(compose: dict[str, Any]) -> None:
    """`docker compose up` is the Prometheus stack; `--profile vm` adds exactly the VictoriaMetrics side."""
    profiled = {name for name, s in compose["services"].items() if s.get("profiles")}
    assert profiled == VM_SERVICES
    assert all(compose["services"][name]["profiles"] == ["vm"] for name in VM_SERVICES)
    for name, service in compose["services"].items():
        depends = service.get("depends_on") or []
        if name not in VM_SERVICES:  # a default service must never wait for a profiled one
            assert not set(depends) & VM_SERVICES, name


def test_vmalert_reads_every_rendered_rule_file(compose: dict[str, Any], rendered: Path) -> None:
    vmalert = compose["services"]["vmalert"]
    flags = command_flags(vmalert)
    rules_at = PurePosixPath(mount_target(compose, "vmalert", "./rules"))
    pattern = PurePosixPath(flags["-rule"])
    assert pattern.parent == rules_at
    names = [p.name for p in (rendered / "rules").iterdir()]
    assert names and all(fnmatch.fnmatch(n, pattern.name) for n in names)
    vm_port = compose["services"]["victoriametrics"]["ports"][0].split(":")[-1]
    for flag in ("-datasource.url", "-remoteWrite.url", "-remoteRead.url"):
        url = urlsplit(flags[flag])
        assert (url.hostname, str(url.port)) == ("victoriametrics", vm_port), flag
    notifier = urlsplit(flags["-notifier.url"])
    am_port = compose["services"]["alertmanager"]["ports"][0].split(":")[-1]
    assert (notifier.hostname, str(notifier.port)) == ("alertmanager", am_port)
    # vmalert's alerts carry Prometheus' external label, so Alertmanager merges the two engines' alerts.
    stack = load(PROM_CONFIG)["global"]["external_labels"]["stack"]
    assert flags["-external.label"] == f"stack={stack}"


def test_victoriametrics_scrapes_what_prometheus_scrapes(compose: dict[str, Any]) -> None:
    prom, vm = load(PROM_CONFIG), load(VM_SCRAPE)
    assert vm["global"]["scrape_interval"] == prom["global"]["scrape_interval"]
    assert vm["global"]["external_labels"] == prom["global"]["external_labels"]
    prom_jobs = {j["job_name"]: j["static_configs"] for j in prom["scrape_configs"]}
    vm_jobs = {j["job_name"]: j["static_configs"] for j in vm["scrape_configs"]}
    for job in ("checkout", "search"):  # the jobs slos.yaml selects (test above)
        assert vm_jobs[job] == prom_jobs[job]
    flags = command_flags(compose["services"]["victoriametrics"])
    assert flags["-promscrape.config"] == mount_target(compose, "victoriametrics", "./deploy/victoriametrics/scrape.yml")
    retention = flags["-retentionPeriod"]
    assert retention.endswith("d") and int(retention[:-1]) >= LONGEST_PERIOD_DAYS


def test_grafana_vm_shows_the_same_dashboards_on_victoriametrics(compose: dict[str, Any], rendered: Path) -> None:
    spec = spec_loader.load(str(rendered / "slos.yaml"))
    (source,) = load(VM_DATASOURCE)["datasources"]
    (prometheus_source,) = load(rendered / "provisioning/datasources/slogen.yaml")["datasources"]
    assert source["uid"] == prometheus_source["uid"] == spec.grafana.datasource
    assert source["type"] == prometheus_source["type"] == "prometheus"
    url = urlsplit(source["url"])
    assert (url.hostname, str(url.port)) == ("victoriametrics", compose["services"]["victoriametrics"]["ports"][0]
                                             .split(":")[-1])
    assert mount_target(compose, "grafana-vm", "./deploy/grafana/victoriametrics") == \
        "/etc/grafana/provisioning/datasources"
    for path in ("./provisioning/dashboards", "./dashboards"):
        assert mount_target(compose, "grafana-vm", path) == mount_target(compose, "grafana", path)


@needs_victoria_metrics
def test_vmalert_and_victoriametrics_accept_the_configs(rendered: Path) -> None:
    assert VMALERT and VICTORIA_METRICS
    checked = subprocess.run([VMALERT, "-dryRun", f"-rule={rendered / 'rules'}/*.rules.yaml", "-loggerLevel=ERROR"],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    scrape = subprocess.run([VICTORIA_METRICS, f"-promscrape.config={VM_SCRAPE}", "-promscrape.config.dryRun",
                             "-loggerLevel=ERROR"], capture_output=True, text=True, timeout=60)
    assert scrape.returncode == 0, scrape.stdout + scrape.stderr
