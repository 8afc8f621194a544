"""Discovery: every service is a `nats.micro` service with a `status` endpoint; its errors
carry a code and nothing of the internals; `telebridge status` lists the replicas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import nats
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from typer.testing import CliRunner, Result

import shared.readmodels.meetings
from services.agenda.app import create_app as agenda_app
from services.registry.app import create_app as registry_app
from services.registry.micro import STATISTICS_SUBJECT
from services.scheduling.app import create_app as scheduling_app
from shared.bus.outbox import OutboxRelay
from shared.events import REGISTRY, SERVICES, new_id
from shared.micro import INTERNAL, UNAVAILABLE
from shared.settings import (
    AgendaSettings,
    HttpSettings,
    NatsSettings,
    RegistrySettings,
    SchedulingSettings,
)
from shared.version import VERSION
from telebridge.cli import app as cli
from telebridge.client import ExitCode
from telebridge.embedded import EmbeddedPostgres, free_port
from telebridge.status import Replica, Report, collect
from tests.integration.registry.support import LIPETSK
from tests.support import ADMIN_KEY, OPERATOR, eventually, serving, settings_for

ENDPOINTS = {
    "registry": {"status", "exists", "attendance"},
    "scheduling": {"status", "exists"},
    "agenda": {"status"},
}
INTERNALS = ("Error", "Traceback", "SELECT", "asyncpg", "Errno", "(", "secret")
"""What no error answer may contain: exception names, SQL, reprs, what the test planted."""


def service(
    name: str, database_url: str, nats_url: str, port: int | None = None
) -> AbstractAsyncContextManager[AsyncTestClient[Litestar]]:
    """One replica of a service, in-process, answering HTTP on `port` as its metadata says."""
    http = HttpSettings(port=port or free_port())
    if name == "registry":
        app = registry_app(
            settings_for(RegistrySettings, database_url, nats_url, admin_key=ADMIN_KEY, http=http)
        )
    elif name == "scheduling":
        app = scheduling_app(settings_for(SchedulingSettings, database_url, nats_url, http=http))
    else:
        app = agenda_app(settings_for(AgendaSettings, database_url, nats_url, http=http))
    return serving(app)


@asynccontextmanager
async def connected(nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


async def answers(client: NATS, subject: str, wait: float = 0.3) -> list[Msg]:
    """Every answer to one request on `subject` within `wait` seconds."""
    inbox = client.new_inbox()
    subscription = await client.subscribe(inbox, max_msgs=0)
    await client.publish(subject, b"", reply=inbox)
    kept: list[Msg] = []
    deadline = asyncio.get_running_loop().time() + wait
    while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            kept.append(await subscription.next_msg(timeout=remaining))
        except TimeoutError:
            break
    await subscription.unsubscribe()
    return kept


def error_of(reply: Msg) -> tuple[str, str]:
    headers = reply.headers or {}
    return headers.get("Nats-Service-Error-Code", ""), headers.get("Nats-Service-Error", "")


def without_internals(description: str) -> bool:
    return not any(internal in description for internal in INTERNALS)


async def test_each_service_answers_discovery_with_its_name_version_and_endpoints(
    database_url: str, nats_url: str
) -> None:
    ports = {name: free_port() for name in SERVICES}
    async with AsyncExitStack() as stack:
        for name in SERVICES:
            await stack.enter_async_context(service(name, database_url, nats_url, ports[name]))
        client = await stack.enter_async_context(connected(nats_url))

        async def all_three() -> dict[str, dict[str, Any]] | None:
            found = [
                msgspec.json.decode(reply.data) for reply in await answers(client, "$SRV.INFO")
            ]
            by_name = {info["name"]: info for info in found if info["name"] in SERVICES}
            return by_name if len(by_name) == len(SERVICES) else None

        infos = await eventually(all_three, timeout=10)
        for name, info in infos.items():
            assert info["version"] == VERSION
            subjects = {endpoint["name"]: endpoint["subject"] for endpoint in info["endpoints"]}
            assert set(subjects) == ENDPOINTS[name]
            assert subjects.pop("status") == f"telebridge.{name}.status.{info['id']}"
            for endpoint, subject in subjects.items():
                assert subject == f"telebridge.{name}.{endpoint}"
            assert info["metadata"]["http"] == f"http://127.0.0.1:{ports[name]}"
            pings = await answers(client, f"$SRV.PING.{name}")
            assert [msgspec.json.decode(ping.data)["id"] for ping in pings] == [info["id"]]

        report = await collect(NatsSettings(url=nats_url), SERVICES, wait=0.5)
        assert report.missing == []
        assert [(replica.service, replica.health) for replica in report.replicas] == [
            (name, "ok") for name in SERVICES
        ]
        assert all(replica.uptime_s is not None for replica in report.replicas)


@pytest.fixture
def registry_relay_held(monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.Event]:
    """The registry's outbox relay waits until the returned event is set; the others run."""
    go = asyncio.Event()
    publish_pending = OutboxRelay.publish_pending

    async def held(relay: OutboxRelay) -> int:
        if relay._channel.startswith("registry."):
            await go.wait()
        return await publish_pending(relay)

    monkeypatch.setattr(OutboxRelay, "publish_pending", held)
    yield go
    go.set()


