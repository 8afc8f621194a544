"""Rate limits: so many requests per window for each API key, by its role, and for each
client address that sends no key (public pages, agendas, calendar feeds, RSVP links).

Counted in PostgreSQL, so that every replica of a service counts together, with GCRA (the
generic cell rate algorithm): a caller's counter is one number, the theoretical arrival
time (TAT) its next request would have had its requests come evenly, one every
`window / limit` seconds. A request passes when the TAT it would push forward stays within
one window of now: a limit of N lets N requests through at once, then one every window/N
seconds, and never 2N across the edge of two windows as fixed windows do. One upsert
decides and records each request on the database's clock; PostgreSQL holds the row's lock
for it, so two replicas counting the same caller never both let the (N+1)th through.

Each service counts its own requests in its own schema: a partner at its limit in
scheduling may still call the registry. Health, readiness and metrics are never limited.
The answer over the limit is a 429 problem with `Retry-After` (whole seconds); every
limited answer carries `RateLimit-Policy` and `RateLimit` (IETF draft
draft-ietf-httpapi-ratelimit-headers).
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import structlog
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared.access import Caller
from shared.db import UNAVAILABLE, Connection, acquire, database_unavailable
from shared.http.problems import Problem
from shared.outages import OUTAGES
from shared.settings import RateLimitSettings

log = structlog.get_logger(__name__)

UNLIMITED: Final = "unlimited"
"""Set in a handler's `opt` when it is never limited: what load balancers, orchestrators and
Prometheus poll (health, readiness, metrics)."""

_UNLIMITED_PATHS: Final = frozenset({"/metrics"})
"""Paths never limited whatever serves them: a metrics endpoint may be mounted without our
handler options."""

_SLACK: Final = 1e-6
"""Seconds forgiven in comparisons, so that N requests at one instant, each adding
window/N in floating point, fit in the window exactly."""

_CHECK: Final = """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
INSERT INTO rate_limits AS counted (subject, tat, checked_at, allowed)
SELECT $1, now + $2::float8, now, true FROM clock
ON CONFLICT (subject) DO UPDATE SET
    allowed = greatest(counted.tat, excluded.checked_at) + $2 - excluded.checked_at <= $3,
    tat = CASE
        WHEN greatest(counted.tat, excluded.checked_at) + $2 - excluded.checked_at <= $3
        THEN greatest(counted.tat, excluded.checked_at) + $2
        ELSE counted.tat
    END,
    checked_at = excluded.checked_at
RETURNING tat, checked_at, allowed
"""
"""Decide one request of subject $1 (interval $2 = window/limit, tolerance $3 = window) and
record it: TAT moves on by one interval when it passes, stays put when it is refused."""

_PRUNE: Final = "DELETE FROM rate_limits WHERE tat < extract(epoch FROM clock_timestamp())"
"""Rows whose TAT has passed mean the same as no row."""
_PRUNE_EVERY: Final = 60.0
_WARN_EVERY: Final = 60.0
_PRUNED: Final = "telebridge.rate_limits_pruned"
_REFUSED: Final = "telebridge.rate_limits_refused"
_WARNED: Final = "telebridge.rate_limits_warned"


@dataclass(frozen=True)
class Limit:
    """So many requests per window, under a name clients see in `RateLimit-Policy`."""

    name: str
    requests: int
    window: float

    @property
    def unlimited(self) -> bool:
        return self.requests <= 0 or self.window <= 0

    @property
    def interval(self) -> float:
        """Seconds between two requests at the sustained rate."""
        return self.window / self.requests


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    """Requests that could still be sent at once."""
    wait: float
    """Seconds before the next request passes (0 when this one did)."""
    refill: float
    """Seconds before the whole limit is available again."""

    @property
    def retry_after(self) -> int:
        """`wait` in whole seconds, at least one when refused (for `Retry-After`)."""
        return max(math.ceil(self.wait - _SLACK), 0 if self.allowed else 1)

    @property
    def reset(self) -> int:
        return max(math.ceil(self.refill - _SLACK), 0)


def decide(limit: Limit, tat: float, now: float, *, allowed: bool) -> Decision:
    """What the database's answer to `_CHECK` (the TAT after the request, the time it was
    decided, whether it passed) means for the client."""
    ahead = max(tat - now, 0.0)
    if allowed:
        remaining = math.floor((limit.window - ahead) / limit.interval + _SLACK)
        return Decision(allowed=True, remaining=max(remaining, 0), wait=0.0, refill=ahead)
    wait = ahead + limit.interval - limit.window
    return Decision(allowed=False, remaining=0, wait=max(wait, 0.0), refill=ahead)


@dataclass(frozen=True)
class _Refused:
    """A caller the database refused, until when (monotonic seconds) it would refuse it
    still: meanwhile this process refuses it without asking, which changes nothing, as a
    refused request counts for nothing; so a flood costs one round trip per wait."""

    until: float
    refilled: float

    def decision(self, now: float) -> Decision:
        return Decision(
            allowed=False, remaining=0, wait=self.until - now, refill=self.refilled - now
        )


def limit_of(caller: Caller | None, settings: RateLimitSettings) -> Limit:
    """The limit of a key's role, or the public one (per address) without a key."""
    if caller is None:
        return Limit("public", settings.public, settings.window)
    requests = {
        "admin": settings.admin,
        "operator": settings.operator,
        "partner": settings.partner,
    }[caller.role]
    return Limit(caller.role, requests, settings.window)


def subject_of(caller: Caller | None, address: str) -> str:
    """What is counted: the key (the configured operator key is one), else the address;
    an IPv6 address by its /64, which one household or server has whole and could walk
    through to dodge a limit per address."""
    if caller is None:
        return f"address:{_bucket(address)}"
    return "operator-key" if caller.key_id is None else f"key:{caller.key_id}"


