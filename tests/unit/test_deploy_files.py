"""The container deployment files: compose.yaml, deploy/compose.cluster.yaml, deploy/Dockerfile.

No container engine runs where the tests run, so the files are checked the way Compose
would load them:

- `compose.yaml` on its own, after variable interpolation, against the Compose
  Specification JSON Schema.
- `deploy/compose.cluster.yaml` is an **override**, not a standalone file: it is used as
  `docker compose -f compose.yaml -f deploy/compose.cluster.yaml`, and its services carry
  only what changes (no `build`, no `command`). So it is merged onto `compose.yaml` with
  Compose's merge rules (mappings merge, sequences append, `command`/`entrypoint`/
  `healthcheck.test` replace, `!override` replaces, `!reset` removes) and the merged model
  is validated. The override alone is validated too, as a fragment.

Beyond the schema, the tests assert what the system relies on: health checks that probe
`/health/ready`, start-up ordering on healthy NATS and PostgreSQL, environment variables
that `shared.settings` actually reads, a required operator key and NATS passwords, and a
non-root image. The NATS servers run deploy/nats/ (nats.conf; cluster.conf on each node of
the cluster): its users have exactly the permissions of `shared.bus.permissions`, each
service logs in as its own, the real nats-server accepts the files with the environment
Compose gives it, and three nodes of cluster.conf form a cluster whose routes need the
route password.

The schema, `tests/fixtures/compose-spec.json`, is vendored verbatim from the
compose-spec/compose-spec repository, path `schema/compose-spec.json`, commit
b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba. It declares JSON Schema draft 2019-09.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import msgspec
import pytest
import yaml
from jsonschema.validators import validator_for

from shared.events import SERVICES
from shared.settings import (
    AgendaSettings,
    RegistrySettings,
    SchedulingSettings,
    environment_names,
)
from telebridge.embedded import free_port, nats_server_binary
from telebridge.processes import DEFAULT_PORTS
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
COMPOSE = ROOT / "compose.yaml"
CLUSTER = ROOT / "deploy" / "compose.cluster.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
NATS_DIR = ROOT / "deploy" / "nats"
NATS_CONF = NATS_DIR / "nats.conf"
CLUSTER_CONF = NATS_DIR / "cluster.conf"
CONFIG_DIR = "/etc/nats"
"""Where the NATS containers find deploy/nats/."""

SETTINGS: dict[str, type[msgspec.Struct]] = {
    "registry": RegistrySettings,
    "scheduling": SchedulingSettings,
    "agenda": AgendaSettings,
}
NATS_NODES = ("nats-1", "nats-2", "nats-3")
LOCAL_STATE = {".venv", ".git", ".telebridge", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
OPERATOR_KEY = "TELEBRIDGE_AUTH_OPERATOR_KEY"
ROUTE_PASSWORD = "NATS_ROUTE_PASSWORD"
# What a user would export before `docker compose up`; required variables must be here.
# The passwords as `openssl rand -hex 24` makes them, starting with a digit (nats-server
# reads a variable's value as it would a value in the file: digits alone are a number).
ENVIRONMENT = {
    OPERATOR_KEY: "operator-key-for-tests",
    "NATS_OPERATOR_PASSWORD": "6f277b48884b6526c52f022f878c80db9ae942b1709e1036",
    "NATS_REGISTRY_PASSWORD": "7cada82ee1b5f1810c63df637c1bda7db22a3e39b475c582",
    "NATS_SCHEDULING_PASSWORD": "22d557d03a33503ec0cca7f871c46237ce23f75162de507a",
    "NATS_AGENDA_PASSWORD": "66ef37ffc84c78c454e5f56c4a78751b282c8de656a444f0",
    ROUTE_PASSWORD: "4b74adad9c8503ede6aef6b9cbebc7c048dea9176e0b614b",
}


# --- loading the way Compose does ----------------------------------------------------------


class Override:
    """A value tagged `!override`: replaces the base value instead of merging into it."""

    def __init__(self, value: Any) -> None:
        self.value = value


class Reset:
    """A value tagged `!reset`: removes the attribute from the merged model."""


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus the two merge tags of the Compose Specification."""


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.ScalarNode)
    return Override(loader.construct_scalar(node))


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return Reset()


