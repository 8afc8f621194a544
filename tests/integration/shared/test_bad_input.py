"""No input makes a 5xx: the same bad inputs, sent to every operation of every service.

The operations come from each app's own OpenAPI document, so a new endpoint is covered the
day it is added: every operation that takes a body gets bodies that are not UTF-8, nest
too deep, are not sent as JSON, are too large or never finish arriving; every integer
parameter gets numbers no PostgreSQL integer holds; and every body is sent once with each
field at the largest end of its range and once at the smallest. Each answer must be a 4xx
problem document (or, for a body of extreme but valid values, a success), and for most of
them the status and problem type are known.

Each service runs in-process against the test's own PostgreSQL and NATS. Agenda
publishing knows a meeting, so that its version numbers reach the queries that read them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from msgspec import inspect

from services.agenda.app import create_app as agenda_app
from services.registry.app import create_app as registry_app
from services.scheduling.app import create_app as scheduling_app
from shared.events import new_id
from shared.settings import (
    AgendaSettings,
    HttpSettings,
    RegistrySettings,
    SchedulingSettings,
    ServiceSettings,
)
from tests.integration.agenda.support import Agenda, known
from tests.integration.api import (
    HTTP_METHODS,
    PROBLEM_JSON,
    PROBLEM_TYPE_BASE,
    request_bodies,
)
from tests.support import ADMIN, ADMIN_KEY, OPERATOR, OPERATOR_KEY, harness, json_of, settings_for

MAX_BODY_SIZE = 64 * 1024
BODY_TIMEOUT = 0.5
FACTORIES: dict[str, tuple[type[ServiceSettings], Callable[[Any], Litestar]]] = {
    "registry": (RegistrySettings, registry_app),
    "scheduling": (SchedulingSettings, scheduling_app),
    "agenda": (AgendaSettings, agenda_app),
}


@dataclass(frozen=True)
class Operation:
    """One operation of an OpenAPI document, with what is needed to call it."""

    method: str
    path: str
    """The path template, `{name}` for each path parameter."""
    parameters: tuple[dict[str, Any], ...]
    takes_body: bool

    def url(self, known: dict[str, str], **values: object) -> str:
        """The operation's URL: `values` where given, else what `known` holds for the
        parameter's name, else any value of its type; required query parameters only."""
        path = self.path
        query: dict[str, object] = {}
        for parameter in self.parameters:
            name = parameter["name"]
            value = values.get(name, known.get(name, _any_value(parameter["schema"])))
            if parameter["in"] == "path":
                path = path.replace(f"{{{name}}}", str(value))
            elif parameter["in"] == "query" and (parameter.get("required") or name in values):
                query[name] = value
        return f"{path}?{urlencode(query)}" if query else path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _any_value(schema: dict[str, Any]) -> object:
    kinds = {
        kind
        for option in (schema, *schema.get("oneOf", ()))
        for kind in (
            option.get("type") if isinstance(option.get("type"), list) else [option.get("type")]
        )
    }
    if "integer" in kinds:
        return max(1, schema.get("minimum", 1))
    if schema.get("format") == "uuid":
        return new_id()
    return "x"


