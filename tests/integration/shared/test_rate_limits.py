"""Rate limits, counted in PostgreSQL: per key by its role, per address without a key, the
same count for every replica, a 429 problem with Retry-After over the limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from uuid import UUID

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send

from services.scheduling.app import create_app
from shared.events import new_id
from shared.keys import SCOPES, generate_key
from shared.settings import RateLimitSettings, SchedulingSettings
from tests.integration.api import PROBLEM_JSON, PROBLEM_TYPE_BASE
from tests.support import OPERATOR, bearer, serving, settings_for

LIMITS = RateLimitSettings(
    window=60.0, partner=3, operator=0, admin=0, public=2, trusted_proxies="10.0.0.0/8"
)
"""A partner key may send 3 requests a minute, an address without a key 2, staff any."""

_ADD_KEY = """
INSERT INTO scheduling.api_keys (id, prefix, secret_sha256, role, organization_id, scopes, version)
VALUES ($1, $2, $3, 'partner', $4, $5, 1)
"""


async def partner_key(database_url: str) -> dict[str, str]:
    """Headers with a new partner key, written into the service's read model of keys."""
    key = generate_key()
    database = await asyncpg.connect(database_url)
    try:
        await database.execute(
            _ADD_KEY, new_id(), key.prefix, key.secret_sha256, new_id(), list(SCOPES)
        )
    finally:
        await database.close()
    return bearer(key.secret)


@asynccontextmanager
async def replicas(
    database_url: str, nats_url: str, count: int, limits: RateLimitSettings = LIMITS
) -> AsyncIterator[list[AsyncTestClient[Litestar]]]:
    """`count` replicas of scheduling on one database, each in its own app."""
    settings = settings_for(SchedulingSettings, database_url, nats_url, rate_limit=limits)
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(serving(with_peers(create_app(settings))))
            for _ in range(count)
        ]


def with_peers(app: Litestar) -> Litestar:
    """The app, taking each request sent with `X-Test-Peer` as one that came over a socket
    from that address (the test client's all come from "testclient")."""
    handler = app.asgi_handler

    async def from_peer(scope: Scope, receive: Receive, send: Send) -> None:
        peer = dict(scope["headers"]).get(b"x-test-peer")
        if peer is not None:
            scope["client"] = (peer.decode(), 40000)
        await handler(scope, receive, send)

    app.asgi_handler = from_peer
    return app


def peer(address: str, forwarded_for: str | None = None) -> dict[str, str]:
    """Headers of a request from `address`, which says it forwards one from `forwarded_for`."""
    headers = {"X-Test-Peer": address}
    return headers if forwarded_for is None else headers | {"X-Forwarded-For": forwarded_for}


