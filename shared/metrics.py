"""What a service measures, and its exposition in Prometheus' text format (`GET /metrics`,
served by `shared.http.metrics`).

Two kinds of figures, kept two ways:

- **What happens in a process** is counted where it happens, in prometheus-client's
  counters and histograms: requests and their latency, events the outbox relay published,
  events each consumer handled and how long it took, redeliveries, dead letters, mail and
  webhook attempts, slot searches. A service may run several worker processes behind one
  port (`TELEBRIDGE_<SERVICE>_HTTP_WORKERS`) and a scrape reaches any one of them, so
  `shared.serve` gives its workers a folder for prometheus-client's multiprocess mode
  (`PROMETHEUS_MULTIPROC_DIR`): each process keeps its figures in files of its own there,
  and whichever worker answers a scrape sums them all. A single process (one worker, a
  test) answers from its own registry, with its `process_` and `python_` figures.
- **What describes shared state** is read when scraped, from PostgreSQL and JetStream:
  the outbox backlog and the age of its oldest unsent event, each consumer's pending and
  unacknowledged messages, the mail and webhook queues (`Probe`s). So every process and
  every replica answers the same figure, however many there are, and no gauge has to be
  kept up to date by whoever changes the rows (multiprocess gauges have no sensible sum).
  A probe that fails or takes too long is left out of that scrape, and
  `telebridge_probe_success` says so.

No label carries an id, a name or an address: a route is its template
(`/meetings/{meeting_id}`, as the OpenAPI document names it), never the path, so the
number of series stays bounded and a scrape tells nothing of any partner.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from shared.bus.jetstream import consumer_progress
from shared.db import Connection, Pool, acquire

log = structlog.get_logger(__name__)

# `_created` series only a single process has (multiprocess mode has none): left out, so
# that one worker or several expose the same families.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS_DIR: Final = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable of prometheus-client's multiprocess mode: a folder of its own
for each service (`shared.serve` makes one when it runs several workers)."""
PROBE_TIMEOUT: Final = 2.0
"""Seconds a probe may take before the scrape goes on without it."""

if _named := os.environ.get(MULTIPROCESS_DIR):
    # prometheus-client writes there from the first metric defined below on.
    Path(_named).mkdir(parents=True, exist_ok=True)

# Counted where it happens.

REQUEST_SECONDS: Final = Histogram(
    "telebridge_http_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer, by route template and status.",
    ["service", "method", "route", "status"],
)
OUTBOX_PUBLISHED: Final = Counter(
    "telebridge_outbox_published",
    "Events the outbox relay published and the stream acknowledged.",
    ["service"],
)
OUTBOX_FAILURES: Final = Counter(
    "telebridge_outbox_publish_failures",
    "Publishes of an outbox event that failed (NATS away, or the message refused).",
    ["service"],
)
CONSUMER_SECONDS: Final = Histogram(
    "telebridge_consumer_processing_seconds",
    "Seconds a consumer took to handle one event, in its transaction, by result: new "
    "(applied), duplicate or stale (skipped), failed (to be retried or dead-lettered).",
    ["consumer", "result"],
)
CONSUMER_REDELIVERIES: Final = Counter(
    "telebridge_consumer_redeliveries",
    "Messages a consumer received again: an earlier delivery failed or was not acknowledged "
    "in time.",
    ["consumer"],
)
CONSUMER_DEAD_LETTERS: Final = Counter(
    "telebridge_consumer_dead_letters",
    "Messages a consumer put on the dead-letter subject, by reason: undecodable, failing.",
    ["consumer", "reason"],
)
MAIL_ATTEMPTS: Final = Counter(
    "telebridge_mail_attempts",
    "Mails the sender took from the queue, by outcome: sent, retry (the server said later, "
    "or did not answer), failed (given up), skipped (superseded or gone).",
    ["outcome"],
)
WEBHOOK_DELIVERIES: Final = Counter(
    "telebridge_webhook_deliveries",
    "Webhook delivery attempts, by outcome: delivered (2xx), gone (410: the endpoint is "
    "disabled), failed (anything else; retried until given up).",
    ["outcome"],
)
WEBHOOK_SECONDS: Final = Histogram(
    "telebridge_webhook_delivery_duration_seconds",
    "Seconds one webhook delivery attempt took, name lookup to the end of the answer read.",
)
SLOT_SEARCH_SECONDS: Final = Histogram(
    "telebridge_slot_search_duration_seconds",
    "Seconds a slot search took: the sites' constraints read, candidates ranked, and when "
    "nothing fits the blockers and relaxations worked out.",
)

# Read when scraped.

Probe = Callable[[Connection], Awaitable[Iterable[Metric]]]
"""Figures of the service's own tables, read at scrape time in a transaction of their own."""


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """One reading of a probe: a gauge without labels."""
    return GaugeMetricFamily(name, documentation, value=value)


