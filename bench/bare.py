"""The ceiling: a bare Litestar + msgspec app doing only what a request must do.

`GET /feeds/<name>` answers the bytes of `<name>.ics` from the folder BENCH_FEEDS names
(read once at start), or 304 to a matching If-None-Match; `POST /json` decodes the body
as Litestar decodes any JSON body (msgspec) and answers 201. Run it under one server:

    python -m bench.bare SERVER PORT FEEDS_DIR WORKERS

SERVER is one of uvicorn-h11, uvicorn-httptools, granian.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from granian import Granian
from granian.constants import Interfaces
from litestar import Litestar, Request, get, post
from litestar.response import Response

SERVERS = ("uvicorn-h11", "uvicorn-httptools", "granian")

FEEDS = {
    path.stem: path.read_bytes()
    for path in sorted(Path(os.environ.get("BENCH_FEEDS", ".")).glob("*.ics"))
}
TAGS = {name: f'"{hashlib.sha256(body).hexdigest()[:32]}"' for name, body in FEEDS.items()}


@get("/feeds/{name:str}", media_type="text/calendar")
async def feed(request: Request[Any, Any, Any], name: str) -> Response[bytes]:
    tag = TAGS[name]
    if request.headers.get("if-none-match") == tag:
        return Response(b"", status_code=304, headers={"ETag": tag})
    return Response(FEEDS[name], media_type="text/calendar", headers={"ETag": tag})


@post("/json")
async def decode(data: dict[str, Any]) -> dict[str, int]:
    return {"fields": len(data)}


@get("/health/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


app = Litestar([feed, decode, ready], openapi_config=None)


def main() -> None:
    server, port, feeds, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    os.environ["BENCH_FEEDS"] = feeds
    if server == "granian":
        Granian(
            "bench.bare:app",
            port=port,
            interface=Interfaces.ASGI,
            workers=workers,
            log_enabled=False,
        ).serve()
        return
    http = "h11" if server == "uvicorn-h11" else "httptools"
    uvicorn.run(
        "bench.bare:app",
        port=port,
        http=http,
        loop="uvloop",
        log_level="warning",
        access_log=False,
        workers=workers,
    )


if __name__ == "__main__":
    main()
