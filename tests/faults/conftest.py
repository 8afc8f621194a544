"""The fault suite's servers, and its table at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telebridge.embedded import EmbeddedPostgres
from tests.faults.report import ROWS, table
from tests.faults.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One system for the whole suite: starting three services takes longer than most
    faults. Its own PostgreSQL, because a fault restarts it, which no other test expects;
    each scenario has people and meetings of its own."""
    folder = tmp_path_factory.mktemp("faults")
    postgres = EmbeddedPostgres(folder / "postgres", durable=False)
    postgres.start()
    try:
        with running_stack(postgres, "faults", folder) as running:
            yield running
    finally:
        postgres.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    terminalreporter.section("faults under partner traffic")
    for line in table(ROWS):
        terminalreporter.write_line(line)
