"""Delivers the webhook queue: at least once, signed, with the event id as `webhook-id` on
every attempt.

Each round takes the deliveries due (skipping those another replica took, and for an
ordered endpoint any with an earlier one of the same aggregate still waiting), leases them
for one request's time, and sends them side by side. A 2xx is delivered; a 410 disables the
endpoint; anything else (another status, no answer, a refused address) is tried again
after `retry_after`, six times longer each time up to `retry_longest`, with ±20% jitter,
and given up after `max_attempts`. An endpoint that has failed for `disable_after` seconds
without a success in between is disabled, with the reason. Every attempt is logged with
its status, how long it took and the start of the answer (at most `response_excerpt`
bytes are read).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import asyncpg
import httpx
import structlog
from prometheus_client.core import Metric

from services.registry.webhooks import store
from services.registry.webhooks.addresses import Network, Refused, networks, target
from services.registry.webhooks.schemas import Attempt
from shared.db import Connection, Pool, acquire
from shared.events import utc_now
from shared.metrics import WEBHOOK_DELIVERIES, WEBHOOK_SECONDS, queue_readings
from shared.notify import Notifier
from shared.settings import WebhookSettings
from shared.version import VERSION
from shared.webhooks import signature_header
from shared.workers import finished_first

log = structlog.get_logger(__name__)

USER_AGENT: Final = f"Telebridge-Webhooks/{VERSION}"
_GROWTH: Final = 6


@dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    delivered: bool
    gone: bool


def retry_delay(settings: WebhookSettings, attempts: int, jitter: float) -> float:
    """Seconds before the next try after `attempts` failed ones; `jitter` in [-1, 1]."""
    base: float = min(settings.retry_after * _GROWTH ** (attempts - 1), settings.retry_longest)
    return base * (1 + 0.2 * jitter)


async def run_sender(
    pool: Pool, notifier: Notifier, settings: WebhookSettings, *, max_sleep: float
) -> None:
    allowed = networks(settings.private_networks)
    async with httpx.AsyncClient(
        timeout=settings.timeout, follow_redirects=False, trust_env=False
    ) as client:
        while True:
            sent = await send_due(pool, client, settings, allowed)
            if sent:
                continue
            async with acquire(pool) as connection:
                due = await store.next_due(connection)
            wait = max_sleep if due is None else (due - utc_now()).total_seconds()
            await notifier.wait(store.CHANNEL, min(max(wait, 0.0), max_sleep))


async def readings(connection: Connection) -> list[Metric]:
    """The queue, for `/metrics` (`shared.metrics.Probe`)."""
    found = await store.waiting(connection)
    return queue_readings(
        "webhook",
        "Deliveries to enabled endpoints",
        "delivery",
        found.waiting,
        found.oldest_seconds,
    )


async def send_due(
    pool: Pool, client: httpx.AsyncClient, settings: WebhookSettings, allowed: list[Network]
) -> int:
    """Send what is due now; how many were tried."""
    async with acquire(pool) as connection, connection.transaction():
        due = await store.take_due(connection, settings.parallel, settings.timeout + 30)
    if due:
        # A stop waits for the answers in hand: cut off before they are recorded, they
        # would be sent again (allowed, with the same webhook-id, but avoidable).
        await finished_first(
            asyncio.gather(*(_deliver(pool, client, settings, allowed, item) for item in due)),
            settings.timeout + 5,
        )
    return len(due)


async def _deliver(
    pool: Pool,
    client: httpx.AsyncClient,
    settings: WebhookSettings,
    allowed: list[Network],
    due: store.Due,
) -> None:
    outcome = await attempt(client, settings, allowed, due)
    WEBHOOK_SECONDS.observe(outcome.attempt.duration_ms / 1000)
    WEBHOOK_DELIVERIES.labels(
        "delivered" if outcome.delivered else "gone" if outcome.gone else "failed"
    ).inc()
    try:
        await _record(pool, settings, due, outcome)
    except asyncpg.ForeignKeyViolationError:
        # The endpoint was removed while its message was on its way: nothing to record.
        log.info("webhook endpoint removed during delivery", endpoint=str(due.endpoint_id))


async def _record(pool: Pool, settings: WebhookSettings, due: store.Due, outcome: Outcome) -> None:
    async with acquire(pool) as connection, connection.transaction():
        await store.record_attempt(connection, due.position, outcome.attempt)
        if outcome.delivered:
            await store.delivered(connection, due.position, due.endpoint_id)
            return
        attempts = due.attempts + 1
        retry_at = None
        if attempts < settings.max_attempts and not outcome.gone:
            delay = retry_delay(settings, attempts, random.uniform(-1, 1))  # noqa: S311
            retry_at = utc_now() + timedelta(seconds=delay)
        failing_since = await store.failed(connection, due.position, due.endpoint_id, retry_at)
        reason = _disable_reason(settings, outcome, failing_since)
        if reason is not None:
            await store.disable(connection, due.endpoint_id, reason)
            log.warning("webhook endpoint disabled", endpoint=str(due.endpoint_id), reason=reason)


def _disable_reason(
    settings: WebhookSettings, outcome: Outcome, failing_since: datetime
) -> str | None:
    if outcome.gone:
        return "the endpoint answered 410 Gone"
    failing = (utc_now() - failing_since).total_seconds()
    if failing >= settings.disable_after:
        last = outcome.attempt.error or f"status {outcome.attempt.status_code}"
        return f"every delivery failed for {failing / 3600:.1f} hours; the last: {last}"
    return None


async def attempt(
    client: httpx.AsyncClient, settings: WebhookSettings, allowed: list[Network], due: store.Due
) -> Outcome:
    """One POST of a delivery, signed with every secret in use, and what came of it."""
    started = time.perf_counter()
    attempted_at = utc_now()
    timestamp = int(time.time())
    status: int | None = None
    excerpt: str | None = None
    error: str | None = None
    try:
        # The whole exchange is bounded, not each step: a slow name lookup, or an answer
        # that trickles in, ends with the time too.
        async with asyncio.timeout(settings.timeout):
            where = await target(due.url, allowed)
            request = client.build_request(
                "POST",
                where.url,
                content=due.body,
                headers={
                    "host": where.host,
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                    "webhook-id": str(due.event_id),
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": signature_header(
                        due.secrets, str(due.event_id), timestamp, due.body
                    ),
                },
                extensions={"sni_hostname": where.server_name},
            )
            response = await client.send(request, stream=True)
            try:
                status = response.status_code
                excerpt = await _excerpt(response, settings.response_excerpt)
            finally:
                await response.aclose()
    except Refused as refused:
        error = str(refused)
    except (TimeoutError, httpx.TimeoutException):
        status = None
        error = f"no whole answer within {settings.timeout:g} seconds"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}".rstrip(": ")
    duration = (time.perf_counter() - started) * 1000
    return Outcome(
        attempt=Attempt(
            attempted_at=attempted_at,
            status_code=status,
            duration_ms=round(duration, 1),
            response_excerpt=excerpt,
            error=error,
        ),
        delivered=status is not None and 200 <= status < 300,
        gone=status == 410,
    )


async def _excerpt(response: httpx.Response, limit: int) -> str | None:
    """The start of the answer: at most `limit` bytes are read, whatever it sends."""
    taken = b""
    async for chunk in response.aiter_raw():
        taken += chunk
        if len(taken) >= limit:
            break
    return taken[:limit].decode("utf-8", "replace") or None
