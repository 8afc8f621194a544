"""Trace context: carried through NATS headers and stored rows, on every log line, and
never a request's path in a span unless it is its route's template."""

from __future__ import annotations

import pytest
import structlog
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from shared.http.middleware import around_every_request
from shared.http.tracing import http_tracing
from shared.tracing import (
    TRACER,
    add_trace_context,
    configure_tracing,
    context_of,
    current_traceparent,
    extract,
    inject,
    tracer_provider,
)
from tests.tracing import named, recorded_spans, trace_id

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(autouse=True)
def provider() -> None:
    configure_tracing("tests")


def test_the_publish_span_travels_in_the_headers_to_the_consumer() -> None:
    spans = recorded_spans()
    with TRACER.start_as_current_span("request"):
        stored = current_traceparent()
    publish = TRACER.start_span("send", context=context_of(stored), kind=SpanKind.PRODUCER)
    headers = {"Nats-Msg-Id": "an event id"}
    inject(headers, publish)
    publish.end()
    assert headers["traceparent"].split("-")[2] == format(
        publish.get_span_context().span_id, "016x"
    )
    with TRACER.start_as_current_span("process", context=extract(headers), kind=SpanKind.CONSUMER):
        pass
    [request] = named(spans.get_finished_spans(), "request")
    [send] = named(spans.get_finished_spans(), "send")
    [process] = named(spans.get_finished_spans(), "process")
    assert trace_id(request) == trace_id(send) == trace_id(process)
    assert send.parent is not None
    assert send.parent.span_id == request.context.span_id
    assert process.parent is not None
    assert process.parent.span_id == send.context.span_id


def test_a_message_without_the_header_continues_the_trace_its_event_carries() -> None:
    spans = recorded_spans()
    with TRACER.start_as_current_span("process", context=extract({}, PARENT)):
        pass
    [process] = spans.get_finished_spans()
    assert trace_id(process) == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    "traceparent",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    ],
)
def test_a_missing_or_invalid_parent_starts_a_new_trace(traceparent: str | None) -> None:
    assert context_of(traceparent) == Context()
    spans = recorded_spans()
    with TRACER.start_as_current_span("root", context=extract(None, traceparent)):
        assert current_traceparent() is not None
    [root] = spans.get_finished_spans()
    assert root.parent is None
    assert int(trace_id(root), 16) != 0


def test_outside_any_span_there_is_no_traceparent() -> None:
    assert current_traceparent() is None


def test_log_lines_carry_the_current_span() -> None:
    assert add_trace_context(None, "info", {"event": "outside"}) == {"event": "outside"}
    with TRACER.start_as_current_span("work", context=context_of(PARENT)) as span:
        line = add_trace_context(None, "info", {"event": "inside"})
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")


def test_log_lines_through_structlog_carry_the_trace_id() -> None:
    with structlog.testing.capture_logs(processors=[add_trace_context]) as lines:
        structlog.get_logger().info("outside")
        with TRACER.start_as_current_span("work", context=context_of(PARENT)):
            structlog.get_logger().info("inside")
    assert "trace_id" not in lines[0]
    assert lines[1]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_spans_are_exported_only_when_an_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    quiet = tracer_provider("registry")
    assert quiet.resource.attributes["service.name"] == "registry"
    assert quiet._active_span_processor._span_processors == ()
    with quiet.get_tracer("test").start_as_current_span("work") as span:
        assert span.get_span_context().is_valid  # ids all the same, for the logs

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    exporting = tracer_provider("scheduling")
    [processor] = exporting._active_span_processor._span_processors
    assert isinstance(processor, BatchSpanProcessor)
    assert isinstance(processor.span_exporter, OTLPSpanExporter)
    exporting.shutdown()


def test_tracing_is_off_when_the_sdk_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert configure_tracing("registry") is None


@get("/calendars/{token:str}", sync_to_thread=False)
def calendar(token: FromPath[str]) -> str:
    return "calendar"


async def test_server_spans_name_the_route_and_never_the_token() -> None:
    spans = recorded_spans()
    app = Litestar([calendar], plugins=[http_tracing()])
    around_every_request(app)
    token = "f3c1-secret-feed-token"
    async with AsyncTestClient(app) as client:
        found = await client.get(f"/calendars/{token}?since=1", headers={"traceparent": PARENT})
        missing = await client.get(f"/calendars/{token}/nothing-here")
    assert found.status_code == 200
    assert found.headers["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert missing.status_code == 404
    served, unmatched = spans.get_finished_spans()
    assert served.name == "GET /calendars/{token}"
    assert served.kind is SpanKind.SERVER
    assert trace_id(served) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert served.attributes is not None
    assert served.attributes["http.route"] == "/calendars/{token}"
    assert unmatched.name == "GET"
    # A path no route serves is answered in its span too.
    assert missing.headers["traceparent"].split("-")[1] == trace_id(unmatched)
    for span in (served, unmatched):
        assert span.attributes is not None
        assert all(token not in str(value) for value in span.attributes.values()), span.attributes
        assert token not in span.name