def operations(schema: dict[str, Any]) -> list[Operation]:
    return [
        Operation(
            method=method.upper(),
            path=path,
            parameters=tuple(operation.get("parameters", ())),
            takes_body="requestBody" in operation,
        )
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def integer_parameters(operation: Operation) -> Iterator[str]:
    for parameter in operation.parameters:
        schema = parameter["schema"]
        options = [schema, *schema.get("oneOf", [])]
        if any(option.get("type") == "integer" for option in options):
            yield parameter["name"]


@dataclass
class Service:
    name: str
    client: AsyncTestClient[Litestar]
    operations: list[Operation]
    known: dict[str, str]
    """Values of path parameters that name something the service has."""

    @property
    def with_body(self) -> list[Operation]:
        found = [operation for operation in self.operations if operation.takes_body]
        assert found, f"{self.name} documents no operation with a body"
        return found

    async def send(self, operation: Operation, content: bytes, content_type: str | None) -> Any:
        headers = {"Content-Type": content_type} if content_type else {}
        return await self.client.request(
            operation.method, operation.url(self.known), content=content, headers=headers
        )


@pytest.fixture(params=list(FACTORIES))
async def service(
    request: pytest.FixtureRequest, database_url: str, nats_url: str
) -> AsyncIterator[Service]:
    name: str = request.param
    settings_type, factory = FACTORIES[name]
    http = HttpSettings(max_body_size=MAX_BODY_SIZE, body_timeout=BODY_TIMEOUT)
    # Bodies are read after the key and guards: the registry's /keys wants an admin key.
    admin = {"admin_key": ADMIN_KEY} if name == "registry" else {}
    app = factory(settings_for(settings_type, database_url, nats_url, http=http, **admin))
    async with harness(app, database_url, nats_url) as running:
        running.client.headers.update(ADMIN if admin else OPERATOR)
        known_values: dict[str, str] = {}
        if name == "agenda":
            agenda = Agenda(running.client, running.js, running.database)
            known_values["meeting_id"] = str(await known(agenda))
        documented = operations(app.openapi_schema.to_schema())
        yield Service(name, running.client, documented, known_values)


def assert_problem(
    response: Any, operation: Operation, status: int | None = None, slug: str | None = None
) -> None:
    """A 4xx problem document; of `status` and `slug` when they are given."""
    where = f"{operation}: {response.status_code} {response.text[:300]}"
    assert 400 <= response.status_code < 500, where
    if status is not None:
        assert response.status_code == status, where
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON, where
    document = json_of(response)
    assert document["status"] == response.status_code, where
    if slug is not None:
        assert document["type"] == PROBLEM_TYPE_BASE + slug, where


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"title": "\xff"}', "not UTF-8"),
        (b'{"title": "\xd0"}', "not UTF-8"),
        (b'{"\xc3\x28": 1}', "not UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "deeper than"),
        (b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, "deeper than"),
        (b'{"a": [' + b"[" * 40 + b"]" * 40 + b"]}", "deeper than"),
        (b'{"n": ' + b"9" * 5000 + b"}", "out of range"),
        (b'{"title": "\\ud800"}', "not JSON"),
        (b"\xef\xbb\xbf{}", "not JSON"),
        (b'{"title": "\\', "not JSON"),
    ],
    ids=[
        "invalid-byte",
        "truncated-character",
        "invalid-key",
        "deep-arrays",
        "deep-objects",
        "just-too-deep",
        "huge-integer",
        "lone-surrogate",
        "byte-order-mark",
        "cut-escape",
    ],
)
async def test_a_body_no_json_parser_reads_is_a_400_for_every_operation(
    service: Service, content: bytes, expected: str
) -> None:
    for operation in service.with_body:
        response = await service.send(operation, content, "application/json")
        assert_problem(response, operation, 400, "malformed-body")
        assert expected in json_of(response)["detail"], response.text


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"title": "a\\u0000b"}', "title"),
        (b'{"items": [{"speakers": [{"name": "\\u0000"}]}]}', "items[0].speakers[0].name"),
        (b'{"outcomes": {"ru": "\\u0000"}}', "outcomes.ru"),
    ],
)
async def test_a_nul_character_in_a_string_is_a_422_naming_it_for_every_operation(
    service: Service, content: bytes, field: str
) -> None:
    for operation in service.with_body:
        response = await service.send(operation, content, "application/json")
        assert_problem(response, operation, 422, "validation")
        assert json_of(response)["errors"] == [
            {
                "field": field,
                "source": "body",
                "message": "text cannot hold the NUL character (\\u0000)",
            }
        ]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "application/json; charset=latin-1",
        "",
    ],
)
async def test_a_body_not_sent_as_json_is_a_415_for_every_operation(
    service: Service, content_type: str
) -> None:
    for operation in service.with_body:
        response = await service.client.request(
            operation.method,
            operation.url(service.known),
            content=b"{}",
            headers={"Content-Type": content_type},
        )
        assert_problem(response, operation, 415, "unsupported-media-type")


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "Application/JSON; charset=UTF-8",
        "application/merge-patch+json",
        "application/vnd.telebridge+json; charset=utf-8",
    ],
)
async def test_a_body_sent_as_json_or_untyped_is_read_as_json(
    service: Service, content_type: str | None
) -> None:
    for operation in service.with_body:
        response = await service.send(operation, b'{"no such field": 1}', content_type)
        assert_problem(response, operation)
        assert response.status_code != 415, f"{operation}: {response.text}"
        assert json_of(response)["type"] != PROBLEM_TYPE_BASE + "malformed-body", response.text


async def test_a_body_over_the_size_limit_is_a_413_for_every_operation(service: Service) -> None:
    content = b'{"title": "' + b"x" * MAX_BODY_SIZE + b'"}'
    for operation in service.with_body:
        response = await service.send(operation, content, "application/json")
        assert_problem(response, operation, 413, "body-too-large")
        assert str(MAX_BODY_SIZE) in json_of(response)["detail"]


