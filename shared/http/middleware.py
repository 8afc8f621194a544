"""Per request: the `traceparent` of its server span (`shared.http.tracing`) on the answer,
a log line naming its route's template (at info when it failed or took over a second, else
at debug), its time in `/metrics` by route template and status, and no HTML error page: one
a framework renders becomes problem details."""

from __future__ import annotations

import contextlib
import time
from typing import Final

import structlog
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, HTTPResponseBodyEvent, Message, Receive, Scope, Send
from opentelemetry import trace
from opentelemetry.trace import Span

from shared.http.media import HTML, PROBLEM_JSON
from shared.http.problems import problem_bytes
from shared.http.tracing import UNMATCHED, route_of
from shared.metrics import REQUEST_SECONDS
from shared.readmodels.catchup import CURRENT
from shared.tracing import current_traceparent

log = structlog.get_logger("telebridge.http")

_SLOW_SECONDS = 1.0
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods named as they are in metrics and logs; any other is `_OTHER` (OpenTelemetry's
word), so that made-up methods cannot make up new series."""


def around_every_request(app: Litestar) -> None:
    """Put `request_context_middleware` around all the app answers, outside the routing, so
    that requests no route serves (an unknown path, a method a path does not take) are
    timed, logged and answered as problem details too: Litestar's own middleware runs only
    for a route it found. It is outside the OpenTelemetry plugin's middleware as well, so
    it takes the server span while the answer is sent (it is current then) and writes the
    request's log line in it."""
    app.asgi_handler = request_context_middleware(app.asgi_handler)


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        runtime = scope["litestar_app"].state.get("runtime")
        if runtime is not None:
            CURRENT.set(runtime.catch_up)
        started = time.perf_counter()
        status = 500
        replacement: bytes | None = None
        answered_in: Span | None = None

        async def send_traced(message: Message) -> None:
            nonlocal status, replacement, answered_in
            if message["type"] == "http.response.start":
                status = message["status"]
                # The server span the OpenTelemetry plugin started (from an incoming
                # `traceparent`): current while the answer is sent.
                answered_in = trace.get_current_span()
                traceparent = current_traceparent()
                headers = list(message.get("headers", []))
                if status >= 400 and _is_html(headers):
                    # Litestar's OpenAPI routes answer unknown paths with an HTML page.
                    replacement = problem_bytes(
                        status,
                        scope["path"],
                        detail=f"nothing is served at {scope['path']}" if status == 404 else None,
                    )
                    headers = [
                        (b"content-type", PROBLEM_JSON.encode()),
                        (b"content-length", str(len(replacement)).encode()),
                    ]
                if traceparent is not None:
                    headers.append((b"traceparent", traceparent.encode()))
                message["headers"] = headers
            elif message["type"] == "http.response.body" and replacement is not None:
                if not message.get("more_body", False):
                    body: HTTPResponseBodyEvent = {
                        "type": "http.response.body",
                        "body": replacement,
                        "more_body": False,
                    }
                    await send(body)
                return
            await send(message)

        try:
            await app(scope, receive, send_traced)
        finally:
            elapsed = time.perf_counter() - started
            route = route_of(scope) or UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "_OTHER"
            REQUEST_SECONDS.labels(
                service=str(scope["litestar_app"].state.get("service", "")),
                method=method,
                route=route,
                status=str(status),
            ).observe(elapsed)
            # Every request at debug; at info only what an operator looks into.
            report = log.info if status >= 400 or elapsed >= _SLOW_SECONDS else log.debug
            with (
                trace.use_span(answered_in, end_on_exit=False)
                if answered_in is not None
                else contextlib.nullcontext()
            ):
                report(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 1),
                )

    return middleware


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"content-type" and value.startswith(HTML.encode())
        for name, value in headers
    )


def options_middleware(app: ASGIApp) -> ASGIApp:
    """Answer OPTIONS with every method its path serves, in `Allow`.

    Litestar's own answer lists the methods its route had when the route was first made: a
    controller that adds handlers to a path another already serves is missing from it.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "OPTIONS":
            allowed = _methods_by_path(scope["litestar_app"]).get(scope.get("path_template", ""))
            if allowed is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", allowed.encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
        await app(scope, receive, send)

    return middleware


_ALLOW: Final = "telebridge.allow"


def _methods_by_path(app: Litestar) -> dict[str, str]:
    found: dict[str, str] | None = app.state.get(_ALLOW)
    if found is None:
        methods: dict[str, set[str]] = {}
        for route in app.routes:
            if isinstance(route, HTTPRoute):
                methods.setdefault(route.path_format, set()).update(route.methods)
        found = {path: ", ".join(sorted(names)) for path, names in methods.items()}
        app.state[_ALLOW] = found
    return found
