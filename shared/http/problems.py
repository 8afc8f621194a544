"""RFC 9457 problem details for every error a service answers with.

Use cases raise the kernel's domain errors (`shared.errors`), mapped here to a status each;
HTTP-only code (keys, If-Match) raises `Problem`. Everything else is mapped here too: request
validation (422 with one entry per field), malformed bodies (400), unknown routes (404),
wrong methods (405), PostgreSQL or NATS away (503 with Retry-After, logged once per outage:
`shared.outages`), and unexpected errors (500, logged, with nothing internal leaked).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any, Final

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import ParameterKwarg
from litestar.types import ExceptionHandlersMap, Send
from nats.errors import Error as NatsError

from shared.bus.outbox import EventTooLargeError
from shared.db import UNAVAILABLE, database_unavailable
from shared.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    NotYetKnown,
    StaleVersion,
    VersionRequired,
)
from shared.http.media import PROBLEM_JSON
from shared.outages import OUTAGES

log = structlog.get_logger(__name__)

_TYPE_BASE: Final = "tag:telebridge,2026:problems/"
_FIELD_MESSAGE = re.compile(r"(?P<field>[A-Za-z_][\w.\[\]]*): (?P<message>.+)", re.DOTALL)
_NAMED_FIELD = re.compile(r"Object (?:missing required|contains unknown) field `(?P<name>[^`]+)`")


class ProblemDetails(msgspec.Struct, frozen=True, omit_defaults=True):
    """An RFC 9457 problem document; `errors` lists invalid fields."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(HTTPException):
    """An expected failure, answered as a problem document with a stable `type`."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        extensions: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status, headers=headers)
        self.slug = slug
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.extensions = extensions or {}


def problem_type(slug: str | None) -> str:
    return f"{_TYPE_BASE}{slug}" if slug else "about:blank"


def problem_bytes(
    status: int,
    path: str | None,
    *,
    slug: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
) -> bytes:
    """A problem document for code that answers below Litestar, such as ASGI middleware."""
    return msgspec.json.encode(
        ProblemDetails(
            type=problem_type(slug),
            title=HTTPStatus(status).phrase,
            status=status,
            detail=detail,
            instance=path,
            errors=errors,
        )
    )


async def send_problem(
    send: Send,
    path: str,
    status: int,
    *,
    slug: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    close: bool = False,
) -> None:
    """Answer with a problem document from ASGI middleware, where no `Request` exists yet.

    `close` ends the connection after the answer: for a request whose body was not read.
    """
    body = problem_bytes(status, path, slug=slug, detail=detail, errors=errors)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    document: dict[str, Any] = msgspec.to_builtins(
        ProblemDetails(
            type=problem_type(slug),
            title=title or HTTPStatus(status).phrase,
            status=status,
            detail=detail,
            instance=request.url.path,
            errors=errors,
        )
    )
    document.update(extensions or {})
    return Response(document, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _handle_problem(request: Request[Any, Any, Any], problem: Problem) -> Response[Any]:
    return problem_response(
        request,
        problem.status_code,
        slug=problem.slug,
        title=problem.title,
        detail=problem.detail,
        errors=problem.errors,
        extensions=problem.extensions,
        headers=problem.headers,
    )


STATUS_OF: Final[dict[type[DomainError], int]] = {
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    StaleVersion: 412,
    Invalid: 422,
    VersionRequired: 428,
    NotYetKnown: 503,
}


def _handle_domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[Any]:
    status = next((STATUS_OF[kind] for kind in type(error).__mro__ if kind in STATUS_OF), 500)
    return problem_response(
        request,
        status,
        slug=error.slug,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        extensions=error.extensions,
        headers={"Retry-After": str(error.retry_after)} if isinstance(error, NotYetKnown) else None,
    )


def field_error(entry: Any) -> FieldError:
    """A field error from one entry of Litestar's validation errors (`message`, `key`, `source`)."""
    if not isinstance(entry, dict):
        return FieldError(message=str(entry))
    message = str(entry.get("message", ""))
    field = entry.get("key")
    source = entry.get("source")
    named = _NAMED_FIELD.fullmatch(message)
    if named and source == "body":
        # msgspec names a missing or unknown field in its message, not in its location.
        field = named["name"] if field == "data" else f"{field}.{named['name']}"
    elif field == "data":
        # A check across fields (`__post_init__`) names its field as "<field>: <reason>".
        match = _FIELD_MESSAGE.fullmatch(message)
        field, message = (match["field"], match["message"]) if match else (None, message)
    return FieldError(message=message, field=field, source=source)


