"""The fault table: one row per fault, printed at the end of the run (see conftest)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    fault: str
    accepted: int
    checked: int
    lost: int
    doubled: int
    resent: int
    """Mails the server took as their sender was killed, sent again after its restart."""
    recovery: float | None
    """Seconds from the repair until the system was quiet; None if it never was."""


ROWS: list[Row] = []

HEADER = (
    "fault",
    "requests accepted",
    "effects checked",
    "lost",
    "doubled",
    "mail resent at the kill",
    "recovery",
)


def table(rows: list[Row]) -> list[str]:
    cells = [
        (
            row.fault,
            str(row.accepted),
            str(row.checked),
            str(row.lost),
            str(row.doubled),
            str(row.resent),
            "not quiet" if row.recovery is None else f"{row.recovery:.1f} s",
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [HEADER, *cells]) for column in range(len(HEADER))]
    lines = [
        " | ".join(
            text.ljust(width) if column == 0 else text.rjust(width)
            for column, (text, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in [HEADER, *cells]
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return lines
