"""The load generator: keep-alive HTTP/1.1 connections driving one server, in a process of
its own so that it shares no event loop (and no core it could avoid) with what it measures.

Requests are prepared bytes. Each connection sends one, reads the whole answer
(Content-Length or chunked), notes the latency, and sends the next; the requests are taken
in turn from one list, round and round, or each once (`cycle=False`, for writes that must
not repeat). Answers during the warm-up are not counted.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import uvloop

from shared.orphans import die_with_parent


@dataclass(frozen=True)
class Load:
    port: int
    requests: list[bytes]
    connections: int
    duration: float
    warmup: float = 0.0
    expected: frozenset[int] = frozenset({200})
    cycle: bool = True
    host: str = "127.0.0.1"


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float]
    """Seconds, of every request answered after the warm-up, sorted."""
    unexpected: Counter[int] = field(default_factory=Counter)
    """Statuses outside the expected ones, by status."""
    errors: Counter[str] = field(default_factory=Counter)
    """Connections lost or refused, by what went wrong."""

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        index = min(len(self.latencies) - 1, int(share * len(self.latencies)))
        return self.latencies[index]

    @property
    def clean(self) -> bool:
        return not self.unexpected and not self.errors and bool(self.latencies)


def request(
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_pool: ProcessPoolExecutor | None = None


def run(load: Load) -> LoadResult:
    """Drive the server from the load generator's process and return what was measured."""
    global _pool  # noqa: PLW0603 - one process for the whole run, started once
    if _pool is None:
        # Spawned, not forked: the bench has threads (the mail sink) a fork would copy.
        _pool = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
        )
        atexit.register(_pool.shutdown)
    return _pool.submit(_drive, load).result()


def _drive(load: Load) -> LoadResult:
    return uvloop.run(_measure(load))


class _Stop(Exception):  # noqa: N818 - not an error: the list of requests is used up
    pass


async def _measure(load: Load) -> LoadResult:
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    counting_from = began + load.warmup
    until = counting_from + load.duration
    result = LoadResult(0.0, [])
    position = 0

    def next_request() -> bytes:
        nonlocal position
        if position >= len(load.requests):
            if not load.cycle:
                raise _Stop
            position = 0
        taken = load.requests[position]
        position += 1
        return taken

    async def connection() -> None:
        client: _Client | None = None
        while time.perf_counter() < until:
            try:
                if client is None or client.closed:
                    _, client = await loop.create_connection(_Client, load.host, load.port)
                payload = next_request()
                sent = time.perf_counter()
                status, close = await client.exchange(payload)
                answered = time.perf_counter()
            except _Stop:
                break
            except (OSError, ValueError) as error:
                result.errors[type(error).__name__] += 1
                if client is not None:
                    client.close()
                client = None
                await asyncio.sleep(0.01)
                continue
            if sent >= counting_from and answered <= until:
                result.latencies.append(answered - sent)
                if status not in load.expected:
                    result.unexpected[status] += 1
            if close:
                client.close()
                client = None
        if client is not None:
            client.close()

    await asyncio.gather(*(connection() for _ in range(load.connections)))
    ended = min(time.perf_counter(), until)
    result.seconds = max(ended - max(counting_from, began), 1e-9)
    result.latencies.sort()
    return result


class _Client(asyncio.Protocol):
    """One connection: sends a request and parses its answer as the bytes arrive, counting
    the body's bytes rather than keeping them."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._head = bytearray()
        self._remaining = -1
        """Body bytes still to come; -1 while reading the head."""
        self._chunked = False
        self._chunks = bytearray()
        self._status = 0
        self._close = False
        self._answer: asyncio.Future[tuple[int, bool]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionError("the server closed the connection"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def exchange(self, payload: bytes) -> asyncio.Future[tuple[int, bool]]:
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return self._answer

    def data_received(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._remaining < 0:
                view = self._read_head(view)
            elif self._chunked:
                self._chunks += view
                view = memoryview(b"")
                self._read_chunks()
            else:
                taken = min(self._remaining, len(view))
                self._remaining -= taken
                view = view[taken:]
                if self._remaining == 0:
                    self._done()

    def _read_head(self, view: memoryview) -> memoryview:
        self._head += view
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            return memoryview(b"")
        head, rest = bytes(self._head[:end]), bytes(self._head[end + 4 :])
        self._head.clear()
        status_line, *header_lines = head.split(b"\r\n")
        self._status = int(status_line.split(b" ", 2)[1])
        length, self._chunked, self._close = framing(header_lines)
        if self._status == 304 or self._status < 200:
            length = 0
            self._chunked = False
        self._remaining = length
        if not self._chunked and length == 0:
            self._done()
        return memoryview(rest)

    def _read_chunks(self) -> None:
        while True:
            line_end = self._chunks.find(b"\r\n")
            if line_end < 0:
                return
            size = int(bytes(self._chunks[:line_end]).split(b";")[0], 16)
            if size == 0:
                if self._chunks.find(b"\r\n", line_end + 2) < 0:
                    return
                self._chunks.clear()
                self._done()
                return
            if len(self._chunks) < line_end + 2 + size + 2:
                return
            del self._chunks[: line_end + 2 + size + 2]

    def _done(self) -> None:
        self._remaining = -1
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((self._status, self._close))


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[bytes, bytes]
    """Lower-case names."""
    body: bytes
    close: bool
    """Whether the server closes the connection after it."""


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> Response:
    """Send one request on a connection and read its response whole: a client as light as
    the load generator's, for the scenarios that look at what comes back."""
    writer.write(payload)
    return await read_response(reader)


async def read_response(reader: asyncio.StreamReader) -> Response:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length, chunked, close = framing(header_lines)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    parts = []
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append((await reader.readexactly(size + 2))[:-2])
            if size == 0:
                break
    elif length and status != 304:
        parts.append(await reader.readexactly(length))
    return Response(status, headers, b"".join(parts), close)


def once(port: int, payload: bytes, expected: frozenset[int] = frozenset({200})) -> float:
    """The latency of one request on a new connection, in this process (for a cold GET)."""

    async def measure() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            began = time.perf_counter()
            writer.write(payload)
            status = (await read_response(reader)).status
            elapsed = time.perf_counter() - began
        finally:
            writer.close()
        if status not in expected:
            raise RuntimeError(f"answered {status}, expected {sorted(expected)}")
        return elapsed

    return asyncio.run(measure())


def framing(header_lines: list[bytes]) -> tuple[int, bool, bool]:
    """How a response's body is framed: its Content-Length, whether it is chunked, and
    whether the server closes the connection after it."""
    length = 0
    chunked = close = False
    for line in header_lines:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return length, chunked, close
