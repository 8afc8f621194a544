"""IANA time zone names: which exist, and what to suggest for one that does not."""

from __future__ import annotations

import difflib
import zoneinfo
from functools import cache


@cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_error(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None when it is one."""
    if name in known_zones():
        return None
    close = difflib.get_close_matches(name, sorted(known_zones()), n=3, cutoff=0.8)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"{name!r} is not an IANA time zone{hint}"
