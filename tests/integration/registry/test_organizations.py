"""Organizations in depth: the regions directory, time zones from regions, If-Match updates,
filters, and what is public."""

from __future__ import annotations

import re

from tests.integration.api import body, problem
from tests.integration.registry.support import LIPETSK, VLADIVOSTOK, Registry

HOURS = {
    "mon": [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}],
    "sat": [{"start": "10:00", "end": "16:00"}],
}


async def test_the_regions_directory_is_served_to_anyone(registry: Registry) -> None:
    anonymous = {"Authorization": ""}
    regions = body(await registry.client.get("/regions", headers=anonymous))
    assert len(regions) == 89
    lugansk = body(await registry.client.get("/regions/ru-lpr", headers=anonymous))
    assert lugansk["name"] == "Луганская Народная Республика"
    assert lugansk["name_genitive"] == "Луганской Народной Республики"
    assert lugansk["holidays"] == {"country": "RU", "subdivision": None}
    problem(await registry.client.get("/regions/RU-XXX", headers=anonymous), 404, "not-found")


async def test_the_time_zone_defaults_to_the_regions_and_details_are_kept(
    registry: Registry,
) -> None:
    created = await registry.organization(
        {
            "name": "Астраханская областная библиотека для детей и молодёжи",
            "short_name": "АОБДМ",
            "kind": "library",
            "region": "RU-AST",
            "city": "Астрахань",
            "working_hours": HOURS,
            "blackout_dates": ["2026-12-31"],
            "contacts": [{"name": "Дежурный администратор", "phone": "+7 8512 00-00-00"}],
        }
    )
    assert created["timezone"] == "Europe/Astrakhan"
    assert created["region_name"] == "Астраханская область"
    assert created["working_hours"]["mon"] == HOURS["mon"]
    assert created["working_hours"]["sun"] == []
    message = await registry.event_of(created["id"])
    assert message.event["region_code"] == "RU-AST"
    # The events keep the form they always had.
    assert message.event["working_hours"]["sat"] == [{"start": "10:00:00", "end": "16:00:00"}]
    assert message.event["blackout_dates"] == ["2026-12-31"]
    assert "contacts" not in message.event


async def test_bad_regions_and_hours_are_422s_naming_the_field(registry: Registry) -> None:
    for payload, field in [
        ({**LIPETSK, "region": "Липецкая"}, "region"),
        ({**LIPETSK, "timezone": "Europe/Lipetsk"}, "timezone"),
        (
            {**LIPETSK, "working_hours": {"mon": [{"start": "18:00:00", "end": "09:00:00"}]}},
            "working_hours",
        ),
        ({**LIPETSK, "working_hours": {"mon": [{"start": "9:00", "end": "18:00"}]}}, None),
        ({**LIPETSK, "working_hours": {"mon": [{"start": "09:00", "end": "24:00"}]}}, None),
        ({**LIPETSK, "working_hours": {"mon": [{"start": "PT9H", "end": "18:00"}]}}, None),
        ({**LIPETSK, "working_hours": {"monday": []}}, "working_hours.monday"),
    ]:
        response = await registry.client.post("/organizations", json=payload)
        if field is None:
            assert response.status_code == 422, response.text
            assert "working_hours.mon[0]" in response.text
        else:
            problem(response, 422, "validation", field=field)


async def test_working_hours_are_taken_as_hh_mm_or_hh_mm_ss_and_answered_as_documented(
    registry: Registry,
) -> None:
    schema = (await registry.client.get("/schema/openapi.json")).json()
    clock = schema["components"]["schemas"]["OpeningRange"]["properties"]["start"]
    pattern = re.compile(clock["pattern"])
    assert "format" not in clock  # no `duration`, no `time` (which would mean HH:MM:SS+offset)
    sent = {
        "mon": [{"start": "09:00", "end": "13:30:00"}, {"start": "14:15:00", "end": "18:00"}],
        "sat": [{"start": "10:00:30", "end": "16:00"}],
    }
    created = await registry.organization({**LIPETSK, "working_hours": sent})
    assert created["working_hours"]["mon"] == [
        {"start": "09:00", "end": "13:30"},
        {"start": "14:15", "end": "18:00"},
    ]
    assert created["working_hours"]["sat"] == [{"start": "10:00:30", "end": "16:00"}]
    for ranges in created["working_hours"].values():
        for hours in ranges:
            assert pattern.fullmatch(hours["start"])
            assert pattern.fullmatch(hours["end"])
    read = body(await registry.client.get(f"/organizations/{created['id']}"))
    assert read["working_hours"] == created["working_hours"]
    message = await registry.event_of(created["id"])
    assert message.event["working_hours"]["mon"][0] == {"start": "09:00:00", "end": "13:30:00"}


