"""Run one service's app under uvicorn: the entry point of `python -m services.<name>`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from litestar import Litestar

from shared.observability import configure_logging
from shared.settings import ServiceSettings, SettingsError

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


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
    uvicorn.run(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
