"""Contracts generated from the code: JSON Schema per event, AsyncAPI, OpenAPI per service.

The event Structs in `shared/events.py` and the services' routes are the source; the files
in `contracts/` are what partners read. `telebridge contracts` rewrites them, and a test
fails when they drift from the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml
from litestar import Litestar

from shared.bus.consumer import (
    CONSUMER_HEADER,
    DELIVERIES_HEADER,
    ERROR_HEADER,
    SEQUENCE_HEADER,
    SUBJECT_HEADER,
    EventConsumer,
)
from shared.events import ALL_EVENTS, DEADLETTER, STREAMS, Event, stream_of, subject_of
from shared.service import consumers_of
from shared.version import VERSION
from shared.webhooks import WEBHOOK_EVENTS, type_of

ROOT = Path(__file__).resolve().parent.parent / "contracts"


def _json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def event_schemas() -> dict[str, str]:
    return {
        f"schemas/{subject_of(event)}.json": _json(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                **msgspec.json.schema(event),
            }
        )
        for event in ALL_EVENTS
    }


def _consumers() -> dict[str, list[EventConsumer[Any]]]:
    """Each service's consumers, by service name."""
    from services.agenda import app as agenda  # noqa: PLC0415
    from services.registry import app as registry  # noqa: PLC0415
    from services.scheduling import app as scheduling  # noqa: PLC0415
    from shared.settings import (  # noqa: PLC0415
        AgendaSettings,
        RegistrySettings,
        SchedulingSettings,
    )

    return {
        definition.name: consumers_of(definition, settings)
        for definition, settings in (
            (registry.DEFINITION, RegistrySettings()),
            (scheduling.DEFINITION, SchedulingSettings()),
            (agenda.DEFINITION, AgendaSettings()),
        )
    }


_DEAD_LETTER_HEADERS: Final = {
    ERROR_HEADER: "Why the consumer gave up: the error of its last attempt.",
    CONSUMER_HEADER: "The durable consumer that gave up.",
    SUBJECT_HEADER: "The subject the event was published on.",
    SEQUENCE_HEADER: "The event's sequence number in its stream.",
    DELIVERIES_HEADER: "How many times it was delivered.",
}


def asyncapi() -> str:
    (_, components) = msgspec.json.schema_components(
        ALL_EVENTS, ref_template="#/components/schemas/{name}"
    )
    consumers = _consumers()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in ALL_EVENTS:
        subject = subject_of(event)
        name = event.__name__
        producer = subject.split(".")[0]
        consumed_by = [
            (service, consumer.name)
            for service, service_consumers in consumers.items()
            for consumer in service_consumers
            if subject in consumer.subjects
        ]
        messages[name] = {
            "name": name,
            "title": subject,
            "summary": _summary(event),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/NatsHeaders"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        channels[subject] = {
            "address": subject,
            "description": f"Stored in the JetStream stream {stream_of(subject).name}. "
            f"Published by {producer}; consumed by "
            + (
                ", ".join(
                    f"{service} (durable consumer {durable})" for service, durable in consumed_by
                )
                or "no service (partners may subscribe)"
            )
            + ".",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish{name}"] = {
            "action": "send",
            "summary": f"{producer} publishes it through its outbox.",
            "channel": {"$ref": f"#/channels/{subject}"},
            "messages": [{"$ref": f"#/channels/{subject}/messages/{name}"}],
        }
        for service, durable in consumed_by:
            operations[f"{service}Receives{name}"] = {
                "action": "receive",
                "summary": f"{service} applies it (durable pull consumer {durable}, explicit ack, "
                "idempotent by event id, in order per aggregate).",
                "channel": {"$ref": f"#/channels/{subject}"},
                "messages": [{"$ref": f"#/channels/{subject}/messages/{name}"}],
            }
    dead_letter = f"{DEADLETTER.prefix}.{{consumer}}.{{subject}}"
    channels["deadLetters"] = {
        "address": dead_letter,
        "description": f"Stored in the JetStream stream {DEADLETTER.name}: an event a consumer "
        "could not decode or kept failing to apply, unchanged, with why in its headers. The "
        "consumer goes on with the next event.",
        "parameters": {
            "consumer": {"description": "The durable consumer that gave up."},
            "subject": {"description": "The subject the event was published on."},
        },
        "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
    }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "A dead letter",
        "summary": "The event as it was published, bytes unchanged.",
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"description": "The original message body (one of the events)."},
    }
    operations["deadLetter"] = {
        "action": "send",
        "summary": "Any service's consumer, after a message it cannot decode or the last of "
        "its tries.",
        "channel": {"$ref": "#/channels/deadLetters"},
        "messages": [{"$ref": "#/channels/deadLetters/messages/DeadLetter"}],
    }
    _webhooks(channels, operations, messages, components)
    components["NatsHeaders"] = {
        "type": "object",
        "properties": {
            "Nats-Msg-Id": {
                "type": "string",
                "format": "uuid",
                "description": "The event id: JetStream drops a second message with the same "
                "id within its duplicate window, so a relay that publishes twice publishes once.",
            },
            "traceparent": {
                "type": "string",
                "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "W3C trace context of the request that caused the event.",
            },
        },
        "required": ["Nats-Msg-Id"],
    }
    components["DeadLetterHeaders"] = {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": description}
            for name, description in _DEAD_LETTER_HEADERS.items()
        },
        "required": list(_DEAD_LETTER_HEADERS),
    }
    document = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Telebridge events",
            "version": VERSION,
            "description": "Events the services publish to NATS JetStream. Streams: "
            + ", ".join(f"{stream.name} ({stream.subjects[0]})" for stream in STREAMS)
            + ". Every event carries the whole state of its aggregate and a version.",
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "localhost:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)


