"""The readers' servers and programs, started once for the whole run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.readers.radicale import radicale_server
from tests.readers.readers import install_icaljs


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the reader's principal on a Radicale server of the tests' own."""
    with radicale_server(tmp_path_factory.mktemp("radicale")) as url:
        yield url


@pytest.fixture(scope="session")
def icaljs() -> None:
    """ical.js installed from the npm registry, at the version package-lock.json pins."""
    install_icaljs()
