"""The media types the services answer with, each spelled once.

Litestar's `Response` appends `; charset=utf-8` to every `text/*` type it is given, even
one that names a charset already (then there are two, and strict readers such as Go's
`mime.ParseMediaType` refuse the answer). So the text types here name none: each answer
gets exactly one charset, from Litestar. The other types are UTF-8 by their definition
(JSON, RFC 8259) or say so themselves (XML's declaration).
"""

from __future__ import annotations

from typing import Final

JSON: Final = "application/json"
PROBLEM_JSON: Final = "application/problem+json"
"""RFC 9457 problem details: every error a service answers with."""
XML: Final = "application/xml"
HTML: Final = "text/html"
MARKDOWN: Final = "text/markdown"
CALENDAR: Final = "text/calendar"
"""iCalendar (RFC 5545): invites, subscription feeds, the agenda's items."""
PROMETHEUS: Final = "text/plain; version=0.0.4"
"""Prometheus' text exposition format (`/metrics`); the OpenAPI document lists it as
`text/plain`."""
