"""The bus contract: every event encodes, decodes and names its subject as documented."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.events import (
    AGENDA,
    ALL_EVENTS,
    DEADLETTER,
    REGISTRY,
    SCHEDULING,
    AgendaPublished,
    AnyEvent,
    Event,
    MeetingScheduled,
    OrganizationUpserted,
    dead_letter_subject,
    new_id,
    stream_of,
    subject_of,
)

ORG = UUID("0190a000-0000-7000-8000-000000000001")
MEETING = UUID("0190a000-0000-7000-8000-000000000002")
PERSON = UUID("0190a000-0000-7000-8000-000000000003")
START = datetime(2026, 10, 1, 7, 0, tzinfo=UTC)

# What each event carries besides the envelope: one realistic example of each.
PAYLOADS: dict[str, dict[str, Any]] = {
    "registry.organization.upserted": {
        "name": "Липецкая областная универсальная научная библиотека",
        "region": "Липецкая область",
        "timezone": "Europe/Moscow",
    },
    "registry.person.upserted": {
        "organization_id": ORG,
        "name": "Мария Иванова",
        "email": "maria@example.org",
    },
    "registry.registration.created": {
        "meeting_id": MEETING,
        "person_id": PERSON,
        "organization_id": ORG,
        "status": "cancelled",
    },
    **{
        f"registry.registration.{what}": {
            "meeting_id": MEETING,
            "person_id": PERSON,
            "organization_id": ORG,
            "status": "registered",
            "role": "speaker",
            "rsvp": "accepted",
        }
        for what in ("cancelled", "promoted")
    },
    "registry.rsvp.changed": {
        "meeting_id": MEETING,
        "person_id": PERSON,
        "organization_id": ORG,
        "rsvp": "tentative",
    },
    "registry.attendance.recorded": {
        "meeting_id": MEETING,
        "session_id": MEETING,
        "organization_id": ORG,
        "headcount": 30,
    },
    **{
        f"registry.apikey.{what}": {
            "prefix": "0123456789ab",
            "secret_sha256": "f" * 64,
            "role": "partner",
            "organization_id": ORG,
            "scopes": ["registry:read"],
            "revoked_at": START if what == "revoked" else None,
        }
        for what in ("issued", "revoked")
    },
    "agenda.agenda.published": {
        "meeting_id": MEETING,
        "version": 4,
        "items": 12,
        "url": "https://a/1",
    },
    "agenda.agenda.unpublished": {"meeting_id": MEETING},
    "agenda.summary.published": {
        "meeting_id": MEETING,
        "participants": 120,
        "organizations": 40,
        "regions": 20,
        "url": "https://a/1/summary",
    },
}
MEETING_STATE: dict[str, Any] = {
    "title": "Телемост Георгиевск — Антрацит",
    "kind": "telebridge",
    "status": "live",
    "host_organization_id": ORG,
    "organization_ids": [ORG, PERSON],
    "starts_at": START,
    "ends_at": START + timedelta(hours=2),
    "started_at": START,
}


def example(event_type: type[Event], **envelope: Any) -> Event:
    payload = PAYLOADS.get(subject_of(event_type), MEETING_STATE)
    fields = {"aggregate_id": MEETING, "aggregate_version": 3, **envelope, **payload}
    return event_type(**fields)


ANY_EVENT = msgspec.json.Decoder(AnyEvent)
EVENT_IDS = [subject_of(event_type) for event_type in ALL_EVENTS]


def test_all_events_has_every_member_of_the_union_once() -> None:
    members = set(AnyEvent.__args__)  # type: ignore[attr-defined]
    assert members == set(ALL_EVENTS)
    assert len(ALL_EVENTS) == len(set(EVENT_IDS))


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=EVENT_IDS)
def test_every_event_round_trips_through_json_and_the_union(event_type: type[Event]) -> None:
    event = example(event_type, producer="test", traceparent="00-" + "a" * 32 + "-" + "b" * 16)

    data = msgspec.json.encode(event)
    decoded = ANY_EVENT.decode(data)

    assert type(decoded) is event_type
    assert decoded == event
    assert msgspec.json.decode(data, type=event_type) == event
    assert msgspec.json.decode(data)["type"] == event.type


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=EVENT_IDS)
def test_the_type_is_the_subject_and_names_the_aggregate(event_type: type[Event]) -> None:
    event = example(event_type)

    assert event.type == subject_of(event_type)
    assert event.subject == event.type
    service, aggregate, what = event.type.split(".")
    # An RSVP is part of its registration: one version sequence orders both.
    aggregate = "registration" if aggregate == "rsvp" else aggregate
    assert event.aggregate_type == f"{service}.{aggregate}"
    assert what.endswith("ed")  # past tense: something that happened


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=EVENT_IDS)
def test_every_subject_sits_in_its_producers_stream(event_type: type[Event]) -> None:
    subject = subject_of(event_type)
    stream = stream_of(subject)

    assert stream is not DEADLETTER
    assert subject.startswith(f"{stream.prefix}.")
    assert stream.subjects == [f"{stream.prefix}.>"]
    assert stream.name == stream.prefix.upper()


def test_streams_by_service() -> None:
    assert stream_of("registry.organization.upserted") is REGISTRY
    assert stream_of("scheduling.meeting.scheduled") is SCHEDULING
    assert stream_of("agenda.summary.published") is AGENDA
    assert stream_of(dead_letter_subject("agenda-meetings", "scheduling.meeting.ended")) is (
        DEADLETTER
    )
    with pytest.raises(LookupError):
        stream_of("billing.invoice.sent")
    with pytest.raises(LookupError):
        stream_of("registryx.organization.upserted")  # a prefix is a whole token


def test_the_envelope_defaults_fill_themselves_in() -> None:
    before = datetime.now(UTC)
    event = example(OrganizationUpserted)

    assert event.event_id.version == 7
    assert event.occurred_at.tzinfo is not None
    assert before <= event.occurred_at <= datetime.now(UTC)
    assert example(OrganizationUpserted).event_id != event.event_id


def test_new_ids_are_version_7_and_sort_by_creation() -> None:
    ids = [new_id() for _ in range(2000)]
    time.sleep(0.002)
    later = new_id()

    assert all(identifier.version == 7 for identifier in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert later > ids[-1]


def test_an_unknown_type_does_not_decode() -> None:
    data = msgspec.json.encode(example(AgendaPublished))
    document = msgspec.json.decode(data)
    document["type"] = "agenda.agenda.burned"

    with pytest.raises(msgspec.ValidationError, match=r"agenda\.agenda\.burned"):
        ANY_EVENT.decode(msgspec.json.encode(document))


@pytest.mark.parametrize("version", [0, -1])
def test_aggregate_version_starts_at_one(version: int) -> None:
    document = msgspec.json.decode(msgspec.json.encode(example(MeetingScheduled)))
    document["aggregate_version"] = version

    with pytest.raises(msgspec.ValidationError, match="aggregate_version"):
        ANY_EVENT.decode(msgspec.json.encode(document))


def test_a_field_added_by_a_newer_producer_is_ignored() -> None:
    event = example(MeetingScheduled)
    document = msgspec.json.decode(msgspec.json.encode(event))
    document["video_link"] = "https://video.example/room"

    assert ANY_EVENT.decode(msgspec.json.encode(document)) == event


def test_a_missing_required_field_is_rejected() -> None:
    document = msgspec.json.decode(msgspec.json.encode(example(OrganizationUpserted)))
    del document["timezone"]

    with pytest.raises(msgspec.ValidationError, match="timezone"):
        ANY_EVENT.decode(msgspec.json.encode(document))


@hypothesis_settings(max_examples=50, deadline=None)
@given(
    name=st.text(min_size=1, max_size=500),
    version=st.integers(min_value=1, max_value=2**62),
    occurred_at=st.datetimes(timezones=st.just(UTC)),
)
def test_organization_events_round_trip_for_any_name(
    name: str, version: int, occurred_at: datetime
) -> None:
    event = OrganizationUpserted(
        aggregate_id=ORG,
        aggregate_version=version,
        occurred_at=occurred_at,
        name=name,
        region="Приморский край",
        timezone="Asia/Vladivostok",
    )
    assert ANY_EVENT.decode(msgspec.json.encode(event)) == event
