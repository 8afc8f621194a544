"""Run one service's app under uvicorn: the entry point of `python -m services.<name>`."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from litestar import Litestar

from shared.observability import configure_logging
from shared.settings import ServiceSettings


def serve(name: str, settings: ServiceSettings, create_app: Callable[[], Litestar]) -> None:
    configure_logging(settings.log, name)
    uvicorn.run(
        create_app(),
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