def replica_of(report: Report, name: str) -> Replica:
    (replica,) = [replica for replica in report.replicas if replica.service == name]
    return replica


def registry_lag(replica: Replica) -> int | None:
    """Registry events the replica's consumers have not applied (delivered or not)."""
    lags = [lag for lag in replica.consumers if lag.stream == REGISTRY.name]
    assert lags, replica.consumers
    if any(lag.pending is None or lag.ack_pending is None for lag in lags):
        return None
    return sum((lag.pending or 0) + (lag.ack_pending or 0) for lag in lags)


async def test_status_counts_the_outbox_backlog_and_the_consumer_lag(
    database_url: str, nats_url: str, registry_relay_held: asyncio.Event
) -> None:
    settings = NatsSettings(url=nats_url)
    both = ["registry", "scheduling"]
    database = await asyncpg.connect(database_url)
    try:
        async with (
            service("registry", database_url, nats_url) as registry,
            service("scheduling", database_url, nats_url),
        ):
            created = []
            for number in range(3):
                response = await registry.post(
                    "/organizations",
                    json={**LIPETSK, "name": f"Библиотека № {number + 1}"},
                    headers=OPERATOR,
                )
                assert response.status_code == 201, response.text
                created.append(response.json()["id"])
            unsent = await database.fetchval(
                "SELECT count(*) FROM registry.outbox WHERE sent_at IS NULL"
            )
            assert unsent >= 3
            report = await collect(settings, both, wait=0.5)
            assert replica_of(report, "registry").outbox_backlog == unsent
            assert replica_of(report, "scheduling").outbox_backlog == 0

            # Scheduling cannot apply the organizations while the test holds their table.
            waiting = database.transaction()
            await waiting.start()
            await database.execute("LOCK TABLE scheduling.organizations IN ACCESS EXCLUSIVE MODE")
            registry_relay_held.set()

            async def lagging() -> Report | None:
                report = await collect(settings, both, wait=0.3)
                scheduling = replica_of(report, "scheduling")
                backlog = replica_of(report, "registry").outbox_backlog
                return report if backlog == 0 and registry_lag(scheduling) == 3 else None

            report = await eventually(lagging, timeout=20, interval=0.2)
            scheduling = replica_of(report, "scheduling")
            assert scheduling.consumer_lag is not None
            assert scheduling.consumer_lag >= 3
            await waiting.rollback()

            async def caught_up() -> bool:
                report = await collect(settings, both, wait=0.3)
                return registry_lag(replica_of(report, "scheduling")) == 0

            await eventually(caught_up, timeout=20, interval=0.2)
            applied = await database.fetchval(
                "SELECT count(*) FROM scheduling.organizations WHERE id = ANY($1::uuid[])",
                created,
            )
            assert applied == 3
    finally:
        await database.close()


async def test_errors_answer_a_code_and_nothing_of_the_internals(
    own_postgres: EmbeddedPostgres, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        service("registry", own_postgres.url(), nats_url),
        connected(nats_url) as client,
    ):
        for wrong in (b"not a meeting id", b"\xff\xfe", b""):
            reply = await client.request(STATISTICS_SUBJECT, wrong, timeout=5)
            assert error_of(reply) == ("400", "send a meeting id")
        unknown = new_id()
        reply = await client.request(STATISTICS_SUBJECT, str(unknown).encode(), timeout=5)
        assert error_of(reply) == ("404", f"meeting {unknown} is not known")
        reply = await client.request("telebridge.registry.exists", b"{}", timeout=5)
        assert error_of(reply)[0] == "400"

        async def failing(*_: object) -> None:
            raise RuntimeError("SELECT secret FROM registry.keys failed")

        with monkeypatch.context() as patched:
            patched.setattr(shared.readmodels.meetings, "meeting", failing)
            reply = await client.request(STATISTICS_SUBJECT, str(unknown).encode(), timeout=5)
        assert error_of(reply) == INTERNAL
        (stats,) = await answers(client, "$SRV.STATS.registry")
        (attendance,) = [
            endpoint
            for endpoint in msgspec.json.decode(stats.data)["endpoints"]
            if endpoint["name"] == "attendance"
        ]
        assert attendance["num_errors"] >= 1
        assert without_internals(attendance["last_error"]), attendance["last_error"]

        await asyncio.to_thread(own_postgres.stop)
        seen: list[tuple[str, str]] = []

        async def refused() -> bool:
            reply = await client.request(STATISTICS_SUBJECT, str(unknown).encode(), timeout=10)
            seen.append(error_of(reply))
            return error_of(reply) == UNAVAILABLE

        await eventually(refused, timeout=20, interval=0.2)
        reply = await client.request("telebridge.registry.exists", b'{"kind":"key","id":"x"}')
        assert error_of(reply) == UNAVAILABLE
        assert all(code in {"500", "503"} and without_internals(text) for code, text in seen)

        report = await collect(NatsSettings(url=nats_url), ["registry"], wait=0.5)
        (registry,) = report.replicas
        assert (registry.health, registry.outbox_backlog) == ("unavailable", None)
        assert report.unhealthy == [registry]


