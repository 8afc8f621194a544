"""What a count means for the client, who the client is, and what a dead database does."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from litestar.datastructures import State

from shared.access import Caller
from shared.http.ratelimit import (
    Limit,
    _check,
    _decide,
    client_address,
    decide,
    limit_of,
    policy_headers,
    subject_of,
    trusted_networks,
)
from shared.outages import OUTAGES
from shared.settings import AgendaSettings, RateLimitSettings, SettingsError, load_settings

LIMIT = Limit("partner", 3, 60.0)
"""Three at once, then one every 20 seconds."""


def gcra(limit: Limit, tat: float | None, now: float) -> tuple[bool, float]:
    """The database's `_CHECK` in Python: whether a request at `now` passes, and the TAT kept."""
    pushed = max(tat if tat is not None else now, now) + limit.interval
    allowed = pushed - now <= limit.window + 1e-6
    return allowed, pushed if allowed else (tat if tat is not None else now)


def test_a_limit_of_n_lets_n_through_at_once_then_one_per_interval() -> None:
    tat: float | None = None
    answers = []
    for now in (0.0, 0.0, 0.0, 0.0, 19.0, 20.0, 21.0, 40.0):
        allowed, tat = gcra(LIMIT, tat, now)
        answers.append(decide(LIMIT, tat, now, allowed=allowed))
    assert [answer.allowed for answer in answers] == [True] * 3 + [False, False, True] + [
        False,
        True,
    ]
    assert [answer.remaining for answer in answers[:3]] == [2, 1, 0]
    assert [answer.retry_after for answer in answers] == [0, 0, 0, 20, 1, 0, 19, 0]
    assert answers[2].reset == 60  # the whole limit is back a window after the burst


def test_the_limit_refills_at_its_rate_up_to_its_size() -> None:
    allowed, tat = gcra(LIMIT, None, 0.0)
    allowed, tat = gcra(LIMIT, tat, 1000.0)  # long after: a full limit again, not more
    assert decide(LIMIT, tat, 1000.0, allowed=allowed).remaining == 2


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    quick = Limit("public", 10, 1.0)
    tat = 1.0  # ten at t=0
    refused = decide(quick, tat, 0.95, allowed=False)
    assert refused.retry_after == 1
    assert refused.remaining == 0
    assert decide(quick, tat, 0.0, allowed=False).retry_after == 1


def test_each_role_has_its_limit_and_no_key_is_public() -> None:
    settings = RateLimitSettings(window=30.0, partner=1, operator=2, admin=3, public=4)
    partner = Caller(key_id=uuid4(), role="partner", organization_id=uuid4(), scopes=frozenset())
    configured = Caller(key_id=None, role="operator", organization_id=None, scopes=frozenset())
    admin = Caller(key_id=uuid4(), role="admin", organization_id=None, scopes=frozenset())
    assert limit_of(partner, settings) == Limit("partner", 1, 30.0)
    assert limit_of(configured, settings) == Limit("operator", 2, 30.0)
    assert limit_of(admin, settings) == Limit("admin", 3, 30.0)
    assert limit_of(None, settings) == Limit("public", 4, 30.0)
    assert Limit("partner", 0, 30.0).unlimited
    assert subject_of(partner, "192.0.2.1") == f"key:{partner.key_id}"
    assert subject_of(configured, "192.0.2.1") == "operator-key"
    assert subject_of(None, "192.0.2.1") == "address:192.0.2.1"


def test_the_headers_follow_the_ietf_draft() -> None:
    decision = decide(LIMIT, 40.0, 0.0, allowed=True)
    assert policy_headers(LIMIT, decision) == {
        "RateLimit-Policy": '"partner";q=3;w=60',
        "RateLimit": '"partner";r=1;t=40',
    }