ComposeLoader.add_constructor("!override", _override)
ComposeLoader.add_constructor("!reset", _reset)


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as file:
        document = yaml.load(file, Loader=ComposeLoader)  # noqa: S506 (a SafeLoader subclass)
    assert isinstance(document, dict)
    return document


REPLACED = {("command",), ("entrypoint",), ("healthcheck", "test")}


def merge(base: Any, override: Any, path: tuple[str, ...] = ()) -> Any:
    """Compose's merge of an override file onto a base (compose-spec `13-merge.md`)."""
    if isinstance(override, Override):
        return strip(override.value)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if isinstance(value, Reset):
                merged.pop(key, None)
            elif key in merged:
                merged[key] = merge(merged[key], value, (*path, key))
            else:
                merged[key] = strip(value)
        return merged
    replaced = any(path[-len(suffix) :] == suffix for suffix in REPLACED)
    if isinstance(base, list) and isinstance(override, list) and not replaced:
        return base + [item for item in strip(override) if item not in base]
    return strip(override)


def strip(value: Any) -> Any:
    """The value with the merge tags dropped, as the override would read on its own."""
    if isinstance(value, Override):
        return strip(value.value)
    if isinstance(value, dict):
        return {key: strip(item) for key, item in value.items() if not isinstance(item, Reset)}
    if isinstance(value, list):
        return [strip(item) for item in value]
    return value


VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})"
)


class InterpolationError(ValueError):
    """A required variable is missing, as `${NAME:?message}` demands."""


def interpolate(value: Any, environment: Mapping[str, str]) -> Any:
    """Compose's `${NAME}`, `${NAME:-default}`, `${NAME:?error}` and `$$`, on every string."""
    if isinstance(value, dict):
        return {key: interpolate(item, environment) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environment) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        current = environment.get(name)
        unset = current is None or (current == "" and op is not None and op.startswith(":"))
        if op is not None and op.endswith("?") and unset:
            raise InterpolationError(f"{name}: {arg}")
        if op is not None and op.endswith("-") and unset:
            return arg
        return current or ""

    return VARIABLE.sub(substitute, value)


def references(value: Any) -> Iterator[re.Match[str]]:
    """Each `${NAME...}` anywhere in a value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, str):
        yield from (match for match in VARIABLE.finditer(value) if match["name"])


def variables(value: Any) -> Iterator[str]:
    """Names referenced as `${NAME...}` anywhere in a value."""
    yield from (match["name"] for match in references(value))


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


# --- fixtures: read and parse each file once --------------------------------------------------


@cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@cache
def base_raw() -> dict[str, Any]:
    return load(COMPOSE)


@cache
def cluster_raw() -> dict[str, Any]:
    return load(CLUSTER)


def base_model() -> dict[str, Any]:
    model: dict[str, Any] = interpolate(copy.deepcopy(base_raw()), ENVIRONMENT)
    return model


def cluster_model() -> dict[str, Any]:
    model: dict[str, Any] = interpolate(merge(base_raw(), cluster_raw()), ENVIRONMENT)
    return model


MODELS = {"compose.yaml": base_model, "compose.yaml + compose.cluster.yaml": cluster_model}
RAW: dict[str, Callable[[], dict[str, Any]]] = {
    "compose.yaml": base_raw,
    "compose.yaml + compose.cluster.yaml": lambda: merge(base_raw(), cluster_raw()),
}


def active_services(model: Mapping[str, Any]) -> dict[str, Any]:
    """The services `docker compose up` starts: those without profiles."""
    return {name: spec for name, spec in model["services"].items() if not spec.get("profiles")}


def nats_servers(model: Mapping[str, Any]) -> dict[str, Any]:
    """The NATS servers `docker compose up` starts."""
    return {
        name: spec
        for name, spec in active_services(model).items()
        if spec.get("image", "").startswith("nats:")
    }


def mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Each mount's target and its source (a volume's name, or a path)."""
    found: dict[str, str] = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = source
    return found


