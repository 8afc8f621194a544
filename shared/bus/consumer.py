"""Durable pull consumers that apply each event once, in its own transaction.

A consumer reads one stream through a durable declared at start-up. For each message:
- a subject the consumer does not handle is acknowledged and skipped;
- a message that cannot be decoded goes to the dead-letter subject at once;
- otherwise the event id goes into the inbox in the same transaction as the effect, and a
  duplicate or a version older than one already applied changes nothing;
- a failing effect is retried with growing delays, and after `max_deliveries` attempts the
  message goes to the dead-letter subject with the error; the consumer goes on;
- while PostgreSQL is unreachable the message is held, not counted as a failure.
The acknowledgement is sent after the commit, so a crash in between means a redelivery,
which the inbox recognises.

Events are applied in the order of the stream within one *lane* (by default an aggregate;
a consumer may name another key, such as the meeting a registration is for), and lanes
side by side, `consumer_parallel` at a time: an event waits only for the events of its
lane before it, so a meeting held up (its row locked by a long change) holds up no other,
and no two events of one lane are ever applied at once by one worker. At most a batch's
worth of events waits in the lanes before the worker fetches more.

A worker asked to stop (its `stopping` event, set when the service shuts down) fetches no
more, applies and acknowledges the events it fetched, then returns: they are not left for
another replica to receive again once `ack_wait` has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import types
import typing
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Generic, TypeVar

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from shared.backoff import Backoff, doubling
from shared.bus.inbox import Delivery, receive
from shared.bus.jetstream import consumer_config, ensure_consumer
from shared.db import UNAVAILABLE, Connection, Pool, acquire, database_unavailable
from shared.events import DEADLETTER, Event, Stream, dead_letter_subject, subject_of
from shared.metrics import CONSUMER_DEAD_LETTERS, CONSUMER_REDELIVERIES, CONSUMER_SECONDS
from shared.outages import OUTAGES
from shared.settings import NatsSettings
from shared.tracing import TRACE_HEADERS, TRACER, extract, inject, messaging

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)

ERROR_HEADER: Final = "Telebridge-Error"
CONSUMER_HEADER: Final = "Telebridge-Consumer"
SUBJECT_HEADER: Final = "Telebridge-Original-Subject"
SEQUENCE_HEADER: Final = "Telebridge-Original-Sequence"
DELIVERIES_HEADER: Final = "Telebridge-Deliveries"

_FETCH_BATCH: Final = 50
_FETCH_WAIT: Final = 5.0


@dataclass(frozen=True)
class EventConsumer(Generic[E]):
    """What a service consumes from one stream, and how it applies it."""

    name: str
    """Durable consumer name, unique per service and stream."""
    stream: Stream
    events: Any
    """The event type, or a union of event types, this consumer applies."""
    apply: Callable[[Connection, E], Awaitable[None]]
    order_key: Callable[[E], Hashable] | None = None
    """Events of one key are applied one after another, in the order of the stream; by
    default the key is the event's aggregate."""

    @property
    def subjects(self) -> frozenset[str]:
        members = typing.get_args(self.events) if _is_union(self.events) else (self.events,)
        return frozenset(subject_of(member) for member in members)


def _aggregate_of(event: Event) -> Hashable:
    return (event.aggregate_type, event.aggregate_id)


def _is_union(annotation: object) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def retry_delay(settings: NatsSettings, deliveries: int) -> float:
    """Seconds before the next attempt after `deliveries` failed ones: doubling, capped."""
    return doubling(settings.retry_backoff, deliveries, longest=60.0)


