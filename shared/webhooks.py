"""Webhooks as the Standard Webhooks specification has them (standardwebhooks.com): which
events a partner can receive, the body each is sent as, and how a body is signed.

A message carries `webhook-id` (the event id: the same on every retry and replay, so that a
receiver drops a second copy), `webhook-timestamp` (Unix seconds of this attempt) and
`webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per
secret the endpoint has in use, separated by spaces (two while a rotated one overlaps). A
secret is `whsec_` and 32 random bytes in base64; the HMAC key is those bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Final

import msgspec

from shared.events import (
    AgendaPublished,
    Event,
    MeetingCancelled,
    MeetingEnded,
    MeetingScheduled,
    MeetingStarted,
    MeetingUpdated,
    RegistrationCancelled,
    RegistrationCreated,
    RegistrationPromoted,
    RsvpChanged,
    SummaryPublished,
    subject_of,
)

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE: Final = 300
"""Seconds a receiver accepts between a message's timestamp and its own clock."""

WEBHOOK_EVENTS: Final[tuple[type[Event], ...]] = (
    MeetingScheduled,
    MeetingUpdated,
    MeetingCancelled,
    MeetingStarted,
    MeetingEnded,
    RegistrationCreated,
    RegistrationCancelled,
    RegistrationPromoted,
    RsvpChanged,
    AgendaPublished,
    SummaryPublished,
)


def type_of(event: type[Event]) -> str:
    """The webhook event type: the subject without its service, `meeting.scheduled`."""
    return subject_of(event).split(".", 1)[1]


EVENT_TYPES: Final[dict[str, type[Event]]] = {type_of(event): event for event in WEBHOOK_EVENTS}


_INTERNAL: Final = ("producer", "traceparent")
"""Members of the bus's envelope a partner has no use for."""


def body_of(event: Event) -> bytes:
    """A webhook's body: the event's type, when it happened, and the event itself (without
    the bus's envelope members). Its schema is in contracts/asyncapi.yaml."""
    data = {
        name: value for name, value in msgspec.to_builtins(event).items() if name not in _INTERNAL
    }
    message = {"type": type_of(type(event)), "timestamp": event.occurred_at, "data": data}
    return msgspec.json.encode(message)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(in_use: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(signature(secret, message_id, timestamp, body) for secret in in_use)


def verified(in_use: Iterable[str], headers: Mapping[str, str], body: bytes, now: float) -> bool:
    """Whether a message is signed with one of these secrets, and recent: what a receiver
    checks (`telebridge dev`'s receiver; partners use a Standard Webhooks library)."""
    message_id = headers.get("webhook-id", "")
    sent = headers.get("webhook-timestamp", "")
    if not (message_id and sent.isdigit()) or abs(now - int(sent)) > TOLERANCE:
        return False
    offered = set(headers.get("webhook-signature", "").split())
    return any(
        hmac.compare_digest(wanted, given)
        for secret in in_use
        for wanted in (signature(secret, message_id, int(sent), body),)
        for given in offered
    )
