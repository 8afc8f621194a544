"""What the API tests share: problem documents as a client sees them, and the bus read back.

The tests drive one service in-process (`tests.support.serving`) against the test's own
PostgreSQL and NATS. What other services would say, they publish to JetStream themselves;
what the service under test says, they read back from its stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from litestar import Litestar
from nats.js import JetStreamContext

from shared.events import ApiKeyIssued, Event, Stream, new_id
from shared.keys import SCOPES, generate_key
from tests.support import bearer, eventually, json_of, stream_messages

PROBLEM_JSON = "application/problem+json"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})
PROBLEM_TYPE_BASE = "tag:telebridge,2026:problems/"


def problem(
    response: Any,
    status: int,
    slug: str | None = None,
    *,
    field: str | None = None,
    detail: bool = True,
) -> dict[str, Any]:
    """Check that `response` is an RFC 9457 problem document and return it.

    `slug` is the end of its `type` (`None`: `about:blank`, for plain HTTP errors);
    `field`, when given, must be named by the first entry of `errors`; `detail=False`
    where the status says it all (RFC 9457 makes `detail` optional).
    """
    assert response.status_code == status, response.text
    content_type = response.headers["content-type"].split(";")[0].strip()
    assert content_type == PROBLEM_JSON, response.headers["content-type"]
    document: dict[str, Any] = json_of(response)
    assert document["status"] == status
    assert isinstance(document["title"], str)
    assert document["title"]
    if detail:
        assert isinstance(document["detail"], str)
        assert document["detail"]
    assert document["instance"] == response.request.url.path
    if slug is None:
        assert document["type"] == "about:blank"
    else:
        assert document["type"] == PROBLEM_TYPE_BASE + slug
    if field is not None:
        assert document["errors"], document
        assert document["errors"][0]["field"] == field, document
    return document


def body(response: Any, status: int = 200) -> Any:
    """The JSON body of a successful response."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return json_of(response)


async def publish(js: JetStreamContext, *events: Event) -> None:
    """Publish events as the service that owns them would (its outbox relay does this)."""
    for event in events:
        await js.publish(
            event.subject,
            msgspec.json.encode(event),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )


async def partner_key(
    js: JetStreamContext, client: Any, organization_id: UUID, probe: str
) -> dict[str, str]:
    """Headers with a partner key of the organization, issued as the registry would, once
    the service under test accepts it on the GET `probe`."""
    key = generate_key()
    await publish(
        js,
        ApiKeyIssued(
            aggregate_id=new_id(),
            aggregate_version=1,
            producer="registry",
            prefix=key.prefix,
            secret_sha256=key.secret_sha256,
            role="partner",
            organization_id=organization_id,
            scopes=list(SCOPES),
        ),
    )
    headers = bearer(key.secret)

    async def accepted() -> bool:
        response = await client.get(probe, headers=headers)
        return bool(response.status_code != 401)

    await eventually(accepted)
    return headers


@dataclass(frozen=True)
class Published:
    """One message of a stream: its decoded event and its headers."""

    subject: str
    event: dict[str, Any]
    headers: dict[str, str]


async def published(js: JetStreamContext, stream: Stream) -> list[Published]:
    """Every message in `stream`, in stream order, decoded."""
    return [
        Published(
            subject=message.subject or "",
            event=msgspec.json.decode(message.data or b""),
            headers=dict(message.headers or {}),
        )
        for message in await stream_messages(js, stream)
    ]


async def assert_live_and_ready(client: Any, service: str) -> None:
    """Both probes answer 200, and readiness found PostgreSQL and NATS answering."""
    live = body(await client.get("/health/live"))
    assert live == {"status": "ok", "service": service, "checks": {}}
    ready = body(await client.get("/health/ready"))
    assert ready == {
        "status": "ok",
        "service": service,
        "checks": {"postgres": "ok", "nats": "ok"},
    }


async def openapi_operations(client: Any) -> set[tuple[str, str]]:
    """(method, path) of every operation `/schema/openapi.json` documents."""
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.oai.openapi+json"
    schema = json_of(response)
    assert schema["openapi"].startswith("3.")
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def request_bodies(app: Litestar) -> dict[tuple[str, str], Any]:
    """The type each operation's body is validated as, by (method, path in OpenAPI's
    spelling)."""
    return {
        (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)): data.annotation
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if (data := handler.parsed_fn_signature.parameters.get("data")) is not None
        for method in handler.http_methods
    }


def served_operations(client: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, in OpenAPI's spelling of paths."""
    return {
        (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
        for route in client.app.routes
        if not route.path.startswith("/schema")
        for method in getattr(route, "methods", ())
        if method not in {"HEAD", "OPTIONS"}
    }
