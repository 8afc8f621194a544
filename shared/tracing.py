"""W3C trace context carried from a request through the outbox to every consumer.

Only the `traceparent` value travels (`00-<trace id>-<span id>-<flags>`): enough to find
every log line and event a request caused, across the three services.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_current: ContextVar[str | None] = ContextVar("traceparent", default=None)


def current_traceparent() -> str | None:
    return _current.get()


def child_of(traceparent: str | None) -> str:
    """A new span in the trace of `traceparent`, or the root of a new trace."""
    match = _TRACEPARENT.fullmatch(traceparent or "")
    # All-zero trace or span ids are invalid (W3C trace context): such a parent starts anew.
    valid = match is not None and int(match.group(1), 16) != 0 and int(match.group(2), 16) != 0
    trace_id = match.group(1) if match and valid else secrets.token_hex(16)
    flags = match.group(3) if match and valid else "01"
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


@contextmanager
def span(parent: str | None) -> Iterator[str]:
    """Run the block as a new span under `parent`, with its trace id bound to the logs."""
    traceparent = child_of(parent)
    token = _current.set(traceparent)
    with structlog.contextvars.bound_contextvars(trace_id=trace_id_of(traceparent)):
        try:
            yield traceparent
        finally:
            _current.reset(token)