async def test_an_update_needs_the_version_it_was_based_on(registry: Registry) -> None:
    created = await registry.organization()
    path = f"/organizations/{created['id']}"
    read = await registry.client.get(path)
    assert read.headers["etag"] == '"1"'
    change = {**LIPETSK, "city": "Липецк", "kind": "library"}

    problem(await registry.client.put(path, json=change), 428, "if-match-required")
    updated = await registry.client.put(path, json=change, headers={"If-Match": '"1"'})
    assert body(updated)["version"] == 2
    assert updated.headers["etag"] == '"2"'
    stale = await registry.client.put(
        path, json={**change, "city": "Елец"}, headers={"If-Match": '"1"'}
    )
    document = problem(stale, 412, "version-mismatch")
    assert document["current_version"] == 2
    assert body(await registry.client.get(path))["city"] == "Липецк"
    # The same content again is no change: no new version, no event.
    same = await registry.client.put(path, json=change, headers={"If-Match": '"2"'})
    assert body(same)["version"] == 2


async def test_a_partner_updates_its_own_organization(registry: Registry) -> None:
    created = await registry.organization()
    partner = await registry.partner_key(created)
    response = await registry.client.put(
        f"/organizations/{created['id']}",
        json={**LIPETSK, "short_name": "ЛОДБ"},
        headers={**partner, "If-Match": '"1"'},
    )
    assert body(response)["short_name"] == "ЛОДБ"


async def test_organizations_are_filtered_by_region_kind_and_text(registry: Registry) -> None:
    lipetsk = await registry.organization({**LIPETSK, "kind": "library", "city": "Липецк"})
    museum = await registry.organization(
        {**LIPETSK, "name": "Липецкий областной краеведческий музей", "kind": "museum"}
    )
    vladivostok = await registry.organization({**VLADIVOSTOK, "kind": "library"})

    async def ids(**params: str) -> list[str]:
        page = body(await registry.client.get("/organizations", params=params))
        return [organization["id"] for organization in page["items"]]

    assert await ids(region="RU-LIP") == [lipetsk["id"], museum["id"]]
    assert await ids(kind="library") == [lipetsk["id"], vladivostok["id"]]
    assert await ids(region="RU-LIP", kind="museum") == [museum["id"]]
    assert await ids(text="горького") == [vladivostok["id"]]
    assert await ids(text="липецк") == [lipetsk["id"], museum["id"]]
    assert await ids(text="100%_") == []
    zoo = await registry.client.get("/organizations", params={"kind": "zoo"})
    problem(zoo, 400, "validation", field="kind")


async def test_a_private_organization_is_seen_only_by_itself_and_staff(registry: Registry) -> None:
    private = await registry.organization({**LIPETSK, "public": False})
    public = await registry.organization(VLADIVOSTOK)
    own = await registry.partner_key(private)
    other = await registry.partner_key(public)
    anonymous = {"Authorization": ""}

    async def listed(headers: dict[str, str]) -> list[str]:
        page = body(await registry.client.get("/organizations", headers=headers))
        return [organization["id"] for organization in page["items"]]

    assert await listed(anonymous) == [public["id"]]
    assert await listed(other) == [public["id"]]
    assert await listed(own) == [private["id"], public["id"]]
    assert await listed({}) == [private["id"], public["id"]]  # the staff's key
    path = f"/organizations/{private['id']}"
    problem(await registry.client.get(path, headers=anonymous), 404, "not-found")
    body(await registry.client.get(path, headers=own))


async def test_a_partner_abroad_has_its_country_and_no_russian_region(registry: Registry) -> None:
    berlin = await registry.organization(
        {
            "name": "Zentral- und Landesbibliothek Berlin",
            "kind": "library",
            "country": "DE",
            "region": "DE-BE",
            "city": "Berlin",
            "working_hours": {"mon": [{"start": "10:00", "end": "19:00"}]},
        }
    )
    assert (berlin["country"], berlin["region"], berlin["region_name"]) == (
        "DE",
        "DE-BE",
        "Германия",
    )
    assert berlin["timezone"] == "Europe/Berlin"
    message = await registry.event_of(berlin["id"])
    assert message.event["country"] == "DE"
    assert message.event["region_code"] == "DE-BE"
    assert message.event["region"] == "Германия"
    minsk = await registry.organization(
        {"name": "Национальная библиотека Беларуси", "country": "BY", "city": "Минск"}
    )
    assert (minsk["region"], minsk["timezone"]) == (None, "Europe/Minsk")
    almaty = await registry.organization(
        {"name": "Национальная библиотека Республики Казахстан", "country": "KZ"}
    )
    assert almaty["timezone"] == "Asia/Almaty"
    lipetsk = await registry.organization()
    assert lipetsk["country"] == "RU"
    assert (await registry.event_of(lipetsk["id"])).event["country"] == "RU"


async def test_a_country_and_its_region_are_checked_together(registry: Registry) -> None:
    for payload, field in [
        ({"name": "Библиотека", "region": None}, "region"),
        ({"name": "Библиотека", "country": "SU", "timezone": "Europe/Moscow"}, "country"),
        ({"name": "Библиотека", "country": "de", "timezone": "Europe/Berlin"}, "country"),
        ({"name": "Bibliothek", "country": "DE", "region": "RU-LIP"}, "region"),
        ({"name": "Bibliothek", "country": "DE", "region": "DE-XX"}, "region"),
        ({"name": "Library", "country": "US"}, "timezone"),
    ]:
        response = await registry.client.post("/organizations", json=payload)
        problem(response, 422, "validation", field=field)
