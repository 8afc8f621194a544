"""IANA time zone names: which exist, and what to suggest for one that does not."""

from __future__ import annotations

import difflib
from functools import cache
from importlib.resources import files

_NOT_A_PLACE = frozenset({"Factory", "localtime", "posixrules"})


@cache
def known_zones() -> frozenset[str]:
    """The zones of the `tzdata` package, which every host running Telebridge has.

    Not `zoneinfo.available_timezones()`: that also lists what this host's own tz folder
    happens to hold, such as `localtime`, which another host cannot load.
    """
    names = files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(names) - _NOT_A_PLACE


def timezone_error(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None when it is one."""
    if name in known_zones():
        return None
    close = difflib.get_close_matches(name, sorted(known_zones()), n=3, cutoff=0.8)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"{name!r} is not an IANA time zone{hint}"