def assert_refused(response: httpx.Response, policy: str) -> int:
    """The answer over a limit; returns its Retry-After."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == f"{PROBLEM_TYPE_BASE}rate-limited"
    assert problem["title"] == "Too many requests"
    assert problem["status"] == 429
    assert problem["detail"].startswith(("this API key sent more", "your address sent more"))
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert response.headers["ratelimit-policy"] == policy
    assert ";r=0;" in response.headers["ratelimit"]
    return retry_after


async def test_a_key_over_its_limit_gets_429_and_other_keys_do_not(
    database_url: str, nats_url: str
) -> None:
    async with replicas(database_url, nats_url, 1) as [client]:
        first, second = await partner_key(database_url), await partner_key(database_url)

        answers = [await client.get("/meetings", headers=first) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert answers[0].headers["ratelimit-policy"] == '"partner";q=3;w=60'
        assert [answer.headers["ratelimit"].split(";")[1] for answer in answers] == [
            "r=2",
            "r=1",
            "r=0",
        ]
        assert_refused(await client.get("/meetings", headers=first), '"partner";q=3;w=60')
        # A refused request counts for nothing: the key stays refused, not further behind.
        assert_refused(await client.get("/meetings", headers=first), '"partner";q=3;w=60')

        assert (await client.get("/meetings", headers=second)).status_code == 200
        staff = await client.get("/meetings", headers=OPERATOR)  # operator: 0, unlimited
        assert staff.status_code == 200
        assert "ratelimit" not in staff.headers
        for _ in range(5):  # never limited, although the address is over its limit
            assert (await client.get("/health/ready")).status_code == 200


async def test_two_replicas_count_one_limit(database_url: str, nats_url: str) -> None:
    async with replicas(database_url, nats_url, 2) as [one, other]:
        key = await partner_key(database_url)
        answers = await asyncio.gather(
            *(replica.get("/meetings", headers=key) for replica in [one, other] * 6)
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] * 3 + [429] * 9


async def test_requests_without_a_key_are_limited_by_address(
    database_url: str, nats_url: str
) -> None:
    async with replicas(database_url, nats_url, 2) as [one, other]:
        feed, page = "/calendars/no-such-token", f"/meetings/{new_id()}/invite.ics"
        assert (await one.get(feed, headers=peer("198.51.100.1"))).status_code == 404
        assert (await other.get(page, headers=peer("198.51.100.1"))).status_code == 404
        assert_refused(await one.get(feed, headers=peer("198.51.100.1")), '"public";q=2;w=60')
        assert (await other.get(feed, headers=peer("198.51.100.2"))).status_code == 404

        # Behind a trusted proxy the client is the address the proxy saw.
        behind = peer("10.1.2.3", forwarded_for="203.0.113.9, 198.51.100.1")
        assert_refused(await other.get(feed, headers=behind), '"public";q=2;w=60')
        elsewhere = peer("10.1.2.3", forwarded_for="198.51.100.3")
        assert (await other.get(feed, headers=elsewhere)).status_code == 404
        # Anyone else's X-Forwarded-For is not read: the sender is counted.
        spoofed = peer("192.0.2.7", forwarded_for="198.51.100.9")
        assert (await one.get(feed, headers=spoofed)).status_code == 404
        assert (await one.get(feed, headers=spoofed)).status_code == 404
        assert_refused(await other.get(feed, headers=spoofed), '"public";q=2;w=60')
        assert (await one.get(feed, headers=peer("198.51.100.9"))).status_code == 404


async def test_requests_pass_again_after_retry_after(database_url: str, nats_url: str) -> None:
    # One request every 2 seconds, 3 at once: waiting Retry-After lets the next one through.
    limits = RateLimitSettings(window=6.0, partner=3, operator=0, admin=0, public=0)
    async with replicas(database_url, nats_url, 1, limits) as [client]:
        key = await partner_key(database_url)
        for _ in range(10):  # the machine may be slow enough for one to come back meanwhile
            response = await client.get("/meetings", headers=key)
            if response.status_code == 429:
                break
            assert response.status_code == 200
        retry_after = assert_refused(response, '"partner";q=3;w=6')
        assert retry_after <= 2
        await asyncio.sleep(retry_after)
        assert (await client.get("/meetings", headers=key)).status_code == 200


@pytest.mark.parametrize("role", ["partner", "public"])
async def test_zero_is_unlimited(database_url: str, nats_url: str, role: str) -> None:
    limits = RateLimitSettings(partner=0, public=0)
    async with replicas(database_url, nats_url, 1, limits) as [client]:
        headers = await partner_key(database_url) if role == "partner" else {}
        for _ in range(5):
            response = await client.get("/calendars/no-such-token", headers=headers)
            assert response.status_code == 404
            assert "ratelimit" not in response.headers


async def test_counters_live_in_the_database(database_url: str, nats_url: str) -> None:
    async with replicas(database_url, nats_url, 1) as [client]:
        key = await partner_key(database_url)
        await client.get("/meetings", headers=key)
        database = await asyncpg.connect(database_url)
        try:
            subjects = await database.fetch("SELECT subject FROM scheduling.rate_limits")
        finally:
            await database.close()
        assert len(subjects) == 1
        assert UUID(subjects[0]["subject"].removeprefix("key:"))
