"""NATS connection, and the streams and durable consumers every service declares at start.

Declarations compare what the server has with what the code says and update the
difference: binding to an existing durable would otherwise keep its old configuration.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    PubAck,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError

from shared.backoff import Backoff
from shared.bus.permissions import inbox_prefix, updates_stream
from shared.db import StartupError
from shared.events import DEADLETTER, SERVICES, STREAMS, Stream
from shared.outages import OUTAGES
from shared.settings import NatsSettings

log = structlog.get_logger(__name__)

DUPLICATE_WINDOW = 3600.0
"""Seconds JetStream remembers a `Nats-Msg-Id`: longer than any outage the relay rides out."""
DEAD_LETTER_MAX_AGE = 90 * 24 * 3600.0
_CONNECTION_ERRORS = (
    OSError,
    nats.errors.NoServersError,
    nats.errors.ConnectionClosedError,
    nats.errors.StaleConnectionError,
)
"""What the client reports while no server can be reached: an outage, not an error."""


async def connect_nats(settings: NatsSettings, name: str) -> NATS:
    """Connect to every server URL, keep reconnecting for ever, log errors in one line."""

    # While the server is away every reconnect attempt reports an error: one outage.
    refused: list[str] = []  # why the server turned the first connection away, if it did

    async def on_error(error: Exception) -> None:
        if not client.is_connected and "authorization" in str(error).lower():
            refused[:] = [str(error)]
        if OUTAGES.down("nats") or isinstance(error, _CONNECTION_ERRORS):
            OUTAGES.failed("nats", error)
        else:
            log.warning("nats error", error=str(error) or type(error).__name__)

    async def on_disconnect() -> None:
        if not client.is_closed:  # closing is no outage
            OUTAGES.failed("nats", "disconnected")

    async def on_reconnect() -> None:
        OUTAGES.answered("nats")

    options = login_options(settings)
    if name in SERVICES:
        options["inbox_prefix"] = inbox_prefix(name)
    # With unlimited reconnects the client keeps trying the first connection too.
    client = NATS()
    try:
        await asyncio.wait_for(
            client.connect(
                servers=settings.servers,
                name=name,
                max_reconnect_attempts=-1,
                # Annotated int in nats-py, but it is seconds to sleep: a float works.
                reconnect_time_wait=0.5,  # type: ignore[arg-type]
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                **options,
            ),
            settings.connect_timeout,
        )
    except TimeoutError as error:
        why = f"it refused the credentials ({refused[0]})" if refused else "no answer"
        raise StartupError(
            f"NATS at {without_login(settings.url)} did not let this service in within "
            f"{settings.connect_timeout:g}s: {why}; is it running with JetStream, and are "
            "TELEBRIDGE_NATS_URL and the credentials (TELEBRIDGE_NATS_USER …) right?"
        ) from error
    OUTAGES.answered("nats")
    return client


async def flushed(client: NATS) -> None:
    """Return once the server has processed everything `client` sent before: a
    subscription, say, that another connection is about to publish to.

    nats-py (2.16) writes a flush's PING ahead of the commands still waiting in its buffer
    (`Client._send_ping`), so the PONG can come back before the server has seen a SUB sent
    just before: about one time in thirty here. The second flush's PING follows them."""
    await client.flush()
    await client.flush()


def login_options(settings: NatsSettings) -> dict[str, Any]:
    """nats-py's options for the credentials and TLS the settings name; a file that cannot
    be read is a `StartupError` saying which."""
    options: dict[str, Any] = {}
    for path in (settings.credentials, settings.nkey_seed, settings.tls_ca, settings.tls_cert,
                 settings.tls_key):  # fmt: skip
        if path and not os.access(path, os.R_OK):
            raise StartupError(f"cannot read {path} (a NATS credential or TLS file)")
    if settings.credentials:
        options["user_credentials"] = settings.credentials
    elif settings.nkey_seed:
        options["nkeys_seed"] = settings.nkey_seed
    elif settings.user:
        options["user"] = settings.user
        options["password"] = settings.password
    if settings.tls_ca or settings.tls_cert:
        context = ssl.create_default_context(cafile=settings.tls_ca or None)
        if settings.tls_cert:
            context.load_cert_chain(settings.tls_cert, settings.tls_key or None)
        options["tls"] = context
    return options


def without_login(urls: str) -> str:
    """The server URLs (comma-separated) without any user and password written into them:
    what may be shown or logged."""
    return ",".join(
        urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        for parts in (urlsplit(server.strip()) for server in urls.split(","))
    )


def stream_config(stream: Stream, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=stream.name,
        subjects=stream.subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW,
        max_age=DEAD_LETTER_MAX_AGE if stream is DEADLETTER else 0,
    )


_NOT_ANSWERING_YET = (nats.errors.TimeoutError, ServiceUnavailableError)
"""What JetStream answers while a cluster has no quorum or elects its leaders, or while a
busy server takes longer than a request waits: a start too early, not a wrong setting."""


