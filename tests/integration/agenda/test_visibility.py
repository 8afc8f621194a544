"""The agenda and summary of a private meeting are its sites' and staff's: to anyone else,
with a key or without, every one of its addresses answers as an unknown meeting's."""

from __future__ import annotations

import msgspec

from shared.events import new_id
from tests.events import applied
from tests.integration.agenda.support import (
    ITEMS,
    MOSCOW,
    VLADIVOSTOK,
    Agenda,
    moscow_with_vladivostok,
)
from tests.integration.api import body, partner_key, publish
from tests.support import eventually, json_of

READS = (
    "/agenda",
    "/agenda.html",
    "/agenda.md",
    "/agenda.ics",
    "/agenda.xml",
    "/agenda/versions",
    "/agenda/versions/latest",
    "/agenda/versions/1",
    "/summary",
    "/summary.html",
    "/summary.md",
    "/summary/versions",
)


async def test_a_private_meeting_reads_as_unknown_to_anyone_but_its_sites(agenda: Agenda) -> None:
    await publish(agenda.js, MOSCOW, VLADIVOSTOK)
    meeting = msgspec.structs.replace(moscow_with_vladivostok(), public=False)
    await publish(agenda.js, meeting)

    async def known() -> bool:
        response = await agenda.client.get(f"/meetings/{meeting.aggregate_id}/agenda")
        return not json_of(response)["type"].endswith("unknown-meeting")

    await eventually(known)
    # The items are in the host's local time: its zone must have arrived too.
    await applied(agenda.database, "agenda", MOSCOW, VLADIVOSTOK)
    body(await agenda.put(meeting.aggregate_id, ITEMS))
    outsider = await partner_key(agenda.js, agenda.client, new_id(), "/health/ready")
    site = await partner_key(agenda.js, agenda.client, VLADIVOSTOK.aggregate_id, "/health/ready")
    unknown = new_id()

    for headers in (outsider, {"Authorization": ""}):
        for path in READS:
            seen = await agenda.client.get(
                f"/meetings/{meeting.aggregate_id}{path}", headers=headers
            )
            absent = await agenda.client.get(f"/meetings/{unknown}{path}", headers=headers)
            assert seen.status_code == absent.status_code, (path, seen.text)
            if seen.status_code == 404:
                document, expected = json_of(seen), json_of(absent)
                assert document["type"] == expected["type"], path
                assert document["detail"] == expected["detail"].replace(
                    str(unknown), str(meeting.aggregate_id)
                )
    for path in ("/agenda", "/agenda.html", "/agenda.ics"):
        response = await agenda.client.get(f"/meetings/{meeting.aggregate_id}{path}", headers=site)
        assert response.status_code == 200, (path, response.text)
