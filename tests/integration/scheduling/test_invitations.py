"""Invites by mail: who gets which REQUEST or CANCEL, when, with which SEQUENCE, and never
twice; the agenda's items re-issued in the description."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.events import (
    AgendaEntry,
    AgendaPublished,
    AgendaUnpublished,
    PersonUpserted,
    RegistrationCreated,
    SummaryPublished,
    new_id,
)
from tests.events import applied, changed, email_of
from tests.integration.api import body, publish
from tests.integration.scheduling.support import (
    Scheduling,
    calendar_part,
    mails_once,
    queued,
    sign_up,
    telebridge,
    vevent,
)
from tests.support import eventually


async def test_a_person_signed_up_gets_their_own_invite(scheduling: Scheduling) -> None:
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(lipetsk, vladivostok)
    assert await queued(scheduling) == 0
    await sign_up(scheduling, meeting["id"], vladivostok, "Ольга Петровна Ли", "en")
    [invite] = await mails_once(scheduling, 1)
    assert invite["To"].addresses[0].display_name == "Ольга Петровна Ли"
    assert invite["Subject"] == f"Invitation: {meeting['title']}"
    method, calendar = calendar_part(invite)
    assert method == "REQUEST"
    assert calendar["METHOD"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    attendees = event.get("ATTENDEE")
    assert not isinstance(attendees, list), "only the recipient is named"
    assert attendees.params["CN"] == "Ольга Петровна Ли"
    assert event["SEQUENCE"] == 0
    plain = invite.get_body(("plain",))
    assert plain is not None
    assert "18:00" in plain.get_content()  # 11:00 in Moscow is 18:00 in Vladivostok


async def test_a_change_attendees_see_is_sent_again_and_one_they_do_not_is_not(
    scheduling: Scheduling,
) -> None:
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(lipetsk, vladivostok)
    await sign_up(scheduling, meeting["id"], lipetsk, "Иван Иванович Сидоров")
    await mails_once(scheduling, 1)

    async def put(**changes: Any) -> Any:
        current = await scheduling.client.get(f"/meetings/{meeting['id']}")
        return body(
            await scheduling.client.put(
                f"/meetings/{meeting['id']}",
                json=telebridge(lipetsk, vladivostok, **changes),
                headers={"If-Match": current.headers["etag"]},
            )
        )

    hidden = await put(public=False)
    assert hidden["sequence"] == 0
    moved = await put(starts_at="2030-10-01T12:00:00+03:00", ends_at="2030-10-01T14:00:00+03:00")
    assert moved["sequence"] == 1
    invite, update = await mails_once(scheduling, 2)
    assert update["Subject"] == f"Изменено: {meeting['title']}"
    _, calendar = calendar_part(update)
    [event] = calendar.walk("VEVENT")
    assert event["SEQUENCE"] == 1
    assert event["DTSTART"].dt.astimezone(UTC) == datetime(2030, 10, 1, 9, tzinfo=UTC)
    assert invite["Message-ID"] != update["Message-ID"]


async def test_a_cancelled_meeting_sends_cancels_and_a_redelivered_event_nothing(
    scheduling: Scheduling,
) -> None:
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(lipetsk, vladivostok)
    registration = await sign_up(scheduling, meeting["id"], lipetsk, "Мария Игоревна Орлова")
    await mails_once(scheduling, 1)
    await publish(scheduling.js, registration)  # the registry's event delivered again
    body(await scheduling.client.post(f"/meetings/{meeting['id']}/cancel"))
    invite, cancel = await mails_once(scheduling, 2)
    method, calendar = calendar_part(cancel)
    assert method == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == f"{meeting['id']}@telebridge"
    assert event["SEQUENCE"] >= calendar_part(invite)[1].walk("VEVENT")[0]["SEQUENCE"]
    assert cancel["Subject"] == f"Отменено: {meeting['title']}"
    assert await queued(scheduling) == 2


async def test_a_published_agenda_is_reissued_in_the_description(scheduling: Scheduling) -> None:
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(lipetsk, vladivostok)
    await sign_up(scheduling, meeting["id"], vladivostok, "Ольга Петровна Ли")
    await mails_once(scheduling, 1)
    agenda = AgendaPublished(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="agenda",
        meeting_id=UUID(meeting["id"]),
        items=2,
        url=f"http://127.0.0.1:8003/meetings/{meeting['id']}/agenda.html",
        entries=[
            AgendaEntry(starts_at=datetime(2030, 10, 1, 8, tzinfo=UTC), title="Открытие"),
            AgendaEntry(
                starts_at=datetime(2030, 10, 1, 8, 20, tzinfo=UTC),
                title="Рассказ о Приморье",
                speakers=["Ольга Петровна Ли"],
            ),
        ],
    )
    await publish(scheduling.js, agenda)
    _, update = await mails_once(scheduling, 2)
    _, calendar = calendar_part(update)
    [event] = calendar.walk("VEVENT")
    assert "Рассказ о Приморье" in str(event["DESCRIPTION"])
    assert str(event["URL"]) == agenda.url
    assert f"Программа на сайте: {agenda.url}" in str(event["DESCRIPTION"])
    assert f"Программа и подробности: {agenda.url}" in update.get_body(("plain",)).get_content()
    assert event["SEQUENCE"] == 1
    current = body(await scheduling.client.get(f"/meetings/{meeting['id']}"))
    assert current["agenda_url"] == agenda.url

    withdrawn = AgendaUnpublished(
        aggregate_id=agenda.aggregate_id,
        aggregate_version=2,
        producer="agenda",
        meeting_id=UUID(meeting["id"]),
    )
    await publish(scheduling.js, withdrawn)
    _, _, without = await mails_once(scheduling, 3)
    [event] = calendar_part(without)[1].walk("VEVENT")
    assert "Рассказ о Приморье" not in str(event["DESCRIPTION"])
    assert "URL" not in event  # no page of the agenda any more to link
    assert "Программа" not in without.get_body(("plain",)).get_content()
    assert event["SEQUENCE"] == 2
    current = body(await scheduling.client.get(f"/meetings/{meeting['id']}"))
    assert current["agenda_url"] is None


async def test_a_registration_that_arrives_before_its_person_is_mailed_once_they_do(
    scheduling: Scheduling,
) -> None:
    """Two registry events go to whichever replica is free: the person may come second."""
    lipetsk = await scheduling.moscow()
    meeting = await scheduling.telebridge(lipetsk, await scheduling.vladivostok())
    person_id = new_id()
    registration = RegistrationCreated(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        meeting_id=UUID(meeting["id"]),
        person_id=person_id,
        organization_id=lipetsk,
    )
    await publish(scheduling.js, registration)
    await applied(scheduling.database, "scheduling", registration)
    assert await queued(scheduling) == 0

    person = PersonUpserted(
        aggregate_id=person_id,
        aggregate_version=1,
        producer="registry",
        organization_id=lipetsk,
        name="Анна Андреевна Ахматова",
        email=email_of(person_id),
    )
    await publish(scheduling.js, person)
    [invite] = await mails_once(scheduling, 1)
    assert invite["To"].addresses[0].addr_spec == email_of(person_id)
    assert calendar_part(invite)[0] == "REQUEST"

    renamed = changed(person, name="Анна Ахматова")
    await publish(scheduling.js, renamed)
    await applied(scheduling.database, "scheduling", renamed)
    assert await queued(scheduling) == 1


async def test_nobody_is_mailed_about_a_meeting_that_is_over(scheduling: Scheduling) -> None:
    """An operator recording a past event, as the demo does, mails nobody."""
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    past = {
        "starts_at": "2020-10-01T11:00:00+03:00",
        "ends_at": "2020-10-01T13:00:00+03:00",
        "force": True,
        "record_past": True,
    }
    meeting = await scheduling.telebridge(lipetsk, vladivostok, **past)
    registration = await sign_up(scheduling, meeting["id"], vladivostok, "Ольга Петровна Ли")
    agenda = AgendaPublished(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="agenda",
        meeting_id=UUID(meeting["id"]),
        items=1,
        url="https://agenda.example/1",
        entries=[AgendaEntry(starts_at=datetime(2020, 10, 1, 8, 0, tzinfo=UTC), title="Итоги")],
    )
    await publish(scheduling.js, agenda)

    async def both_arrived() -> bool:
        registered = await scheduling.database.fetchval(
            "SELECT count(*) FROM scheduling.registrations"
        )
        _, calendar = await scheduling.invite(meeting["id"])
        return registered == 1 and "Итоги" in str(vevent(calendar)["DESCRIPTION"])

    await eventually(both_arrived)
    await applied(scheduling.database, "scheduling", registration, agenda)
    assert await queued(scheduling) == 0


async def test_a_published_summary_is_linked_from_the_calendar_without_mail(
    scheduling: Scheduling,
) -> None:
    lipetsk = await scheduling.moscow()
    meeting = await scheduling.telebridge(lipetsk, await scheduling.vladivostok())
    await sign_up(scheduling, meeting["id"], lipetsk, "Ольга Петровна Ли")
    await mails_once(scheduling, 1)
    summary = SummaryPublished(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="agenda",
        meeting_id=UUID(meeting["id"]),
        participants=1,
        organizations=1,
        regions=1,
        url=f"http://127.0.0.1:8003/meetings/{meeting['id']}/summary",
    )
    await publish(scheduling.js, summary)

    async def linked() -> dict[str, Any] | None:
        current = body(await scheduling.client.get(f"/meetings/{meeting['id']}"))
        return current if current["summary_url"] == summary.url else None

    current = await eventually(linked)
    assert current["sequence"] == 1
    _, calendar = await scheduling.invite(meeting["id"])
    assert f"Итоги встречи: {summary.url}" in str(vevent(calendar)["DESCRIPTION"])
    # A republished version with the same link changes nothing calendars show.
    republished = changed(summary)
    await publish(scheduling.js, republished)
    await applied(scheduling.database, "scheduling", republished)
    again = body(await scheduling.client.get(f"/meetings/{meeting['id']}"))
    assert again["sequence"] == 1
    assert await queued(scheduling) == 1
