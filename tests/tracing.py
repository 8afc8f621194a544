"""Spans the code under test ends, kept in memory: the process's tracer provider (as a
service process installs it) with an in-memory exporter added once."""

from __future__ import annotations

from functools import cache

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.tracing import configure_tracing


@cache
def _exporter() -> InMemorySpanExporter:
    provider = configure_tracing("tests")
    assert provider is not None, "tracing is off (OTEL_SDK_DISABLED)"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def recorded_spans() -> InMemorySpanExporter:
    """The exporter every span ended from now on goes to, emptied of earlier ones."""
    exporter = _exporter()
    exporter.clear()
    return exporter


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]
