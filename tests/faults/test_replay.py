"""Every event delivered again after JetStream's duplicate window (here: under a new
Nats-Msg-Id, which the window does not recognise) changes nothing in any service and sends
no mail: consumers know each event by its id."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from shared.events import AGENDA, REGISTRY, SCHEDULING
from tests.faults.effects import SCHEMAS, wait_until_quiet
from tests.faults.mailbox import Mailbox
from tests.faults.stack import Stack, in_keeper
from tests.faults.traffic import Ledger, Traffic, prepare
from tests.support import stream_messages

pytestmark = pytest.mark.faults

BOOKKEEPING = ("outbox", "inbox", "aggregate_versions", "idempotent_requests", "schema_migrations")
"""Tables of the event plumbing itself, not of what a service knows."""


def mails_to(mailbox: Mailbox, recipients: list[str]) -> list[str]:
    return [invite.message_id for invite in mailbox.invites() if invite.recipient in recipients]


SHOWN = {"scheduling.outgoing_mail": "id, dedupe_key"}
"""Columns compared where the rest changes by itself (a lease of an earlier scenario's mail
expiring): which mails are queued, not when they leave."""


async def state_of(database_url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table of every service, as text, sorted."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'"
            " AND NOT table_name = ANY($2::text[]) ORDER BY 1, 2",
            list(SCHEMAS),
            list(BOOKKEEPING),
        )
        state: dict[str, list[tuple[str, ...]]] = {}
        for table in tables:
            name = f"{table['table_schema']}.{table['table_name']}"
            rows = await connection.fetch(f"SELECT {SHOWN.get(name, '*')} FROM {name}")
            state[name] = sorted(tuple(str(value) for value in row.values()) for row in rows)
        return state
    finally:
        await connection.close()


async def replay_every_event(nats_url: str) -> int:
    """Publish every message of the event streams again, as new messages; how many."""
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        replayed = 0
        for stream in (REGISTRY, SCHEDULING, AGENDA):
            for message in await stream_messages(js, stream):
                headers: dict[str, Any] = dict(message.headers or {})
                headers["Nats-Msg-Id"] = f"replay-{stream.name}-{message.seq}"
                await js.publish(message.subject, message.data, headers=headers)
                replayed += 1
        return replayed
    finally:
        await client.close()


@pytest.mark.timeout(180)
async def test_replaying_every_event_changes_nothing(stack: Stack) -> None:
    await in_keeper(Stack.wait_ready, stack)
    urls = {name: stack.url(name) for name in stack.services}
    ledger = Ledger()
    async with httpx.AsyncClient(timeout=10) as client:
        await prepare(client, ledger, urls, people=8, meetings=2, tag="replay")
        traffic = Traffic(client, ledger, urls, seed=15)
        running = asyncio.ensure_future(traffic.run(2))
        try:
            await traffic.wait_for(30)
        finally:
            traffic.stopping.set()
            await running
    assert not ledger.failures, ledger.failures
    # Mail of the scenarios before this one may still wait for its lease to expire.
    recipients = list(ledger.people.values())
    quiet = await wait_until_quiet(stack.database_url, stack.nats.admin_url, 60, recipients)
    assert quiet.quiet, str(quiet)
    before = await state_of(stack.database_url)
    mails = mails_to(stack.mailbox, recipients)

    replayed = await replay_every_event(stack.nats.admin_url)
    assert replayed > 30
    quiet = await wait_until_quiet(stack.database_url, stack.nats.admin_url, 60, recipients)
    assert quiet.quiet, str(quiet)
    after = await state_of(stack.database_url)

    changed = {
        table for table in before.keys() | after.keys() if before.get(table) != after.get(table)
    }
    assert not changed, f"replaying {replayed} events changed {sorted(changed)}"
    assert mails_to(stack.mailbox, recipients) == mails, "replayed events sent mail again"
