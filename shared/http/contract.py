"""The OpenAPI document says what the server does: every status, header and security
requirement of each operation, worked out from its handler and written into the document
Litestar generates (`describe`), which `/schema/openapi.json` serves and `telebridge
contracts` writes to `contracts/openapi/`.

Most of an operation's answers follow from its handler: what it reads (parameters, a body,
a key), the middleware every request passes (`shared.http.bodies`, `auth`, `ratelimit`,
`idempotency`) and the one mapping of failures to statuses (`shared.http.problems`). What
only the use case knows, a handler declares with `answers(...)`: the domain errors it may
raise, whether it reads `If-Match`, answers an `ETag`, a `Location` or a 304. Every error
is the shared `Problem` schema, `application/problem+json`.

Links between operations (for clients and for schemathesis' stateful phase) follow from
names: an operation that answers a resource `X` with an `id` links to every operation whose
path names `x_id`, the other path parameters taken from the answer or from its own path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

import msgspec
import msgspec.inspect
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    Example,
    Link,
    OpenAPI,
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
    SecurityRequirement,
)
from litestar.routes import HTTPRoute

from shared.errors import DomainError
from shared.http.auth import KEYLESS
from shared.http.idempotency import KEY_PATTERN as IDEMPOTENCY_KEY
from shared.http.media import PROBLEM_JSON
from shared.http.problems import STATUS_OF, ProblemDetails
from shared.http.ratelimit import limited

CONTRACT: Final = "telebridge.contract"
"""Key of a handler's `opt` that holds what `answers` declared."""

KEY_SCHEME: Final = "apiKey"
_REQUIRED_KEY: Final[list[SecurityRequirement]] = [{KEY_SCHEME: []}]
_OPTIONAL_KEY: Final[list[SecurityRequirement]] = [{}, {KEY_SCHEME: []}]
_NOT_A_PARAMETER: Final = frozenset({"request", "connection", "caller", "visitor", "state", "data"})


@dataclass(frozen=True)
class Answers:
    """What an operation answers beyond what its handler's signature shows."""

    raises: tuple[type[DomainError], ...] = ()
    if_match: bool = False
    """Reads `If-Match` (412 on another version, 428 without one)."""
    etag: bool = False
    """Answers the resource's version as `ETag`."""
    dry_run: bool = False
    """Takes `dry_run`: its answer then has no `ETag`, as nothing was written."""
    location: bool = False
    """A 201 names the new resource's URL in `Location`."""
    conditional: bool = False
    """Reads `If-None-Match` and `If-Modified-Since`, answers 304, `ETag`, `Last-Modified`."""
    examples: Mapping[str, Any] = field(default_factory=dict)
    """Example request bodies by name (a test checks each against the body's schema)."""


def answers(
    *raises: type[DomainError],
    if_match: bool = False,
    etag: bool = False,
    dry_run: bool = False,
    location: bool = False,
    conditional: bool = False,
    examples: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A handler's `opt`: what it answers that its signature does not show."""
    return {
        CONTRACT: Answers(
            raises=raises,
            if_match=if_match,
            etag=etag,
            dry_run=dry_run,
            location=location,
            conditional=conditional,
            examples=examples or {},
        )
    }


_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "A parameter, header or the body is malformed (not JSON, not UTF-8, too deep, "
    "a cursor this server never handed out); `errors` names each field at fault.",
    401: "The API key sent is unknown, revoked or expired, or this needs a key and none was sent.",
    403: "The key may not do this: it lacks the service's scope, acts for another "
    "organization, or is not staff.",
    404: "No such thing, or one this key may not see: the two answer alike.",
    408: "The body did not arrive in time.",
    409: "The thing is not in a state that allows this (cancelled, ended, full, already "
    "there); `detail` says which.",
    410: "The thing existed and is no more (a revoked feed, an expired link).",
    412: "`If-Match` names another version than the current one: read it again, then retry. "
    "`current_version` says which it is.",
    413: "The body is larger than the server takes, or the change would make an event "
    "larger than the bus carries.",
    415: "The body is not sent as JSON.",
    422: "Well-formed, but not acceptable: `errors` names every field at fault. Also: the "
    "same `Idempotency-Key` sent with a different request.",
    428: "This change needs `If-Match` with the ETag last read.",
    429: "Too many requests from this key (or, without a key, from this address): retry "
    "after `Retry-After` seconds. `RateLimit-Policy` and `RateLimit` say the limit and "
    "what is left of it.",
    503: "PostgreSQL or NATS cannot be reached just now, or an id created a moment ago has "
    "not reached this service yet: retry after `Retry-After` seconds.",
}

