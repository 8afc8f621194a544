"""Each outage of a dependency logged twice, when it begins and when it ends.

While PostgreSQL or NATS is away every request and every background loop fails the same
way; a line per failure would bury the one fact an operator needs. So whatever meets the
failure reports it here (`failed`), whatever next succeeds reports that (`answered`), and
only the changes are logged: "outage begins" with the first error, "outage ends" with the
duration and how many failures it cost. One process, one view: a module-level instance.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Final, Literal

import structlog

from shared.db import database_unavailable

log = structlog.get_logger(__name__)

Dependency = Literal["postgres", "nats"]


@dataclass
class _Outage:
    began: float
    failures: int


class Outages:
    """Which dependencies are down in this process, since when."""

    def __init__(self) -> None:
        self._current: dict[Dependency, _Outage] = {}

    def failed(self, dependency: Dependency, error: BaseException | str) -> None:
        outage = self._current.get(dependency)
        if outage is None:
            self._current[dependency] = _Outage(began=time.monotonic(), failures=1)
            reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            log.warning("outage begins", dependency=dependency, error=reason.strip(": "))
        else:
            outage.failures += 1

    def answered(self, dependency: Dependency) -> None:
        outage = self._current.pop(dependency, None)
        if outage is not None:
            log.warning(
                "outage ends",
                dependency=dependency,
                duration_s=round(time.monotonic() - outage.began, 1),
                failures=outage.failures,
            )

    def down(self, dependency: Dependency) -> bool:
        return dependency in self._current


OUTAGES: Final = Outages()


class CountedAsOutage(logging.Filter):
    """Drops a library's record of a failure that is PostgreSQL being away, counting it.

    asyncpg's pool logs a traceback each time it fails to reconnect its idle connections.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and database_unavailable(error):
            OUTAGES.failed("postgres", error)
            return False
        return True
