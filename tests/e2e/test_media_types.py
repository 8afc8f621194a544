"""Every answer of the three running services, and every invite they mail, names its media
type so that the strictest reader takes it: one type, each parameter once, and a text type
says it is UTF-8 (Go's `mime.ParseMediaType` refuses `charset=utf-8; charset=utf-8`).

The world is the end-to-end story (an agenda, an ended meeting, a published summary, a
feed, an RSVP link), so that every page, calendar and schedule has something to show. The
operations come from the OpenAPI documents: every GET with real ids and with unknown ones,
every operation without a key; then what the kernel answers for itself (unknown paths,
wrong methods, bodies it refuses, requests it cannot read) and Litestar's schema pages.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from email.message import EmailMessage
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from shared.events import SERVICES
from tests.e2e.conftest import System
from tests.e2e.test_flow import Flow, ok
from tests.e2e.test_isolation import build, operations, send
from tests.media_types import media_type
from tests.support import ADMIN, OPERATOR, eventually

SCHEMA_PAGES = ("", "/openapi.json", "/openapi.yaml", "/openapi.yml", "/swagger", "/redoc")
EVERY_KIND = {
    "application/json",
    "application/problem+json",
    "application/xml",
    "text/calendar",
    "text/html",
    "text/markdown",
}
"""What the services answer with; each must be seen, or the test missed a kind."""


def strict_failure(label: str, values: list[str], status: int) -> str | None:
    """Why a strict reader refuses an answer with these Content-Type values, if it does."""
    if not values:
        return None if status in (204, 304) else f"{label}: untyped"
    if len(values) > 1:
        return f"{label}: {len(values)} Content-Type headers {values}"
    try:
        kind, parameters = media_type(values[0])
    except ValueError as error:
        return f"{label}: {error}"
    if kind.startswith("text/") and parameters.get("charset", "").lower() != "utf-8":
        return f"{label}: {values[0]!r} does not say UTF-8"
    return None


async def world(flow: Flow, client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
    """The story up to a published summary; the ids of what it made, and the tokens of the
    addresses whose token is the key (the feed, the RSVP link)."""
    await flow.organizations()
    await flow.people_of_both()
    await flow.schedule()
    for person in flow.people:
        await flow.sign_up(person)
    await flow.invite_lists_everyone()
    registry, scheduling = flow.url("registry", ""), flow.url("scheduling", "")
    registrations = ok(await client.get(f"{registry}/meetings/{flow.meeting_id}/registrations"))
    registration = registrations["items"][0]["id"]
    rsvp = ok(await client.get(f"{registry}/registrations/{registration}/rsvp-link"))
    feed = ok(
        await client.post(
            f"{scheduling}/feeds",
            json={"kind": "organization", "organization_id": flow.moscow["id"]},
        ),
        201,
    )
    key = ok(
        await client.post(
            f"{registry}/keys",
            json={"name": "сайт библиотеки", "organization_id": flow.moscow["id"]},
            headers=ADMIN,
        ),
        201,
    )
    endpoint = ok(
        await client.post(
            f"{registry}/webhooks/endpoints",
            json={
                "url": "http://127.0.0.1:9/hook",
                "event_types": ["meeting.updated"],
                "organization_id": flow.moscow["id"],
            },
        ),
        201,
    )
    await flow.put_agenda()
    await flow.end()
    await flow.summary()
    await flow.summary_linked()
    ids = {
        "meeting": flow.meeting_id,
        "organization": flow.moscow["id"],
        "person": flow.people[0]["id"],
        "registration": registration,
        "feed": feed["id"],
        "key": key["id"],
        "session": (flow.meeting.get("sessions") or [{"id": flow.meeting_id}])[0]["id"],
        "endpoint": endpoint["id"],
    }
    tokens = {
        "/calendars/{token}": urlsplit(feed["url"]).path.rsplit("/", 1)[1],
        "/rsvp/{token}": rsvp["token"],
    }
    return ids, tokens


async def documented(
    client: httpx.AsyncClient, system: System, ids: dict[str, str], tokens: dict[str, str]
) -> tuple[list[tuple[str, httpx.Response]], set[str]]:
    """Every GET with the world's ids and with unknown ones, as staff, and every operation
    without a key; and the names of the GETs documented as answering other than JSON."""
    documents = {
        name: ok(await client.get(f"{system.url(name)}/schema/openapi.json")) for name in SERVICES
    }
    every = operations(documents)
    assert len(every) > 60
    unknown = {kind: str(uuid.uuid4()) for kind in ids}
    answers = []
    for operation in every:
        base = system.url(operation.service)
        sends = [("without a key", ids, {})]
        if operation.method == "get":
            sends += [("as staff", ids, OPERATOR), ("for unknown ids", unknown, OPERATOR)]
        for how, chosen, headers in sends:
            request = build(operation, base, lambda kind, chosen=chosen: chosen[kind])
            if operation.path in tokens and how == "as staff":
                request.url = request.url.replace("not-a-token", tokens[operation.path])
            response = await send(client, request, headers)
            answers.append((f"{operation.name} {how}: {response.status_code}", response))
    for name in SERVICES:
        for path in ("/health/live", "/health/ready"):
            response = await client.get(f"{system.url(name)}{path}")
            answers.append((f"{name} GET {path}: {response.status_code}", response))
    not_json = {
        operation.name
        for operation in every
        if operation.method == "get"
        and not any(
            kind.endswith("json")
            for kind in operation.operation["responses"].get("200", {}).get("content", {})
        )
    }
    return answers, not_json


WRITES = {
    "registry": ("POST", "/organizations"),
    "scheduling": ("POST", "/meetings"),
    "agenda": ("PUT", f"/meetings/{uuid.uuid4()}/agenda"),
}
"""A write each service takes a JSON body for, to have the kernel refuse bodies."""
OUT_OF_RANGE = {
    "registry": "/organizations?limit=0",
    "scheduling": "/feeds?limit=0",
    "agenda": f"/meetings/{uuid.uuid4()}/agenda.html?lang=de",
}
"""A read with a query parameter each service refuses."""


async def kernel_answers(
    client: httpx.AsyncClient, system: System
) -> list[tuple[str, httpx.Response]]:
    """What the kernel and Litestar answer without a handler: schema pages, unknown paths,
    wrong methods, a query parameter out of range, bodies refused (one too large, below)."""
    json = {"Content-Type": "application/json"}
    answers = []
    for name in SERVICES:
        write, path = WRITES[name]
        tries: list[tuple[str, str, bytes | None, dict[str, str]]] = [
            *(("GET", f"/schema{page}", None, {}) for page in SCHEMA_PAGES),
            ("GET", "/nothing/here", None, {}),
            ("DELETE", "/health/live", None, {}),
            ("GET", OUT_OF_RANGE[name], None, {}),
            (write, path, b"{not json", json),
            (write, path, b"<a/>", {"Content-Type": "text/xml"}),
        ]
        for method, target, content, headers in tries:
            response = await client.request(
                method, f"{system.url(name)}{target}", content=content, headers=OPERATOR | headers
            )
            answers.append((f"{name} {method} {target}: {response.status_code}", response))
    return answers


async def refused_unread(system: System) -> list[str]:
    """Failures of what the services answer before they read a request through: headers
    over the limit and a request that is not HTTP/1.1 (uvicorn's protocol, as the kernel
    sets it up), a body declared larger than the limit (the kernel's body middleware)."""
    failures = []
    for name in SERVICES:
        url = urlsplit(system.url(name))
        write, path = WRITES[name]
        for label, request in (
            ("headers too large", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000),
            ("not HTTP", b"NOT HTTP AT ALL"),
            (
                "body too large",
                f"{write} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {8 * 1024 * 1024}\r\nConnection: close".encode(),
            ),
        ):
            reader, writer = await asyncio.open_connection(url.hostname, url.port)
            writer.write(request + b"\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            writer.close()
            status_line, *lines = head.decode("latin-1").strip().split("\r\n")
            values = [
                value.strip()
                for header, _, value in (line.partition(":") for line in lines)
                if header.strip().lower() == "content-type"
            ]
            status = int(status_line.split()[1])
            assert status >= 400, (name, label, status_line)
            if failure := strict_failure(f"{name} {label}: {status}", values, status):
                failures.append(failure)
    return failures


async def mailed(system: System) -> list[EmailMessage]:
    """Every mail the system sent, once it has sent all it queued."""
    connection = await asyncpg.connect(system.database_url)
    try:

        async def all_sent() -> tuple[list[asyncpg.Record]] | None:
            waiting = await connection.fetchval(
                "SELECT count(*) FROM scheduling.outgoing_mail "
                "WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL"
            )
            if waiting:
                return None
            sent = "SELECT message FROM scheduling.outgoing_mail WHERE sent_at IS NOT NULL"
            return (await connection.fetch(sent),)

        [rows] = await eventually(all_sent)
    finally:
        await connection.close()
    return [
        email.message_from_bytes(row["message"], policy=email.policy.default)  # type: ignore[misc]
        for row in rows
    ]


async def test_every_answer_and_every_mail_part_names_its_media_type_once(
    system: System,
) -> None:
    async with httpx.AsyncClient(timeout=30) as staff, httpx.AsyncClient(timeout=30) as client:
        ids, tokens = await world(Flow(system, staff), staff)
        answers, not_json = await documented(client, system, ids, tokens)
        answers += await kernel_answers(client, system)
    failures = [
        failure
        for label, response in answers
        if (
            failure := strict_failure(
                label, response.headers.get_list("content-type"), response.status_code
            )
        )
    ]
    failures += await refused_unread(system)
    mails = await mailed(system)
    for message in mails:
        for part in message.walk():
            label = f"mail «{message['subject']}», its {part.get_content_type()} part"
            values = [str(value) for value in part.get_all("content-type", [])]
            failures += [failure] if (failure := strict_failure(label, values, 200)) else []
    assert not failures, "\n".join(failures)

    seen = {media_type(response.headers["content-type"])[0] for _, response in answers}
    assert seen >= EVERY_KIND, seen
    shown = {label.split(" as staff")[0] for label, _ in answers if " as staff: 200" in label}
    assert not_json <= shown, sorted(not_json - shown)
    calendars = [part for message in mails for part in message.walk()]
    assert any(part.get_content_type() == "text/calendar" for part in calendars)


pytestmark = pytest.mark.timeout(600)
