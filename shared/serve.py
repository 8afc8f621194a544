"""Run one service's app under uvicorn: the entry point of `python -m services.<name>`.

uvicorn on uvloop with httptools' parser (`ProblemHttpToolsProtocol`), in `http.workers`
processes sharing the port. granian measured faster on a bare app here (bench/RESULTS.md),
but answers what it cannot parse itself, with an empty untyped body that no setting
changes; uvicorn lets the kernel answer those with problem documents, and serves the tests
exactly as it serves production.

On SIGTERM uvicorn lets requests in flight finish within `http.graceful_shutdown` seconds,
then runs the lifespan's shutdown, which stops the background work within as long again
(`shared.service.Background.stop`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from litestar import Litestar
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from shared.http.media import PROBLEM_JSON
from shared.http.problems import problem_bytes
from shared.metrics import multiprocess_folder
from shared.observability import configure_logging
from shared.orphans import die_with_parent
from shared.settings import HttpSettings, LogSettings, ServiceSettings, SettingsError
from shared.tracing import configure_tracing

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)

_STARTUP_FAILURE = 3
"""uvicorn's own exit status when the app does not start."""
_LINGER_SECONDS = 2.0
"""How long the rest of a refused request is read and dropped before the connection closes."""
_END_OF_HEAD = b"\r\n\r\n"


def serve(
    name: str,
    get_settings: Callable[[], SettingsT],
    create_app: Callable[[SettingsT], Litestar],
) -> None:
    try:
        settings = get_settings()
    except SettingsError as error:
        sys.exit(f"{name}: {error}")
    configure_logging(settings.log, name)
    configure_tracing(name)
    if settings.http.workers > 1:
        # Each worker is a process of its own (spawned): it builds the app from the
        # settings it reads itself, and serves the socket bound here.
        config = server_config(f"{create_app.__module__}:create_app", settings.http)
        config.factory = True
        config.service = name
        config.log = settings.log
        with multiprocess_folder(name, workers=settings.http.workers):
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(server_config(create_app(settings), settings.http))
    with multiprocess_folder(name, workers=1):
        server.run()
    if not server.started:
        sys.exit(_STARTUP_FAILURE)


def server_config(app: Litestar | str, settings: HttpSettings) -> _Config:
    """How uvicorn serves a service; the tests serve apps with it too."""
    config = _Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        loop="uvloop",
        timeout_graceful_shutdown=int(settings.graceful_shutdown),
        # Longer than the idle timeout of the proxies in front (60 s is common): the client
        # side closes an idle connection first, since a server closing it races the next
        # request sent on it. uvicorn's 5 s also runs from when a large answer is handed
        # to the socket, not from when a slow client has read it.
        timeout_keep_alive=65,
        http=ProblemHttpToolsProtocol,
        workers=settings.workers,
        # A spawned worker imports the whole service before it answers the supervisor.
        timeout_worker_healthcheck=60,
    )
    config.max_header_size = settings.max_header_size
    return config


class _Config(uvicorn.Config):
    """uvicorn's configuration, logging as the services do in every worker it spawns."""

    service = ""
    log: LogSettings | None = None
    max_header_size = 16 * 1024

    def configure_logging(self) -> None:
        # uvicorn calls this first thing in every worker it spawns; `log` is set only once
        # the supervisor is about to spawn them.
        if self.log is not None:
            die_with_parent()
            configure_logging(self.log, self.service)
            configure_tracing(self.service)


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing what it cannot parse with a problem document.

    httptools has no limit on the request head: this one counts the bytes of each request
    line and header block and answers 431 once they pass `max_header_size`; a request that
    is not HTTP/1.1 is answered 400. Both as `application/problem+json`, never text.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.max_header_size = getattr(config, "max_header_size", _Config.max_header_size)
        self._head_bytes = 0
        self._reading_head = True
        self._lingering = False

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        if self._reading_head:
            end = data.find(_END_OF_HEAD)
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > self.max_header_size:
                _refuse(self.transport, self.loop, 431, "")
                self._lingering = True
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        error = getattr(self.parser, "error", None) or msg
        _refuse(self.transport, self.loop, 400, str(error))
        self._lingering = True


def _refuse(transport: Any, loop: Any, status: int, reason: str) -> None:
    """Answer a request the server refused before the app saw it, then close."""
    detail = (
        "the request line and headers are longer than this server takes"
        if status == 431
        else f"the request is not HTTP/1.1 this server can read: {reason}"
    )
    slug = "headers-too-large" if status == 431 else "malformed-request"
    body = problem_bytes(status, None, slug=slug, detail=detail)
    phrase = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}[status]
    transport.write(
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, phrase, PROBLEM_JSON.encode(), len(body), body)
    )
    # Close only once the client has had time to read the answer: closing with its
    # request still arriving would reset the connection, and the answer with it.
    if transport.can_write_eof():
        transport.write_eof()
    loop.call_later(_LINGER_SECONDS, transport.close)
