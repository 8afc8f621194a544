"""Request bodies, read whole before any handler or middleware of ours sees them.

A body must arrive within `http.body_timeout` seconds (else 408) and be at most
`http.max_body_size` bytes (else 413, before a byte of it is read when Content-Length says
so). Where the route's handler takes JSON, the body must also be sent as JSON (415
otherwise) and be JSON that every parser after this one reads without failing: UTF-8, at
most `MAX_DEPTH` levels deep, and well-formed (400 `malformed-body` otherwise). Once the
key and guards have passed (`check_body`), it must hold no NUL character in any string
(422 naming the field: PostgreSQL stores none, in text or jsonb) and be of the handler's
types read strictly (422 naming the field): `0` is not `false` nor `"5"` a number, as the
OpenAPI document says. Every refusal is a problem document; a body that passes is handed
on unchanged.

JSON is `application/json` or any `application/<name>+json`, with no charset but UTF-8. A
body sent without a Content-Type is taken as JSON: it is parsed as strictly as any other,
so nothing is misread, and scripts that leave the header out keep working.

Checked here rather than where Litestar parses, because a parser that fails there raises
`UnicodeDecodeError` or `RecursionError` (not its own error type), and mapping those to a
400 wherever they are raised would pass server faults off as the client's.
"""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any, Final

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from shared.errors import FieldError
from shared.http.problems import Problem, field_error, send_problem
from shared.settings import HttpSettings

MAX_DEPTH: Final = 32
"""Deepest nesting of arrays and objects a JSON body may have; no API needs more than six."""

_decoder: Final = msgspec.json.Decoder()
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_AS_SQUARE: Final = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS: Final = bytes(sorted(set(range(256)) - set(b"[]{}")))
_JSON_SUBTYPE: Final = re.compile(r"application/(?:[\w.+-]+\+)?json")
_NUL_ESCAPE: Final = b"\\u0000"


def body_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not _carries_body(scope):
            await app(scope, receive, send)
            return
        try:
            body = await _checked_body(scope, receive)
        except _Refused as refusal:
            await send_problem(
                send,
                scope["path"],
                refusal.status,
                slug=refusal.slug,
                detail=refusal.detail,
                errors=refusal.errors,
                close=refusal.status in (408, 413, 415),
            )
            return
        except _Disconnected:
            return  # nobody is left to answer
        await app(scope, replaying(body, receive), send)

    return middleware


async def _checked_body(scope: Scope, receive: Receive) -> bytes:
    """The request's body, read whole; `_Refused` says why it is not taken."""
    settings: HttpSettings = scope["litestar_app"].state.settings.http
    takes_json = _takes_json(scope)
    headers = {name.lower(): value for name, value in scope["headers"]}
    if takes_json and (refusal := media_type_refusal(headers.get(b"content-type"))):
        raise _Refused(415, "unsupported-media-type", refusal)
    declared = headers.get(b"content-length")
    if declared is not None and not declared.strip().isdigit():
        raise _Refused(400, "malformed-body", "Content-Length is not a number")
    if declared is not None and int(declared) > settings.max_body_size:
        raise _Refused(
            413,
            "body-too-large",
            f"the body is {int(declared)} bytes; at most {settings.max_body_size} are accepted",
        )
    try:
        async with asyncio.timeout(settings.body_timeout):
            body = await _read_body(receive, settings.max_body_size)
    except TimeoutError:
        announced = f" (Content-Length said {int(declared)} bytes)" if declared else ""
        raise _Refused(
            408,
            "body-timeout",
            f"the body did not arrive within {settings.body_timeout:g} seconds{announced}",
        ) from None
    if body is None:
        raise _Refused(
            413,
            "body-too-large",
            f"the body is over {settings.max_body_size} bytes, the most accepted",
        )
    if takes_json and body and (reason := json_refusal(body)):
        raise _Refused(400, "malformed-body", reason)
    return body


async def check_body(request: Request[Any, Any, Any]) -> None:
    """Litestar's `before_request` hook: a JSON body must be of the handler's types, read
    strictly, and hold no NUL character; else a 422 naming the field. A hook, not the
    middleware, so that it runs after the key and the guards are checked: a request without
    a key is a 401 whatever its body says."""
    handler = request.scope["route_handler"]
    if (
        not isinstance(handler, HTTPRouteHandler)
        or "data" not in handler.parsed_fn_signature.parameters
    ):
        return
    body = await request.body()
    if not body:
        return
    wrong = None
    if _NUL_ESCAPE in body and (field := nul_field(body)) is not None:
        message = "text cannot hold the NUL character (\\u0000)"
        wrong = FieldError(message=message, field=field or None, source="body")
    else:
        wrong = type_error(_body_type(request.scope), body)
    if wrong is not None:
        raise Problem(
            422,
            "validation",
            f"{wrong.field or 'the body'}: {wrong.message}",
            title="Request is not valid",
            errors=[wrong],
        )