def without(variable: str) -> dict[str, str]:
    return {name: value for name, value in ENVIRONMENT.items() if name != variable}


def test_the_merge_follows_the_compose_rules() -> None:
    base = {"services": {"a": {"command": ["x"], "ports": ["1:1"], "dns": ["d"], "env": {"A": 1}}}}
    override = {
        "services": {
            "a": {"command": ["y"], "ports": Override(["2"]), "dns": ["e"], "env": {"B": 2}},
            "b": {"image": "i", "healthcheck": Reset()},
        }
    }
    assert merge(base, override) == {
        "services": {
            "a": {"command": ["y"], "ports": ["2"], "dns": ["d", "e"], "env": {"A": 1, "B": 2}},
            "b": {"image": "i"},
        }
    }


# --- the schema -------------------------------------------------------------------------------


def test_the_vendored_schema_is_the_compose_specification_in_draft_2019_09() -> None:
    schema = validator().schema
    assert schema["title"] == "Compose Specification"
    assert isinstance(validator(), jsonschema.Draft201909Validator)


@pytest.mark.parametrize("model", MODELS)
def test_the_compose_model_is_valid(model: str) -> None:
    validator().validate(MODELS[model]())


def test_the_cluster_override_alone_is_a_valid_fragment() -> None:
    validator().validate(interpolate(strip(cluster_raw()), ENVIRONMENT))


@pytest.mark.parametrize(
    ("description", "mutate"),
    [
        (
            "a depends_on condition Compose does not know",
            lambda model: model["services"]["registry"].update(
                depends_on={"nats": {"condition": "bogus"}}
            ),
        ),
        (
            "a depends_on entry without a condition",
            lambda model: model["services"]["agenda"]["depends_on"].update(nats={}),
        ),
        (
            "an unknown healthcheck attribute",
            lambda model: model["services"]["scheduling"]["healthcheck"].update(url="/health"),
        ),
        (
            "an unknown top-level key",
            lambda model: model.update(servics={}),
        ),
        (
            "a command that is neither a string nor a list of strings",
            lambda model: model["services"]["registry"].update(command={"python": "-m"}),
        ),
    ],
)
def test_a_wrong_file_fails_validation(description: str, mutate: Any) -> None:
    model = base_model()
    mutate(model)
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(model)


# --- what the system relies on ------------------------------------------------------------------


def test_compose_yaml_has_no_obsolete_version_key() -> None:
    assert "version" not in base_raw()
    assert "version" not in cluster_raw()


@pytest.mark.parametrize("model", MODELS)
def test_the_three_services_share_one_image_built_from_the_dockerfile(model: str) -> None:
    services = MODELS[model]()["services"]
    builds = {json.dumps(services[name]["build"], sort_keys=True) for name in SERVICES}
    images = {services[name]["image"] for name in SERVICES}
    assert len(builds) == 1
    assert len(images) == 1
    build = services["registry"]["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    for name in SERVICES:
        assert services[name]["pull_policy"] == "build"
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", SERVICES)
def test_each_service_probes_its_own_readiness_endpoint(model: str, name: str) -> None:
    service = MODELS[model]()["services"][name]
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], "the image has Python but no curl"
    assert "urllib.request" in test[3]
    port = environment_of(service)[f"TELEBRIDGE_{name.upper()}_HTTP_PORT"]
    assert f"http://127.0.0.1:{port}/health/ready" in test[3]
    compile(test[3], f"{name} healthcheck", "exec")


@pytest.mark.parametrize("model", MODELS)
def test_every_started_service_has_a_healthcheck(model: str) -> None:
    for name, service in active_services(MODELS[model]()).items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert not service["healthcheck"].get("disable"), name


