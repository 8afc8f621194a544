"""Structured logging for every process: one line per event, console or JSON."""

from __future__ import annotations

import logging
import sys

import structlog

from shared.settings import LogSettings


def configure_logging(settings: LogSettings, service: str) -> None:
    level = logging.getLevelNamesMapping().get(settings.level.upper(), logging.INFO)

    def add_service(
        logger: object, method: str, event_dict: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if settings.json:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        interactive = sys.stderr.isatty()
        processors.append(
            structlog.dev.ConsoleRenderer(
                colors=interactive,
                exception_formatter=structlog.dev.rich_traceback
                if interactive
                else structlog.dev.plain_traceback,
            )
        )
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, format="%(message)s")