_HEADERS: Final[dict[str, OpenAPIHeader]] = {
    "ETag": OpenAPIHeader(
        description="The resource's version, to send back as `If-Match` with a change.",
        required=True,
        schema=Schema(type=OpenAPIType.STRING, examples=['"3"']),
    ),
    "ETagUnlessDryRun": OpenAPIHeader(
        description="The new version, to send back as `If-Match` with the next change; "
        "not sent on a dry run, which writes nothing.",
        schema=Schema(type=OpenAPIType.STRING, examples=['"3"']),
    ),
    "Location": OpenAPIHeader(
        description="The URL of what was created.",
        required=True,
        schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI_REFERENCE),
    ),
    "Last-Modified": OpenAPIHeader(
        description="When what is served last changed (RFC 9110 date).",
        schema=Schema(type=OpenAPIType.STRING),
    ),
    "Retry-After": OpenAPIHeader(
        description="Seconds to wait before retrying.",
        required=True,
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0),
    ),
    "RateLimit-Policy": OpenAPIHeader(
        description="The caller's limit (draft-ietf-httpapi-ratelimit-headers): its name "
        "(the key's role, or `public` per address), `q` requests per `w` seconds.",
        schema=Schema(type=OpenAPIType.STRING, examples=['"partner";q=1200;w=60']),
    ),
    "RateLimit": OpenAPIHeader(
        description="What is left of the limit: `r` requests may still be sent at once; "
        "in `t` seconds the whole limit is available again.",
        schema=Schema(type=OpenAPIType.STRING, examples=['"partner";r=0;t=60']),
    ),
    "WWW-Authenticate": OpenAPIHeader(
        required=True,
        description='`Bearer realm="telebridge"`',
        schema=Schema(type=OpenAPIType.STRING),
    ),
}


def _header_ref(name: str) -> Reference:
    return Reference(ref=f"#/components/headers/{name}")


_PROBLEM_HEADERS: Final[dict[int, dict[str, OpenAPIHeader | Reference]]] = {
    401: {"WWW-Authenticate": _header_ref("WWW-Authenticate")},
    429: {
        "Retry-After": _header_ref("Retry-After"),
        "RateLimit-Policy": _header_ref("RateLimit-Policy"),
        "RateLimit": _header_ref("RateLimit"),
    },
    503: {"Retry-After": _header_ref("Retry-After")},
}


_REQUEST_HEADERS: Final[dict[str, Parameter]] = {
    "Idempotency-Key": Parameter(
        name="Idempotency-Key",
        param_in="header",
        required=False,
        description="1 to 255 printable ASCII characters (a UUID will do), new for each "
        "change: a retry "
        "with the same key gets the first answer instead of making the change again "
        "(kept for a day, per API key).",
        schema=Schema(
            type=OpenAPIType.STRING, min_length=1, max_length=255, pattern=IDEMPOTENCY_KEY
        ),
    ),
    "If-Match": Parameter(
        name="If-Match",
        param_in="header",
        required=False,
        description="The `ETag` last read. Required: without it the answer is 428.",
        schema=Schema(type=OpenAPIType.STRING, examples=['"3"']),
    ),
    "If-None-Match": Parameter(
        name="If-None-Match",
        param_in="header",
        required=False,
        description="The `ETag` last received: a 304 if nothing changed since.",
        schema=Schema(type=OpenAPIType.STRING),
    ),
    "If-Modified-Since": Parameter(
        name="If-Modified-Since",
        param_in="header",
        required=False,
        description="`Last-Modified` last received, used when `If-None-Match` is not sent.",
        schema=Schema(type=OpenAPIType.STRING),
    ),
}


def _response_name(status: int) -> str:
    return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")


def _problem_components() -> tuple[dict[str, Any], dict[str, OpenAPIResponse]]:
    (_, schemas) = msgspec.json.schema_components(
        [ProblemDetails], ref_template="#/components/schemas/{name}"
    )
    problem = schemas.pop(ProblemDetails.__name__)
    problem["description"] = (
        "An RFC 9457 problem document. `type` is stable per kind of failure "
        "(`tag:telebridge,2026:problems/<slug>`, or `about:blank`); other members may "
        "follow, such as `current_version` on a 412."
    )
    schemas["Problem"] = problem
    responses = {
        _response_name(status): OpenAPIResponse(
            description=description,
            content={
                PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
            },
            headers=_PROBLEM_HEADERS.get(status),
        )
        for status, description in _DESCRIPTIONS.items()
    }
    return schemas, responses


