"""Agendas and summaries written before versions existed survive the move to versions: each
becomes version 1, published; an agenda readable as scheduled items and as items written,
a summary as what it said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.agenda.agendas import store
from services.agenda.agendas.store import AGENDAS
from services.agenda.app import DEFINITION
from services.agenda.summaries.store import SUMMARIES
from services.agenda.versions import store as versions
from shared.db import connect
from shared.events import new_id
from shared.migrations import KERNEL_MIGRATIONS, Migration, discover, migrate
from shared.settings import DatabaseSettings

STARTS = datetime(2023, 8, 25, 8, 0, tzinfo=UTC)


def migrations_before(version: str) -> tuple[list[Migration], list[Migration]]:
    """Every migration of the service, and those but `version` of its own and the ones
    after it (which may need what it makes)."""
    sources = [("shared", KERNEL_MIGRATIONS), *DEFINITION.read_models]
    sources.append((DEFINITION.name, DEFINITION.migrations))
    migrations = [migration for source in sources for migration in discover(*source)]
    return migrations, [m for m in migrations if m.source != "agenda" or m.version < version]


async def test_an_agenda_from_before_versions_becomes_version_one(database_url: str) -> None:
    migrations, before = migrations_before("0002_agenda_versions")
    connection = await connect(DatabaseSettings(url=database_url), "agenda")
    try:
        await migrate(connection, "agenda", before)
        meeting_id, host = new_id(), new_id()
        await connection.execute(
            "INSERT INTO organizations (id, name, region, timezone, version) "
            "VALUES ($1, 'Библиотека Георгиевска', 'Ставропольский край', 'Europe/Moscow', 1)",
            host,
        )
        await connection.execute(
            "INSERT INTO meetings (id, title, kind, status, host_organization_id, "
            "organization_ids, starts_at, ends_at, version) "
            "VALUES ($1, 'Телемост', 'telebridge', 'ended', $2, ARRAY[$2]::uuid[], $3, $4, 3)",
            meeting_id,
            host,
            STARTS,
            STARTS + timedelta(hours=2),
        )
        old_items = [
            {
                "starts_at": "2023-08-25T11:00:00+03:00",
                "title": "Открытие",
                "speakers": ["Умеренко С. В."],
            },
            {"starts_at": "2023-08-25T12:40:00+03:00", "title": "Перспективы сотрудничества"},
        ]
        await connection.execute(
            "INSERT INTO agendas (meeting_id, id, items, version) VALUES ($1, $2, $3, 2)",
            meeting_id,
            new_id(),
            old_items,
        )

        applied = await migrate(connection, "agenda", migrations)
        assert applied[0] == "agenda/0002_agenda_versions"

        head = await versions.head(connection, AGENDAS, meeting_id)
        assert head is not None
        assert (head.latest_version, head.published_version, head.event_version) == (
            1,
            1,
            2,
        )
        version = await versions.published_version(connection, AGENDAS, meeting_id)
        assert version is not None
        items = version.items
        assert [(i.title, i.starts_at, i.ends_at) for i in items] == [
            ("Открытие", STARTS, STARTS + timedelta(minutes=100)),
            (
                "Перспективы сотрудничества",
                STARTS + timedelta(minutes=100),
                STARTS + timedelta(hours=2),
            ),
        ]
        assert items[0].speakers[0].name == "Умеренко С. В."
        assert items[0].speakers[0].external
        assert {i.session_id for i in items} == {meeting_id}
        assert {i.timezone for i in items} == {"Europe/Moscow"}
        assert version is not None
        written = version.written
        assert [(w.title, w.duration) for w in written] == [
            ("Открытие", timedelta(minutes=100)),
            ("Перспективы сотрудничества", timedelta(minutes=20)),
        ]
        assert datetime.fromisoformat(written[0].at or "") == STARTS
    finally:
        await connection.close()


async def test_a_summary_from_before_versions_becomes_version_one_published(
    database_url: str,
) -> None:
    migrations, before = migrations_before("0003_summary_versions")
    connection = await connect(DatabaseSettings(url=database_url), "agenda")
    try:
        await migrate(connection, "agenda", before)
        meeting_id, summary_id = new_id(), new_id()
        written_at = datetime(2023, 8, 25, 11, 0, tzinfo=UTC)
        old_content = {
            "meeting_id": str(meeting_id),
            "title": "Телемост",
            "kind": "telebridge",
            "timezone": "Europe/Moscow",
            "held_from": "2023-08-25T08:00:00Z",
            "held_until": "2023-08-25T10:00:00Z",
            "participants": 12,
            "organizations": [
                {
                    "id": str(new_id()),
                    "name": "Библиотека Георгиевска",
                    "region": "Ставропольский край",
                    "participants": 12,
                    "site": True,
                }
            ],
            "regions": ["Ставропольский край"],
            "items_delivered": [
                {"starts_at": "2023-08-25T08:00:00Z", "title": "Открытие", "speakers": []}
            ],
        }
        await connection.execute(
            "INSERT INTO summaries (meeting_id, id, content, version, published_at) "
            "VALUES ($1, $2, $3, 4, $4)",
            meeting_id,
            summary_id,
            old_content,
            written_at,
        )

        applied = await migrate(connection, "agenda", migrations)
        assert applied[0] == "agenda/0003_summary_versions"

        head = await versions.head(connection, SUMMARIES, meeting_id)
        assert head is not None
        assert (head.id, head.latest_version, head.published_version) == (
            summary_id,
            1,
            1,
        )
        assert (head.event_version, head.published_at) == (4, written_at)
        version = await versions.version(connection, SUMMARIES, meeting_id, 1)
        assert version is not None
        content = version.content
        assert (content.participants, content.attended, content.sessions) == (12, 0, [])
        assert content.items_delivered[0].title == "Открытие"
        assert version.outcomes.ru is None
        assert version.created_by == "before versions"
        rewrite = "SELECT count(*) FROM summary_requests WHERE meeting_id = $1"
        assert await connection.fetchval(rewrite, meeting_id) == 1  # it may say more now
    finally:
        await connection.close()


async def test_speakers_of_versions_written_before_get_their_frab_numbers(
    database_url: str,
) -> None:
    migrations, before = migrations_before("0004_published_identities")
    connection = await connect(DatabaseSettings(url=database_url), "agenda")
    try:
        await migrate(connection, "agenda", before)
        meeting_id, person_id = new_id(), new_id()
        registered = {"person_id": str(person_id), "name": "Ким Анна", "organization": "ПКПБ"}
        external = {"name": "Умеренко С. В.", "external": True}
        by_organization = {"organization": "ЛОДБ", "external": True}

        def item(minutes: int, speakers: list[dict[str, object]]) -> dict[str, object]:
            return {
                "title": "Доклад",
                "kind": "talk",
                "key": None,
                "starts_at": (STARTS + timedelta(minutes=minutes)).isoformat(),
                "ends_at": (STARTS + timedelta(minutes=minutes + 10)).isoformat(),
                "timezone": "Europe/Moscow",
                "session_id": str(meeting_id),
                "track": None,
                "speakers": speakers,
                "materials": [],
            }

        for version, items in enumerate(
            [[item(0, [external, registered])], [item(0, [registered]), item(20, [external])]],
            start=1,
        ):
            await connection.execute(
                "INSERT INTO agenda_versions (meeting_id, version, items, written, created_by) "
                "VALUES ($1, $2, $3, '[]', 'operator')",
                meeting_id,
                version,
                items,
            )
        await connection.execute(
            "INSERT INTO agenda_versions (meeting_id, version, items, written, created_by) "
            "VALUES ($1, 3, $2, '[]', 'operator')",
            meeting_id,
            [item(40, [by_organization])],
        )

        applied = await migrate(connection, "agenda", migrations)
        assert applied == ["agenda/0004_published_identities"]

        rows = await connection.fetch(
            "SELECT number, person_id, name, organization FROM agenda_speakers ORDER BY number"
        )
        # Once each, a registered person by id alone, in the order they were first written.
        found = [(r["person_id"], r["name"], r["organization"]) for r in rows]
        assert sorted(found[:2], key=str) == sorted(
            [(person_id, None, None), (None, "Умеренко С. В.", None)], key=str
        )
        assert found[2:] == [(None, None, "ЛОДБ")]
        numbers = await store.speaker_numbers(connection, found)
        assert sorted(numbers.values()) == [r["number"] for r in rows]
    finally:
        await connection.close()
