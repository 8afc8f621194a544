"""One fault at a time under steady partner traffic: afterwards every accepted request has
its effect in every service, once; nothing waits in an outbox, the mail queue or the
dead letters; every person's last mail says what the meeting is now.

Each scenario has people and meetings of its own in one shared system. Its row in the
table gives the requests the services accepted, the effects checked, how many were lost
(missing, stale, or never done) and doubled, the mails resent because their sender was
killed between the SMTP server's "250" and marking them sent (the same Message-ID, at most
one per sender at work), and the recovery: seconds from the repair until nothing is left
to do, the traffic going on for `AFTER` more requests meanwhile. A webhook receiver down
for a while is tested on its own, in tests/integration/registry/test_webhooks.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.faults.effects import backlog, check_effects, wait_until_quiet
from tests.faults.report import ROWS, Row
from tests.faults.stack import Stack, in_keeper
from tests.faults.traffic import Ledger, Traffic, prepare

pytestmark = pytest.mark.faults

PARTNERS = 4
PEOPLE = 12
MEETINGS = 4
BEFORE = 8
"""Requests accepted before the fault, so that it hits work in flight."""
AFTER = 8
"""Requests accepted after the repair, before the traffic stops."""
QUIET_WITHIN = 60.0


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Stack], None]
    repair: Callable[[Stack], None]
    lasts: float
    """Seconds between the fault and its repair, the traffic going on meanwhile."""
    busy: str | None = None
    """Strike once this service has work in hand (events to publish or to apply, mail to
    send), so that it dies in the middle of a batch."""

    @property
    def kills_mail_sender(self) -> bool:
        """Whether the fault may cut the sender between the SMTP server's "250" and
        marking the mail sent: that one mail may be sent again, as the design allows."""
        return self.name.startswith("SIGKILL") and self.busy == "scheduling"

    @property
    def tag(self) -> str:
        """Names this scenario's people apart from the others' in the shared system."""
        return "".join(letter for letter in self.name.lower() if letter.isalnum())[:24]


def _refuse_mail(stack: Stack) -> None:
    stack.mailbox.refusing = True


def _accept_mail(stack: Stack) -> None:
    stack.mailbox.refusing = False


FAULTS = [
    Fault("SIGKILL nats-server", Stack.kill_nats, Stack.start_nats, 2.0),
    Fault("PostgreSQL restart", lambda s: s.postgres.stop(), lambda s: s.postgres.start(), 1.0),
    *(
        Fault(
            f"SIGKILL {name}",
            lambda s, name=name: s.kill_service(name),
            lambda s, name=name: s.start_service(name),
            1.0,
            busy=name,
        )
        for name in ("registry", "scheduling", "agenda")
    ),
    Fault("SMTP refusing (451), then accepting", _refuse_mail, _accept_mail, 3.0),
]


async def until_busy(stack: Stack, service: str, timeout: float = 5.0) -> None:
    """Until `service` has events or mail in hand (or `timeout` passed: strike anyway)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        figures = (await backlog(stack.database_url, stack.nats.admin_url)).figures
        mail = figures["mail unsent"] if service == "scheduling" else 0
        if mail or any(count for name, count in figures.items() if name.startswith(service)):
            return
        await asyncio.sleep(0.02)


@pytest.fixture(params=FAULTS, ids=[fault.name for fault in FAULTS])
def fault(request: pytest.FixtureRequest) -> Fault:
    chosen: Fault = request.param
    return chosen


@pytest.mark.timeout(240)
async def test_nothing_lost_or_doubled(fault: Fault, stack: Stack) -> None:
    await in_keeper(Stack.wait_ready, stack)
    urls = {name: stack.url(name) for name in stack.services}
    ledger = Ledger()
    async with httpx.AsyncClient(timeout=10) as client:
        await prepare(client, ledger, urls, people=PEOPLE, meetings=MEETINGS, tag=fault.tag)
        traffic = Traffic(client, ledger, urls, seed=15)
        running = asyncio.ensure_future(traffic.run(PARTNERS))
        try:
            await traffic.wait_for(BEFORE)
            if fault.busy:
                await until_busy(stack, fault.busy)
            await in_keeper(fault.inject, stack)
            struck = time.monotonic()
            await asyncio.sleep(fault.lasts)
            await in_keeper(fault.repair, stack)
            repaired = time.monotonic()
            await traffic.wait_for(ledger.accepted + AFTER)
        finally:
            traffic.stopping.set()
            await running
    # Mail of earlier scenarios may still be waiting for a lease to expire: not this one's.
    recipients = sorted(ledger.people.values())
    backlog = await wait_until_quiet(
        stack.database_url, stack.nats.admin_url, QUIET_WITHIN, recipients
    )
    recovery = time.monotonic() - repaired if backlog.quiet else None
    tally = await check_effects(
        ledger,
        urls,
        stack.database_url,
        stack.nats.admin_url,
        stack.mailbox,
        sender_killed_at=struck if fault.kills_mail_sender else None,
    )
    ROWS.append(
        Row(fault.name, ledger.accepted, tally.checked, len(tally.lost), len(tally.doubled),
            len(tally.resent), recovery)
    )  # fmt: skip
    problems = [f"refused or unanswered: {failure}" for failure in ledger.failures]
    if not backlog.quiet:
        problems.append(f"not quiet {QUIET_WITHIN:g}s after the repair: {backlog}")
    problems += [f"lost: {what}" for what in tally.lost]
    problems += [f"doubled: {what}" for what in tally.doubled]
    assert not problems, "\n".join(problems)