@dataclass(frozen=True)
class _Handler:
    """What a handler's signature and declarations tell of its answers."""

    handler: HTTPRouteHandler
    answers: Answers
    path: str
    """The route's path with its parameters' types, `/meetings/{meeting_id:uuid}`."""

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.handler.parsed_fn_signature.parameters)

    @property
    def keyless(self) -> bool:
        return bool(self.handler.opt.get(KEYLESS))

    @property
    def needs_key(self) -> bool:
        return "caller" in self.parameters or bool(self.handler.resolve_guards())

    @property
    def has_body(self) -> bool:
        return "data" in self.parameters

    @property
    def is_post(self) -> bool:
        return "POST" in self.handler.http_methods

    @property
    def may_be_malformed(self) -> bool:
        """Whether it reads anything a client can send malformed (a 400): a query or header
        parameter, a path parameter but an id (a malformed id matches no route: a 404), a
        body, or a POST's Idempotency-Key."""
        sent = {*self.parameters} - _NOT_A_PARAMETER
        return (
            self.is_post
            or self.has_body
            or any(f"{{{name}:uuid}}" not in self.path for name in sent)
        )

    def statuses(self) -> set[int]:
        found = {503}
        if limited(self.handler, self.path):
            found.add(429)
        if self.may_be_malformed:
            found.add(400)
        if not self.keyless:
            found.add(401)
        if self.needs_key:
            found.add(403)
        if "{" in self.path:
            found.add(404)
        if self.has_body:
            found |= {408, 413, 415, 422}
        if self.is_post:
            found.add(422)  # an Idempotency-Key sent before with another request
        if self.answers.if_match:
            found |= {412, 428}
        found |= {status_of(error) for error in self.answers.raises}
        return found


def status_of(error: type[DomainError]) -> int:
    return next(STATUS_OF[kind] for kind in error.__mro__ if kind in STATUS_OF)


def _operations(app: Litestar, openapi: OpenAPI) -> Iterator[tuple[str, Operation, _Handler]]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in (openapi.paths or {}):
            continue
        item = (openapi.paths or {})[route.path_format]
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if isinstance(operation, Operation):
                    declared = handler.opt.get(CONTRACT) or Answers()
                    yield route.path_format, operation, _Handler(handler, declared, route.path)


def describe(app: Litestar) -> OpenAPI:
    """Write into the app's OpenAPI document what each operation really answers."""
    openapi = app.openapi_schema
    schemas, responses = _problem_components()
    components = openapi.components if isinstance(openapi.components, Components) else Components()
    components.schemas = {**(components.schemas or {}), **_as_schemas(schemas)}
    components.responses = {**(components.responses or {}), **responses}
    components.headers = {**(components.headers or {}), **_HEADERS}
    openapi.components = components
    operations = list(_operations(app, openapi))
    for _, operation, handler in operations:
        _describe_operation(operation, handler)
    _link(openapi, operations)
    _as_the_bodies_read(components, [handler for _, _, handler in operations])
    for schema in _schemas_of(openapi):
        _constraints_into_branches(schema)
    return openapi


_NUMERIC: Final = ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum", "multiple_of")
_TEXTUAL: Final = ("min_length", "max_length", "pattern", "format")


def _constraints_into_branches(schema: Schema) -> None:
    """Move the bounds Litestar writes beside `oneOf` (of an optional value: `int | None`)
    into the branch they bound. JSON Schema applies them there anyway, but generators and
    readers of the document (schemathesis among them) take the branch alone."""
    branches = [
        branch for branch in (schema.one_of or schema.any_of or []) if isinstance(branch, Schema)
    ]
    if not branches:
        return
    for names, kinds in (
        (_NUMERIC, (OpenAPIType.INTEGER, OpenAPIType.NUMBER)),
        (_TEXTUAL, (OpenAPIType.STRING,)),
    ):
        for name in names:
            value = getattr(schema, name)
            if value is None:
                continue
            for branch in branches:
                if branch.type in kinds and getattr(branch, name) is None:
                    setattr(branch, name, value)
            setattr(schema, name, None)