def type_error(body_type: Any, body: bytes) -> FieldError | None:
    """What in `body` is not of `body_type`, read strictly: a JSON `0` is no `false`, a
    number no time, a string no number. Litestar converts leniently after this. As in JSON
    Schema, a number with no fraction is an integer, written `5` or `5.0`."""
    try:
        try:
            _strict_decoder(body_type).decode(body)
        except msgspec.ValidationError as error:
            if not _FLOAT_FOR_INT.match(str(error)):
                raise
            whole = _integral_floats_as_ints(_decoder.decode(body))
            _strict_decoder(body_type).decode(msgspec.json.encode(whole))
    except msgspec.ValidationError as error:
        text = str(error)
        at = _AT.search(text)
        return field_error(
            {
                "message": text.split(" - ", maxsplit=1)[0],
                "key": at["path"] if at else "data",
                "source": "body",
            }
        )
    return None


_AT: Final = re.compile(r" - at `\$\.?(?P<path>.+)`$")
_FLOAT_FOR_INT: Final = re.compile(r"Expected `int[^`]*`, got `float`")


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


@functools.cache
def _strict_decoder(body_type: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(body_type, strict=True)


def media_type_refusal(content_type: bytes | None) -> str | None:
    """Why a body of this Content-Type is not taken as JSON, or None when it is."""
    if content_type is None:
        return None
    value = content_type.decode("latin-1")
    media_type, *parameters = (part.strip() for part in value.split(";"))
    if not _JSON_SUBTYPE.fullmatch(media_type.lower()):
        return f"the body must be JSON (application/json), not {media_type or 'untyped'}"
    for parameter in parameters:
        name, _, charset = parameter.partition("=")
        if name.strip().lower() == "charset" and charset.strip('" ').lower() not in (
            "utf-8",
            "utf8",
        ):
            return f"JSON is read as UTF-8, not {charset.strip()}"
    return None


def json_refusal(body: bytes) -> str | None:
    """Why `body` cannot be taken as a JSON document, or None when it can."""
    try:
        _decoder.decode(body)
    except UnicodeDecodeError as error:
        return f"the body is not UTF-8: {error.reason} (byte {error.object[error.start]:#04x})"
    except RecursionError:
        return f"the body nests arrays and objects deeper than {MAX_DEPTH} levels"
    except msgspec.DecodeError as error:
        return f"the body is not JSON this server can read: {error}"
    if nested_deeper_than(body, MAX_DEPTH):
        return f"the body nests arrays and objects deeper than {MAX_DEPTH} levels"
    return None


def nul_field(body: bytes) -> str | None:
    """The path of the first key or string of a JSON document that holds a NUL character
    ("" for the document itself), or None when none does."""
    pending: list[tuple[object, str]] = [(_decoder.decode(body), "")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return path
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                child = f"{path}.{key}" if path else key
                if "\x00" in key:
                    return child
                pending.append((item, child))
        elif isinstance(value, list):
            pending.extend(
                (item, f"{path}[{index}]") for index, item in reversed(list(enumerate(value)))
            )
    return None


def nested_deeper_than(document: bytes, depth: int) -> bool:
    """Whether a well-formed JSON document nests arrays and objects more than `depth` deep.

    Strings are dropped (brackets in them do not count), then each pass removes the
    innermost pairs: a document `depth` deep is empty after `depth` passes. Fast in C,
    unlike walking a decoded document in Python.
    """
    brackets = _STRING.sub(b"", document).translate(_AS_SQUARE, _NOT_BRACKETS)
    for _ in range(depth):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def _carries_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            return True
        if lowered == b"content-length":
            return value.strip() not in (b"0", b"")
    return False


def _body_type(scope: Scope) -> Any:
    return scope["route_handler"].parsed_fn_signature.parameters["data"].annotation


def _takes_json(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return (
        isinstance(handler, HTTPRouteHandler) and "data" in handler.parsed_fn_signature.parameters
    )


class _Refused(Exception):  # noqa: N818 - a signal, not an error
    """The body is not taken: answer `status` with a problem document."""

    def __init__(
        self, status: int, slug: str, detail: str, errors: list[FieldError] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = errors


class _Disconnected(Exception):  # noqa: N818 - a signal, not an error
    """The client went away before its body was complete."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is over `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the body read here to the app, then listens for disconnects."""
    delivered = False

    async def replay() -> ReceiveMessage:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        request: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
        return request

    return replay