@pytest.mark.parametrize("name", SERVICES)
def test_services_start_after_nats_and_postgres_are_healthy(name: str) -> None:
    depends_on = base_model()["services"][name]["depends_on"]
    assert depends_on == {
        "nats": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }


@pytest.mark.parametrize("name", SERVICES)
def test_in_the_cluster_services_start_after_every_nats_node_is_healthy(name: str) -> None:
    depends_on = cluster_model()["services"][name]["depends_on"]
    assert depends_on == {
        dependency: {"condition": "service_healthy"} for dependency in (*NATS_NODES, "postgres")
    }


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", SERVICES)
def test_every_telebridge_variable_is_one_the_service_reads(model: str, name: str) -> None:
    known = set(environment_names(SETTINGS[name], name))
    raw = base_raw() if model == "compose.yaml" else merge(base_raw(), cluster_raw())
    service = MODELS[model]()["services"][name]
    used = {key for key in environment_of(service) if key.startswith("TELEBRIDGE_")}
    used |= {key for key in variables(raw["services"][name]) if key.startswith("TELEBRIDGE_")}
    assert used
    assert used <= known, f"unknown to shared.settings: {sorted(used - known)}"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_configured_for_containers(name: str) -> None:
    service = base_model()["services"][name]
    environment = environment_of(service)
    prefix = f"TELEBRIDGE_{name.upper()}_HTTP"
    port = DEFAULT_PORTS[name]
    assert environment[f"{prefix}_HOST"] == "0.0.0.0"  # noqa: S104 (inside a container)
    assert environment[f"{prefix}_PORT"] == str(port)
    assert environment[f"{prefix}_PUBLIC_URL"] == f"http://localhost:{port}"
    assert service["ports"] == [f"{port}:{port}"]
    assert environment["TELEBRIDGE_NATS_URL"] == "nats://nats:4222"
    assert environment["TELEBRIDGE_DATABASE_URL"].endswith("@postgres:5432/telebridge")
    assert environment["TELEBRIDGE_LOG_JSON"] == "true"
    assert (
        environment["TELEBRIDGE_AUTH_OPERATOR_KEY"] == ENVIRONMENT["TELEBRIDGE_AUTH_OPERATOR_KEY"]
    )


SECRETS = (OPERATOR_KEY, *(password_variable(user) for user in NATS_USERS))


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        *(("compose.yaml", variable) for variable in SECRETS),
        *(("compose.yaml + compose.cluster.yaml", variable) for variable in SECRETS),
        ("compose.yaml + compose.cluster.yaml", ROUTE_PASSWORD),
    ],
)
def test_the_operator_key_and_the_nats_passwords_are_required_and_have_no_default(
    model: str, variable: str
) -> None:
    raw = RAW[model]()
    with pytest.raises(InterpolationError, match=variable):
        interpolate(raw, without(variable))
    with pytest.raises(InterpolationError, match=variable):
        interpolate(raw, {**ENVIRONMENT, variable: ""})
    found = [match for match in references(raw) if match["name"] == variable]
    assert found
    for match in found:
        assert match["op"] in {":?", None}, f"{match[0]}: required, with no default"


def test_only_the_cluster_needs_the_route_password() -> None:
    interpolate(base_raw(), without(ROUTE_PASSWORD))


def test_nats_runs_jetstream_on_a_volume_with_a_healthz_probe() -> None:
    model = base_model()
    nats = model["services"]["nats"]
    assert nats["command"] == ["--config", f"{CONFIG_DIR}/nats.conf"]
    mounted = mounts(nats)
    assert mounted["/data"] in model["volumes"]
    assert (ROOT / mounted[CONFIG_DIR]).resolve() == NATS_DIR
    assert f"{CONFIG_DIR}:ro" in nats["volumes"][1], "the configuration is mounted read-only"
    conf = NATS_CONF.read_text(encoding="utf-8")
    assert re.search(r'^jetstream \{\n  store_dir: "/data"\n\}$', conf, re.MULTILINE)
    # The health check asks the monitoring port, which needs no login.
    assert re.search(r'^http: "0\.0\.0\.0:8222"$', conf, re.MULTILINE)
    assert "http://127.0.0.1:8222/healthz" in nats["healthcheck"]["test"]


