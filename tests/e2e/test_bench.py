"""`python -m bench --quick --profile` as the README gives it: it starts its own stack,
measures every scenario and writes RESULTS.md with each figure beside a baseline, and the
profile of each service measured. Figures are not checked (timings are no test's
business); their presence is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SECTIONS = [
    "Feed GET",
    "Servers, on the bare app",
    "Propagation: sign-up accepted → attendee in feed and invite",
    "Writes, 16 connections",
    "Slot search",
    "Outbox relay",
    "Memory (RSS)",
]


def sections(text: str) -> dict[str, list[list[str]]]:
    """Each section's table rows, as cells."""
    found: dict[str, list[list[str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:]
            found[current] = []
        elif current and line.startswith("| ") and not line.startswith("| what"):
            found[current].append([cell.strip() for cell in line.strip("|").split(" | ")])
    return found


@pytest.mark.timeout(600)
def test_quick_bench_writes_every_section_with_figures_and_baselines(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--profile", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    for heading in ("| CPU |", "| RAM |", "| PostgreSQL |", "| NATS |", "| Python |", "| commit |"):
        assert heading in text
    found = sections(text)
    assert list(found) == SECTIONS, list(found)
    for title, rows in found.items():
        assert rows, f"{title}: no figure"
        for what, value, baseline, *_ in rows:
            assert re.search(r"\d", value), f"{title}: {what} has no figure: {value!r}"
            assert re.search(r"\d", baseline), f"{title}: {what} has no baseline: {baseline!r}"
    profiles = re.findall(r"Profile of (.+?) \(py-spy, sampled meanwhile\):\n\n```\n(.*)", text)
    assert sorted(whose for whose, _ in profiles) == [
        "agenda, agenda",
        "registry, propagation",
        "registry, sign-up",
        "scheduling, feeds",
        "scheduling, propagation",
        "scheduling, slots",
    ]
    for whose, first_line in profiles:
        # Sampled, or why not (a system that forbids reading another process).
        assert re.match(r"[\d,]+ samples |\(no profile: |\(no samples", first_line), whose
