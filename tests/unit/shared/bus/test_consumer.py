"""The pure parts of consumers: retry delays and which subjects a consumer takes."""

from __future__ import annotations

import pytest

from shared.bus.consumer import EventConsumer, retry_delay
from shared.db import Connection
from shared.events import (
    REGISTRY,
    SCHEDULING,
    MeetingScheduled,
    OrganizationUpserted,
    RegistryEvent,
    SchedulingEvent,
    Stream,
)
from shared.settings import NatsSettings


async def ignore(connection: Connection, event: object) -> None:
    return None


def test_retry_delay_doubles_from_the_configured_backoff_up_to_a_minute() -> None:
    settings = NatsSettings(retry_backoff=1.0)
    ceilings = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]

    for deliveries, ceiling in enumerate(ceilings, start=1):
        assert ceiling / 2 <= retry_delay(settings, deliveries) <= ceiling


def test_retry_delay_before_any_delivery_is_at_most_the_backoff() -> None:
    assert 1.5 <= retry_delay(NatsSettings(retry_backoff=3.0), 0) <= 3.0


def test_a_consumer_of_a_union_takes_the_subjects_of_its_members() -> None:
    consumer = EventConsumer("scheduling-registry", REGISTRY, RegistryEvent, ignore)

    assert consumer.subjects == frozenset(
        {
            "registry.organization.upserted",
            "registry.person.upserted",
            "registry.registration.created",
            "registry.registration.cancelled",
            "registry.registration.promoted",
            "registry.rsvp.changed",
            "registry.attendance.recorded",
            "registry.apikey.issued",
            "registry.apikey.revoked",
        }
    )


def test_a_consumer_of_a_written_out_union_takes_the_same_subjects() -> None:
    consumer = EventConsumer(
        "agenda-meetings", SCHEDULING, MeetingScheduled | OrganizationUpserted, ignore
    )
    assert consumer.subjects == {"scheduling.meeting.scheduled", "registry.organization.upserted"}


def test_a_consumer_of_one_event_takes_its_subject() -> None:
    consumer = EventConsumer("one", SCHEDULING, MeetingScheduled, ignore)
    assert consumer.subjects == {"scheduling.meeting.scheduled"}


@pytest.mark.parametrize(
    ("union", "stream"), [(RegistryEvent, REGISTRY), (SchedulingEvent, SCHEDULING)]
)
def test_a_service_union_lives_in_its_stream(union: object, stream: Stream) -> None:
    consumer = EventConsumer("c", stream, union, ignore)
    assert consumer.subjects
    assert all(stream.holds(subject) for subject in consumer.subjects)