def _schemas_of(openapi: OpenAPI) -> Iterator[Schema]:
    """Every schema of the document, nested ones included."""
    pending: list[Any] = list(
        ((openapi.components.schemas or {}) if openapi.components else {}).values()
    )
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if not isinstance(operation, Operation):
                continue
            pending += [p.schema for p in operation.parameters or [] if isinstance(p, Parameter)]
            body = operation.request_body
            if body is not None and not isinstance(body, Reference):
                pending += [media.schema for media in (body.content or {}).values()]
            for response in (operation.responses or {}).values():
                if isinstance(response, OpenAPIResponse):
                    pending += [media.schema for media in (response.content or {}).values()]
    seen: set[int] = set()
    while pending:
        schema = pending.pop()
        if not isinstance(schema, Schema) or isinstance(schema, _RawSchema) or id(schema) in seen:
            continue
        seen.add(id(schema))
        yield schema
        pending += [*(schema.one_of or []), *(schema.any_of or []), *(schema.all_of or [])]
        pending += [*(schema.properties or {}).values(), *(schema.prefix_items or [])]
        pending += [schema.items, schema.additional_properties]


def _as_the_bodies_read(components: Components, handlers: list[_Handler]) -> None:
    """Say of each body schema what the server's reading of its Struct says and Litestar's
    document leaves out: `additionalProperties: false` where unknown fields are refused
    (a 422 naming the field), and bounds of zero (`ge=0` and the like), which Litestar
    drops as if they were not set."""
    bodies = [handler.parameters["data"].annotation for handler in handlers if handler.has_body]
    schemas = components.schemas or {}
    for struct in _struct_types(bodies):
        schema = schemas.get(struct.cls.__name__)
        if not isinstance(schema, Schema):
            continue
        if struct.forbid_unknown_fields:
            schema.additional_properties = False
        for member in struct.fields:
            _zero_bounds(member.type, (schema.properties or {}).get(member.encode_name))


_ZERO_BOUNDS: Final = (
    ("ge", "minimum"),
    ("gt", "exclusive_minimum"),
    ("le", "maximum"),
    ("lt", "exclusive_maximum"),
)


def _zero_bounds(info: msgspec.inspect.Type, schema: Schema | Reference | None) -> None:
    numbers = [
        option
        for option in (info.types if isinstance(info, msgspec.inspect.UnionType) else (info,))
        if isinstance(option, msgspec.inspect.IntType | msgspec.inspect.FloatType)
    ]
    if not numbers or not isinstance(schema, Schema):
        return
    branches = [
        branch
        for branch in (schema.one_of or schema.any_of or [schema])
        if isinstance(branch, Schema) and branch.type in (OpenAPIType.INTEGER, OpenAPIType.NUMBER)
    ]
    for bound, keyword in _ZERO_BOUNDS:
        if getattr(numbers[0], bound) == 0:
            for branch in branches:
                setattr(branch, keyword, 0)


def _struct_types(types: list[Any]) -> list[msgspec.inspect.StructType]:
    """Every Struct type reachable from these types."""
    found: list[msgspec.inspect.StructType] = []
    pending: list[msgspec.inspect.Type] = list(msgspec.inspect.multi_type_info(types))
    seen: set[int] = set()
    while pending:
        info = pending.pop()
        if id(info) in seen:
            continue
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            found.append(info)
            pending.extend(field.type for field in info.fields)
        for attribute in ("type", "item_type", "key_type", "value_type", "types", "item_types"):
            nested = getattr(info, attribute, None)
            if isinstance(nested, msgspec.inspect.Type):
                pending.append(nested)
            elif isinstance(nested, tuple):
                pending.extend(item for item in nested if isinstance(item, msgspec.inspect.Type))
    return found


def _as_schemas(schemas: dict[str, Any]) -> dict[str, Schema]:
    return {name: _schema(value) for name, value in schemas.items()}


def _schema(value: dict[str, Any]) -> Schema:
    """A Litestar `Schema` from a JSON Schema dict (msgspec's), keeping every keyword."""
    return _RawSchema(raw=value)


@dataclass
class _RawSchema(Schema):
    """A schema written as JSON Schema already: `to_schema` gives it back unchanged."""

    raw: dict[str, Any] = field(default_factory=dict)

    def to_schema(self) -> dict[str, Any]:
        return self.raw