async def ensure_streams(
    js: JetStreamContext, replicas: int, service: str | None = None, *, patience: float = 60.0
) -> None:
    """Create the event streams and the dead-letter stream, and bring those `service` owns
    up to date (all of them without a service: an operator's tool, a test).

    Replicas often start beside a cluster that is still forming: while JetStream does not
    answer yet, keep asking for `patience` seconds, then fail with a `StartupError` that
    says why."""
    deadline = time.monotonic() + patience
    backoff = Backoff(0.2, longest=5.0)
    for stream in STREAMS:
        owned = service is None or updates_stream(service, stream)
        while True:
            try:
                await _ensure_stream(js, stream_config(stream, replicas), update=owned)
                break
            except _NOT_ANSWERING_YET as error:
                why = _description(error)
                if time.monotonic() >= deadline:
                    raise StartupError(
                        f"JetStream did not declare the stream {stream.name} ({replicas} "
                        f"replica(s)) within {patience:g}s: {why}; does the NATS cluster have "
                        "a quorum and as many JetStream servers as "
                        "TELEBRIDGE_NATS_STREAM_REPLICAS?"
                    ) from error
                log.info("jetstream not answering yet", stream=stream.name, error=why)
                await backoff.wait()


def _description(error: Exception) -> str:
    if isinstance(error, ServiceUnavailableError) and error.description:
        return f"{error.description} (error {error.err_code})"
    return "no answer" if isinstance(error, nats.errors.TimeoutError) else type(error).__name__


_STREAM_FIELDS = (
    "subjects",
    "num_replicas",
    "duplicate_window",
    "max_age",
    # Set by nobody here: whoever set them could feed the stream from elsewhere.
    "sources",
    "republish",
    "subject_transform",
)


async def _ensure_stream(js: JetStreamContext, wanted: StreamConfig, *, update: bool) -> None:
    assert wanted.name is not None
    try:
        current = (await js.stream_info(wanted.name)).config
    except NotFoundError:
        try:
            await js.add_stream(wanted)
        except BadRequestError:
            # Another service created it between our two calls.
            current = (await js.stream_info(wanted.name)).config
        else:
            log.info("stream created", stream=wanted.name)
            return
    if not _differs(current, wanted, _STREAM_FIELDS):
        return
    if update:
        await js.update_stream(wanted)
        log.info("stream updated", stream=wanted.name)
    else:
        log.info("stream differs; its owner brings it up to date", stream=wanted.name)


def consumer_config(durable: str, stream: Stream, settings: NatsSettings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait,
        # One delivery beyond our own bound, so the consumer itself can dead-letter it.
        max_deliver=settings.max_deliveries + 1,
        filter_subject=f"{stream.prefix}.>",
        max_ack_pending=1000,
    )


async def ensure_consumer(js: JetStreamContext, stream: Stream, wanted: ConsumerConfig) -> None:
    assert wanted.durable_name is not None
    try:
        current = (await js.consumer_info(stream.name, wanted.durable_name)).config
    except NotFoundError:
        await js.add_consumer(stream.name, wanted)
        log.info("consumer created", stream=stream.name, consumer=wanted.durable_name)
        return
    if _differs(current, wanted, ("ack_wait", "max_deliver", "filter_subject", "max_ack_pending")):
        await js.add_consumer(stream.name, wanted)
        log.info("consumer updated", stream=stream.name, consumer=wanted.durable_name)


class ConsumerProgress(NamedTuple):
    """How far a durable consumer is behind its stream, as JetStream counts it."""

    pending: int
    """Messages of the stream not delivered yet: the lag."""
    ack_pending: int
    """Delivered and not acknowledged yet: being applied, or waiting for a redelivery."""
    redelivered: int
    """Delivered more than once and not acknowledged yet."""


async def consumer_progress(
    js: JetStreamContext, stream: str, durable: str, timeout: float | None = None
) -> ConsumerProgress:
    """The consumer's counts; `NotFoundError` while it is not declared yet."""
    info = await js.consumer_info(stream, durable, timeout=timeout)
    return ConsumerProgress(
        info.num_pending or 0, info.num_ack_pending or 0, info.num_redelivered or 0
    )


def _differs(current: object, wanted: object, fields: tuple[str, ...]) -> bool:
    return any(getattr(current, field) != getattr(wanted, field) for field in fields)


class Outgoing(NamedTuple):
    """A message to publish to a stream, with its headers (`Nats-Msg-Id` among them)."""

    subject: str
    payload: bytes
    stream: str
    headers: dict[str, str]


async def publish_together(
    js: JetStreamContext, messages: list[Outgoing], timeout: float
) -> list[PubAck | BaseException]:
    """Publish `messages` without waiting for each acknowledgement; each one's outcome, in order.

    The messages leave on one connection in the order given and the server stores them in
    that order; acknowledgements are awaited together, for at most `timeout` seconds. A
    message larger than the server takes is refused here (`MaxPayloadError`) and one sent
    while the connection is down fails at once (`ConnectionClosedError`) rather than waiting
    in the client's buffer: `publish_async` would keep a slot of its window for either.
    """
    nc = js._nc  # the context's client, which nats.py offers no public way to reach
    outcomes: list[PubAck | BaseException | None] = [None] * len(messages)
    waiting: dict[asyncio.Future[PubAck], int] = {}
    for index, message in enumerate(messages):
        if len(message.payload) > nc.max_payload:
            outcomes[index] = nats.errors.MaxPayloadError()
        elif not nc.is_connected:
            outcomes[index] = nats.errors.ConnectionClosedError()
        else:
            try:
                future = await js.publish_async(
                    message.subject,
                    message.payload,
                    stream=message.stream,
                    headers=dict(message.headers),
                )
            except nats.errors.Error as error:
                outcomes[index] = error
            else:
                waiting[future] = index
    if waiting:
        done, late = await asyncio.wait(waiting, timeout=timeout)
        for future in late:
            future.cancel()
            outcomes[waiting[future]] = nats.errors.TimeoutError()
        for future in done:
            failure = future.exception()
            outcomes[waiting[future]] = failure if failure is not None else future.result()
    return cast(list[PubAck | BaseException], outcomes)
