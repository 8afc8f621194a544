"""Meetings kept before a migration read as the code after it expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.scheduling.app import DEFINITION
from shared.db import connect
from shared.events import new_id
from shared.migrations import KERNEL_MIGRATIONS, Migration, discover, migrate
from shared.settings import DatabaseSettings

STARTS = datetime(2030, 10, 1, 8, 0, tzinfo=UTC)


def migrations_around(version: str) -> tuple[list[Migration], list[Migration]]:
    """The migrations of the service up to `version`, and those before it."""
    sources = [("shared", KERNEL_MIGRATIONS), *DEFINITION.read_models]
    sources.append((DEFINITION.name, DEFINITION.migrations))
    migrations = [migration for source in sources for migration in discover(*source)]
    ours = DEFINITION.name
    upto = [m for m in migrations if m.source != ours or m.version <= version]
    return upto, [m for m in upto if m.source != ours or m.version < version]


async def test_agendas_published_before_link_their_page(database_url: str) -> None:
    """Agendas published before linked their JSON; invites and mails link the page."""
    migrations, before = migrations_around("0005_agenda_page_url")
    connection = await connect(DatabaseSettings(url=database_url), "scheduling")
    try:
        await migrate(connection, "scheduling", before)
        linked = {
            new_id(): f"http://127.0.0.1:8003/meetings/{new_id()}/agenda",
            new_id(): f"https://agenda.example/meetings/{new_id()}/agenda.html",
            new_id(): "https://library.example/agenda",
            new_id(): None,
        }
        for meeting_id, url in linked.items():
            await connection.execute(
                "INSERT INTO meetings (id, title, kind, host_organization_id, starts_at, "
                "ends_at, agenda_url) VALUES ($1, 'Телемост', 'telebridge', $2, $3, $4, $5)",
                meeting_id,
                new_id(),
                STARTS,
                STARTS + timedelta(hours=2),
                url,
            )

        assert await migrate(connection, "scheduling", migrations) == [
            "scheduling/0005_agenda_page_url"
        ]

        after = dict(await connection.fetch("SELECT id, agenda_url FROM meetings"))
        [old, page, elsewhere, none] = linked
        assert after[old] == f"{linked[old]}.html"
        assert (after[page], after[elsewhere], after[none]) == (
            linked[page],
            linked[elsewhere],
            None,
        )
    finally:
        await connection.close()
