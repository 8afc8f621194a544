"""Traces and logs of the running services: one trace follows a partner's sign-up in the
registry to the invite mail scheduling sends for it, and no log line of the whole flow holds
a secret (an API key, a feed or RSVP token, a webhook secret, the SMTP password)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from shared.events import SERVICES
from telebridge.embedded import free_port
from telebridge.mailsink import HOST as SMTP_HOST
from telebridge.processes import ServiceProcess, stop_all
from tests.e2e.partners import Partner, new_partner, ok, retry_until_known
from tests.support import (
    ADMIN_KEY,
    NATS_PASSWORDS,
    OPERATOR,
    OPERATOR_KEY,
    bearer,
    eventually,
    service_environment,
    service_process,
)

SMTP_USER = "telebridge"
SMTP_PASSWORD = "smtp-password-7Qx9vLm2"
"""The secret the logs must not show, among others."""


class Mailbox:
    """An SMTP server that takes mail only after a login with the test's password."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        del server, session
        self.messages.append(envelope.original_content or b"")
        return "250 Message kept"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
) -> AuthResult:
    del server, session, envelope, mechanism
    valid = isinstance(auth_data, LoginPassword) and auth_data == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=valid)


class Running:
    def __init__(self, services: dict[str, ServiceProcess], mailbox: Mailbox) -> None:
        self.services = services
        self.mailbox = mailbox

    def url(self, service: str, path: str) -> str:
        return f"{self.services[service].url}{path}"

    def log_lines(self, service: str) -> list[dict[str, Any]]:
        lines = self.services[service].log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def all_logs(self) -> str:
        return "\n".join(
            service.log_path.read_text(encoding="utf-8") for service in self.services.values()
        )


@pytest.fixture
def running(database_url: str, nats_url: str, tmp_path: Path) -> Iterator[Running]:
    smtp_port = free_port()
    environment = {
        **service_environment(database_url, nats_url),
        "TELEBRIDGE_LOG_JSON": "true",
        "TELEBRIDGE_SCHEDULING_SMTP_HOST": SMTP_HOST,
        "TELEBRIDGE_SCHEDULING_SMTP_PORT": str(smtp_port),
        "TELEBRIDGE_SCHEDULING_SMTP_USERNAME": SMTP_USER,
        "TELEBRIDGE_SCHEDULING_SMTP_PASSWORD": SMTP_PASSWORD,
    }
    services = {name: service_process(name, environment, tmp_path / "logs") for name in SERVICES}
    mailbox = Mailbox()
    sink = Controller(
        mailbox,
        hostname=SMTP_HOST,
        port=smtp_port,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    sink.start()
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            service.wait_ready()
        yield Running(services, mailbox)
    finally:
        stop_all(list(services.values()))
        sink.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_a_sign_up_and_its_invite_are_one_trace_and_no_log_line_holds_a_secret(
    running: Running,
) -> None:
    secrets: dict[str, str] = {
        "operator key": OPERATOR_KEY,
        "admin key": ADMIN_KEY,
        "SMTP password": SMTP_PASSWORD,
        **{f"{user}'s NATS password": password for user, password in NATS_PASSWORDS.items()},
    }
    registry = running.services["registry"].url
    async with httpx.AsyncClient(timeout=10) as client:
        host = await new_partner(client, registry, "Липецкая областная детская библиотека")
        site = await new_partner(client, registry, "Приморская краевая библиотека", region="RU-PRI")
        secrets |= {"host's key": host.key, "site's key": site.key}
        wrong_key = host.key[:-6] + "abcdef"
        secrets["a wrong key"] = wrong_key
        assert (
            await client.get(f"{registry}/people", headers=bearer(wrong_key))
        ).status_code == 401

        endpoint = ok(
            await client.post(
                running.url("registry", "/webhooks/endpoints"),
                json={
                    "url": f"http://127.0.0.1:{free_port()}/hook",  # nothing answers there
                    "event_types": ["registration.created"],
                },
                headers=host.headers,
            ),
            201,
        )
        secrets["webhook secret"] = endpoint["secret"]
        secrets["webhook secret's key"] = endpoint["secret"].removeprefix("whsec_")

        meeting = await schedule(client, running, host, site)

        # The sign-up: its answer names the trace it started.
        signed_up = await retry_until_known(
            client,
            "POST",
            running.url("registry", f"/meetings/{meeting['id']}/registrations"),
            {"person_id": host.person["id"]},
            headers=host.headers,
        )
        registration = ok(signed_up, 201)
        trace_id = signed_up.headers["traceparent"].split("-")[1]

        link = ok(
            await client.get(
                running.url("registry", f"/registrations/{registration['id']}/rsvp-link"),
                headers=host.headers,
            )
        )
        secrets |= {"RSVP token": link["token"], "RSVP link": link["url"]}
        ok(await client.get(link["url"]))
        ok(await client.post(link["url"], json={"rsvp": "accepted"}))
        forged = running.url("registry", f"/rsvp/{link['token']}x")
        secrets["a forged RSVP token"] = forged
        assert (await client.get(forged)).is_error

        feed = ok(
            await client.post(
                running.url("scheduling", "/feeds"),
                json={"kind": "organization", "organization_id": host.id},
                headers=host.headers,
            ),
            201,
        )
        assert (await client.get(feed["url"])).status_code == 200
        rotated = ok(
            await client.post(
                running.url("scheduling", f"/feeds/{feed['id']}/rotate"), headers=host.headers
            ),
            201,
        )
        assert (await client.get(feed["url"])).status_code == 410
        assert (await client.get(rotated["url"])).status_code == 200
        for name, address in [("feed", feed["url"]), ("rotated feed", rotated["url"])]:
            secrets |= {f"{name}'s URL": address, f"{name}'s token": token_of(address)}

        await eventually(lambda: _async(bool(running.mailbox.messages)), timeout=30)

    # The sign-up's trace: the request in the registry, the event's handling in scheduling,
    # the invite's sending.
    registry_lines = [
        line for line in running.log_lines("registry") if line.get("trace_id") == trace_id
    ]
    assert any(
        line.get("route") == "/meetings/{meeting_id}/registrations" for line in registry_lines
    )

    async def scheduling_lines() -> list[dict[str, Any]] | None:
        lines = [
            line for line in running.log_lines("scheduling") if line.get("trace_id") == trace_id
        ]
        events = {line["event"] for line in lines}
        return lines if {"event received", "mail sent"} <= events else None

    lines = await eventually(scheduling_lines, timeout=30)
    received = [line for line in lines if line["event"] == "event received"]
    assert any(line["subject"] == "registry.registration.created" for line in received)

    logs = running.all_logs()
    assert SMTP_PASSWORD not in b"".join(running.mailbox.messages).decode("utf-8", "replace")
    leaked = [name for name, secret in secrets.items() if secret and secret in logs]
    assert leaked == [], f"in the logs: {leaked}"


async def schedule(
    client: httpx.AsyncClient, running: Running, host: Partner, site: Partner
) -> dict[str, Any]:
    starts = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    meeting: dict[str, Any] = ok(
        await retry_until_known(
            client,
            "POST",
            running.url("scheduling", "/meetings"),
            {
                "title": "Телемост «Книжный мост»",
                "kind": "telebridge",
                "host_organization_id": host.id,
                "sites": [{"organization_id": site.id}],
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
                "force": True,
            },
            headers=OPERATOR,
        ),
        201,
    )
    return meeting


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".ics")


async def _async(value: bool) -> bool:
    return value
