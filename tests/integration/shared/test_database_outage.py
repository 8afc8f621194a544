"""A PostgreSQL outage is waited out: events held, not dead-lettered; requests get 503."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import nats

from services.scheduling.app import create_app
from shared.events import DEADLETTER, OrganizationUpserted, new_id
from shared.settings import SchedulingSettings
from telebridge.embedded import EmbeddedPostgres
from tests.support import eventually, serving, settings_for


async def test_a_database_outage_holds_events_and_answers_503(
    own_postgres: EmbeddedPostgres, nats_url: str
) -> None:
    settings = settings_for(SchedulingSettings, own_postgres.url(), nats_url)
    client = await nats.connect(nats_url)
    js = client.jetstream()
    try:
        async with serving(create_app(settings)) as http:
            assert (await http.get("/health/ready")).status_code == 200
            await asyncio.to_thread(own_postgres.stop)

            events = [
                OrganizationUpserted(
                    aggregate_id=new_id(),
                    aggregate_version=1,
                    name=name,
                    region="Тульская область",
                    timezone="Europe/Moscow",
                )
                for name in ("Тульская областная детская библиотека", "Библиотека Ясной Поляны")
            ]
            for event in events:
                await js.publish(event.subject, msgspec.json.encode(event))

            ready = await http.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["postgres"] != "ok"
            assert ready.json()["missing"] == ["postgres"]
            listing = await http.get("/meetings")
            assert listing.status_code == 503
            assert listing.headers["content-type"] == "application/problem+json"
            assert listing.headers["retry-after"] == "5"

            # Long enough for three failed deliveries to have dead-lettered them.
            await asyncio.sleep(3)
            await asyncio.to_thread(own_postgres.start)

            async def applied() -> bool:
                response = await http.get("/health/ready")
                if response.status_code != 200:
                    return False
                database = await asyncpg.connect(own_postgres.url())
                try:
                    count = await database.fetchval(
                        "SELECT count(*) FROM scheduling.organizations WHERE id = ANY($1::uuid[])",
                        [event.aggregate_id for event in events],
                    )
                finally:
                    await database.close()
                return bool(count == 2)

            await eventually(applied, timeout=30)
        info = await js.stream_info(DEADLETTER.name)
        assert info.state.messages == 0
    finally:
        await client.close()
