"""Traces with OpenTelemetry: one trace from a request through the outbox and NATS to every
consumer it reaches, and to the mail it queues.

Each process installs a `TracerProvider` named after its service (`configure_tracing`).
Spans always get ids, so that every log line written within one carries its `trace_id`
(`add_trace_context`); they leave the process only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names an OTLP/HTTP collector. `OTEL_SDK_DISABLED=true`
turns tracing off altogether.

The context travels as W3C trace context: in a request's `traceparent` header, in the
outbox row and the mail queue (`current_traceparent`, read back with `context_of`), and in
the headers of every NATS message (`inject`, `extract`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Final
from uuid import UUID

import structlog
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER: Final = trace.get_tracer("telebridge")
"""The one tracer of the code: which service a span comes from is its resource's
`service.name`, set per process."""

TRACEPARENT: Final = "traceparent"
TRACE_HEADERS: Final = (TRACEPARENT, "tracestate")
"""The W3C trace context's headers, as a message carries them."""

_W3C: Final = TraceContextTextMapPropagator()
_ENDPOINTS: Final = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configure_tracing(service: str) -> TracerProvider | None:
    """Install this process's tracer provider, once; None when the SDK is disabled.

    Without an OTLP endpoint no span is exported, but each still gets its ids, for the
    logs and for the context that travels on."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    installed = trace.get_tracer_provider()
    if isinstance(installed, TracerProvider):
        return installed  # several apps in one process (the tests) share the first
    provider = tracer_provider(service)
    trace.set_tracer_provider(provider)
    return provider


def tracer_provider(service: str) -> TracerProvider:
    """A provider for `service`'s spans, exporting them over OTLP/HTTP when an endpoint is
    set (the exporter reads the rest of its `OTEL_EXPORTER_OTLP_*` settings itself)."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    if any(os.environ.get(name, "").strip() for name in _ENDPOINTS):
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def current_traceparent() -> str | None:
    """The `traceparent` of the current span, to store with what it causes; None outside
    any span."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent: str | None) -> Context:
    """The context to continue a stored `traceparent` in; an empty one (a new trace) when
    there is none or it is not valid."""
    return _W3C.extract({TRACEPARENT: traceparent} if traceparent else {})


def inject(headers: MutableMapping[str, str], span: Span) -> None:
    """Write `span`'s context into a message's headers."""
    propagate.inject(headers, context=trace.set_span_in_context(span))


def extract(headers: Mapping[str, str] | None, fallback: str | None = None) -> Context:
    """The context a message's headers carry, else that of `fallback` (the `traceparent` an
    event carries in its body, for a message published without the header)."""
    if headers and TRACEPARENT in headers:
        return propagate.extract(headers)
    return context_of(fallback)


def messaging(subject: str, event_id: UUID, operation: str) -> dict[str, str]:
    """OpenTelemetry's messaging attributes of a span about one event: its "create" (the
    outbox write), "send" (the relay's publish) or "process" (a consumer)."""
    return {
        "messaging.system": "nats",
        "messaging.destination.name": subject,
        "messaging.message.id": str(event_id),
        "messaging.operation.type": operation,
    }


def add_trace_context(
    logger: object, method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """structlog processor: the current span's trace and span ids on every line."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
