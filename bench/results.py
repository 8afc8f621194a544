"""Figures beside their baselines, and RESULTS.md written from them."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.load import LoadResult


@dataclass
class Figure:
    what: str
    value: str
    baseline: str
    ratio: str
    target: str = ""
    met: bool | None = None
    """None: no target, or none that this figure decides."""
    flag: str = ""
    """Why the figure cannot be trusted as it stands (unexpected statuses, errors)."""


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[tuple[str, str]] = field(default_factory=list)
    """(whose, summary): where a service's CPU time went while it was measured."""

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure


def rate(result: LoadResult) -> str:
    return f"{result.rate:,.0f} req/s"


def latency(result: LoadResult) -> str:
    return f"p50 {ms(result.percentile(0.5))}, p99 {ms(result.percentile(0.99))}"


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def load_figure(result: LoadResult) -> str:
    return f"{rate(result)} ({latency(result)})"


def flag_of(result: LoadResult) -> str:
    problems = [f"{count}× status {status}" for status, count in sorted(result.unexpected.items())]
    problems += [f"{count}× {kind}" for kind, count in sorted(result.errors.items())]
    if not result.latencies:
        problems.append("no request answered")
    return ", ".join(problems)


def share(value: float, baseline: float) -> str:
    """`value` as a share of `baseline`, both higher-is-better."""
    if not baseline:
        return "n/a"
    ratio = value / baseline
    return f"{ratio:.0%}" if ratio < 2 else f"{ratio:,.1f}×"


@dataclass
class Report:
    sections: list[Section] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def section(self, title: str) -> Section:
        found = Section(title)
        self.sections.append(found)
        return found

    def render(self) -> str:
        lines = ["# Telebridge benchmarks", ""]
        lines += [
            "Written by `uv run python -m bench`; every figure beside its baseline measured "
            "in the same run, on the same machine, through the running services.",
            "",
            "| | |",
            "|---|---|",
        ]
        lines += [f"| {name} | {value} |" for name, value in self.machine.items()]
        lines.append("")
        lines += [f"- {note}" for note in self.notes]
        for section in self.sections:
            lines += ["", f"## {section.title}", ""]
            lines += [
                "| what | Telebridge | baseline, same run | ratio | target | met |",
                "|---|---|---|---|---|---|",
            ]
            for figure in section.figures:
                met = {True: "yes", False: "**no**", None: ""}[figure.met]
                value = figure.value + (f" ⚠ {figure.flag}" if figure.flag else "")
                lines.append(
                    f"| {figure.what} | {value} | {figure.baseline} | {figure.ratio} "
                    f"| {figure.target} | {met} |"
                )
            if section.notes:
                lines.append("")
                lines += [f"- {note}" for note in section.notes]
            for whose, profile in section.profiles:
                lines += ["", f"Profile of {whose} (py-spy, sampled meanwhile):", "", "```"]
                lines += [profile, "```"]
        return "\n".join(lines) + "\n"


def machine(database_version: str, nats_version: str) -> dict[str, str]:
    memory = psutil.virtual_memory().total
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD") + (" (modified)" if _dirty() else ""),
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores",
        "RAM": f"{memory / 2**30:.1f} GiB",
        # Other work on the machine makes every figure lower: say how busy it was.
        "load average at start": " ".join(f"{load:.1f}" for load in os.getloadavg()),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "PostgreSQL": database_version,
        "NATS": nats_version,
    }


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown CPU"


def _git(*arguments: str) -> str:
    try:
        return subprocess.run(
            ["git", *arguments], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _dirty() -> bool:
    return bool(_git("status", "--porcelain", "--untracked-files=no"))