PROXIES = trusted_networks("10.0.0.0/8, 2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("192.0.2.1", [], "192.0.2.1"),
        ("192.0.2.1", ["198.51.100.1"], "192.0.2.1"),  # not a proxy: not read
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["203.0.113.9, 198.51.100.1"], "198.51.100.1"),  # the left is the client's
        ("10.0.0.5", ["198.51.100.1, 10.0.0.7"], "198.51.100.1"),  # two proxies
        ("10.0.0.5", ["198.51.100.1", "10.0.0.7"], "198.51.100.1"),  # in two header lines
        ("10.0.0.5", ["10.0.0.9"], "10.0.0.9"),  # only proxies: the first of them
        ("10.0.0.5", [], "10.0.0.5"),
        ("2001:db8::1", ["2001:db8:ffff::1, 2a00::1"], "2a00::1"),
        ("testclient", ["198.51.100.1"], "testclient"),
        # As proxies write them: ports, brackets, quotes, mapped IPv4, another spelling.
        ("10.0.0.5", ["198.51.100.1:5123"], "198.51.100.1"),
        ("10.0.0.5", ["[2a00::1]:443, 10.0.0.7:80"], "2a00::1"),
        ("10.0.0.5", ['"[2A00:0:0::1]"'], "2a00::1"),
        ("10.0.0.5", ["::ffff:198.51.100.1"], "198.51.100.1"),
        ("::ffff:10.0.0.5", ["198.51.100.1"], "198.51.100.1"),  # a dual-stack socket's peer
        ("10.0.0.5", ["unknown"], "unknown"),
        ("10.0.0.5", ["203.0.113.9:1, 198.51.100.1:2, 10.0.0.7:3"], "198.51.100.1"),
    ],
)
def test_the_client_is_the_peer_unless_it_is_a_trusted_proxy(
    peer: str, forwarded_for: list[str], client: str
) -> None:
    assert client_address(peer, forwarded_for, PROXIES) == client


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("198.51.100.1", "address:198.51.100.1"),
        ("2a00:1450:4001:82b::200e", "address:2a00:1450:4001:82b::/64"),
        ("2a00:1450:4001:82b:ffff::1", "address:2a00:1450:4001:82b::/64"),  # the same /64
        ("testclient", "address:testclient"),
    ],
)
def test_an_address_is_counted_alone_and_an_ipv6_one_by_its_64(
    address: str, counted_as: str
) -> None:
    assert subject_of(None, address) == counted_as


def test_no_proxy_is_trusted_by_default() -> None:
    assert trusted_networks(RateLimitSettings().trusted_proxies) == ()
    assert client_address("10.0.0.5", ["198.51.100.1"], ()) == "10.0.0.5"
    assert PROXIES[0] == ipaddress.ip_network("10.0.0.0/8")


def test_limits_are_read_from_shared_variables() -> None:
    environment = {
        "TELEBRIDGE_RATE_LIMIT_PARTNER": "100",
        "TELEBRIDGE_RATE_LIMIT_PUBLIC": "0",
        "TELEBRIDGE_RATE_LIMIT_WINDOW": "1.5",
        "TELEBRIDGE_RATE_LIMIT_TRUSTED_PROXIES": "10.0.0.0/8",
    }
    limits = load_settings(AgendaSettings, "agenda", environment).rate_limit
    assert (limits.partner, limits.public, limits.window) == (100, 0, 1.5)
    assert limits.trusted_proxies == "10.0.0.0/8"
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES: 'proxy' does not appear"):
        load_settings(AgendaSettings, "agenda", {"TELEBRIDGE_RATE_LIMIT_TRUSTED_PROXIES": "proxy"})


class _RefusingPool:
    async def acquire(self, *, timeout: float) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")


async def test_a_database_away_lets_requests_through_uncounted() -> None:
    settings = SimpleNamespace(database=SimpleNamespace(acquire_timeout=1.0))
    state = State({"runtime": SimpleNamespace(pool=_RefusingPool(), settings=settings)})
    try:
        assert await _check(state, "address:192.0.2.1", LIMIT) is None
        assert await _check(state, "address:192.0.2.1", LIMIT) is None  # warned once a minute
        assert OUTAGES.down("postgres")
    finally:
        OUTAGES.answered("postgres")


class _Database:
    """A database that refuses every request: the limit was used up at t=0."""

    def __init__(self) -> None:
        self.asked = 0

    async def acquire(self, *, timeout: float) -> Any:
        return self

    async def release(self, connection: Any) -> None:
        pass

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any]:
        self.asked += 1
        return {"tat": 60.0, "checked_at": 0.0, "allowed": False}

    async def execute(self, query: str, *args: Any) -> None:
        pass


async def test_a_refused_caller_is_refused_from_memory_until_it_may_send_again() -> None:
    database = _Database()
    settings = SimpleNamespace(database=SimpleNamespace(acquire_timeout=1.0))
    state = State({"runtime": SimpleNamespace(pool=database, settings=settings)})
    answers = [await _decide(state, "key:1", LIMIT) for _ in range(5)]
    assert database.asked == 1
    assert {(answer.allowed, answer.retry_after) for answer in answers} == {(False, 20)}
    assert all(answer.reset == 60 for answer in answers)
    await _decide(state, "key:2", LIMIT)
    assert database.asked == 2
