"""`telebridge status`: every running replica of every service, found on NATS.

Each replica is a `nats.micro` service (`shared.micro`). The command asks
`$SRV.INFO.<service>` and `$SRV.STATS.<service>` (subjects only that service's
credentials may answer, `shared.bus.permissions`) and keeps every answer that comes
within a short window: one per replica, with its instance id, version and endpoints.
Then it asks each replica's own `status` endpoint for its health, its service's outbox
backlog and its consumers' lag. A service with no replica, or a replica that does not
answer or is not healthy, makes the report fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shared.bus.jetstream import connect_nats, without_login
from shared.db import StartupError
from shared.micro import STATUS, ConsumerLag, ReplicaStatus
from shared.settings import NatsSettings, load_settings

T = TypeVar("T")

NATS_URL_FILE: Final = "nats-url"
"""Where `telebridge dev` writes the URL of the NATS it runs, in its data folder."""
DEFAULT_WAIT: Final = 1.0
"""Seconds to collect discovery answers: replicas answer in milliseconds on a healthy bus."""
STATUS_TIMEOUT: Final = 3.0
"""Seconds a replica has to answer its `status` (its own checks take at most 2)."""


class _Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The NATS settings the services read (`TELEBRIDGE_NATS_*`), credentials included."""

    nats: NatsSettings = NatsSettings()


class _Endpoint(msgspec.Struct):
    name: str
    subject: str


class _Info(msgspec.Struct):
    """What a replica answers on `$SRV.INFO` (the parts used here)."""

    name: str
    id: str
    version: str
    endpoints: list[_Endpoint] = []
    metadata: dict[str, str] | None = None


class _EndpointStats(msgspec.Struct):
    name: str
    num_requests: int = 0
    num_errors: int = 0


class _Stats(msgspec.Struct):
    id: str
    endpoints: list[_EndpointStats] | None = None


Health = Literal["ok", "degraded", "unavailable", "no answer"]


class Replica(msgspec.Struct, frozen=True):
    service: str
    instance: str
    version: str
    health: Health
    http: str
    host: str
    outbox_backlog: int | None = None
    consumer_lag: int | None = None
    """Every consumer's pending and unacknowledged messages together."""
    consumers: list[ConsumerLag] = []
    uptime_s: float | None = None
    requests: int | None = None
    """Requests its micro endpoints have answered (discovery's own not counted)."""
    errors: int | None = None
    problem: str = ""
    """Why it gave no status, when it did not."""


class Report(msgspec.Struct, frozen=True):
    nats: str
    replicas: list[Replica]
    missing: list[str]
    """Services expected and not found: no replica answered discovery."""

    @property
    def unhealthy(self) -> list[Replica]:
        return [replica for replica in self.replicas if replica.health != "ok"]


class Unreachable(Exception):  # noqa: N818 - the command's ending, not a program error
    """NATS cannot be reached: the message says where it was looked for."""


def nats_settings(
    nats_url: str | None, data_dir: Path, environ: dict[str, str] | None = None
) -> NatsSettings:
    """The services' NATS settings; the URL from `--nats-url`, else TELEBRIDGE_NATS_URL,
    else the NATS `telebridge dev` runs (its data folder says where), else the default."""
    environ = dict(os.environ) if environ is None else environ
    settings = load_settings(_Settings, "status", environ).nats
    if nats_url is None and "TELEBRIDGE_NATS_URL" not in environ:
        written = data_dir / NATS_URL_FILE
        if written.is_file():
            nats_url = written.read_text(encoding="utf-8").strip()
    if nats_url:
        settings = msgspec.structs.replace(settings, url=nats_url)
    return settings


async def collect(
    settings: NatsSettings, services: Sequence[str], wait: float = DEFAULT_WAIT
) -> Report:
    """Find every replica of `services` and ask each for its status."""
    settings = msgspec.structs.replace(settings, connect_timeout=min(settings.connect_timeout, 5))
    try:
        client = await connect_nats(settings, name="telebridge-status")
    except (StartupError, nats.errors.Error, OSError) as error:
        reason = (
            str(error).replace(settings.url, without_login(settings.url)) or type(error).__name__
        )
        raise Unreachable(
            f"cannot reach NATS at {without_login(settings.url)}: {reason}"
        ) from error
    try:
        # By name: only a service's own credentials may answer `$SRV.<verb>.<its name>`.
        infos, stats = await asyncio.gather(
            asyncio.gather(*(_gather(client, f"$SRV.INFO.{name}", wait) for name in services)),
            asyncio.gather(*(_gather(client, f"$SRV.STATS.{name}", wait) for name in services)),
        )
        found = [
            info
            for name, answers in zip(services, infos, strict=True)
            for info in (_decoded(message, _Info) for message in answers)
            if info is not None and info.name == name
        ]
        counts = {
            each.id: each
            for answers in stats
            for each in (_decoded(message, _Stats) for message in answers)
            if each
        }
        replicas = await asyncio.gather(
            *(_replica(client, info, counts.get(info.id)) for info in found)
        )
    finally:
        with contextlib.suppress(nats.errors.Error, OSError):
            await client.close()
    order = {name: index for index, name in enumerate(services)}
    return Report(
        nats=without_login(settings.url),
        replicas=sorted(replicas, key=lambda each: (order[each.service], each.http, each.instance)),
        missing=[name for name in services if all(info.name != name for info in found)],
    )