@pytest.fixture
def logging_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command configures the process's logging onto the runner's stderr, which is closed
    once it returns: in-process, the test's logging must stay as it is."""
    monkeypatch.setattr("shared.observability.configure_logging", lambda *_: None)


def report_in(output: str) -> Any:
    """The JSON report, after whatever the in-process services logged meanwhile."""
    return json.loads(output[output.index('{\n  "nats"') :])


def status_command(*arguments: str) -> Result:
    return CliRunner().invoke(cli, ["status", *arguments], env={"COLUMNS": "200"})


@pytest.fixture
def dev_folder(nats_url: str) -> Path:
    """`.telebridge/` in the test's folder, as `telebridge dev` leaves it."""
    folder = Path(".telebridge")
    folder.mkdir()
    (folder / "nats-url").write_text(nats_url + "\n", encoding="utf-8")
    return folder


async def test_telebridge_status_lists_every_replica_and_fails_for_a_missing_service(
    database_url: str, nats_url: str, dev_folder: Path, logging_left_alone: None
) -> None:
    ports = [free_port(), free_port()]
    async with AsyncExitStack() as stack:
        for port in ports:
            await stack.enter_async_context(service("registry", database_url, nats_url, port))
        await stack.enter_async_context(service("scheduling", database_url, nats_url))

        without_agenda = await asyncio.to_thread(status_command, "--nats-url", nats_url)
        assert without_agenda.exit_code == ExitCode.UNREACHABLE, without_agenda.output
        assert "not running: agenda" in without_agenda.output

        agenda = service("agenda", database_url, nats_url)
        await agenda.__aenter__()
        try:
            listed = await asyncio.to_thread(status_command, "--nats-url", nats_url, "--json")
            assert listed.exit_code == ExitCode.OK, listed.output
            report = report_in(listed.stdout)
            assert "@" not in report["nats"]  # no password shown
            assert report["ok"] is True
            assert report["missing"] == []
            registries = [each for each in report["replicas"] if each["service"] == "registry"]
            assert sorted(each["http"] for each in registries) == sorted(
                f"http://127.0.0.1:{port}" for port in ports
            )
            assert len({each["instance"] for each in registries}) == 2
            assert {each["service"] for each in report["replicas"]} == set(SERVICES)
            for replica in report["replicas"]:
                assert replica["health"] == "ok"
                assert replica["version"] == VERSION
                assert replica["outbox_backlog"] is not None

            # Against `telebridge dev`, no option: it says where its NATS is.
            table = await asyncio.to_thread(status_command)
            assert table.exit_code == ExitCode.OK, table.output
            for port in ports:
                assert f"http://127.0.0.1:{port}" in table.output
        finally:
            await agenda.__aexit__(None, None, None)

        # A replica that stops leaves discovery at once.
        async def agenda_gone() -> Result | None:
            result = await asyncio.to_thread(status_command, "--nats-url", nats_url, "--json")
            return result if result.exit_code == ExitCode.UNREACHABLE else None

        gone = await eventually(agenda_gone, timeout=10)
        assert report_in(gone.stdout)["missing"] == ["agenda"]
        only = await asyncio.to_thread(
            status_command, "--nats-url", nats_url, "--service", "registry"
        )
        assert only.exit_code == ExitCode.OK, only.output


def test_telebridge_status_without_nats_says_where_it_looked(logging_left_alone: None) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"
    result = status_command("--nats-url", nowhere.replace("//", "//status:s3cret@"))
    assert result.exit_code == ExitCode.UNREACHABLE
    assert f"cannot reach NATS at {nowhere}" in result.output
    assert "s3cret" not in result.output
