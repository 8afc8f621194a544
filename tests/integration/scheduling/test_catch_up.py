"""An id the registry has just created, before its event reaches scheduling: scheduling
asks the registry, waits for the event, and answers 503 with Retry-After if it does not
come in time, never a 404 or 422 that looks permanent."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import nats
import pytest
from nats.aio.msg import Msg

from services.scheduling.app import create_app
from shared.bus.jetstream import flushed
from shared.events import OrganizationUpserted, new_id
from shared.readmodels.catchup import ExistsAnswer, ExistsQuery, exists_subject
from shared.settings import SchedulingSettings, SmtpSettings
from telebridge.embedded import free_port
from tests.integration.api import body, problem, publish
from tests.integration.scheduling.support import telebridge
from tests.support import OPERATOR, Harness, harness, settings_for


@pytest.fixture
async def scheduling(database_url: str, nats_url: str) -> AsyncIterator[Harness]:
    settings = settings_for(
        SchedulingSettings,
        database_url,
        nats_url,
        smtp=SmtpSettings(port=free_port()),
        catch_up_timeout=1.0,
    )
    async with harness(create_app(settings), database_url, nats_url) as running:
        running.client.headers.update(OPERATOR)
        yield running


@pytest.fixture
def registry_knows(nats_url: str) -> Iterator[set[str]]:
    """The registry's answer to "does this id exist?": yes for the ids in the set.

    It answers from a thread of its own: the test client blocks the test's event loop
    while the app, in another thread, waits for the answer.
    """
    created: set[str] = set()
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        client = await nats.connect(nats_url)

        async def answer(message: Msg) -> None:
            query = msgspec.json.decode(message.data, type=ExistsQuery)
            await message.respond(msgspec.json.encode(ExistsAnswer(query.id in created)))

        await client.subscribe(exists_subject("registry"), cb=answer)
        await flushed(client)
        ready.set()
        await asyncio.to_thread(stop.wait)
        await client.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield created
    finally:
        stop.set()
        thread.join(10)


async def test_an_organization_on_its_way_is_a_503_until_its_event_arrives(
    scheduling: Harness, registry_knows: set[str], tmp_path: Path
) -> None:
    organization = OrganizationUpserted(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        name="Камчатская краевая научная библиотека",
        region="Камчатский край",
        timezone="Asia/Kamchatka",
    )
    registry_knows.add(str(organization.aggregate_id))
    meeting = telebridge(organization.aggregate_id, kind="videoconference", force=True)

    waited = await scheduling.client.post("/meetings", json=meeting)
    document = problem(waited, 503, "not-yet-known")
    assert waited.headers["retry-after"] == "1"
    assert str(organization.aggregate_id) in document["detail"]

    # Never created anywhere: the registry says so, and it is the usual answer at once.
    unknown = await scheduling.client.post(
        "/meetings", json=telebridge(new_id(), kind="videoconference", force=True)
    )
    problem(unknown, 422, "unknown-organization")

    await publish(scheduling.js, organization)
    body(await scheduling.client.post("/meetings", json=meeting), 201)
