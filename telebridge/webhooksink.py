"""The webhook receiver of `telebridge dev`: it takes every POST, checks its Standard
Webhooks signature against the secrets of the endpoints registered with its URL, prints a
line for it and keeps it, so that a partner can try webhooks without a server of its own.

Register an endpoint with a URL under `http://127.0.0.1:8004/` (any path); `telebridge dev`
lets the registry send to 127.0.0.0/8. Each message is kept as `<webhook-id>.json` in the
folder given, with its headers and whether its signature was valid.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn

from shared.webhooks import verified

HOST = "127.0.0.1"
DEFAULT_PORT = 8004

_SECRETS = """
SELECT s.secret FROM registry.webhook_secrets s
JOIN registry.webhook_endpoints e ON e.id = s.endpoint_id
WHERE e.url = ANY($1::text[]) AND (s.expires_at IS NULL OR s.expires_at > now())
"""

Report = Callable[[str], None]


class WebhookSink:
    """An ASGI app that checks and keeps every webhook POSTed to it."""

    def __init__(self, folder: Path, database_url: str, port: int, report: Report) -> None:
        self.folder = folder
        self.database_url = database_url
        self.port = port
        self.report = report
        folder.mkdir(parents=True, exist_ok=True)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        status = 405 if scope["method"] != "POST" else 204
        if status == 204:
            self.keep(scope["path"], headers, body, await self.secrets(scope["path"]))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def secrets(self, path: str) -> list[str]:
        urls = [f"http://{host}:{self.port}{path}" for host in (HOST, "localhost")]
        connection = await asyncpg.connect(self.database_url)
        try:
            return [row["secret"] for row in await connection.fetch(_SECRETS, urls)]
        finally:
            await connection.close()

    def keep(self, path: str, headers: dict[str, str], body: bytes, secrets: list[str]) -> None:
        valid = verified(secrets, headers, body, time.time())
        message_id = headers.get("webhook-id", "no-id")
        try:
            event_type = json.loads(body).get("type", "?")
        except ValueError:
            event_type = "not JSON"
        record = {
            "path": path,
            "verified": valid,
            "headers": {
                name: value for name, value in headers.items() if name.startswith("webhook-")
            },
            "body": body.decode("utf-8", "replace"),
        }
        (self.folder / f"{message_id}.json").write_text(
            json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        mark = "signature ok" if valid else "SIGNATURE NOT VALID"
        self.report(f"webhook {event_type} {message_id} to {path}: {mark}")


@contextmanager
def webhook_sink(
    folder: Path, database_url: str, report: Report, port: int = DEFAULT_PORT
) -> Iterator[WebhookSink]:
    """The receiver on `HOST:port`, in a thread of its own, until the block ends."""
    sink = WebhookSink(folder, database_url, port, report)
    server = uvicorn.Server(
        uvicorn.Config(sink, host=HOST, port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="webhook-sink", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield sink
    finally:
        server.should_exit = True
        thread.join(timeout=5)