class ConsumerWorker(Generic[E]):
    def __init__(
        self,
        pool: Pool,
        js: JetStreamContext,
        consumer: EventConsumer[E],
        settings: NatsSettings,
        *,
        applied_channel: str | None = None,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self._pool = pool
        self._stopping = stopping or asyncio.Event()
        """Set when the worker is to stop: it fetches no more, settles what it fetched."""
        self._applied_channel = applied_channel
        self._js = js
        self._consumer = consumer
        self._settings = settings
        self._decoder = msgspec.json.Decoder(consumer.events)
        self._subjects = consumer.subjects
        self._order_key = consumer.order_key or _aggregate_of
        self._lanes_at_once = asyncio.Semaphore(max(settings.consumer_parallel, 1))
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        """The last event of each lane that is not settled yet."""
        self._in_flight: set[asyncio.Task[None]] = set()
        self._log = log.bind(consumer=consumer.name)

    async def run(self) -> None:
        consumer = self._consumer
        await ensure_consumer(
            self._js,
            consumer.stream,
            consumer_config(consumer.name, consumer.stream, self._settings),
        )
        subscription = await self._js.pull_subscribe_bind(
            durable=consumer.name, stream=consumer.stream.name
        )
        try:
            await self._consume(subscription)
        finally:
            # A restarted worker binds anew; the old subscription must not linger.
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def _consume(self, subscription: JetStreamContext.PullSubscription) -> None:
        backoff = Backoff(first=0.1)
        try:
            while not self._stopping.is_set():
                await self._room_for_a_batch()
                try:
                    messages = await self._fetch(subscription)
                except TimeoutError:
                    # Nothing new: idle, not an error. nats-py raises its own TimeoutError
                    # or, when the server's heartbeat is late, asyncio's: both are
                    # TimeoutError.
                    continue
                except nats.errors.Error as error:
                    self._log.warning("fetch failed", error=str(error) or type(error).__name__)
                    await backoff.wait(cut_short_by=self._stopping)
                    continue
                backoff.reset()
                for message in messages:
                    await self.enqueue(message)
            if self._in_flight:
                self._log.info(
                    "stopping once the events fetched are settled", events=len(self._in_flight)
                )
                await asyncio.wait(self._in_flight)
        finally:
            # Cancelled (or failed): what is still in flight is rolled back, and redelivered.
            for task in self._in_flight:
                task.cancel()

    async def _fetch(self, subscription: JetStreamContext.PullSubscription) -> list[Msg]:
        """The next batch; none when the worker is asked to stop while it waits for one."""
        fetching = asyncio.ensure_future(subscription.fetch(_FETCH_BATCH, timeout=_FETCH_WAIT))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait([fetching, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            fetching.cancel()  # nothing when it has its answer already
        # nats-py may swallow the cancellation and fetch on (see `shared.workers.cancel_all`):
        # what it brings is then applied like the rest, not left to be received again.
        await asyncio.wait([fetching])
        if fetching.cancelled():
            return []
        return fetching.result()

    async def _room_for_a_batch(self) -> None:
        """Fetch no more while a batch's worth of events waits its turn in the lanes."""
        while len(self._in_flight) > _FETCH_BATCH:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)

    async def enqueue(self, message: Msg) -> None:
        """Put the message's event at the end of its lane; it is applied after the events
        of the lane before it, beside those of other lanes."""
        event = await self._decoded(message)
        if event is None:
            return
        key = self._order_key(event)
        task = asyncio.create_task(self._in_turn(self._tails.get(key), message, event))
        self._tails[key] = task
        self._in_flight.add(task)
        task.add_done_callback(partial(self._done, key))

    def _done(self, key: Hashable, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]
        if not task.cancelled() and (error := task.exception()) is not None:
            self._log.error("event not settled", error=f"{type(error).__name__}: {error}")

    async def _in_turn(self, before: asyncio.Task[None] | None, message: Msg, event: E) -> None:
        if before is not None:
            await asyncio.wait([before])
        async with self._lanes_at_once:
            await self._apply(message, event)

    async def process(self, message: Msg) -> None:
        event = await self._decoded(message)
        if event is not None:
            await self._apply(message, event)

    async def _decoded(self, message: Msg) -> E | None:
        """The message's event; None once a message that carries none is settled."""
        if message.subject not in self._subjects:
            await message.ack()
            return None
        try:
            event: E = self._decoder.decode(message.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            await self._dead_letter(message, f"cannot decode: {error}")
            return None
        if event.subject != message.subject:
            await self._dead_letter(
                message, f"event type {event.type!r} arrived on subject {message.subject!r}"
            )
            return None
        return event

    async def _apply(self, message: Msg, event: E) -> None:
        deliveries = message.metadata.num_delivered or 1
        if deliveries > 1:
            CONSUMER_REDELIVERIES.labels(self._consumer.name).inc()
        started = time.perf_counter()
        # In the trace of the publish (its headers), so of the change that caused the event.
        with TRACER.start_as_current_span(
            f"process {event.subject}",
            context=extract(message.headers, event.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={
                **messaging(event.subject, event.event_id, "process"),
                "messaging.consumer.group.name": self._consumer.name,
            },
        ):
            try:
                delivery = await self._apply_while_database_is_away(message, event)
            except Exception as error:
                trace.get_current_span().set_status(
                    StatusCode.ERROR, f"{type(error).__name__}: {error}"
                )
                self._took(started, "failed")
                await self._failed(message, event, deliveries, error)
                return
            self._took(started, delivery.value)
            self._log.debug(
                "event received",
                subject=event.subject,
                aggregate_id=str(event.aggregate_id),
                version=event.aggregate_version,
                delivery=delivery.value,
            )
            await message.ack()

    def _took(self, started: float, result: str) -> None:
        CONSUMER_SECONDS.labels(self._consumer.name, result).observe(time.perf_counter() - started)

    async def _apply_while_database_is_away(self, message: Msg, event: E) -> Delivery:
        """Apply the event, holding the message while PostgreSQL is unreachable.

        An outage says nothing about the message: it is not nak'ed (which would count a
        delivery and end in the dead-letter subject), only kept in progress until the
        database answers again.
        """
        backoff = Backoff(first=0.2)
        while True:
            try:
                async with acquire(self._pool) as connection, connection.transaction():
                    delivery = await receive(connection, self._consumer.name, event)
                    if delivery is Delivery.NEW:
                        await self._consumer.apply(connection, event)
                        if self._applied_channel:
                            # Requests waiting for a read model to catch up wake on commit.
                            await connection.execute(
                                "SELECT pg_notify($1, '')", self._applied_channel
                            )
            except UNAVAILABLE as error:
                if not database_unavailable(error):
                    raise
                OUTAGES.failed("postgres", error)
                with contextlib.suppress(nats.errors.Error, TimeoutError):
                    await message.in_progress()
                await backoff.wait()
            else:
                OUTAGES.answered("postgres")
                return delivery

    async def _failed(self, message: Msg, event: Event, deliveries: int, error: Exception) -> None:
        reason = f"{type(error).__name__}: {error}"
        if deliveries >= self._settings.max_deliveries:
            self._log.error(
                "event keeps failing; dead-lettered",
                subject=event.subject,
                event_id=str(event.event_id),
                deliveries=deliveries,
                error=reason,
            )
            await self._dead_letter(message, reason, cause="failing")
            return
        delay = retry_delay(self._settings, deliveries)
        self._log.warning(
            "event failed; will retry",
            subject=event.subject,
            event_id=str(event.event_id),
            deliveries=deliveries,
            retry_in=delay,
            error=reason,
        )
        await message.nak(delay=delay)

    async def _dead_letter(self, message: Msg, reason: str, *, cause: str = "undecodable") -> None:
        metadata = message.metadata
        headers = {
            ERROR_HEADER: " ".join(reason.split())[:4000],
            CONSUMER_HEADER: self._consumer.name,
            SUBJECT_HEADER: message.subject,
            SEQUENCE_HEADER: str(metadata.sequence.stream if metadata.sequence else ""),
            DELIVERIES_HEADER: str(metadata.num_delivered or 1),
        }
        # In the trace of the message: its processing span's, or the publish's if it was
        # never processed (it could not be decoded).
        if (span := trace.get_current_span()).get_span_context().is_valid:
            inject(headers, span)
        else:
            published = message.headers or {}
            headers |= {name: published[name] for name in TRACE_HEADERS if name in published}
        try:
            await self._js.publish(
                dead_letter_subject(self._consumer.name, message.subject),
                message.data,
                stream=DEADLETTER.name,
                headers=headers,
            )
        except (nats.errors.Error, TimeoutError) as error:
            self._log.warning("cannot dead-letter yet; will retry", error=str(error))
            await message.nak(delay=retry_delay(self._settings, 1))
            return
        self._log.error("message dead-lettered", subject=message.subject, error=reason)
        CONSUMER_DEAD_LETTERS.labels(self._consumer.name, cause).inc()
        await message.term()
