"""NATS as the services meet it: each logs in as itself and may speak only for itself.

Consumers believe what arrives on `registry.>` (an API key issued, a person registered):
the subject permissions of `shared.bus.permissions` are what keeps any other credentials
from putting it there, so these tests try every way round them with each service's login.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.errors
import nkeys
import pytest
import trustme
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig, SubjectTransform
from nats.js.errors import APIError

from shared.bus.jetstream import (
    connect_nats,
    ensure_streams,
    flushed,
    stream_config,
    without_login,
)
from shared.bus.permissions import (
    inbox_prefix,
    own_stream,
    publish_allowed,
    subscribe_allowed,
)
from shared.db import StartupError
from shared.events import ALL_EVENTS, DEADLETTER, REGISTRY, SERVICES, STREAMS, Event, subject_of
from shared.settings import NatsSettings
from telebridge.embedded import EmbeddedNats, free_port
from tests.support import NATS_PASSWORDS, embedded_nats

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TELEBRIDGE_NATS_URL")),
    reason="an external NATS server runs with permissions of its own, if any",
)

REFUSED = 1.0
"""Seconds to wait for an answer the server will never give (it drops what is not allowed)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """One server for the module, as the tests run theirs: with the services' permissions."""
    server = embedded_nats(tmp_path_factory.mktemp("nats") / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def nats_url(server: EmbeddedNats) -> str:
    """The admin's URL, every stream there and empty."""
    admin = await nats.connect(server.admin_url)
    try:
        js = admin.jetstream()
        await ensure_streams(js, 1)
        for stream in STREAMS:
            await js.purge_stream(stream.name)
    finally:
        await admin.close()
    return server.admin_url


def login(service: str, nats_url: str, **more: object) -> NatsSettings:
    settings = NatsSettings(
        url=without_login(nats_url),
        user=service,
        password=NATS_PASSWORDS[service],
        connect_timeout=5,
    )
    return msgspec.structs.replace(settings, **more)


@contextlib.asynccontextmanager
async def connected(settings: NatsSettings, name: str) -> AsyncIterator[NATS]:
    client = await connect_nats(settings, name)
    try:
        yield client
    finally:
        await client.close()


async def admin_streams(nats_url: str) -> dict[str, StreamConfig]:
    admin = await nats.connect(nats_url)
    try:
        js = admin.jetstream()
        await ensure_streams(js, 1)
        return {stream.name: (await js.stream_info(stream.name)).config for stream in STREAMS}
    finally:
        await admin.close()


async def stored_subjects(nats_url: str) -> set[str]:
    """Every subject any stream holds a message of."""
    admin = await nats.connect(nats_url)
    try:
        js = admin.jetstream()
        found: set[str] = set()
        for stream in STREAMS:
            info = await js.stream_info(stream.name, subjects_filter=">")
            found |= set(info.state.subjects or {})
        return found
    finally:
        await admin.close()


async def refused(attempt: Awaitable[object]) -> bool:
    """Whether the server let the attempt come to nothing (it answers no forbidden call)."""
    try:
        await attempt
    except (nats.errors.TimeoutError, APIError):
        return True
    return False


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_can_publish_another_services_events(nats_url: str, service: str) -> None:
    others = [subject_of(event) for event in ALL_EVENTS if not own_event(service, event)]
    async with connected(login(service, nats_url), service) as client:
        js = client.jetstream()
        attempts = [js.publish(subject, b"{}", timeout=REFUSED) for subject in others]
        # Nor outside JetStream, where a consumer's own subscription could take it.
        attempts += [client.request(subject, b"{}", timeout=REFUSED) for subject in others]
        outcomes = await asyncio.gather(*(refused(attempt) for attempt in attempts))
    let_through = [subject for subject, ok in zip(others * 2, outcomes, strict=True) if not ok]
    assert not let_through
    assert not set(others) & await stored_subjects(nats_url)


def own_event(service: str, event: type[Event]) -> bool:
    return own_stream(service).holds(subject_of(event))


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_publishes_its_own_events_and_dead_letters(
    nats_url: str, service: str
) -> None:
    own = [subject_of(event) for event in ALL_EVENTS if own_event(service, event)]
    dead = f"{DEADLETTER.prefix}.{service}-probe.{own[0]}"
    async with connected(login(service, nats_url), service) as client:
        js = client.jetstream()
        for subject in [*own, dead]:
            await js.publish(subject, b"{}", timeout=5)
    assert {*own, dead} <= await stored_subjects(nats_url)


async def test_the_agenda_cannot_mint_an_api_key(nats_url: str) -> None:
    """An API key issued on the bus is a key every service honours."""
    async with connected(login("agenda", nats_url), "agenda") as client:
        with pytest.raises(nats.errors.TimeoutError):
            await client.jetstream().publish("registry.apikey.issued", b"{}", timeout=REFUSED)
    assert "registry.apikey.issued" not in await stored_subjects(nats_url)


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_can_change_delete_or_empty_another_services_stream(
    nats_url: str, service: str
) -> None:
    before = await admin_streams(nats_url)
    admin = await nats.connect(nats_url)
    try:
        await admin.jetstream().publish(f"{own_stream(service).prefix}.kept.event", b"{}")
    finally:
        await admin.close()
    others = [stream for stream in STREAMS if stream not in (own_stream(service), DEADLETTER)]
    async with connected(login(service, nats_url), service) as client:
        js = client.jetstream(timeout=REFUSED)
        for stream in others:
            # Fed from the service's own stream, renamed: the way round the subject rules.
            fed = stream_config(stream, 1)
            fed.subject_transform = SubjectTransform(src=">", dest=f"{stream.prefix}.>")
            attempts = [
                js.update_stream(fed),
                js.delete_stream(stream.name),
                js.purge_stream(stream.name),
            ]
            assert all(await asyncio.gather(*(refused(attempt) for attempt in attempts)))
        # Its own, it may not delete nor empty either: the events are others' history.
        own = own_stream(service).name
        assert await refused(js.delete_stream(own))
        assert await refused(js.purge_stream(own))
    assert await admin_streams(nats_url) == before
    assert f"{own_stream(service).prefix}.kept.event" in await stored_subjects(nats_url)


@contextlib.asynccontextmanager
async def spying(service: str, nats_url: str) -> AsyncIterator[tuple[NATS, NATS, list[Exception]]]:
    """A client with `service`'s login, the admin's, and the errors the server sends the
    first (a permissions violation is one)."""
    errors: list[Exception] = []

    async def on_error(error: Exception) -> None:
        errors.append(error)

    admin = await nats.connect(nats_url)
    spy = await connect_nats(login(service, nats_url), service)
    spy._error_cb = on_error
    try:
        yield spy, admin, errors
    finally:
        await spy.close()
        await admin.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_can_read_or_answer_another_services_replies(
    nats_url: str, service: str
) -> None:
    other = next(name for name in SERVICES if name != service)
    async with spying(service, nats_url) as (spy, admin, errors):
        seen = await spy.subscribe(f"{inbox_prefix(other)}.>")
        await flushed(spy)
        await admin.publish(f"{inbox_prefix(other)}.abc", b"a reply")
        await admin.flush()
        with pytest.raises(nats.errors.TimeoutError):
            await seen.next_msg(timeout=REFUSED)
    assert any("permissions violation" in str(error).lower() for error in errors)


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_can_answer_discovery_in_another_services_name(
    nats_url: str, service: str
) -> None:
    """`telebridge status` asks `$SRV.INFO.<name>`: only that service hears it, so no other
    can pass for one of its replicas (or hide that it is down)."""
    other = next(name for name in SERVICES if name != service)
    async with spying(service, nats_url) as (spy, admin, errors):
        theirs = [
            await spy.subscribe(subject)
            for subject in (f"$SRV.INFO.{other}", f"$SRV.PING.{other}.some-id", "$SRV.>")
        ]
        own = await spy.subscribe(f"$SRV.INFO.{service}")
        await flushed(spy)
        for subject in (f"$SRV.INFO.{other}", f"$SRV.PING.{other}.some-id", "$SRV.INFO"):
            await admin.publish(subject, b"")
        await admin.publish(f"$SRV.INFO.{service}", b"")
        await admin.flush()
        assert (await own.next_msg(timeout=5)).subject == f"$SRV.INFO.{service}"
        for subscription in theirs:
            with pytest.raises(nats.errors.TimeoutError):
                await subscription.next_msg(timeout=REFUSED)
        assert sum("permissions violation" in str(error).lower() for error in errors) == 3


@pytest.mark.parametrize("service", SERVICES)
async def test_a_stream_of_another_service_that_differs_is_left_to_its_owner(
    nats_url: str, service: str
) -> None:
    owner = next(name for name in SERVICES if name != service)
    stream = own_stream(owner)
    await admin_streams(nats_url)
    admin = await nats.connect(nats_url)
    try:
        changed = stream_config(stream, 1)
        changed.duplicate_window = 60.0
        await admin.jetstream().update_stream(changed)
        async with connected(login(service, nats_url), service) as client:
            await ensure_streams(client.jetstream(timeout=2), 1, service)  # no error, no change
        assert (await admin.jetstream().stream_info(stream.name)).config.duplicate_window == 60
        async with connected(login(owner, nats_url), owner) as client:
            await ensure_streams(client.jetstream(timeout=2), 1, owner)
        info = await admin.jetstream().stream_info(stream.name)
        assert info.config.duplicate_window == stream_config(stream, 1).duplicate_window
    finally:
        await admin.close()


@pytest.mark.parametrize(
    ("user", "password"),
    [("agenda", "not-its-password"), ("registry", ""), ("", ""), ("nobody", "x")],
)
async def test_a_service_with_wrong_credentials_does_not_start_and_says_why(
    nats_url: str, user: str, password: str
) -> None:
    settings = login("agenda", nats_url, user=user, password=password, connect_timeout=2)
    with pytest.raises(StartupError) as refused:
        await connect_nats(settings, "agenda")
    message = str(refused.value)
    assert "refused the credentials" in message
    assert NATS_PASSWORDS["operator"] not in message
    assert "TELEBRIDGE_NATS_USER" in message


async def test_a_credentials_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "registry.creds"
    with pytest.raises(StartupError, match=str(missing)):
        await connect_nats(NatsSettings(credentials=str(missing), connect_timeout=1), "registry")


# --- NKeys and TLS, on servers of their own -----------------------------------------------


@pytest.fixture
def certificates(tmp_path: Path) -> dict[str, Path]:
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    client = authority.issue_cert("registry@telebridge.example")
    files = {
        "ca": tmp_path / "ca.pem",
        "server": tmp_path / "server.pem",
        "server_key": tmp_path / "server-key.pem",
        "client": tmp_path / "client.pem",
        "client_key": tmp_path / "client-key.pem",
    }
    authority.cert_pem.write_to_path(str(files["ca"]))
    server.cert_chain_pems[0].write_to_path(str(files["server"]))
    server.private_key_pem.write_to_path(str(files["server_key"]))
    client.cert_chain_pems[0].write_to_path(str(files["client"]))
    client.private_key_pem.write_to_path(str(files["client_key"]))
    return files


@contextlib.contextmanager
def own_server(folder: Path, configuration: str) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(folder / "jetstream", port=free_port(), configuration=configuration)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def test_tls_with_client_certificates(tmp_path: Path, certificates: dict[str, Path]) -> None:
    tls = (
        f'tls {{ cert_file: "{certificates["server"]}", key_file: "{certificates["server_key"]}",'
        f' ca_file: "{certificates["ca"]}", verify: true, timeout: 2 }}\n'
    )
    with own_server(tmp_path, tls) as server:
        settings = NatsSettings(
            url=server.url,
            tls_ca=str(certificates["ca"]),
            tls_cert=str(certificates["client"]),
            tls_key=str(certificates["client_key"]),
            connect_timeout=5,
        )
        async with connected(settings, "registry") as client:
            await ensure_streams(client.jetstream(), 1, "registry")
            ack = await client.jetstream().publish("registry.tls.checked", b"{}")
            assert ack.stream == REGISTRY.name
        without_certificate = msgspec.structs.replace(
            settings, tls_cert="", tls_key="", connect_timeout=2
        )
        with pytest.raises(StartupError):
            await connect_nats(without_certificate, "registry")
        plain = NatsSettings(url=server.url, connect_timeout=2)
        with pytest.raises(StartupError):
            await connect_nats(plain, "registry")


async def test_an_nkey_logs_a_service_in(tmp_path: Path) -> None:
    seed = nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    seed_file = tmp_path / "registry.nk"
    seed_file.write_bytes(seed)
    configuration = f'authorization {{ users = [ {{ nkey: "{public}" }} ] }}\n'
    with own_server(tmp_path, configuration) as server:
        settings = NatsSettings(url=server.url, nkey_seed=str(seed_file), connect_timeout=5)
        async with connected(settings, "registry") as client:
            await client.flush(timeout=2)
            assert client.is_connected
        with pytest.raises(StartupError):
            await connect_nats(NatsSettings(url=server.url, connect_timeout=2), "registry")


def _jwt(issuer: nkeys.KeyPair, subject: str, name: str, nats_claims: dict[str, Any]) -> str:
    """A NATS JWT (v2) of `subject`, signed by `issuer`, as `nsc` writes one."""
    claims: dict[str, Any] = {
        "iat": int(time.time()),
        "iss": issuer.public_key.decode(),
        "name": name,
        "sub": subject,
        "nats": {**nats_claims, "version": 2},
    }
    digest = hashlib.sha512(json.dumps({**claims, "jti": ""}).encode()).digest()[:32]
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = {"typ": "JWT", "alg": "ed25519-nkey"}
    signed = ".".join(_segment(json.dumps(part).encode()) for part in (header, claims))
    return f"{signed}.{_segment(issuer.sign(signed.encode()))}"


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _new_key(prefix: int, number: int) -> nkeys.KeyPair:
    return nkeys.from_seed(bytearray(nkeys.encode_seed(bytes([number] * 32), prefix)))


async def test_a_credentials_file_logs_a_service_in_with_its_permissions(tmp_path: Path) -> None:
    """Operator mode, as `nsc` sets it up: an operator, an account with JetStream, and a
    user per service whose JWT carries the permissions of `shared.bus.permissions`."""
    operator = _new_key(nkeys.PREFIX_BYTE_OPERATOR, 1)
    account = _new_key(nkeys.PREFIX_BYTE_ACCOUNT, 2)
    user = _new_key(nkeys.PREFIX_BYTE_USER, 3)
    system = _new_key(nkeys.PREFIX_BYTE_ACCOUNT, 4)  # JetStream needs the server's own
    operator_jwt = _jwt(operator, operator.public_key.decode(), "telebridge", {"type": "operator"})
    unlimited = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                 "wildcards": True, "conn": -1, "leaf": -1, "mem_storage": -1,
                 "disk_storage": -1, "streams": -1, "consumer": -1}  # fmt: skip
    account_jwt = _jwt(
        operator, account.public_key.decode(), "services", {"type": "account", "limits": unlimited}
    )
    user_jwt = _jwt(
        account,
        user.public_key.decode(),
        "registry",
        {
            "type": "user",
            "pub": {"allow": publish_allowed("registry")},
            "sub": {"allow": subscribe_allowed("registry")},
            "resp": {"max": 1, "ttl": 0},
            "subs": -1,
            "data": -1,
            "payload": -1,
        },
    )
    credentials = tmp_path / "registry.creds"
    credentials.write_text(
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt}\n"
        "------END NATS USER JWT------\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{user.seed.decode()}\n"
        "------END USER NKEY SEED------\n",
        encoding="utf-8",
    )
    system_jwt = _jwt(operator, system.public_key.decode(), "SYS", {"type": "account"})
    configuration = (
        f"operator: {operator_jwt}\n"
        f"system_account: {system.public_key.decode()}\n"
        "resolver: MEMORY\n"
        f"resolver_preload: {{\n  {account.public_key.decode()}: {account_jwt}\n"
        f"  {system.public_key.decode()}: {system_jwt}\n}}\n"
    )
    with own_server(tmp_path, configuration) as server:
        settings = NatsSettings(url=server.url, credentials=str(credentials), connect_timeout=5)
        async with connected(settings, "registry") as client:
            js = client.jetstream(timeout=5)
            await ensure_streams(js, 1, "registry")
            await js.publish("registry.kept.event", b"{}")
            assert await refused(js.publish("agenda.forged.event", b"{}", timeout=REFUSED))
        with pytest.raises(StartupError):
            await connect_nats(NatsSettings(url=server.url, connect_timeout=2), "registry")