def test_the_nats_users_have_exactly_the_permissions_of_shared_bus_permissions() -> None:
    expected = expected_authorization()
    assert authorization_of(NATS_CONF.read_text(encoding="utf-8")) == expected, (
        "write shared.bus.permissions.server_authorization's block into "
        "deploy/nats/nats.conf, each password as $NATS_<USER>_PASSWORD:\n" + expected
    )
    # Each node of the cluster has the same users: it includes nats.conf, and adds none.
    cluster = CLUSTER_CONF.read_text(encoding="utf-8")
    assert re.findall(r"^include .*$", cluster, re.MULTILINE) == ['include "nats.conf"']
    assert authorization_of(cluster) == ""
    assert not re.search(r"^\s*(users|accounts|no_auth_user)\b", cluster, re.MULTILINE)


@pytest.mark.parametrize("model", MODELS)
def test_each_service_logs_in_to_nats_as_its_own_user(model: str) -> None:
    services = MODELS[model]()["services"]
    servers = nats_servers(MODELS[model]())
    assert servers
    for name in SERVICES:
        environment = environment_of(services[name])
        assert environment["TELEBRIDGE_NATS_USER"] == name
        assert environment["TELEBRIDGE_NATS_PASSWORD"] == ENVIRONMENT[password_variable(name)]
    # Every server takes each user's password from the same variable as the service.
    for server in servers.values():
        environment = environment_of(server)
        for user in NATS_USERS:
            assert environment[password_variable(user)] == ENVIRONMENT[password_variable(user)]


def nats_config_copy(tmp_path: Path) -> Path:
    """deploy/nats/ where a test may write: what the containers mount at CONFIG_DIR."""
    target = tmp_path / "nats"
    shutil.copytree(NATS_DIR, target)
    return target


def in_copy(command: list[str], folder: Path) -> tuple[Path, list[str]]:
    """A NATS container's `--config` file in `folder`, and the rest of its command."""
    assert command[0] == "--config"
    conf = folder / Path(command[1]).relative_to(CONFIG_DIR)
    return conf, command[2:]


@pytest.mark.parametrize("model", MODELS)
def test_the_real_nats_server_accepts_the_configuration(model: str, tmp_path: Path) -> None:
    folder = nats_config_copy(tmp_path)
    for name, server in nats_servers(MODELS[model]()).items():
        conf, arguments = in_copy(server["command"], folder)
        environment = environment_of(server)
        result = check_configuration(conf, environment, arguments)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        # The configuration reads each variable the container sets: without one it fails.
        for variable in environment:
            rest = {key: value for key, value in environment.items() if key != variable}
            result = check_configuration(conf, rest, arguments)
            assert result.returncode != 0, f"{name} does not need {variable}"
            assert variable in result.stdout + result.stderr


def test_postgres_keeps_its_data_on_a_volume_and_reports_readiness() -> None:
    model = base_model()
    postgres = model["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_DB"] == "telebridge"
    volume, target = postgres["volumes"][0].split(":")
    assert volume in model["volumes"]
    major = int(postgres["image"].split(":")[1].split("-")[0].split(".")[0])
    # From PostgreSQL 18 the image's volume is /var/lib/postgresql, PGDATA a folder below.
    assert target == ("/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data")
    assert "pg_isready" in postgres["healthcheck"]["test"]


# --- the cluster override ----------------------------------------------------------------------


