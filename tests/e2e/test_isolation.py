"""No partner sees or changes another's: every operation of the three OpenAPI documents.

Partner A keeps everything private: its organization, a person, a private meeting with a
registration, feeds and a published agenda. Every operation the running services document
is then sent by identities that may see none of it (partner B's key, no key, a malformed
key, A's own revoked key), once with A's ids in every place an id goes (path and body;
for partner B also mixed with B's own ids), and once with ids nobody ever registered.

What must hold, operation by operation:
- the answer with A's ids is exactly the answer with unknown ids (status, problem type,
  detail but for the ids): nothing tells A's ids from ids that do not exist;
- no answer carries any of A's ids that the request did not itself name;
- afterwards, as staff, every document about A reads as before, and no service wrote an
  event that names any of A's ids.

The operations, their parameters and their bodies come from the OpenAPI documents, so an
endpoint added tomorrow is covered by this test the day it is added.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from shared.events import AGENDA, REGISTRY, SCHEDULING, SERVICES
from tests.e2e.conftest import System
from tests.e2e.partners import Partner, new_partner, ok
from tests.support import ADMIN, OPERATOR, eventually, http_server, stream_events

HTTP_METHODS = ("get", "post", "put", "delete", "patch")
ID_KINDS = (
    "meeting",
    "organization",
    "person",
    "registration",
    "feed",
    "key",
    "session",
    "endpoint",
)
"""What an id names, as the parameters and fields that carry one are called: `<kind>_id`,
`<kind>_ids`, or `host_organization_id`."""
CAPABILITY_PATHS = ("/rsvp/{token}", "/calendars/{token}")
"""Addresses whose token is the key itself (signed links, feeds): no partner's id goes in."""


def kind_of(name: str) -> str | None:
    """The kind of id a parameter or field carries, if it carries one."""
    match = re.fullmatch(r"(?:host_)?(?P<kind>[a-z]+)_ids?", name)
    if match and match["kind"] in ID_KINDS:
        return match["kind"]
    return None


@dataclass
class Operation:
    service: str
    method: str
    path: str
    slots: list[str]
    """Every place an id goes: `path:<name>`, `query:<name>` or `body:<dotted field>`."""
    document: dict[str, Any]
    operation: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.service} {self.method.upper()} {self.path}"


@dataclass
class Ids:
    """Which id goes in each kind of slot."""

    by_kind: dict[str, str]

    def __getitem__(self, kind: str) -> str:
        return self.by_kind[kind]


@dataclass
class Request:
    method: str
    url: str
    params: dict[str, Any]
    json: Any
    named: set[str] = field(default_factory=set)
    """The ids the request itself names."""