def _bucket(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a test client's name): counted as it is
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The networks of `rate_limit.trusted_proxies` (comma-separated CIDRs)."""
    return tuple(ipaddress.ip_network(part.strip()) for part in setting.split(",") if part.strip())


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def _address(hop: str) -> str:
    """One hop of `X-Forwarded-For` as an address alone, written one way: proxies add ports
    (`192.0.2.1:5000`, `[2001:db8::1]:443`), brackets and quotes, and write IPv4 clients of
    a dual-stack socket as `::ffff:192.0.2.1`. What is no address (`unknown`) stays as it is."""
    text = hop.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return text[:64]
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


def client_address(peer: str, forwarded_for: list[str], networks: tuple[Network, ...]) -> str:
    """The client of a request from `peer`: the peer itself, unless it is a trusted proxy;
    then the nearest address in `X-Forwarded-For` (read from the right, as each proxy appends
    the one it saw) that is not a trusted proxy. Whatever a client writes there itself sits
    further left, behind an address a trusted proxy wrote, and is never read."""
    peer = _address(peer)
    if not _trusted(peer, networks):
        return peer
    hops = [_address(hop) for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def limited(handler: BaseRouteHandler, path: str) -> bool:
    """Whether requests to this handler count against a limit."""
    return not handler.opt.get(UNLIMITED) and path not in _UNLIMITED_PATHS


def policy_headers(limit: Limit, decision: Decision) -> dict[str, str]:
    """`RateLimit-Policy` and `RateLimit` as draft-ietf-httpapi-ratelimit-headers has them."""
    return {
        "RateLimit-Policy": f'"{limit.name}";q={limit.requests};w={math.ceil(limit.window)}',
        "RateLimit": f'"{limit.name}";r={decision.remaining};t={decision.reset}',
    }


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    """Count each request against its caller's limit, after `authentication_middleware` has
    told who the caller is (a bad key is a 401 before it counts), before the idempotency
    middleware opens the request's transaction: a refused request takes no connection
    beyond the one the count took and gave back."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if (
            scope["type"] != ScopeType.HTTP
            or handler is None
            or not limited(handler, scope["path"])
        ):
            await app(scope, receive, send)
            return
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope, receive, send)
        state = connection.app.state
        settings: RateLimitSettings = state.settings.rate_limit
        caller: Caller | None = connection.state.get("caller")
        limit = limit_of(caller, settings)
        if limit.unlimited:
            await app(scope, receive, send)
            return
        address = client_address(
            connection.client.host if connection.client else "",
            connection.headers.getall("x-forwarded-for", []),
            trusted_networks(settings.trusted_proxies),
        )
        decision = await _decide(state, subject_of(caller, address), limit)
        if decision is None:
            await app(scope, receive, send)
            return
        headers = policy_headers(limit, decision)
        if not decision.allowed:
            who = "this API key" if caller is not None else "your address"
            raise Problem(
                429,
                "rate-limited",
                f"{who} sent more than {limit.requests} requests in "
                f"{limit.window:g} seconds; try again in {decision.retry_after} s",
                title="Too many requests",
                headers={"Retry-After": str(decision.retry_after), **headers},
            )
        encoded = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *encoded]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


async def _decide(state: State, subject: str, limit: Limit) -> Decision | None:
    """This request's decision: from memory while the caller is known to be refused, else
    from the database (None when it cannot be asked)."""
    refused: dict[str, _Refused] = state.get(_REFUSED) or {}
    state[_REFUSED] = refused
    now = time.monotonic()
    known = refused.get(subject)
    if known is not None and known.until > now:
        return known.decision(now)
    refused.pop(subject, None)
    decision = await _check(state, subject, limit)
    if decision is not None and not decision.allowed:
        refused[subject] = _Refused(until=now + decision.wait, refilled=now + decision.refill)
    return decision


async def _check(state: State, subject: str, limit: Limit) -> Decision | None:
    """Count the request; None when the database cannot be asked.

    Then the request goes through uncounted (fails open), with a warning at most once a
    minute: the limits shield the service from one caller's excess, and with PostgreSQL
    away a request that needs it is answered 503 anyway, while one that does not (a feed
    poll answered from memory, a page) would otherwise be refused for the limiter's sake.
    """
    runtime = state.runtime
    try:
        async with acquire(runtime.pool, runtime.settings.database.acquire_timeout) as database:
            row = await database.fetchrow(_CHECK, subject, limit.interval, limit.window + _SLACK)
            await _prune(state, database)
    except UNAVAILABLE as error:
        if database_unavailable(error):
            OUTAGES.failed("postgres", error)
        _warn_unchecked(state, error)
        return None
    assert row is not None  # an upsert returns its row
    return decide(limit, row["tat"], row["checked_at"], allowed=row["allowed"])


async def _prune(state: State, database: Connection) -> None:
    """Delete the counters that mean nothing any more, at most once a minute per process."""
    now = time.monotonic()
    if now - state.get(_PRUNED, -math.inf) < _PRUNE_EVERY:
        return
    state[_PRUNED] = now
    await database.execute(_PRUNE)
    refused: dict[str, _Refused] = state.get(_REFUSED) or {}
    for subject in [subject for subject, known in refused.items() if known.until <= now]:
        del refused[subject]


def _warn_unchecked(state: State, error: Exception) -> None:
    now = time.monotonic()
    if now - state.get(_WARNED, -math.inf) < _WARN_EVERY:
        return
    state[_WARNED] = now
    log.warning(
        "rate limits not checked: requests go through uncounted",
        error=f"{type(error).__name__}: {error}",
    )