def test_the_cluster_runs_three_routed_jetstream_nodes_instead_of_one() -> None:
    model = cluster_model()
    services = active_services(model)
    assert "nats" not in services
    assert set(nats_servers(model)) == set(NATS_NODES)
    conf = CLUSTER_CONF.read_text(encoding="utf-8")
    assert 'name: "telebridge"' in conf
    assert 'listen: "0.0.0.0:6222"' in conf
    assert re.search(r'authorization \{\n *user: "route"\n *password: \$NATS_ROUTE_PASSWORD', conf)
    assert "routes: $NATS_ROUTES" in conf
    password = ENVIRONMENT[ROUTE_PASSWORD]
    for node in NATS_NODES:
        service = services[node]
        assert service["command"] == [
            "--config",
            f"{CONFIG_DIR}/cluster.conf",
            "--server_name",
            node,
        ]
        mounted = mounts(service)
        assert mounted["/data"] in model["volumes"]
        assert mounted["/data"] != mounts(model["services"]["nats"])["/data"]
        assert (ROOT / mounted[CONFIG_DIR]).resolve() == NATS_DIR
        environment = environment_of(service)
        assert environment[ROUTE_PASSWORD] == password
        # Every node, itself included (dropped), with the route login: nats-server reads
        # the variable as a value of its file, here a list of strings.
        assert json.loads(environment["NATS_ROUTES"]) == [
            f"nats://route:{password}@{other}:6222" for other in NATS_NODES
        ]
        assert "http://127.0.0.1:8222/healthz" in service["healthcheck"]["test"]
    volumes = {mounts(services[node])["/data"] for node in NATS_NODES}
    assert len(volumes) == len(NATS_NODES)


@pytest.mark.parametrize("name", SERVICES)
def test_in_the_cluster_each_service_runs_twice_on_replicated_streams(name: str) -> None:
    service = cluster_model()["services"][name]
    environment = environment_of(service)
    assert service["deploy"]["replicas"] == 2
    assert environment["TELEBRIDGE_NATS_URL"].split(",") == [
        f"nats://{node}:4222" for node in NATS_NODES
    ]
    assert environment["TELEBRIDGE_NATS_STREAM_REPLICAS"] == "3"
    # Two containers cannot bind one host port: publish the container port only.
    assert service["ports"] == [str(DEFAULT_PORTS[name])]


def test_in_the_cluster_no_host_port_is_bound_twice() -> None:
    published: list[str] = []
    for service in active_services(cluster_model()).values():
        replicas = service.get("deploy", {}).get("replicas", 1)
        for port in service.get("ports", []):
            host = str(port).rsplit(":", 1)[0] if ":" in str(port) else None
            published += [host] * replicas if host else []
    assert len(published) == len(set(published))


async def test_three_nodes_of_the_cluster_configuration_log_in_to_each_other(
    tmp_path: Path,
) -> None:
    """deploy/nats/ run as the three nodes of the cluster override, with their commands and
    environments; only the addresses and the store directory are replaced by local ones.
    They form a cluster through routes that log in; a route without the password is
    refused; a service connects as its container does, declares the streams with three
    replicas, and may publish its own events and not another service's."""
    services = cluster_model()["services"]
    client_ports = [free_port() for _ in NATS_NODES]
    route_ports = [free_port() for _ in NATS_NODES]
    monitor_ports = [free_port() for _ in NATS_NODES]
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        for index, name in enumerate(NATS_NODES):
            folder = nats_config_copy(tmp_path / name)
            ports = (client_ports[index], route_ports[index], monitor_ports[index])
            localise(folder, ports, folder / "data")
            conf, arguments = in_copy(services[name]["command"], folder)
            environment = environment_of(services[name])
            routes = environment["NATS_ROUTES"]
            for other, port in zip(NATS_NODES, route_ports, strict=True):
                routes = routes.replace(f"@{other}:6222", f"@127.0.0.1:{port}")
            environment["NATS_ROUTES"] = routes
            nodes.append(start_node([str(conf), *arguments], environment, folder / "log"))
        await until_healthy(monitor_ports, nodes)
        async with httpx.AsyncClient() as http:
            for port in monitor_ports:
                routez = (await http.get(f"http://127.0.0.1:{port}/routez", timeout=5)).json()
                assert {route["remote_name"] for route in routez["routes"]} <= set(NATS_NODES)
                assert len({route["remote_name"] for route in routez["routes"]}) == 2

        assert "Authorization Violation" in await route_without_password(route_ports[0])
        environment = {name: environment_of(services[name]) for name in ("registry", "agenda")}
        passwords = {name: each["TELEBRIDGE_NATS_PASSWORD"] for name, each in environment.items()}
        replicas = int(environment["registry"]["TELEBRIDGE_NATS_STREAM_REPLICAS"])
        assert replicas == len(NATS_NODES)
        await publish_as_the_services(client_ports, passwords, replicas)
    finally:
        for node in nodes:
            node.kill()
            node.wait(timeout=30)


