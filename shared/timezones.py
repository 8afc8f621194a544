"""IANA time zone names: which exist, what to suggest for one that does not, and how
people are told a zone («Москва, UTC+3»)."""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location

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


def utc_offset(moment: datetime) -> str:
    """`UTC+3`, `UTC+10`, `UTC+5:30`: the offset of an aware moment as people write it."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, minutes = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def zone_label(zone: ZoneInfo, moment: datetime, language: str) -> str:
    """A zone as a reader of `language` is told it, with its offset at `moment`: «Москва,
    UTC+3», "Moscow, UTC+3"; «UTC» for UTC itself. The one way every text the system writes
    for people names a zone: an IANA name («Europe/Moscow») is for programs."""
    offset = utc_offset(moment.astimezone(zone))
    place = _place(zone, language)
    if place.startswith(("UTC", "GMT")):
        return offset if offset != "UTC+0" else "UTC"
    return f"{place}, {offset}"


@cache
def _place(zone: ZoneInfo, language: str) -> str:
    # Babel looks the names up anew each time: a tenth of rendering a meeting's invite.
    return str(get_timezone_location(zone, locale=language, return_city=True))
