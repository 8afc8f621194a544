"""HTTP server spans: Litestar's OpenTelemetry plugin, with spans named by route template.

A request's path is never written down (in a span or a log line) unless it is a route's
template: feed and RSVP paths carry their tokens.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Final

from litestar.exceptions import HTTPException
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import Scope
from litestar.utils import normalize_path

UNMATCHED: Final = "(unmatched)"
"""What a request's span and log line say instead of a path no route serves."""


def route_of(scope: Scope | MutableMapping[str, Any]) -> str | None:
    """The template of the route serving a request (`/calendars/{token}`), or None."""
    template: str | None = scope.get("path_template")
    if template:
        return template
    app = scope.get("litestar_app")
    if app is None:
        return None
    try:
        *_, template = app.asgi_router.handle_routing(
            path=normalize_path(scope.get("path", "")), method=scope.get("method")
        )
    except HTTPException:
        return None
    return template


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The server span's name and the attributes that replace the request's path with its
    route's template: `http.target`, `url.path` and `http.url` would otherwise hold feed
    and RSVP tokens."""
    route = route_of(scope)
    method = str(scope.get("method", "")).strip()
    path = route or UNMATCHED
    host = next(
        (value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), ""
    )
    attributes: dict[str, Any] = {
        "http.target": path,
        "url.path": path,
        "http.url": f"{scope.get('scheme', 'http')}://{host}{path}",
    }
    if route:
        attributes["http.route"] = route
    return (f"{method} {route}" if route else method or "HTTP"), attributes


def http_tracing() -> OpenTelemetryPlugin:
    """Litestar's OpenTelemetry plugin: a server span per request, named by its route."""
    return OpenTelemetryPlugin(
        OpenTelemetryConfig(
            scope_span_details_extractor=_span_details,
            # A span per ASGI message says nothing a server span does not.
            exclude_spans=["receive", "send"],
            # Should headers be captured (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*), never
            # the key.
            http_capture_headers_sanitize_fields=["authorization"],
        )
    )