def _sent_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The names clients send parameters by (`?from=`), by the handler's names for them."""
    handler = request.scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler):
        return {}
    return {
        name: definition.name
        for name, parameter in handler.parsed_fn_signature.parameters.items()
        if isinstance(definition := parameter.kwarg_definition, ParameterKwarg) and definition.name
    }


def _body_missing(request: Request[Any, Any, Any]) -> bool:
    chunked = "transfer-encoding" in request.headers
    return not chunked and request.headers.get("content-length", "0") == "0"


def _handle_validation(
    request: Request[Any, Any, Any], error: ValidationException
) -> Response[Any]:
    extra = error.extra if isinstance(error.extra, list) else []
    expects_body = any(isinstance(entry, dict) and entry.get("key") == "data" for entry in extra)
    if expects_body and _body_missing(request):
        return problem_response(
            request,
            400,
            slug="body-required",
            title="Request body is missing",
            detail=f"{request.method} {request.url.path} needs a JSON body; none was sent",
        )
    sent_as = _sent_names(request)
    errors = [field_error(entry) for entry in extra]
    errors = [
        msgspec.structs.replace(entry, field=sent_as[entry.field])
        if entry.source != "body" and entry.field in sent_as
        else entry
        for entry in errors
    ]
    in_body = any(entry.source == "body" for entry in errors)
    return problem_response(
        request,
        422 if in_body else 400,
        slug="validation",
        title="Request is not valid",
        detail="; ".join(
            f"{entry.field}: {entry.message}" if entry.field else entry.message for entry in errors
        )
        or error.detail,
        errors=errors or None,
    )


def _handle_http(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    status = error.status_code
    detail = error.detail if error.detail != HTTPStatus(status).phrase else None
    if status == 404 and detail is None:
        detail = f"nothing is served at {request.method} {request.url.path}"
    return problem_response(request, status, detail=detail, headers=error.headers)


def _handle_event_too_large(
    request: Request[Any, Any, Any], error: EventTooLargeError
) -> Response[Any]:
    return problem_response(
        request,
        413,
        slug="event-too-large",
        title="Change too large to announce",
        detail=f"this change would be announced to the other services in an event of "
        f"{error.size} bytes, over the {error.limit} their message bus carries; nothing was "
        "changed: send less (fewer or shorter items)",
    )


RETRY_AFTER: Final = 5
"""Seconds a client is told to wait when a dependency is away: about one restart."""


def _handle_unavailable(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    if not database_unavailable(error):
        return _handle_unexpected(request, error)
    OUTAGES.failed("postgres", error)
    return _unavailable(request, "The database could not be reached just now")


def _handle_bus_unavailable(request: Request[Any, Any, Any], error: NatsError) -> Response[Any]:
    OUTAGES.failed("nats", error)
    return _unavailable(request, "The message bus could not be reached just now")


def _unavailable(request: Request[Any, Any, Any], what_happened: str) -> Response[Any]:
    return problem_response(
        request,
        503,
        slug="unavailable",
        detail=f"{what_happened}; try again in a few seconds.",
        headers={"Retry-After": str(RETRY_AFTER)},
    )


def _handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    log.error("unhandled error", method=request.method, path=request.url.path, exc_info=error)
    return problem_response(
        request, 500, detail="The server failed to answer this request; it has been logged."
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    Problem: _handle_problem,
    DomainError: _handle_domain_error,
    ValidationException: _handle_validation,
    HTTPException: _handle_http,
    EventTooLargeError: _handle_event_too_large,
    **dict.fromkeys(UNAVAILABLE, _handle_unavailable),
    NatsError: _handle_bus_unavailable,
    Exception: _handle_unexpected,
}