async def test_a_body_that_stops_arriving_is_a_408_for_every_operation(service: Service) -> None:
    for operation in service.with_body:
        status, headers, content = await stalled_request(service, operation)
        assert status == 408, f"{operation}: {status} {content!r}"
        assert headers[b"content-type"] == PROBLEM_JSON.encode()
        assert headers[b"connection"] == b"close"
        assert b"body-timeout" in content


async def stalled_request(
    service: Service, operation: Operation
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send a request whose body stops after its first bytes, as a client that announced
    more than it sends does, straight to the app (the test client always sends it all)."""
    url = operation.url(service.known)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": operation.method,
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {OPERATOR_KEY}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    messages: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b'{"title": ', "more_body": True}
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def call() -> None:
        await asyncio.wait_for(service.client.app(scope, receive, send), BODY_TIMEOUT + 10)

    await asyncio.to_thread(service.client.blocking_portal.call, call)
    start = next(message for message in messages if message["type"] == "http.response.start")
    content = b"".join(
        message.get("body", b"") for message in messages if message["type"] == "http.response.body"
    )
    return start["status"], dict(start["headers"]), content


@pytest.mark.parametrize(
    "number",
    [2**31, 2**63, 10**30, -(2**31) - 1, 0, -1],
    ids=["int4-overflow", "int8-overflow", "huge", "int4-underflow", "zero", "negative"],
)
async def test_an_integer_parameter_out_of_range_is_a_4xx_for_every_operation(
    service: Service, number: int
) -> None:
    checked = 0
    for operation in service.operations:
        for name in integer_parameters(operation):
            url = operation.url(service.known, **{name: number})
            response = await service.client.request(operation.method, url)
            assert_problem(response, operation)
            if response.status_code == 400:
                assert json_of(response)["errors"][0]["field"] == name, response.text
            checked += 1
    assert checked, f"{service.name} documents no integer parameter"


@pytest.mark.parametrize("largest", [True, False], ids=["largest", "smallest"])
async def test_a_body_of_extreme_values_is_never_a_5xx(service: Service, largest: bool) -> None:
    """Each field at the end of its range: the longest text (in characters of four bytes),
    the largest number, the last date a datetime holds, the longest duration; or the other
    end. Such a body is often refused, but by a 4xx, or taken."""
    bodies = request_bodies(service.client.app)
    for operation in service.with_body:
        content = extreme(inspect.type_info(bodies[operation.method, operation.path]), largest)
        response = await service.client.request(
            operation.method, operation.url(service.known), json=content
        )
        if response.status_code >= 400:
            assert_problem(response, operation)


_ENDS: dict[type[inspect.Type], tuple[object, object]] = {
    inspect.DateType: ("9999-12-31", "0001-01-01"),
    inspect.DateTimeType: ("9999-12-31T23:59:59.999999+14:00", "0001-01-01T00:00:00-12:00"),
    inspect.TimeType: ("23:59:59.999999", "00:00"),
    inspect.TimeDeltaType: ("P999999999D", "-P999999999D"),
    inspect.BoolType: (True, False),
    inspect.DictType: ({}, {}),
    inspect.NoneType: (None, None),
}


def extreme(info: inspect.Type, largest: bool, examples: tuple[str, ...] = ()) -> object:
    """A value of the type at one end of its range, as JSON gives it."""
    value: object
    match info:
        case _ if type(info) in _ENDS:
            value = _ENDS[type(info)][0 if largest else 1]
        case inspect.Metadata(type=inner, extra_json_schema=schema):
            value = extreme(inner, largest, tuple((schema or {}).get("examples", ())))
        case inspect.StructType(fields=fields):
            value = {field.encode_name: extreme(field.type, largest) for field in fields}
        case inspect.UnionType(types=types):
            nullable = any(isinstance(option, inspect.NoneType) for option in types)
            options = [option for option in types if not isinstance(option, inspect.NoneType)]
            value = None if nullable and not largest else extreme(options[0], largest)
        case inspect.StrType():
            value = _extreme_text(info, largest, examples)
        case inspect.IntType(ge=ge, le=le):
            value = le if largest else ge
        case inspect.ListType(item_type=item, min_length=least, max_length=most):
            count = min(most or 3, 3) if largest else least or 0
            value = [extreme(item, largest) for _ in range(count)]
        case inspect.UUIDType():
            value = str(new_id())
        case inspect.LiteralType(values=values):
            value = values[-1] if largest else values[0]
        case _:
            raise AssertionError(f"no extreme value for {info}")
    return value


def _extreme_text(info: inspect.StrType, largest: bool, examples: tuple[str, ...]) -> object:
    length = (info.max_length or 100) if largest else max(info.min_length or 0, 1)
    text = ("𝔸" if largest else "a") * length
    if info.pattern is None or re.search(info.pattern, text):
        return text
    return examples[0] if examples else text
