"""The fault suite's servers, and its table at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telebridge.embedded import EmbeddedPostgres
from tests.faults.report import ROWS, table


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of the suite's own: a fault restarts it, which no other test expects."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("faults-postgres") / "data", durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    terminalreporter.section("faults under partner traffic")
    for line in table(ROWS):
        terminalreporter.write_line(line)