def queue_readings(
    queue: str, items: str, item: str, waiting: int, oldest_seconds: float
) -> list[Metric]:
    """A queue of things to send: how many wait, due now or after a retry, and since when
    the oldest does (`telebridge_<queue>_queue_depth`, `…_oldest_age_seconds`)."""
    return [
        gauge(
            f"telebridge_{queue}_queue_depth",
            f"{items} waiting to be sent, due now or after a retry.",
            waiting,
        ),
        gauge(
            f"telebridge_{queue}_queue_oldest_age_seconds",
            f"Seconds the oldest {item} still waiting has been queued (0 when none waits).",
            oldest_seconds,
        ),
    ]


@dataclass(frozen=True)
class Scrape:
    """What a service reads at scrape time: its own tables (probes) and its consumers."""

    probes: Sequence[tuple[str, Probe]]
    """Each probe with its name, as `telebridge_probe_success` names it."""
    consumers: Sequence[tuple[str, str]]
    """The stream and durable name of each of its consumers."""


class _Runtime(Protocol):
    """What a scrape uses of a running service (`shared.service.Runtime`)."""

    pool: Pool
    js: JetStreamContext


async def read(scrape: Scrape, runtime: _Runtime | None) -> list[Metric]:
    """The figures of shared state, each probe bounded in time; none before the service
    has started."""
    if runtime is None:
        return []
    success = GaugeMetricFamily(
        "telebridge_probe_success",
        "Whether the probe answered within the time a scrape allows (1) or not (0).",
        labels=["probe"],
    )
    found: list[Metric] = []
    probes: list[tuple[str, Callable[[], Awaitable[Iterable[Metric]]]]] = [
        (name, _in_transaction(runtime.pool, probe)) for name, probe in scrape.probes
    ]
    probes.append(("consumers", lambda: _consumers(runtime.js, scrape.consumers)))
    for name, probe in probes:
        try:
            found += await asyncio.wait_for(probe(), PROBE_TIMEOUT)
        except Exception as error:  # a scrape answers with what it has
            # At debug: an outage is logged once, by `shared.outages`, not once per scrape.
            log.debug("metrics probe failed", probe=name, error=type(error).__name__)
            success.add_metric([name], 0)
        else:
            success.add_metric([name], 1)
    return [*found, success]


def _in_transaction(pool: Pool, probe: Probe) -> Callable[[], Awaitable[Iterable[Metric]]]:
    async def run() -> Iterable[Metric]:
        async with acquire(pool, PROBE_TIMEOUT) as connection, connection.transaction():
            return list(await probe(connection))

    return run


async def _consumers(js: JetStreamContext, consumers: Sequence[tuple[str, str]]) -> list[Metric]:
    pending = GaugeMetricFamily(
        "telebridge_consumer_pending_messages",
        "Messages of the stream a consumer has not received yet: its lag.",
        labels=["consumer"],
    )
    unacknowledged = GaugeMetricFamily(
        "telebridge_consumer_ack_pending_messages",
        "Messages a consumer received and has not acknowledged yet.",
        labels=["consumer"],
    )
    redelivered = GaugeMetricFamily(
        "telebridge_consumer_redelivered_messages",
        "Messages delivered more than once and not acknowledged yet.",
        labels=["consumer"],
    )
    for stream, durable in consumers:
        try:
            progress = await consumer_progress(js, stream, durable)
        except nats.js.errors.NotFoundError:
            continue  # not declared yet: its worker is starting
        except nats.errors.Error as error:
            raise ConnectionError(f"consumer {durable}: {type(error).__name__}") from error
        pending.add_metric([durable], progress.pending)
        unacknowledged.add_metric([durable], progress.ack_pending)
        redelivered.add_metric([durable], progress.redelivered)
    return [pending, unacknowledged, redelivered]


def exposition(readings: Sequence[Metric]) -> bytes:
    """Every figure of this service in Prometheus' text format (0.0.4): what its processes
    counted, then the readings of shared state."""
    if os.environ.get(MULTIPROCESS_DIR):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
        text = generate_latest(counted)
    else:
        text = generate_latest(REGISTRY)
    return text + generate_latest(_Readings(readings))


class _Readings:
    """A collector of readings already taken."""

    def __init__(self, readings: Sequence[Metric]) -> None:
        self._readings = readings

    def collect(self) -> Iterable[Metric]:
        return iter(self._readings)


@contextmanager
def multiprocess_folder(service: str, *, workers: int) -> Iterator[Path | None]:
    """The folder where the service's processes keep their figures, in
    `PROMETHEUS_MULTIPROC_DIR` while they run; None when one process keeps its own.

    One the environment names is the service's own: what earlier runs left there is
    removed first, as prometheus-client asks, so that it is not added to this run's.
    Otherwise, for several workers, a new temporary folder is made (before they are
    spawned: each reads the variable as it imports prometheus-client), and removed once
    they have ended. Figures of a worker that died and was replaced stay in the sums:
    counters never go back.
    """
    named = os.environ.get(MULTIPROCESS_DIR)
    if named:
        folder = Path(named)
        folder.mkdir(parents=True, exist_ok=True)
        own = f"_{os.getpid()}.db"
        for leftover in folder.glob("*.db"):
            if not leftover.name.endswith(own):
                leftover.unlink()
        yield folder
        return
    if workers <= 1:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix=f"telebridge-{service}-metrics-"))
    os.environ[MULTIPROCESS_DIR] = str(folder)
    try:
        yield folder
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(folder, ignore_errors=True)
