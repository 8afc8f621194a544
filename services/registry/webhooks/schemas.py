"""What partners send to manage their webhook endpoints and what they get back."""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from shared.http.types import one_line
from shared.webhooks import EVENT_TYPES

EventType = Literal[
    "meeting.scheduled",
    "meeting.updated",
    "meeting.cancelled",
    "meeting.started",
    "meeting.ended",
    "registration.created",
    "registration.cancelled",
    "registration.promoted",
    "rsvp.changed",
    "agenda.published",
    "summary.published",
]
assert set(typing.get_args(EventType)) == set(EVENT_TYPES), "EventType lists every webhook event"

Url = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^https?://[^\s/?#]+(/[^\s]*)?$",
        min_length=8,
        max_length=2000,
        description="http or https; a private, loopback or link-local address is refused "
        "unless the operator allowed its network",
        examples=["https://lodb.example/telebridge/webhooks"],
    ),
]
Description = Annotated[str, one_line(300, "Сайт ЛОДБ: новые встречи и записи")]
DeliveryState = Literal["pending", "delivered", "failed"]


class EndpointFields(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: Url
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=11)]
    """The events to send; the endpoint gets only those about meetings its organization
    hosts or takes part in, and about its own people."""
    ordered: bool = False
    """Send one aggregate's events (a meeting's, a registration's) one at a time, in the
    order of its versions: a later one waits while an earlier one is retried."""
    description: Description | None = None
    enabled: bool = True
    """Sending `true` to a disabled endpoint enables it again; its waiting deliveries go."""


class EndpointCreate(EndpointFields, frozen=True, kw_only=True):
    organization_id: UUID | None = None
    """Omitted with a partner key: the key's own organization. A staff key names it."""


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    organization_id: UUID
    url: str
    event_types: list[str]
    ordered: bool
    description: str | None
    enabled: bool
    disabled_reason: str | None
    """Why the endpoint stopped getting messages: it answered 410, or failed for a day."""
    disabled_at: datetime | None
    failing_since: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(Endpoint, frozen=True, kw_only=True):
    secret: str
    """`whsec_…`: verify each message's `webhook-signature` with it. Shown this once."""


class SecretRotation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    overlap_seconds: Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)] = 24 * 3600
    """How long the old secret signs too (each message then has two signatures)."""


class RotatedSecret(msgspec.Struct, frozen=True, kw_only=True):
    secret: str
    """The new `whsec_…` secret. Shown this once."""
    previous_expires_at: datetime


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    attempted_at: datetime
    status_code: int | None
    """None when no answer came: refused, timed out, or an address not allowed."""
    duration_ms: float
    response_excerpt: str | None
    error: str | None


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    webhook_id: UUID
    """The `webhook-id` of every attempt: the event's id."""
    event_type: str
    aggregate_id: UUID
    aggregate_version: int
    state: DeliveryState
    attempts: list[Attempt]
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class Replay(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    since: datetime
    """Every message of the endpoint made at or after this instant is sent again."""


class Replayed(msgspec.Struct, frozen=True, kw_only=True):
    queued: int
