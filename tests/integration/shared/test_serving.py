"""What a client on a socket gets from a service served as in production (`shared.serve`):
requests that never reach a handler, because they are slow, oversized or not HTTP, are
answered within a bounded time with a problem document, never a 5xx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
import uvicorn

from services.registry.app import create_app
from shared.serve import server_config
from shared.settings import HttpSettings, RegistrySettings
from tests.integration.api import PROBLEM_JSON, PROBLEM_TYPE_BASE
from tests.support import OPERATOR_KEY, settings_for

BODY_TIMEOUT = 1.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self, status: int, slug: str) -> dict[str, Any]:
        assert self.status == status, (self.status, self.body)
        assert self.headers["content-type"] == PROBLEM_JSON
        document: dict[str, Any] = msgspec.json.decode(self.body)
        assert document["status"] == status
        assert document["type"] == PROBLEM_TYPE_BASE + slug
        assert document["detail"]
        return document


@asynccontextmanager
async def served(database_url: str, nats_url: str) -> AsyncIterator[int]:
    """The registry under uvicorn, configured as `python -m services.registry` is; its port."""
    http = HttpSettings(port=0, body_timeout=BODY_TIMEOUT, max_body_size=64 * 1024)
    settings = settings_for(RegistrySettings, database_url, nats_url, http=http)
    server = uvicorn.Server(server_config(create_app(settings), settings.http))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.05)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def exchange(port: int, request: bytes, *, wait: float = 10.0) -> Answer:
    """Send `request` as it is, then read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), wait)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    return Answer(int(status_line.split()[1]), headers, body)


def post_organization(headers: str, body: bytes) -> bytes:
    return (
        b"POST /organizations HTTP/1.1\r\nHost: registry\r\n"
        + f"Authorization: Bearer {OPERATOR_KEY}\r\n".encode()
        + headers.encode()
        + b"\r\n"
        + body
    )


@pytest.fixture
async def port(database_url: str, nats_url: str) -> AsyncIterator[int]:
    async with served(database_url, nats_url) as bound:
        yield bound


async def test_a_body_shorter_than_its_content_length_is_a_408_after_the_body_timeout(
    port: int,
) -> None:
    started = time.monotonic()
    answer = await exchange(
        port,
        post_organization(
            "Content-Type: application/json\r\nContent-Length: 100\r\n", b'{"name": "'
        ),
    )
    answer.problem(408, "body-timeout")
    assert BODY_TIMEOUT <= time.monotonic() - started < BODY_TIMEOUT + 5
    assert answer.headers["connection"] == "close"


async def test_a_body_over_the_limit_is_a_413_before_it_is_sent(port: int) -> None:
    answer = await exchange(
        port,
        post_organization("Content-Type: application/json\r\nContent-Length: 1000000\r\n", b""),
    )
    document = answer.problem(413, "body-too-large")
    assert "65536" in document["detail"]


async def test_a_chunked_body_over_the_limit_is_a_413(port: int) -> None:
    chunk = b"[" + b"0," * 20_000 + b"0]"
    answer = await exchange(
        port,
        post_organization(
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
            b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(3))
            + b"0\r\n\r\n",
        ),
    )
    answer.problem(413, "body-too-large")


async def test_a_megabyte_of_headers_is_a_431_problem_document(port: int) -> None:
    answer = await exchange(
        port, b"GET /health/live HTTP/1.1\r\nHost: registry\r\nX-Big: " + b"a" * 1_000_000
    )
    answer.problem(431, "headers-too-large")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health/live HTTP/1.1\r\nHost: registry\r\nNo colon here\r\n\r\n",
        b"BREW\x00 / HTTP/1.1\r\n\r\n",
        b"POST /organizations HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: gzip\r\n\r\n",
    ],
    ids=["header-line", "request-line", "transfer-coding"],
)
async def test_what_is_not_http_is_a_400_problem_document(port: int, request_bytes: bytes) -> None:
    answer = await exchange(port, request_bytes)
    answer.problem(400, "malformed-request")


async def test_a_well_formed_request_still_works_on_the_same_server(port: int) -> None:
    answer = await exchange(
        port, b"GET /health/live HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n"
    )
    assert answer.status == 200
    assert msgspec.json.decode(answer.body)["status"] == "ok"