def _describe_operation(operation: Operation, handler: _Handler) -> None:
    operation.responses = _responses(operation, handler)
    declared = handler.answers
    read = [
        name
        for name, wanted in (
            ("Idempotency-Key", handler.is_post),
            ("If-Match", declared.if_match),
            ("If-None-Match", declared.conditional),
            ("If-Modified-Since", declared.conditional),
        )
        if wanted
    ]
    operation.parameters = [
        *(operation.parameters or []),
        *(_REQUEST_HEADERS[name] for name in read),
    ] or None
    if handler.keyless:
        operation.security = None
    else:
        operation.security = _REQUIRED_KEY if handler.needs_key else _OPTIONAL_KEY
    body = operation.request_body
    if declared.examples and body is not None and not isinstance(body, Reference):
        for media in (body.content or {}).values():
            media.examples = {
                name: Example(value=value) for name, value in declared.examples.items()
            }


def _responses(operation: Operation, handler: _Handler) -> dict[str, OpenAPIResponse | Reference]:
    """Litestar's success answers with the headers they carry, then a problem per error
    status, except where the handler describes a status of its own (health's 503)."""
    declared = handler.answers
    own = {str(status) for status in handler.handler.responses or {}}
    kept = {
        code: response
        for code, response in (operation.responses or {}).items()
        if code.startswith(("2", "3")) or code in own
    }
    for code, response in kept.items():
        if isinstance(response, OpenAPIResponse) and code.startswith("2"):
            headers = dict(response.headers or {})
            if declared.etag or declared.conditional:
                headers["ETag"] = _header_ref("ETagUnlessDryRun" if declared.dry_run else "ETag")
            if declared.conditional:
                headers["Last-Modified"] = _header_ref("Last-Modified")
            if declared.location and code == "201":
                headers["Location"] = _header_ref("Location")
            response.headers = headers or None
    if declared.conditional:
        kept["304"] = OpenAPIResponse(
            description="Nothing changed since the `ETag` or date sent.",
            headers={"ETag": _header_ref("ETag"), "Last-Modified": _header_ref("Last-Modified")},
        )
    for status in handler.statuses():
        if str(status) not in own:
            kept[str(status)] = Reference(ref=f"#/components/responses/{_response_name(status)}")
    return dict(sorted(kept.items()))


_PATH_PARAMETER: Final = re.compile(r"\{(\w+)\}")


def _link(openapi: OpenAPI, operations: list[tuple[str, Operation, _Handler]]) -> None:
    """Link each operation that answers a resource with an `id` to those that take it."""
    schemas = (openapi.components.schemas or {}) if openapi.components else {}
    for source_path, source, _ in operations:
        for code, response in (source.responses or {}).items():
            name = _answered_schema(response) if code.startswith("2") else None
            properties = _properties(schemas.get(name or ""))
            if name is None or "id" not in properties or not isinstance(response, OpenAPIResponse):
                continue
            links: dict[str, Link | Reference] = {}
            for target_path, target, _ in operations:
                values = _link_values(f"{_snake(name)}_id", properties, source_path, target_path)
                if values and target is not source and target.operation_id:
                    links[target.operation_id] = Link(
                        operation_id=target.operation_id, parameters=values
                    )
            response.links = dict(sorted(links.items())) or None


def _link_values(
    own: str, properties: set[str], source_path: str, target_path: str
) -> dict[str, Any] | None:
    """Where each path parameter of the target comes from, if `own` is one and all are known."""
    names = _PATH_PARAMETER.findall(target_path)
    if own not in names:
        return None
    values: dict[str, Any] = {}
    for parameter in names:
        if parameter == own:
            values[parameter] = "$response.body#/id"
        elif parameter in properties:
            values[parameter] = f"$response.body#/{parameter}"
        elif parameter in _PATH_PARAMETER.findall(source_path):
            values[parameter] = f"$request.path.{parameter}"
        else:
            return None
    return values


def _answered_schema(response: OpenAPIResponse | Reference) -> str | None:
    if isinstance(response, Reference):
        return None
    for media in (response.content or {}).values():
        if isinstance(media.schema, Reference):
            return media.schema.ref.rsplit("/", 1)[-1]
    return None


def _properties(schema: Schema | Reference | None) -> set[str]:
    if isinstance(schema, Schema) and schema.properties:
        return set(schema.properties)
    return set()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