async def _gather(client: NATS, subject: str, wait: float) -> list[Msg]:
    """Every answer to one request that arrives within `wait` seconds."""
    inbox = client.new_inbox()
    answers: list[Msg] = []

    async def keep(message: Msg) -> None:
        answers.append(message)

    subscription = await client.subscribe(inbox, cb=keep)
    try:
        await client.publish(subject, b"", reply=inbox)
        await client.flush()
        await asyncio.sleep(wait)  # how many will answer is unknown: discovery is a window
    finally:
        await subscription.unsubscribe()
    return answers


def _decoded(message: Msg, kind: type[T]) -> T | None:
    try:
        return msgspec.json.decode(message.data, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


async def _replica(client: NATS, info: _Info, stats: _Stats | None) -> Replica:
    metadata = info.metadata or {}
    replica = Replica(
        service=info.name,
        instance=info.id,
        version=info.version,
        health="no answer",
        http=metadata.get("http", ""),
        host=metadata.get("host", ""),
    )
    if stats is not None and stats.endpoints is not None:
        replica = msgspec.structs.replace(
            replica,
            requests=sum(each.num_requests for each in stats.endpoints),
            errors=sum(each.num_errors for each in stats.endpoints),
        )
    subject = next((each.subject for each in info.endpoints if each.name == STATUS), None)
    if subject is None:
        return msgspec.structs.replace(replica, problem="it has no status endpoint")
    try:
        message = await client.request(subject, b"", timeout=STATUS_TIMEOUT)
    except (nats.errors.Error, TimeoutError) as error:
        problem = "no answer in time" if isinstance(error, TimeoutError) else str(error)
        return msgspec.structs.replace(replica, problem=problem)
    headers = message.headers or {}
    if ERROR_CODE_HEADER in headers:
        problem = f"{headers[ERROR_CODE_HEADER]} {headers.get(ERROR_HEADER, '')}".strip()
        return msgspec.structs.replace(replica, problem=problem)
    status = _decoded(message, ReplicaStatus)
    if status is None:
        return msgspec.structs.replace(replica, problem="its status could not be read")
    return msgspec.structs.replace(
        replica,
        health=status.status,
        outbox_backlog=status.outbox_backlog,
        consumer_lag=status.lag,
        consumers=status.consumers,
        uptime_s=status.uptime_s,
        problem=", ".join(
            f"{name}: {answer}" for name, answer in status.checks.items() if answer != "ok"
        ),
    )


def as_json(report: Report) -> str:
    document: dict[str, Any] = msgspec.to_builtins(report)
    document["ok"] = not report.missing and not report.unhealthy
    return json.dumps(document, ensure_ascii=False, indent=2)


def render(report: Report, console: Console) -> None:
    """The replicas as a table, each consumer's lag below, then what is wrong."""
    table = Table(title=f"Telebridge on {report.nats}", header_style="bold")
    for column in ("service", "instance", "version", "health", "HTTP"):
        table.add_column(column)
    for column in ("outbox", "lag", "uptime", "requests"):
        table.add_column(column, justify="right")
    for replica in report.replicas:
        colour = {"ok": "green", "degraded": "yellow"}.get(replica.health, "red")
        table.add_row(
            replica.service,
            replica.instance,
            replica.version,
            f"[{colour}]{replica.health}[/]",
            escape(replica.http),
            _count(replica.outbox_backlog),
            _count(replica.consumer_lag),
            _duration(replica.uptime_s),
            _count(replica.requests),
        )
    for name in report.missing:
        table.add_row(name, "-", "-", "[red]missing[/]", "", "", "", "", "")
    console.print(table)
    consumers = Table(title="Consumers (shared by the replicas of a service)", header_style="bold")
    for column in ("service", "consumer", "stream"):
        consumers.add_column(column)
    for column in ("pending", "unacknowledged", "redelivered"):
        consumers.add_column(column, justify="right")
    seen: set[tuple[str, str]] = set()
    for replica in report.replicas:
        for lag in replica.consumers:
            if (replica.service, lag.name) not in seen and lag.pending is not None:
                seen.add((replica.service, lag.name))
                consumers.add_row(
                    replica.service,
                    lag.name,
                    lag.stream,
                    _count(lag.pending),
                    _count(lag.ack_pending),
                    _count(lag.redelivered),
                )
    if seen:
        console.print(consumers)
    for name in report.missing:
        console.print(f"[red]{name}[/]: no replica answers on NATS")
    for replica in report.unhealthy:
        problem = escape(replica.problem or replica.health)
        console.print(f"[red]{replica.service} {replica.instance}[/]: {problem}")


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    return (
        f"{days}d{hour:02}h"
        if days
        else f"{hour}h{minute:02}m"
        if hour
        else f"{minute}m{second:02}s"
    )
