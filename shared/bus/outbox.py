"""Transactional outbox: events are written with the change, published after commit.

`add_event` inserts the event in the caller's transaction. `OutboxRelay` publishes what is
unsent to JetStream with `Nats-Msg-Id` = event id, and marks a row sent only after the
stream acknowledged it. A publish that fails (NATS down, a stream leader being elected)
stops the batch; the relay backs off and starts again from the first unsent row, so no
event is lost and none of an aggregate's events overtakes an earlier one. A retry after a
lost acknowledgement is recognised by the server's deduplication.

Several replicas can relay at once: each claims rows with `FOR UPDATE SKIP LOCKED`, and
only the oldest unsent event of each aggregate is claimable, so two replicas never
publish events of one aggregate out of order.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final
from uuid import UUID

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry.trace import Span, SpanKind, StatusCode
from prometheus_client.core import Metric

from shared.backoff import Backoff
from shared.bus.jetstream import Outgoing, publish_together
from shared.db import UNAVAILABLE, Connection, Pool, acquire, as_structs, database_unavailable
from shared.events import Event, stream_of
from shared.metrics import OUTBOX_FAILURES, OUTBOX_PUBLISHED, gauge
from shared.notify import Notifier
from shared.outages import OUTAGES
from shared.settings import NatsSettings
from shared.tracing import TRACER, context_of, current_traceparent, inject, messaging

log = structlog.get_logger(__name__)

_INSERT: Final = """
INSERT INTO outbox (event_id, subject, aggregate_type, aggregate_id, aggregate_version,
                    payload, traceparent)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
# Walks the unsent rows in order and stops at the limit: each row is one probe of the
# by-aggregate index, where an anti-join would read every unsent row first. A backlog
# grows faster than the statistics follow it (after an outage, or a burst), and the
# planner then believes few rows unsent and sorts them all, probing each: `_INDEX_ORDER`
# keeps it on the index whatever it believes.
_CLAIM_HEADS: Final = """
SELECT o.aggregate_type, o.aggregate_id
FROM outbox o
WHERE o.sent_at IS NULL
  AND o.position = (
      SELECT min(earlier.position) FROM outbox earlier
      WHERE earlier.sent_at IS NULL
        AND earlier.aggregate_type = o.aggregate_type
        AND earlier.aggregate_id = o.aggregate_id)
ORDER BY o.position
LIMIT $1
FOR UPDATE OF o SKIP LOCKED
"""
# Rows after a head are never claimed by another relay while the head is unsent, so the
# relay that holds the head may take them too, in order.
_CLAIM_RUNS: Final = """
SELECT run.*
FROM unnest($1::text[], $2::uuid[]) AS head(aggregate_type, aggregate_id)
CROSS JOIN LATERAL (
    SELECT position, event_id, subject, aggregate_type, aggregate_id, payload, traceparent
    FROM outbox
    WHERE sent_at IS NULL
      AND aggregate_type = head.aggregate_type
      AND aggregate_id = head.aggregate_id
    ORDER BY position
    LIMIT greatest(1, $3 / greatest(1, cardinality($1::text[])))
    FOR UPDATE
) AS run
ORDER BY run.position
"""
_INDEX_ORDER: Final = "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"
_MARK_SENT: Final = "UPDATE outbox SET sent_at = now() WHERE position = ANY($1::bigint[])"
_RECORD_FAILURE: Final = """
UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE position = $1
"""
_PRUNE: Final = "DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => $1)"


class PendingEvent(msgspec.Struct, frozen=True):
    """An outbox row the relay is to publish: the event's bytes and where they go."""

    position: int
    event_id: UUID
    subject: str
    aggregate_type: str
    aggregate_id: UUID
    payload: bytes
    traceparent: str | None


_UNSENT: Final = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
# The first unsent row by position, through the partial index of unsent rows.
_OLDEST_UNSENT_AGE: Final = """
SELECT extract(epoch FROM now() - created_at)::float8
FROM outbox WHERE sent_at IS NULL ORDER BY position LIMIT 1
"""

PUBLISH_ERRORS: Final = (nats.errors.Error, TimeoutError, OSError)
"""What a publish raises while NATS is away or electing a stream leader: worth retrying."""
REFUSED: Final = (nats.errors.MaxPayloadError, nats.js.errors.BadRequestError)
"""What the server says of this one message whenever it is sent: retrying the rest of the
batch is useful, retrying the message alone is not."""
_COUNT_TIMEOUT: Final = 1.0
"""Seconds a flush waits for a connection to count what it left, once out of time."""
HEADER_ROOM: Final = 4 * 1024
"""Bytes of a message left for its headers (Nats-Msg-Id, trace context); the event has the
rest."""


