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
that `shared.settings` actually reads, a required operator key, and a non-root image.

The schema, `tests/fixtures/compose-spec.json`, is vendored verbatim from the
compose-spec/compose-spec repository, path `schema/compose-spec.json`, commit
b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba. It declares JSON Schema draft 2019-09.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

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
from telebridge.processes import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
CLUSTER = ROOT / "deploy" / "compose.cluster.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"

SETTINGS: dict[str, type[msgspec.Struct]] = {
    "registry": RegistrySettings,
    "scheduling": SchedulingSettings,
    "agenda": AgendaSettings,
}
NATS_NODES = ("nats-1", "nats-2", "nats-3")
LOCAL_STATE = {".venv", ".git", ".telebridge", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
# What a user would export before `docker compose up`; required variables must be here.
ENVIRONMENT = {"TELEBRIDGE_AUTH_OPERATOR_KEY": "operator-key-for-tests"}


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


def variables(value: Any) -> Iterator[str]:
    """Names referenced as `${NAME...}` anywhere in a value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from variables(item)
    elif isinstance(value, list):
        for item in value:
            yield from variables(item)
    elif isinstance(value, str):
        yield from (match["name"] for match in VARIABLE.finditer(value) if match["name"])


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


def active_services(model: Mapping[str, Any]) -> dict[str, Any]:
    """The services `docker compose up` starts: those without profiles."""
    return {name: spec for name, spec in model["services"].items() if not spec.get("profiles")}


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


def test_the_operator_key_is_required_and_has_no_default() -> None:
    with pytest.raises(InterpolationError, match="TELEBRIDGE_AUTH_OPERATOR_KEY"):
        interpolate(base_raw(), {})
    with pytest.raises(InterpolationError, match="TELEBRIDGE_AUTH_OPERATOR_KEY"):
        interpolate(base_raw(), {"TELEBRIDGE_AUTH_OPERATOR_KEY": ""})


def test_nats_runs_jetstream_on_a_volume_with_a_healthz_probe() -> None:
    model = base_model()
    nats = model["services"]["nats"]
    command = nats["command"]
    assert "-js" in command
    assert command[command.index("-sd") + 1] == "/data"
    assert command[command.index("-m") + 1] == "8222"
    volume, target = nats["volumes"][0].split(":")
    assert target == "/data"
    assert volume in model["volumes"]
    assert "http://127.0.0.1:8222/healthz" in nats["healthcheck"]["test"]


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
    for node in NATS_NODES:
        command = services[node]["command"]
        assert "-js" in command
        assert command[command.index("--server_name") + 1] == node
        assert command[command.index("--cluster_name") + 1] == "telebridge"
        routes = set(command[command.index("--routes") + 1].split(","))
        assert routes == {f"nats://{other}:6222" for other in NATS_NODES if other != node}
        volume = services[node]["volumes"][0].split(":")[0]
        assert volume in model["volumes"]
        assert "http://127.0.0.1:8222/healthz" in services[node]["healthcheck"]["test"]


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
    # What the image is built from must stay in the context.
    assert not {"pyproject.toml", "uv.lock", "README.md", "shared", "services"} & ignored
