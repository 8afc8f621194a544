"""Structured logging for every process: one line per event, console or JSON.

structlog renders the services' own events; records of standard-library loggers (uvicorn,
asyncpg, nats) go through the same renderer, so a JSON log has nothing but JSON in it.
"""

from __future__ import annotations

import logging
import sys

import structlog

from shared.outages import CountedAsOutage
from shared.settings import LogSettings
from shared.tracing import add_trace_context

_QUIET_LOGGERS = ("httpx", "httpcore")
"""Libraries that log every request at INFO: only their warnings are worth a line."""


def configure_logging(settings: LogSettings, service: str) -> None:
    level = logging.getLevelNamesMapping().get(settings.level.upper(), logging.INFO)

    def add_service(
        logger: object, method: str, event_dict: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    common: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_context,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if settings.json:
        common.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        interactive = sys.stderr.isatty()
        renderer = structlog.dev.ConsoleRenderer(
            colors=interactive,
            exception_formatter=structlog.dev.rich_traceback
            if interactive
            else structlog.dev.plain_traceback,
        )
    structlog.configure(
        processors=[*common, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *common],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # uvicorn writes its access log whenever that logger reaches a handler, whatever
    # `access_log` says; each request is logged once, by shared.http.middleware.
    logging.getLogger("uvicorn.access").propagate = False
    pool_logger = logging.getLogger("asyncpg.pool")
    if not any(isinstance(each, CountedAsOutage) for each in pool_logger.filters):
        pool_logger.addFilter(CountedAsOutage())
