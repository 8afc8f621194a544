"""How fast scheduling takes in sign-ups and mails their invites.

    uv run python bench/scheduling_consumer.py [--burst 1000] [--rate 100] [--seconds 5]
        [--meetings 20]

Starts its own embedded PostgreSQL (durable, as `telebridge dev` runs it), NATS and SMTP
sink, and scheduling as a process of its own. Sign-ups are published as the registry's
relay would (a person and their registration), spread over `--meetings` meetings:

- burst: `--burst` sign-ups at once; events a second until every registration is in the
  read model, and mails a second until every invite has left;
- steady: `--rate` sign-ups a second for `--seconds`; per sign-up, the time from its
  publication to the attendee being in the read model (feeds and invites read it) and to
  the invite's arrival at the SMTP server, p50 and p99.

Numbers, not assertions: compare runs on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec
import nats
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from telebridge.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from tests import events

OPERATOR_KEY = "bench-operator-key"
HEADERS = {"Authorization": f"Bearer {OPERATOR_KEY}"}


class Arrivals:
    """An SMTP server that notes when each recipient's mail arrives."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        del server, session
        for recipient in envelope.rcpt_tos:
            self.at.setdefault(recipient, time.perf_counter())
        return "250 OK"


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 300) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.01)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def publish(js: Any, *items: Any) -> None:
    for event in items:
        await js.publish(
            event.subject,
            msgspec.json.encode(event),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )


async def registered(database: asyncpg.Connection) -> set[UUID]:
    rows = await database.fetch(
        "SELECT person_id FROM scheduling.registrations WHERE status = 'registered'"
    )
    return {row["person_id"] for row in rows}


async def watch(database: asyncpg.Connection, seen: dict[UUID, float]) -> None:
    while True:
        now = time.perf_counter()
        for person_id in await registered(database):
            seen.setdefault(person_id, now)
        await asyncio.sleep(0.002)


async def setup(base: str, js: Any, meetings: int) -> tuple[UUID, list[str]]:
    host = events.organization("Библиотека", "Липецкая область", "Europe/Moscow")
    other = events.organization("Библиотека", "Приморский край", "Asia/Vladivostok")
    await publish(js, host, other)
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=30) as client:
        while len(ids) < meetings:
            day = 1 + len(ids)
            response = await client.post(
                "/meetings",
                json={
                    "title": f"Телемост № {day}",
                    "kind": "telebridge",
                    "host_organization_id": str(host.aggregate_id),
                    "sites": [{"organization_id": str(other.aggregate_id)}],
                    "starts_at": f"2031-{1 + day // 28:02d}-{1 + day % 28:02d}T11:00:00+03:00",
                    "ends_at": f"2031-{1 + day // 28:02d}-{1 + day % 28:02d}T12:00:00+03:00",
                    "force": True,
                },
            )
            if response.status_code == 201:
                ids.append(response.json()["id"])
            else:
                await asyncio.sleep(0.1)  # the organizations are not known yet
    return host.aggregate_id, ids


async def measure(args: argparse.Namespace, database_url: str, nats_url: str) -> None:
    arrivals = Arrivals()
    smtp_port = free_port()
    controller = Controller(arrivals, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    http_port = free_port()
    environment = os.environ | {
        "TELEBRIDGE_DATABASE_URL": database_url,
        "TELEBRIDGE_NATS_URL": nats_url,
        "TELEBRIDGE_AUTH_OPERATOR_KEY": OPERATOR_KEY,
        "TELEBRIDGE_SCHEDULING_HTTP_PORT": str(http_port),
        "TELEBRIDGE_SCHEDULING_SMTP_PORT": str(smtp_port),
        "TELEBRIDGE_LOG_LEVEL": "warning",
    }
    profiler = ["-m", "pyinstrument", "-o", args.profile] if args.profile else []
    service = await asyncio.create_subprocess_exec(
        sys.executable, *profiler, "-m", "services.scheduling", env=environment
    )
    client = await nats.connect(nats_url)
    database = await asyncpg.connect(database_url)
    try:
        base = f"http://127.0.0.1:{http_port}"
        async with httpx.AsyncClient(base_url=base) as probe:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/health/ready")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
        js = client.jetstream()
        organization, meetings = await setup(base, js, args.meetings)

        def sign_ups(count: int) -> list[tuple[Any, Any]]:
            return [
                events.signed_up(UUID(meetings[n % len(meetings)]), organization, f"Гость {n}")
                for n in range(count)
            ]

        await burst(args, js, database, arrivals, sign_ups(args.burst))
        await steady(args, js, database, arrivals, sign_ups(args.rate * args.seconds))
    finally:
        service.send_signal(signal.SIGINT)  # pyinstrument writes its profile on SIGINT
        await service.wait()
        await database.close()
        await client.close()
        controller.stop()


async def burst(
    args: argparse.Namespace,
    js: Any,
    database: asyncpg.Connection,
    arrivals: Arrivals,
    sign_ups: list[tuple[Any, Any]],
) -> None:
    started = time.perf_counter()
    for person, registration in sign_ups:
        await publish(js, person, registration)
    wanted = {person.aggregate_id for person, _ in sign_ups}

    async def all_applied() -> bool:
        return wanted <= await registered(database)

    await until(all_applied)
    applied = time.perf_counter() - started
    addresses = {person.email for person, _ in sign_ups}

    async def all_mailed() -> bool:
        return addresses <= arrivals.at.keys()

    await until(all_mailed)
    mailed = time.perf_counter() - started
    print(
        f"burst of {args.burst} sign-ups ({2 * args.burst} events, {args.meetings} meetings):"
        f" applied in {applied:.2f} s = {2 * args.burst / applied:.0f} events/s;"
        f" every invite sent after {mailed:.2f} s = {args.burst / mailed:.0f} mails/s"
    )


async def steady(
    args: argparse.Namespace,
    js: Any,
    database: asyncpg.Connection,
    arrivals: Arrivals,
    sign_ups: list[tuple[Any, Any]],
) -> None:
    seen: dict[UUID, float] = {}
    watcher = asyncio.create_task(watch(database, seen))
    published_at: dict[UUID, float] = {}
    started = time.perf_counter()
    for index, (person, registration) in enumerate(sign_ups):
        due = started + index / args.rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        published_at[person.aggregate_id] = time.perf_counter()
        await publish(js, person, registration)
    by_email = {person.email: person.aggregate_id for person, _ in sign_ups}

    async def all_arrived() -> bool:
        return published_at.keys() <= seen.keys() and by_email.keys() <= arrivals.at.keys()

    await until(all_arrived, 120)
    watcher.cancel()
    in_feed = [1000 * (seen[p] - at) for p, at in published_at.items() if p in seen]
    in_mail = [
        1000 * (arrivals.at[address] - published_at[person_id])
        for address, person_id in by_email.items()
        if address in arrivals.at
    ]
    for what, values in (("in the read model", in_feed), ("invite at SMTP", in_mail)):
        print(
            f"steady {args.rate}/s for {args.seconds} s: {what}: {len(values)}/{len(sign_ups)},"
            f" p50 {statistics.median(values):.0f} ms, p99 {percentile(values, 0.99):.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--meetings", type=int, default=20)
    parser.add_argument("--profile", help="write a pyinstrument profile of scheduling here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scheduling-") as folder:
        postgres = EmbeddedPostgres(Path(folder) / "postgres")
        postgres.start()
        broker = EmbeddedNats(Path(folder) / "nats")
        broker.start()
        try:
            asyncio.run(measure(args, postgres.url(), broker.url))
        finally:
            broker.kill()
            postgres.stop()


if __name__ == "__main__":
    main()