def start_node(
    arguments: list[str], environment: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """`nats-server -c <arguments>` with only `environment`, logging into `log`."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [nats_server_binary(), "-c", *arguments],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def localise(folder: Path, ports: tuple[int, int, int], store: Path) -> None:
    """The addresses and the store of deploy/nats/ in `folder` replaced by local ones."""
    client, route, monitor = ports
    replacements = {
        "nats.conf": {
            '"0.0.0.0:4222"': f'"127.0.0.1:{client}"',
            '"0.0.0.0:8222"': f'"127.0.0.1:{monitor}"',
            'store_dir: "/data"': f'store_dir: "{store}"',
        },
        "cluster.conf": {'"0.0.0.0:6222"': f'"127.0.0.1:{route}"'},
    }
    for file, changes in replacements.items():
        text = (folder / file).read_text(encoding="utf-8")
        for old, new in changes.items():
            assert text.count(old) == 1, f"{file}: {old}"
            text = text.replace(old, new)
        (folder / file).write_text(text, encoding="utf-8")


async def route_without_password(port: int) -> str:
    """What a node answers a server that connects to its route port without the login."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await asyncio.wait_for(reader.readline(), 10)  # INFO
        connect = {"verbose": False, "pedantic": False, "name": "intruder"}
        writer.write(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
        await writer.drain()
        return (await asyncio.wait_for(reader.read(4096), 10)).decode()
    finally:
        writer.close()


# --- the image ----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = (line.strip() for line in text.splitlines())
    return [
        (keyword.upper(), arguments.strip())
        for keyword, _, arguments in (
            line.partition(" ") for line in lines if line and not line.startswith("#")
        )
    ]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert users, "the final stage sets no USER, so it runs as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_the_image_installs_from_the_lock_file_with_uv() -> None:
    instructions = dockerfile_instructions()
    runs = [arguments for keyword, arguments in instructions if keyword == "RUN"]
    syncs = [shlex.split(run) for run in runs if "uv sync" in run]
    assert syncs
    for sync in syncs:
        assert "--locked" in sync
        # Neither the dev tools nor the embedded servers `telebridge dev` uses go in the image.
        assert "--no-default-groups" in sync
    assert any(
        keyword == "COPY" and "ghcr.io/astral-sh/uv" in arguments
        for keyword, arguments in instructions
    )
    base = [arguments for keyword, arguments in instructions if keyword == "ARG"]
    assert "PYTHON_IMAGE=python:3.11-slim" in base


def test_the_image_exposes_the_service_ports_and_runs_a_service_by_default() -> None:
    stage = final_stage()
    exposed = {
        int(port)
        for keyword, arguments in stage
        if keyword == "EXPOSE"
        for port in arguments.split()
    }
    assert exposed == set(DEFAULT_PORTS.values())
    commands = [json.loads(arguments) for keyword, arguments in stage if keyword == "CMD"]
    assert commands[-1][:2] == ["python", "-m"]
    assert commands[-1][2].removeprefix("services.") in SERVICES


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = {
        line.strip().strip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert ignored >= LOCAL_STATE
    # The secrets Compose reads from .env go neither into the image nor into git.
    assert ".env" in ignored
    assert "/.env" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    # What the image is built from must stay in the context.
    assert not {"pyproject.toml", "uv.lock", "README.md", "shared", "services"} & ignored
