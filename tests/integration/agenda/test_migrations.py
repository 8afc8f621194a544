"""An agenda put before versions existed survives the move to versions: it becomes version
1, published, readable as scheduled items and as items written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.agenda import store
from services.agenda.app import DEFINITION
from shared.db import connect
from shared.events import new_id
from shared.migrations import KERNEL_MIGRATIONS, discover, migrate
from shared.settings import DatabaseSettings

STARTS = datetime(2023, 8, 25, 8, 0, tzinfo=UTC)


async def test_an_agenda_from_before_versions_becomes_version_one(database_url: str) -> None:
    sources = [("shared", KERNEL_MIGRATIONS), *DEFINITION.read_models]
    sources.append((DEFINITION.name, DEFINITION.migrations))
    migrations = [migration for source in sources for migration in discover(*source)]
    before = [m for m in migrations if (m.source, m.version) != ("agenda", "0002_agenda_versions")]
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

        assert await migrate(connection, "agenda", migrations) == ["agenda/0002_agenda_versions"]

        head = await store.agenda(connection, meeting_id)
        assert head is not None
        assert (head["latest_version"], head["published_version"], head["event_version"]) == (
            1,
            1,
            2,
        )
        version = await store.published_version(connection, meeting_id)
        items = store.items_of(version)
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
        written = store.written_of(version)
        assert [(w.title, w.duration) for w in written] == [
            ("Открытие", timedelta(minutes=100)),
            ("Перспективы сотрудничества", timedelta(minutes=20)),
        ]
        assert datetime.fromisoformat(written[0].at or "") == STARTS
    finally:
        await connection.close()