class EventLimit:
    """The largest event the outbox takes, in bytes of its JSON.

    Set when a service starts, from the NATS settings and the server's own max_payload.
    Those are the same for every service, so one value per process is right even where
    several apps share a process (the tests)."""

    def __init__(self, max_payload: int) -> None:
        self.fit_to(max_payload)

    def fit_to(self, max_payload: int) -> None:
        """Take events that fit in a message of `max_payload` bytes, headers included."""
        self.max_bytes = max_payload - HEADER_ROOM


EVENT_LIMIT: Final = EventLimit(NatsSettings().max_payload)


class EventTooLargeError(ValueError):
    """An event would be larger than a NATS message may be, so it could never be published."""

    def __init__(self, event: Event, size: int, limit: int) -> None:
        super().__init__(
            f"{event.type} of {event.aggregate_id} would be {size} bytes; at most {limit} fit "
            "in a message"
        )
        self.event_type = event.type
        self.size = size
        self.limit = limit


_encoder = msgspec.json.Encoder()


def stamped(event: Event) -> Event:
    """The event with its producer and the current trace context filled in."""
    return msgspec.structs.replace(
        event,
        producer=event.producer or event.type.split(".", 1)[0],
        traceparent=event.traceparent or current_traceparent(),
    )


async def add_event(connection: Connection, event: Event) -> Event:
    """Write `event` to the outbox in the caller's transaction; it is published after commit.

    An event too large to publish raises `EventTooLargeError` here, so that the change it
    reports is rolled back with it (a 413 in a request) rather than committed with an
    event the relay would retry forever.
    """
    # The event's creation is a span of its own (OpenTelemetry's messaging "create"): the
    # publish, wherever and whenever the relay makes it, continues the trace from here.
    with TRACER.start_as_current_span(
        f"create {event.subject}",
        kind=SpanKind.PRODUCER,
        attributes=messaging(event.subject, event.event_id, "create"),
    ):
        event = stamped(event)
        payload = _encoder.encode(event)
        if len(payload) > EVENT_LIMIT.max_bytes:
            raise EventTooLargeError(event, len(payload), EVENT_LIMIT.max_bytes)
        await connection.execute(
            _INSERT,
            event.event_id,
            event.subject,
            event.aggregate_type,
            event.aggregate_id,
            event.aggregate_version,
            payload,
            event.traceparent,
        )
    return event


async def unsent_count(connection: Connection) -> int:
    count: int = await connection.fetchval(_UNSENT)
    return count


async def oldest_unsent_age(connection: Connection) -> float:
    """Seconds since the oldest unsent event was written; 0 when every event is sent."""
    age: float | None = await connection.fetchval(_OLDEST_UNSENT_AGE)
    return max(age or 0.0, 0.0)


async def outbox_readings(connection: Connection) -> list[Metric]:
    """The backlog, for `/metrics` (`shared.metrics.Probe`)."""
    return [
        gauge(
            "telebridge_outbox_backlog",
            "Events written to the outbox and not yet published.",
            await unsent_count(connection),
        ),
        gauge(
            "telebridge_outbox_oldest_unsent_age_seconds",
            "Seconds since the oldest event still unpublished was written (0 when none is).",
            await oldest_unsent_age(connection),
        ),
    ]


def _rounds(rows: list[PendingEvent]) -> list[list[PendingEvent]]:
    """The rows in rounds: the first of each aggregate's run, then the second, and so on,
    each round in the order the rows were written."""
    runs: dict[tuple[str, UUID], list[PendingEvent]] = {}
    for row in rows:
        runs.setdefault((row.aggregate_type, row.aggregate_id), []).append(row)
    rounds: list[list[PendingEvent]] = []
    for run in runs.values():
        for depth, row in enumerate(run):
            if depth == len(rounds):
                rounds.append([])
            rounds[depth].append(row)
    for round_ in rounds:
        round_.sort(key=lambda row: row.position)
    return rounds


def _publishing(row: PendingEvent) -> Span:
    """The span of one event's publish, in the trace of the change that wrote it."""
    return TRACER.start_span(
        f"send {row.subject}",
        context=context_of(row.traceparent),
        kind=SpanKind.PRODUCER,
        attributes=messaging(row.subject, row.event_id, "send"),
    )


def _outgoing(row: PendingEvent, span: Span) -> Outgoing:
    headers = {"Nats-Msg-Id": str(row.event_id)}
    inject(headers, span)  # `traceparent`: the consumers continue the trace
    return Outgoing(row.subject, row.payload, stream_of(row.subject).name, headers)


def _published(span: Span, outcome: PubAck | BaseException) -> None:
    if not isinstance(outcome, PubAck):
        span.set_status(StatusCode.ERROR, f"{type(outcome).__name__}: {outcome}")
    span.end()


class PublishError(Exception):
    """A publish failed; the rows before it were marked sent, the rest wait for a retry."""


