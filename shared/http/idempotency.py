"""`Idempotency-Key` on POST: a retry gets the first answer instead of a second change.

For a POST that carries the header, this middleware verifies the caller's key first, then
opens the request's transaction itself and holds a lock on (credential, key) while the
handler runs in it (the `connection` dependency finds it in the scope). Keys are scoped per
API key, as Stripe scopes them per account: two partners may use the same key for
different requests. The key is verified before the transaction's connection is taken, so
that a full pool of requests holding a connection never waits on another for the check.

A successful answer is stored in the same transaction as the change it reports, so a
client that timed out and retries gets either that answer or, if nothing was committed, a
fresh attempt; never two changes. The same key with a different request is a 422. Answers
are kept for a day.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
)

from shared.access import Caller
from shared.db import UNAVAILABLE, Connection, acquire, database_unavailable
from shared.http.auth import caller_of
from shared.http.bodies import replaying
from shared.http.media import PROBLEM_JSON
from shared.http.problems import RETRY_AFTER, Problem, problem_bytes
from shared.outages import OUTAGES

HEADER: Final = "idempotency-key"
TRANSACTION: Final = "telebridge.idempotent_transaction"
"""Scope state key of the connection a POST with an idempotency key runs in."""
_MAX_KEY_LENGTH: Final = 255
KEY_PATTERN: Final = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$"
"""1 to 255 printable ASCII characters, spaces only inside: the OpenAPI documents say so too."""
_KEY: Final = re.compile(KEY_PATTERN)

_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 0))"
_STORED: Final = """
SELECT request_sha256, status, headers, body FROM idempotent_requests
WHERE credential = $1 AND key = $2 AND created_at > now() - interval '1 day'
"""
_REMEMBER: Final = """
INSERT INTO idempotent_requests (credential, key, request_sha256, status, headers, body)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (credential, key) DO UPDATE SET
    request_sha256 = EXCLUDED.request_sha256, status = EXCLUDED.status,
    headers = EXCLUDED.headers, body = EXCLUDED.body, created_at = now()
"""
_NOT_REMEMBERED: Final = frozenset({b"content-length", b"date", b"server", b"traceparent"})


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(HEADER.encode())
        if sent is None:
            await app(scope, receive, send)
            return
        key = sent.decode("latin-1")
        if not _KEY.fullmatch(key):
            await _send_problem(send, scope, 400, "bad-idempotency-key", _bad_key_detail())
            return
        try:
            caller = await caller_of(ASGIConnection(scope))
        except Problem as problem:
            await _send_problem(
                send,
                scope,
                problem.status_code,
                problem.slug,
                problem.detail,
                extra_headers=problem.headers,
            )
            return
        body, receive = await _read_body(receive)
        credential = _credential(caller, scope["path"])
        fingerprint = _fingerprint(scope, body)
        try:
            await _run_once(
                app, scope, receive, send, credential=credential, key=key, fingerprint=fingerprint
            )
        except UNAVAILABLE as error:
            if not database_unavailable(error):
                raise
            OUTAGES.failed("postgres", error)
            await _send_problem(
                send,
                scope,
                503,
                "unavailable",
                "The database could not be reached just now; try again in a few seconds.",
            )

    return middleware


async def _run_once(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    credential: str,
    key: str,
    fingerprint: str,
) -> None:
    runtime = scope["litestar_app"].state.runtime
    answer: list[Message] = []

    async def keep(message: Message) -> None:
        answer.append(message)

    connection: Connection
    async with acquire(runtime.pool, runtime.settings.database.acquire_timeout) as connection:
        try:
            async with connection.transaction():
                await connection.execute(_LOCK, credential, key)
                stored = await connection.fetchrow(_STORED, credential, key)
                if stored is None:
                    scope.setdefault("state", {})[TRANSACTION] = connection
                    await app(scope, receive, keep)
                    status, headers, body = _successful(answer)
                    await connection.execute(
                        _REMEMBER, credential, key, fingerprint, status, headers, body
                    )
        except _NotKept:
            pass  # rolled back: a failed attempt changes nothing and may be retried
    if stored is None:
        for message in answer:
            await send(message)
    elif stored["request_sha256"] != fingerprint:
        await _send_problem(
            send,
            scope,
            422,
            "idempotency-key-reused",
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request",
        )
    else:
        await _replay(send, stored["status"], stored["headers"], stored["body"])


class _NotKept(Exception):  # noqa: N818 - a signal, not an error
    """The answer was not a success: roll the request's transaction back."""


def _successful(answer: list[Message]) -> tuple[int, list[list[str]], bytes]:
    """Status, headers to keep and body of a successful answer; else `_NotKept` is raised."""
    status = 500
    headers: list[list[str]] = []
    body = b""
    for message in answer:
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [
                [name.decode("latin-1"), value.decode("latin-1")]
                for name, value in message.get("headers", [])
                if name.lower() not in _NOT_REMEMBERED
            ]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")
    if not 200 <= status < 300:
        raise _NotKept
    return status, headers, body


async def _replay(send: Send, status: int, headers: list[list[str]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers),
                (b"content-length", str(len(body)).encode()),
                (b"idempotent-replayed", b"true"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it to the app again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, replaying(body, receive)


def _credential(caller: Caller | None, path: str) -> str:
    """Whose keys these are: an API key, the configured operator key, or, without a key,
    whoever holds the address (a signed link)."""
    if caller is None:
        return f"anonymous {path}"
    return "operator" if caller.key_id is None else str(caller.key_id)


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    method = scope["method"] if scope["type"] == ScopeType.HTTP else ""
    for part in (method, scope["path"], scope.get("query_string", b"").decode()):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _bad_key_detail() -> str:
    return (
        f"Idempotency-Key must be 1 to {_MAX_KEY_LENGTH} printable ASCII characters (a UUID "
        "will do); leave the header out to send the request without one"
    )


async def _send_problem(
    send: Send,
    scope: Scope,
    status: int,
    slug: str,
    detail: str,
    *,
    extra_headers: dict[str, str] | None = None,
) -> None:
    body = problem_bytes(status, scope["path"], slug=slug, detail=detail)
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *(
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in (extra_headers or {}).items()
        ),
    ]
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