def _webhooks(
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
    components: dict[str, Any],
) -> None:
    """The signed webhooks the registry POSTs to partners' endpoints: the same events,
    wrapped as the Standard Webhooks specification suggests (`shared/webhooks.py`)."""
    channel: dict[str, Any] = {
        "address": None,
        "title": "A partner's webhook endpoint",
        "description": "The URL a partner registered (POST /webhooks/endpoints on the "
        "registry). Each message is one HTTP POST of JSON, signed with the endpoint's "
        "secret; a 2xx answer takes it, a 410 disables the endpoint, anything else is "
        "retried with the same webhook-id. See docs/partners.md.",
        "messages": {},
    }
    for event in WEBHOOK_EVENTS:
        event_type = type_of(event)
        name = f"Webhook{event.__name__}"
        messages[name] = {
            "name": name,
            "title": event_type,
            "summary": _summary(event),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/WebhookHeaders"},
            "payload": {
                "type": "object",
                "properties": {
                    "type": {"const": event_type},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "data": {"$ref": f"#/components/schemas/{event.__name__}"},
                },
                "required": ["type", "timestamp", "data"],
            },
        }
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    channels["webhooks"] = channel
    operations["deliverWebhook"] = {
        "action": "send",
        "summary": "registry POSTs each event a partner's endpoint asked for, at least once.",
        "channel": {"$ref": "#/channels/webhooks"},
        "bindings": {"http": {"method": "POST"}},
        "messages": [
            {"$ref": f"#/channels/webhooks/messages/Webhook{event.__name__}"}
            for event in WEBHOOK_EVENTS
        ],
    }
    components["WebhookHeaders"] = {
        "type": "object",
        "properties": {
            "webhook-id": {
                "type": "string",
                "description": "The event id: the same on every retry and replay.",
            },
            "webhook-timestamp": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "Unix seconds of this attempt.",
            },
            "webhook-signature": {
                "type": "string",
                "description": "`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>`, one per "
                "secret in use (two while a rotated one overlaps), separated by spaces.",
            },
        },
        "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    }


def _summary(event: type[Event]) -> str:
    doc = (event.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else subject_of(event)


def openapi_documents() -> dict[str, str]:
    from services.agenda.app import create_app as agenda  # noqa: PLC0415
    from services.registry.app import create_app as registry  # noqa: PLC0415
    from services.scheduling.app import create_app as scheduling  # noqa: PLC0415

    factories: dict[str, Callable[[], Litestar]] = {
        "registry": registry,
        "scheduling": scheduling,
        "agenda": agenda,
    }
    return {
        f"openapi/{name}.json": _json(factory().openapi_schema.to_schema())
        for name, factory in factories.items()
    }


def generate() -> dict[str, str]:
    """Every contract file, by path under `contracts/`."""
    return {**event_schemas(), "asyncapi.yaml": asyncapi(), **openapi_documents()}


def drifted(root: Path = ROOT) -> list[str]:
    """Paths whose file differs from what the code generates now, or is missing or extra."""
    wanted = generate()
    present = {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}
    changed = [
        path
        for path, text in wanted.items()
        if not (root / path).exists() or (root / path).read_text(encoding="utf-8") != text
    ]
    return sorted({*changed, *(present - set(wanted))})


def write(root: Path = ROOT) -> list[str]:
    """Bring `contracts/` up to date; returns the paths written or removed."""
    stale = drifted(root)
    wanted = generate()
    for path in stale:
        target = root / path
        if path in wanted:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(wanted[path], encoding="utf-8")
        else:
            target.unlink()
    return stale