# --- reading the OpenAPI documents ------------------------------------------------------


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def not_null(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional value's schema, with the outer constraints."""
    schema = resolve(document, schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            branches = [b for b in schema[key] if resolve(document, b).get("type") != "null"]
            inner = resolve(document, branches[0])
            outer = {k: v for k, v in schema.items() if k != key}
            return {**inner, **outer}
    return schema


def operations(documents: dict[str, dict[str, Any]]) -> list[Operation]:
    found = []
    for service, document in documents.items():
        for path, entries in document["paths"].items():
            if path.startswith("/health"):
                continue
            for method, operation in entries.items():
                if method not in HTTP_METHODS:
                    continue
                slots = [
                    f"{parameter['in']}:{parameter['name']}"
                    for parameter in operation.get("parameters", [])
                    if parameter["in"] in ("path", "query") and kind_of(parameter["name"])
                ]
                body_schema = request_schema(document, operation)
                if body_schema is not None:
                    slots += [f"body:{name}" for name in id_fields(document, body_schema, "")]
                found.append(Operation(service, method, path, slots, document, operation))
    return found


def request_schema(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media_type, entry in content.items():
        if "json" in media_type:
            return resolve(document, entry["schema"])
    return None


def id_fields(document: dict[str, Any], schema: dict[str, Any], prefix: str) -> Iterator[str]:
    schema = not_null(document, schema)
    for name, property_schema in schema.get("properties", {}).items():
        dotted = f"{prefix}{name}"
        if kind_of(name):
            yield dotted
            continue
        inner = not_null(document, property_schema)
        if inner.get("type") == "array":
            yield from id_fields(document, inner["items"], f"{dotted}[].")
        elif inner.get("type") == "object" or "properties" in inner:
            yield from id_fields(document, inner, f"{dotted}.")


# --- building requests ------------------------------------------------------------------

FUTURE = datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=45)
while FUTURE.weekday() >= 5:
    FUTURE += timedelta(days=1)
TIMES = {
    "starts_at": FUTURE,
    "ends_at": FUTURE + timedelta(hours=1),
    "window_start": FUTURE - timedelta(days=1),
    "window_end": FUTURE + timedelta(days=2),
}


def example(  # noqa: PLR0911 - one answer per kind of schema
    document: dict[str, Any], schema: dict[str, Any], name: str, ids: Any
) -> Any:
    """A value for the field `name`: ids from `ids`, otherwise the schema's example, its
    first allowed value, or the least that satisfies it."""
    if kind := kind_of(name):
        return [ids(kind)] if name.endswith("_ids") else ids(kind)
    schema = not_null(document, schema)
    if name in TIMES:
        return TIMES[name].isoformat()
    if "examples" in schema:
        return schema["examples"][0]
    if "enum" in schema:
        return next(value for value in schema["enum"] if value is not None)
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "array":
        count = schema.get("minItems", 0)
        return [example(document, schema["items"], name, ids) for _ in range(count)]
    if kind == "object" or "properties" in schema:
        return instance(document, schema, ids)
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    formats = {"date-time": TIMES["starts_at"].isoformat(), "date": FUTURE.date().isoformat()}
    return formats.get(schema.get("format", ""), "Проверка")


def instance(
    document: dict[str, Any], schema: dict[str, Any], ids: Any, only: str | None = None
) -> dict[str, Any]:
    """An object of the schema: its required fields and times, and the optional fields that
    are ids (or hold ids): all of them, or with `only` that one alone. A field that says
    what kind of thing the object is for (`kind`) names the kind of the id given, where its
    values allow."""
    schema = not_null(document, schema)
    required = set(schema.get("required", []))
    value = {}
    for name, property_schema in schema.get("properties", {}).items():
        holds_ids = bool(list(id_fields(document, {"properties": {name: property_schema}}, "")))
        optional_id = holds_ids and name not in required
        if name in required or name in TIMES or (optional_id and only in (None, name)):
            value[name] = example(document, property_schema, name, ids)
    kinds = not_null(document, schema.get("properties", {}).get("kind", {})).get("enum", [])
    for name in value:
        if (kind := kind_of(name)) in kinds:
            value["kind"] = kind
    return value


def optional_ids(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    schema = not_null(document, schema)
    required = set(schema.get("required", []))
    return [
        name
        for name, property_schema in schema.get("properties", {}).items()
        if name not in required
        and list(id_fields(document, {"properties": {name: property_schema}}, ""))
    ]


def build(operation: Operation, base_url: str, ids: Any, only: str | None = None) -> Request:
    """The operation's request with `ids(kind)` in every place an id goes (of the optional
    ones in the body, only `only` when given)."""
    named: set[str] = set()

    def chosen(kind: str) -> str:
        identifier: str = ids(kind)
        named.add(identifier)
        return identifier

    path = operation.path
    params: dict[str, Any] = {}
    for parameter in operation.operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        kind = kind_of(name)
        if where == "path":
            value = chosen(kind) if kind else path_value(name)
            path = path.replace(f"{{{name}}}", value)
        elif where == "query" and (parameter.get("required") or kind):
            params[name] = (
                chosen(kind)
                if kind
                else example(operation.document, parameter["schema"], name, chosen)
            )
    schema = request_schema(operation.document, operation.operation)
    body = None if schema is None else instance(operation.document, schema, chosen, only)
    return Request(operation.method.upper(), f"{base_url}{path}", params, body, named)


def path_value(name: str) -> str:
    return {"version": "1", "code": "RU-LIP", "token": "not-a-token"}.get(name, "1")


# --- comparing answers ------------------------------------------------------------------


def normalized(response: httpx.Response, ids: set[str]) -> str:
    """The answer as text with every id the request named replaced, and with what differs
    from one request to the next (trace ids, problem instances) left out."""
    text = response.text
    for identifier in ids:
        text = text.replace(identifier, "<id>")
    text = re.sub(r'"instance":"[^"]*"', "", text)
    return f"{response.status_code} {response.headers.get('content-type', '')} {text}"


@dataclass
class World:
    a: Partner
    b: Partner
    a_revoked_key: str
    a_ids: dict[str, str]
    b_ids: dict[str, str]

    @property
    def private_ids(self) -> set[str]:
        return set(self.a_ids.values())


async def private_partner(client: httpx.AsyncClient, system: System, hook: str) -> World:
    registry, scheduling, agenda = (system.url(name) for name in SERVICES)
    a = await new_partner(client, registry, "Закрытая библиотека", public=False)
    b = await new_partner(client, registry, "Открытая библиотека", region="RU-PRI")
    revoked = ok(
        await client.post(
            f"{registry}/keys", json={"name": "старый", "organization_id": a.id}, headers=ADMIN
        ),
        201,
    )
    ok(await client.post(f"{registry}/keys/{revoked['id']}/revoke", headers=ADMIN))

    async def meeting_scheduled() -> dict[str, Any] | None:
        response = await client.post(
            f"{scheduling}/meetings",
            json={
                "title": "Закрытое совещание",
                "kind": "videoconference",
                "host_organization_id": a.id,
                "starts_at": TIMES["starts_at"].isoformat(),
                "ends_at": TIMES["ends_at"].isoformat(),
                "public": False,
            },
            headers=a.headers,
        )
        return response.json() if response.status_code == 201 else None

    meeting = await eventually(meeting_scheduled)

    async def signed_up() -> dict[str, Any] | None:
        response = await client.post(
            f"{registry}/meetings/{meeting['id']}/registrations",
            json={"person_id": a.person["id"]},
            headers=a.headers,
        )
        return response.json() if response.status_code == 201 else None

    registration = await eventually(signed_up)
    feed = ok(
        await client.post(
            f"{scheduling}/feeds",
            json={"kind": "organization", "organization_id": a.id},
            headers=a.headers,
        ),
        201,
    )

    async def agenda_put() -> bool:
        response = await client.put(
            f"{agenda}/meetings/{meeting['id']}/agenda",
            json={
                "items": [
                    {"offset": "PT0M", "duration": "PT30M", "title": "Открытие", "kind": "opening"}
                ],
                "publish": True,
            },
            headers=a.headers,
        )
        return response.status_code == 200

    await eventually(agenda_put)
    endpoint = ok(
        await client.post(
            f"{registry}/webhooks/endpoints",
            json={"url": hook, "event_types": ["meeting.updated"]},
            headers=a.headers,
        ),
        201,
    )
    a_ids = {
        "meeting": meeting["id"],
        "organization": a.id,
        "person": a.person["id"],
        "registration": registration["id"],
        "feed": feed["id"],
        "key": a.key_id,
        "session": meeting["sessions"][0]["id"] if meeting.get("sessions") else meeting["id"],
        "endpoint": endpoint["id"],
    }
    b_ids = {
        **dict.fromkeys(ID_KINDS, str(uuid.uuid4())),
        "organization": b.id,
        "person": b.person["id"],
        "key": b.key_id,
    }
    return World(a, b, revoked["secret"], a_ids, b_ids)


def variants(operation: Operation) -> Iterator[tuple[str, ...]]:
    """For each place an id goes, A's id or the caller's own; at least one of A's."""
    for choice in itertools.product(("a", "own"), repeat=len(operation.slots)):
        if "a" in choice:
            yield choice


@pytest.fixture
def hook() -> Iterator[str]:
    """Partner A's webhook endpoint, taking every message (204): its deliveries end
    delivered, and what staff read of them changes only if someone replays them."""

    class Taking(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http_server(Taking) as url:
        yield f"{url}/hook"


async def test_no_partner_sees_or_changes_another_partners_data(system: System, hook: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        documents = {
            name: ok(await client.get(f"{system.url(name)}/schema/openapi.json"))
            for name in SERVICES
        }
        world = await private_partner(client, system, hook)
        every = operations(documents)
        assert len(every) > 60, [operation.name for operation in every]
        await settled(system)
        before = await staff_view(client, system, every, world)
        events_before = await events_naming(system, world.private_ids)
        identities = {
            "partner B": world.b.headers,
            "no key": {},
            "malformed key": {"Authorization": "Bearer tb_000000000000_nonsense"},
            "A's revoked key": {"Authorization": f"Bearer {world.a_revoked_key}"},
        }
        failures: list[str] = []
        exercised = 0
        for operation in every:
            if operation.path in CAPABILITY_PATHS or not operation.slots:
                continue
            base = system.url(operation.service)
            for identity, headers in identities.items():
                choices = list(variants(operation))
                if identity != "partner B":
                    choices = [("a",) * len(operation.slots)]
                for choice in choices:
                    exercised += 1
                    failures += await compare(
                        client,
                        operation,
                        base=base,
                        headers=headers,
                        world=world,
                        choice=choice,
                        identity=identity,
                    )
        assert exercised > 200
        await settled(system)
        assert await events_naming(system, world.private_ids) == events_before
        after = await staff_view(client, system, every, world)
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, changed
        # Lists and searches without ids: none of A's private ids in any answer.
        for operation in every:
            if operation.slots or operation.path in CAPABILITY_PATHS or "{" in operation.path:
                continue
            for identity, headers in identities.items():
                if operation.method != "get":
                    continue
                response = await client.get(
                    f"{system.url(operation.service)}{operation.path}", headers=headers
                )
                leaked = [i for i in world.private_ids if i in response.text]
                if leaked:
                    failures.append(f"{operation.name} as {identity} lists {leaked}")
        assert not failures, "\n".join(failures)


async def compare(
    client: httpx.AsyncClient,
    operation: Operation,
    *,
    base: str,
    headers: dict[str, str],
    world: World,
    choice: tuple[str, ...],
    identity: str,
) -> list[str]:
    slot_kinds = [
        kind_of(slot.split(":", 1)[1].rsplit(".", 1)[-1].removesuffix("[]"))
        for slot in operation.slots
    ]
    mine = {
        kind: world.b_ids[kind]
        for kind, side in zip(slot_kinds, choice, strict=True)
        if side == "own" and kind
    }
    absent = {kind: str(uuid.uuid4()) for kind in ID_KINDS}

    def with_a(kind: str) -> str:
        return mine.get(kind, world.a_ids[kind])

    def with_absent(kind: str) -> str:
        return mine.get(kind, absent[kind])

    schema = request_schema(operation.document, operation.operation)
    alone = [] if schema is None else optional_ids(operation.document, schema)
    failures = []
    for only in [None, *alone] if len(alone) > 1 else [None]:
        seen_request = build(operation, base, with_a, only)
        if not seen_request.named & world.private_ids:
            continue  # without the id of A's it left out, the request is the caller's own
        absent_request = build(operation, base, with_absent, only)
        seen = await send(client, seen_request, headers)
        unseen = await send(client, absent_request, headers)
        sides = dict(zip(operation.slots, choice, strict=True))
        label = f"{operation.name} as {identity} with {sides}" + (f", {only} alone" if only else "")
        if normalized(seen, seen_request.named) != normalized(unseen, absent_request.named):
            failures.append(
                f"{label}: A's ids answer {seen.status_code} {seen.text[:300]!r}, "
                f"unknown ids {unseen.status_code} {unseen.text[:300]!r}"
            )
        leaked = [i for i in world.private_ids - seen_request.named if i in seen.text]
        if leaked:
            failures.append(f"{label}: the answer carries {leaked}")
    return failures


async def send(
    client: httpx.AsyncClient, request: Request, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(
        request.method, request.url, params=request.params, json=request.json, headers=headers
    )


async def staff_view(
    client: httpx.AsyncClient, system: System, every: list[Operation], world: World
) -> dict[str, str]:
    """What staff read of A: every GET whose ids can all be A's."""
    view = {}
    for operation in every:
        if operation.method != "get" or not operation.slots or operation.path in CAPABILITY_PATHS:
            continue
        request = build(operation, system.url(operation.service), lambda kind: world.a_ids[kind])
        response = await send(client, request, OPERATOR)
        # Invites are written anew at each request: their DTSTAMP is the time of writing.
        view[operation.name] = re.sub(r"DTSTAMP:\d{8}T\d{6}Z", "", response.text)
    return view


async def settled(system: System) -> None:
    """Wait until every event written has been published and applied by every consumer,
    and every webhook message sent."""
    connection = await asyncpg.connect(system.database_url)
    client = await nats.connect(system.nats_url)
    js = client.jetstream()
    try:

        async def quiet() -> bool:
            for schema in SERVICES:
                unsent = await connection.fetchval(
                    f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"
                )
                if unsent:
                    return False
            if await connection.fetchval(
                "SELECT count(*) FROM registry.webhook_deliveries WHERE state = 'pending'"
            ):
                return False
            for stream in (REGISTRY, SCHEDULING, AGENDA):
                for consumer in await js.consumers_info(stream.name):
                    if consumer.num_pending or consumer.num_ack_pending:
                        return False
            return True

        await eventually(quiet)
    finally:
        await client.close()
        await connection.close()


async def events_naming(system: System, ids: set[str]) -> list[str]:
    """The ids of every event on the three streams whose body names one of `ids`."""
    connection = await nats.connect(system.nats_url)
    try:
        js = connection.jetstream()
        found = []
        for stream in (REGISTRY, SCHEDULING, AGENDA):
            for event in await stream_events(js, stream):
                text = str(event)
                if any(identifier in text for identifier in ids):
                    found.append(str(event["event_id"]))
        return sorted(found)
    finally:
        await connection.close()


pytestmark = pytest.mark.timeout(600)
