"""`GET /meetings?updated_since=`: a change feed a partner polls without missing a change.

The rule: a poller that keeps the cursor of each page and asks again with it sees every
change once, in the order of commit, even when a transaction that began earlier commits
after a later one; it sees a meeting again only when it changed again.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.api import body, problem
from tests.integration.scheduling.support import Scheduling

PAST = "2020-01-01T00:00:00Z"


async def _poll(scheduling: Scheduling, cursor: str | None, **params: Any) -> dict[str, Any]:
    query = {"updated_since": PAST, **params} if cursor is None else {"cursor": cursor, **params}
    page: dict[str, Any] = body(await scheduling.client.get("/meetings", params=query))
    assert page["next_cursor"], "a change feed always says where to resume"
    return page


async def _drain(
    scheduling: Scheduling, cursor: str | None, **params: Any
) -> tuple[list[Any], str]:
    """Every change after `cursor`, page by page, and the cursor to resume from."""
    seen: list[Any] = []
    while True:
        page = await _poll(scheduling, cursor, **params)
        seen += page["items"]
        cursor = page["next_cursor"]
        if len(page["items"]) < int(params.get("limit", 50)):
            return seen, cursor


async def test_a_poller_sees_each_change_once_in_the_order_made(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    created = [
        await scheduling.telebridge(
            moscow,
            vladivostok,
            title=f"Телемост № {number}",
            starts_at=f"2030-10-0{number}T11:00:00+03:00",
            ends_at=f"2030-10-0{number}T13:00:00+03:00",
        )
        for number in range(1, 5)
    ]

    seen, cursor = await _drain(scheduling, None, limit=3)
    assert [meeting["id"] for meeting in seen] == [meeting["id"] for meeting in created]
    assert (await _drain(scheduling, cursor))[0] == []

    cancelled = body(await scheduling.client.post(f"/meetings/{created[1]['id']}/cancel"))
    seen, cursor = await _drain(scheduling, cursor)
    assert seen == [cancelled]
    assert seen[0]["status"] == "cancelled"
    assert (await _drain(scheduling, cursor))[0] == []


async def test_a_change_committed_after_a_later_one_is_not_missed(
    scheduling: Scheduling, database_url: str
) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    first = await scheduling.telebridge(moscow, vladivostok, title="Первый")
    second = await scheduling.telebridge(
        moscow,
        vladivostok,
        title="Второй",
        starts_at="2030-10-02T11:00:00+03:00",
        ends_at="2030-10-02T13:00:00+03:00",
    )
    _, cursor = await _drain(scheduling, None)

    slow = await asyncpg.connect(database_url)
    try:
        transaction = slow.transaction()
        await transaction.start()
        # Begins first, commits last: its change is older than the cancellation's.
        await slow.execute(
            "UPDATE scheduling.meetings SET title = 'Первый, переименован' WHERE id = $1",
            first["id"],
        )
        body(await scheduling.client.post(f"/meetings/{second['id']}/cancel"))

        seen, cursor = await _drain(scheduling, cursor)
        assert seen == [], "nothing is handed out past a transaction still running"

        await transaction.commit()
    finally:
        await slow.close()

    seen, cursor = await _drain(scheduling, cursor)
    assert [(meeting["id"], meeting["title"], meeting["status"]) for meeting in seen] == [
        (first["id"], "Первый, переименован", "scheduled"),
        (second["id"], "Второй", "cancelled"),
    ]
    assert (await _drain(scheduling, cursor))[0] == []


async def test_the_feed_is_narrowed_by_status_organization_and_what_the_key_may_see(
    scheduling: Scheduling,
) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    lipetsk = await scheduling.organization(
        "Липецкая областная библиотека", "RU-LIP", "Europe/Moscow"
    )
    ours = await scheduling.telebridge(moscow, vladivostok, title="Наш")
    theirs = await scheduling.telebridge(
        lipetsk,
        vladivostok,
        title="Чужой",
        public=False,
        starts_at="2030-10-02T11:00:00+03:00",
        ends_at="2030-10-02T13:00:00+03:00",
    )
    body(await scheduling.client.post(f"/meetings/{theirs['id']}/cancel"))

    by_status, _ = await _drain(scheduling, None, status="cancelled")
    assert [meeting["id"] for meeting in by_status] == [theirs["id"]]
    by_site, _ = await _drain(scheduling, None, organization_id=str(moscow))
    assert [meeting["id"] for meeting in by_site] == [ours["id"]]

    partner = await scheduling.partner_key(moscow)
    page = body(
        await scheduling.client.get("/meetings", params={"updated_since": PAST}, headers=partner)
    )
    assert [meeting["id"] for meeting in page["items"]] == [ours["id"]]
    asked_for_another = body(
        await scheduling.client.get(
            "/meetings",
            params={"updated_since": PAST, "organization_id": str(lipetsk)},
            headers=partner,
        )
    )
    assert asked_for_another["items"] == []


async def test_a_cursor_of_one_order_is_refused_in_the_other(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    for number in (1, 2):
        await scheduling.telebridge(
            moscow,
            vladivostok,
            starts_at=f"2030-10-0{number}T11:00:00+03:00",
            ends_at=f"2030-10-0{number}T13:00:00+03:00",
        )
    by_id = body(await scheduling.client.get("/meetings", params={"limit": 1}))
    problem(
        await scheduling.client.get(
            "/meetings", params={"cursor": by_id["next_cursor"], "updated_since": PAST}
        ),
        422,
        "validation",
        field="cursor",
    )
    for not_an_instant in ("yesterday", "0.5", "2030-10-01T09:00:00", "2030-13-01T09:00:00Z"):
        problem(
            await scheduling.client.get("/meetings", params={"updated_since": not_an_instant}),
            400,
            "validation",
            field="updated_since",
        )
