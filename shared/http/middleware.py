"""Per request: a trace span (from an incoming `traceparent` or a new one) and a log line."""

from __future__ import annotations

import time

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared.tracing import span

log = structlog.get_logger("telebridge.http")


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"traceparent", b"").decode("latin-1") or None
        started = time.perf_counter()
        status = 500
        with span(incoming) as traceparent:

            async def send_traced(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"traceparent", traceparent.encode()),
                    ]
                await send(message)

            try:
                await app(scope, receive, send_traced)
            finally:
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope["path"],
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )

    return middleware