class OutboxRelay:
    def __init__(
        self,
        pool: Pool,
        js: JetStreamContext,
        notifier: Notifier,
        channel: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        publish_timeout: float = 2.0,
        retention_seconds: float = 7 * 24 * 3600.0,
        service: str = "",
    ) -> None:
        self._pool = pool
        self._js = js
        self._notifier = notifier
        self._channel = channel
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._retention_seconds = retention_seconds
        self._service = service
        """The service whose outbox it is, as the metrics label it."""

    async def run(self) -> None:
        backoff = Backoff(first=0.1)
        next_prune = 0.0
        while True:
            try:
                published = await self.publish_pending()
            except PublishError as interruption:
                delay = backoff.delay()
                OUTAGES.failed("nats", interruption)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            OUTAGES.answered("postgres")
            if published:
                OUTAGES.answered("nats")
            if time.monotonic() >= next_prune:
                await self._prune()
                next_prune = time.monotonic() + 3600
            if published == 0:
                await self._notifier.wait(self._channel, self._poll_interval)

    async def flush(self, deadline: float) -> int | None:
        """Publish what is unsent, batch after batch, once `run` has stopped (the service is
        shutting down), rather than leave it to another replica's relay.

        Ends when nothing this relay may claim is left, NATS is away, or the event loop's
        clock reaches `deadline`. Returns how many rows are left unsent (by this relay or
        any), logged when any are; None when PostgreSQL is away and cannot tell.
        """
        reason = "held back or claimed by another relay"
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    while await self.publish_pending():
                        pass
            except TimeoutError:
                reason = "out of time"
            except PublishError as error:
                reason = f"nats is away: {error}"
            async with acquire(self._pool, _COUNT_TIMEOUT) as connection:
                left = await unsent_count(connection)
        except UNAVAILABLE as error:
            if not database_unavailable(error):
                raise
            log.warning("outbox not flushed", error=str(error) or type(error).__name__)
            return None
        if left:
            log.warning("events left unsent", unsent=left, reason=reason)
        return left

    async def publish_pending(self) -> int:
        """Publish one batch, each aggregate in order; returns how many rows were published.

        The batch goes out in rounds: the first unsent event of every aggregate claimed,
        published together, then the second of each, and so on, so that no event is sent
        before the one ahead of it in its aggregate was acknowledged. A message the server
        refuses holds back the rest of its aggregate (its order must not break) but not the
        others; NATS being away stops the batch after the round it interrupted.
        """
        interruption: BaseException | None = None
        async with acquire(self._pool) as connection, connection.transaction():
            await connection.execute(_INDEX_ORDER)
            heads = await connection.fetch(_CLAIM_HEADS, self._batch_size)
            if not heads:
                return 0
            rows = as_structs(
                await connection.fetch(
                    _CLAIM_RUNS,
                    [head["aggregate_type"] for head in heads],
                    [head["aggregate_id"] for head in heads],
                    self._batch_size,
                ),
                PendingEvent,
            )
            sent: list[int] = []
            failures: list[tuple[int, str]] = []
            held_back: set[tuple[str, UUID]] = set()
            for claimed in _rounds(rows):
                round_ = [
                    row
                    for row in claimed
                    if (row.aggregate_type, row.aggregate_id) not in held_back
                ]
                outcomes = await self._publish_traced(round_)
                for row, outcome in zip(round_, outcomes, strict=True):
                    if isinstance(outcome, PubAck):
                        sent.append(row.position)
                        if outcome.duplicate:
                            log.info(
                                "event was already in the stream",
                                subject=row.subject,
                                seq=outcome.seq,
                            )
                        continue
                    failures.append((row.position, f"{type(outcome).__name__}: {outcome}"))
                    held_back.add((row.aggregate_type, row.aggregate_id))
                    if isinstance(outcome, REFUSED):
                        log.warning(
                            "refused; its aggregate waits", subject=row.subject, error=str(outcome)
                        )
                    elif isinstance(outcome, PUBLISH_ERRORS):
                        interruption = outcome
                    else:
                        raise outcome
                if interruption is not None:
                    break
            if failures:
                await connection.executemany(_RECORD_FAILURE, failures)
            if sent:
                await connection.execute(_MARK_SENT, sent)
        OUTBOX_PUBLISHED.labels(self._service).inc(len(sent))
        OUTBOX_FAILURES.labels(self._service).inc(len(failures))
        if interruption is not None:
            raise PublishError(f"{type(interruption).__name__}: {interruption}") from interruption
        return len(sent)

    async def _publish_traced(self, rows: list[PendingEvent]) -> list[PubAck | BaseException]:
        """Publish the rows together, each in a span of its own."""
        spans = [_publishing(row) for row in rows]
        try:
            outcomes = await publish_together(
                self._js,
                [_outgoing(row, span) for row, span in zip(rows, spans, strict=True)],
                self._publish_timeout,
            )
        except BaseException as error:
            for span in spans:
                _published(span, error)
            raise
        for span, outcome in zip(spans, outcomes, strict=True):
            _published(span, outcome)
        return outcomes

    async def _prune(self) -> None:
        async with acquire(self._pool) as connection:
            result = await connection.execute(_PRUNE, self._retention_seconds)
        log.debug("outbox pruned", result=result)
