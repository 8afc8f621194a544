"""`POST /slots` and the constraint check of scheduling, over organizations the registry
published: working hours in their zones, regional holidays, blackout days, other meetings."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from tests.integration.api import body, problem
from tests.integration.scheduling.support import Scheduling, telebridge

WEEK = {"window_start": "2030-12-02T00:00:00Z", "window_end": "2030-12-09T00:00:00Z"}


async def regional(scheduling: Scheduling, name: str, code: str, zone: str, **more: Any) -> UUID:
    """An organization that has not told its working hours: Mon–Fri 09:00–18:00 assumed."""
    return await scheduling.organization(
        name, name, zone, region_code=code, working_hours=None, **more
    )


async def test_candidates_are_ranked_with_every_site_local_time(scheduling: Scheduling) -> None:
    lipetsk = await regional(scheduling, "Липецк", "RU-LIP", "Europe/Moscow")
    vladivostok = await regional(scheduling, "Владивосток", "RU-PRI", "Asia/Vladivostok")
    found = body(
        await scheduling.client.post(
            "/slots",
            json={
                "organization_ids": [str(lipetsk), str(vladivostok)],
                "duration_minutes": 60,
                **WEEK,
            },
        )
    )
    best = found["candidates"][0]
    assert best["starts_at"] == "2030-12-02T06:30:00Z"
    assert [(s["name"], s["starts_at"], s["comfort"]) for s in best["sites"]] == [
        ("Липецк", "2030-12-02T09:30:00+03:00", "early"),
        ("Владивосток", "2030-12-02T16:30:00+10:00", "late"),
    ]
    assert best["reasons"] == [
        "starts at 09:30 in Липецк, early",
        "ends at 17:30 in Владивосток, late",
    ]
    assert found["blockers"] == []
    # Weekdays only, two a day at most before other days are shown.
    days = [c["starts_at"][:10] for c in found["candidates"]]
    assert len(days) == 10
    assert max(days.count(day) for day in days) <= 2
    assert "2030-12-07" not in days


async def test_meetings_holidays_and_blackout_days_are_left_out(scheduling: Scheduling) -> None:
    lipetsk = await regional(
        scheduling, "Липецк", "RU-LIP", "Europe/Moscow", blackout_dates=[date(2030, 11, 5)]
    )
    kaliningrad = await regional(scheduling, "Калининград", "RU-KGD", "Europe/Kaliningrad")
    await scheduling.telebridge(
        lipetsk,
        kaliningrad,
        starts_at="2030-11-06T12:00:00+03:00",
        ends_at="2030-11-06T17:00:00+03:00",
    )
    found = body(
        await scheduling.client.post(
            "/slots",
            json={
                "organization_ids": [str(lipetsk), str(kaliningrad)],
                "duration_minutes": 90,
                "window_start": "2030-11-04T00:00:00+03:00",
                "window_end": "2030-11-07T00:00:00+03:00",
                "granularity_minutes": 15,
                "buffer_minutes": 30,
                "limit": 50,
            },
        )
    )
    local = [c["sites"][0]["starts_at"] for c in found["candidates"]]
    # The 4th is National Unity Day, the 5th Lipetsk's blackout day. On the 6th both work
    # from 10:00 to 18:00 Moscow time (Kaliningrad is an hour behind), and the meeting from
    # 12:00 to 17:00 with half an hour each side leaves 10:00–11:30.
    assert local == ["2030-11-06T10:00:00+03:00"]


async def test_nothing_fits_from_kaliningrad_to_kamchatka_and_it_says_why(
    scheduling: Scheduling,
) -> None:
    kaliningrad = await regional(scheduling, "Калининград", "RU-KGD", "Europe/Kaliningrad")
    lipetsk = await regional(scheduling, "Липецк", "RU-LIP", "Europe/Moscow")
    kamchatka = await regional(scheduling, "Петропавловск-Камчатский", "RU-KAM", "Asia/Kamchatka")
    found = body(
        await scheduling.client.post(
            "/slots",
            json={
                "organization_ids": [str(kaliningrad), str(lipetsk), str(kamchatka)],
                "duration_minutes": 60,
                **WEEK,
            },
        )
    )
    assert found["candidates"] == []
    assert {(tuple(b["sites"]), b["constraint"]) for b in found["blockers"]} == {
        (("Калининград", "Петропавловск-Камчатский"), "working-hours"),
        (("Липецк", "Петропавловск-Камчатский"), "working-hours"),
    }
    [fewer] = found["relaxations"]
    assert fewer["kind"] == "fewer-sites"
    assert fewer["without_organization_id"] == str(kamchatka)
    assert fewer["message"] == "without Петропавловск-Камчатский"


async def test_a_bad_search_is_a_422_naming_the_field(scheduling: Scheduling) -> None:
    lipetsk = await regional(scheduling, "Липецк", "RU-LIP", "Europe/Moscow")
    search = {"organization_ids": [str(lipetsk)], "duration_minutes": 60, **WEEK}
    for change, field in [
        ({"window_end": "2031-06-01T00:00:00Z"}, "window_end"),
        ({"window_end": "2030-12-01T00:00:00Z"}, "window_end"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"organization_ids": []}, "organization_ids"),
        ({"window_start": "2030-12-02T00:00:00"}, "window_start"),
    ]:
        response = await scheduling.client.post("/slots", json=search | change)
        problem(response, 422, "validation", field=field)
    unknown = "00000000-0000-4000-8000-000000000000"
    problem(
        await scheduling.client.post("/slots", json=search | {"organization_ids": [unknown]}),
        422,
        "unknown-organization",
    )


# --- the same constraints when scheduling ----------------------------------------------


async def test_scheduling_out_of_hours_is_a_409_with_the_reasons(scheduling: Scheduling) -> None:
    lipetsk = await regional(scheduling, "Липецк", "RU-LIP", "Europe/Moscow")
    vladivostok = await regional(scheduling, "Владивосток", "RU-PRI", "Asia/Vladivostok")
    late_in_vladivostok = telebridge(
        lipetsk,
        vladivostok,
        starts_at="2030-11-04T11:00:00+03:00",
        ends_at="2030-11-04T13:00:00+03:00",
    )
    partner = await scheduling.partner_key(lipetsk)
    response = await scheduling.client.post("/meetings", json=late_in_vladivostok, headers=partner)
    document = problem(response, 409, "constraints-violated")
    assert {(v["site"], v["constraint"]) for v in document["violations"]} == {
        ("Липецк", "public-holiday"),
        ("Владивосток", "public-holiday"),
        ("Владивосток", "working-hours"),
    }
    assert "POST /slots" in document["detail"]

    forced = late_in_vladivostok | {"force": True}
    problem(
        await scheduling.client.post("/meetings", json=forced, headers=partner), 403, "forbidden"
    )
    meeting = body(await scheduling.client.post("/meetings", json=forced), 201)
    assert meeting["status"] == "scheduled"
    assert meeting["forced_by"]


async def test_a_draft_is_checked_when_it_is_scheduled(scheduling: Scheduling) -> None:
    lipetsk = await regional(scheduling, "Липецк", "RU-LIP", "Europe/Moscow")
    kaliningrad = await regional(scheduling, "Калининград", "RU-KGD", "Europe/Kaliningrad")
    partner = await scheduling.partner_key(lipetsk)
    saturday = telebridge(
        lipetsk,
        kaliningrad,
        starts_at="2030-12-07T11:00:00+03:00",
        ends_at="2030-12-07T12:00:00+03:00",
        draft=True,
    )
    draft = body(await scheduling.client.post("/meetings", json=saturday, headers=partner), 201)
    assert draft["status"] == "draft"
    path = f"/meetings/{draft['id']}/schedule"
    document = problem(
        await scheduling.client.post(path, json={}, headers=partner), 409, "constraints-violated"
    )
    assert {v["constraint"] for v in document["violations"]} == {"working-hours"}
    monday = saturday | {
        "starts_at": "2030-12-09T11:00:00+03:00",
        "ends_at": "2030-12-09T12:00:00+03:00",
    }
    monday.pop("draft")
    current = await scheduling.client.get(f"/meetings/{draft['id']}", headers=partner)
    changed = await scheduling.client.put(
        f"/meetings/{draft['id']}",
        json=monday,
        headers=partner | {"If-Match": current.headers["etag"]},
    )
    assert body(changed)["status"] == "draft"
    scheduled = body(await scheduling.client.post(path, json={}, headers=partner))
    assert scheduled["status"] == "scheduled"
    assert scheduled["forced_by"] is None


async def test_each_site_keeps_its_countrys_and_republics_calendar(scheduling: Scheduling) -> None:
    """Working hours unknown (09:00-18:00 Monday to Friday), so that holidays and the
    production calendar's working Saturday show."""
    hours: dict[str, Any] = {"working_hours": None}
    berlin = await scheduling.organization(
        "Zentral- und Landesbibliothek Berlin",
        "Германия",
        "Europe/Berlin",
        country="DE",
        region_code="DE-BE",
        **hours,
    )
    lipetsk = await scheduling.organization(
        "Липецкая областная детская библиотека",
        "Липецкая область",
        "Europe/Moscow",
        region_code="RU-LIP",
        **hours,
    )

    async def days(organization: Any, first: str, last: str) -> set[str]:
        search = {
            "organization_ids": [str(organization)],
            "duration_minutes": 60,
            "window_start": f"{first}T00:00:00+03:00",
            "window_end": f"{last}T00:00:00+03:00",
            "limit": 50,
        }
        found = body(await scheduling.client.post("/slots", json=search))
        return {c["sites"][0]["starts_at"][:10] for c in found["candidates"]}

    # 20 February 2027 is a working Saturday in Russia (Monday the 22nd is off), not in Berlin;
    # 8 March is Women's Day in both.
    assert await days(lipetsk, "2027-02-19", "2027-02-24") == {"2027-02-19", "2027-02-20"}
    assert await days(berlin, "2027-02-19", "2027-02-24") == {
        "2027-02-19",
        "2027-02-22",
        "2027-02-23",
    }
    assert await days(berlin, "2027-03-08", "2027-03-10") == {"2027-03-09"}
    # Scheduling checks the same calendar.
    saturday = {
        "starts_at": "2027-02-20T10:00:00+01:00",
        "ends_at": "2027-02-20T11:00:00+01:00",
    }
    meeting = telebridge(berlin, lipetsk, **saturday)
    document = problem(
        await scheduling.client.post("/meetings", json=meeting), 409, "constraints-violated"
    )
    assert {v["organization_id"] for v in document["violations"]} == {str(berlin)}
