"""What a partner may name in scheduling: a private organization of another partner reads
exactly as one that does not exist, in slot search, in a meeting's sites and in feeds."""

from __future__ import annotations

from typing import Any

from shared.events import new_id
from tests.integration.api import body
from tests.integration.scheduling.support import Scheduling, telebridge
from tests.support import json_of

SLOTS = {
    "duration_minutes": 60,
    "window_start": "2030-10-01T00:00:00Z",
    "window_end": "2030-10-04T00:00:00Z",
}


def _same_answer(seen: Any, absent: Any, seen_id: object, absent_id: object) -> None:
    assert seen.status_code == absent.status_code, seen.text
    document, expected = json_of(seen), json_of(absent)
    assert document["type"] == expected["type"]
    text = msgspec_text(document).replace(str(seen_id), "ID")
    assert text == msgspec_text(expected).replace(str(absent_id), "ID")


def msgspec_text(document: dict[str, Any]) -> str:
    return repr({key: value for key, value in document.items() if key != "instance"})


async def test_a_private_organization_of_another_partner_cannot_be_named(
    scheduling: Scheduling,
) -> None:
    moscow = await scheduling.moscow()
    private = await scheduling.organization(
        "Закрытая библиотека", "Приморский край", "Asia/Vladivostok", public=False
    )
    key = await scheduling.partner_key(moscow)
    unknown = new_id()
    requests: list[tuple[str, str, Any]] = [
        ("POST", "/slots", lambda org: {**SLOTS, "organization_ids": [str(moscow), str(org)]}),
        ("POST", "/meetings", lambda org: telebridge(moscow, org)),
        ("POST", "/feeds", lambda org: {"kind": "organization", "organization_id": str(org)}),
    ]
    for method, path, request_body in requests:
        seen = await scheduling.client.request(
            method, path, json=request_body(private), headers=key
        )
        absent = await scheduling.client.request(
            method, path, json=request_body(unknown), headers=key
        )
        assert seen.status_code in (404, 422), seen.text
        _same_answer(seen, absent, private, unknown)

    # Its own key and staff name it.
    own = await scheduling.partner_key(private)
    body(
        await scheduling.client.post(
            "/slots", json={**SLOTS, "organization_ids": [str(private)]}, headers=own
        )
    )
    body(await scheduling.client.post("/slots", json={**SLOTS, "organization_ids": [str(private)]}))
