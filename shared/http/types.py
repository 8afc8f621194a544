"""Field types the APIs share, with their constraints where msgspec and OpenAPI see them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

Instant = Annotated[
    datetime,
    msgspec.Meta(
        tz=True, description="RFC 3339 with an offset", examples=["2023-08-25T11:00:00+03:00"]
    ),
]
"""An instant with its UTC offset; a local time without one is refused."""

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def out_of_range(moment: datetime) -> str | None:
    """Why an instant is too far from now to be a meeting's, or None when it is not.

    Years 1 and 9999 are valid RFC 3339 but overflow time-zone arithmetic and PostgreSQL.
    """
    if EARLIEST <= moment < LATEST:
        return None
    return f"{moment.isoformat()} is not between {EARLIEST.year} and {LATEST.year}"


_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]+$"


def one_line(max_length: int, example: str | None = None) -> msgspec.Meta:
    """Constraints of a one-line text field, as `Annotated[str, one_line(...)]`: not empty,
    no control characters (newlines, NUL, ESC…), which calendar files cannot carry."""
    return msgspec.Meta(
        min_length=1,
        max_length=max_length,
        pattern=_NO_CONTROL_CHARACTERS,
        examples=[example] if example else None,
    )
