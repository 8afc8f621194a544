"""Run one service's app under uvicorn: the entry point of `python -m services.<name>`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import h11
import uvicorn
from litestar import Litestar
from uvicorn.protocols.http.h11_impl import H11Protocol

from shared.http.media import PROBLEM_JSON
from shared.http.problems import problem_bytes
from shared.observability import configure_logging
from shared.settings import HttpSettings, ServiceSettings, SettingsError

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)

_STARTUP_FAILURE = 3
"""uvicorn's own exit status when the app does not start."""
_LINGER_SECONDS = 2.0
"""How long the rest of a refused request is read and dropped before the connection closes."""


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
    server = uvicorn.Server(server_config(create_app(settings), settings.http))
    server.run()
    if not server.started:
        sys.exit(_STARTUP_FAILURE)


def server_config(app: Litestar, settings: HttpSettings) -> uvicorn.Config:
    """How uvicorn serves a service; the tests serve apps with it too."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        # h11 always: its refusals are answered as problem documents (below), and "auto"
        # would pick httptools wherever it happens to be installed.
        http=ProblemH11Protocol,
        h11_max_incomplete_event_size=settings.max_header_size,
    )


class ProblemH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, refusing what it cannot parse with a problem document.

    A request that is not HTTP/1.1 never reaches the app: uvicorn answers it with a 400 in
    plain text. This answers 431 when the request line and headers are over
    `http.max_header_size`, else 400, each as `application/problem+json`; never the 5xx
    that h11 suggests for a transfer coding it does not know, since the fault is the client's.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limit = config.h11_max_incomplete_event_size
        self.conn = _Connection(h11.SERVER, 16 * 1024 if limit is None else limit)
        self._lingering = False

    def send_400_response(self, msg: str) -> None:
        error = self.conn.error if isinstance(self.conn, _Connection) else None
        status = 431 if error is not None and error.error_status_hint == 431 else 400
        detail = (
            "the request line and headers are longer than this server takes"
            if status == 431
            else f"the request is not HTTP/1.1 this server can read: {error or msg}"
        )
        slug = "headers-too-large" if status == 431 else "malformed-request"
        body = problem_bytes(status, None, slug=slug, detail=detail)
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"connection", b"close")]
        # As uvicorn answers, with another status, type and body.
        for event in (
            h11.Response(status_code=status, headers=headers),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        # Close only once the client has had time to read the answer: closing with its
        # request still arriving would reset the connection, and the answer with it.
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if not self._lingering:
            super().data_received(data)


class _Connection(h11.Connection):
    """An h11 connection that keeps the error it raised, for the answer to name."""

    error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as error:
            self.error = error
            raise
