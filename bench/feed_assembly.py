"""Render on write, assemble on read: what a feed GET costs against rendering every event.

    uv run python bench/feed_assembly.py [--events 1000 10000]

For each size, renders that many meetings' calendar objects once (what writes pay, one
meeting at a time) and then assembles the feed from the stored text (what each GET pays),
several times. Numbers, not assertions: compare runs on one machine.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from services.scheduling.ical import (
    CalendarMeeting,
    CalendarSession,
    CalendarSite,
    FeedEntry,
    assemble_feed,
    calendar_objects,
)

ZONES = ["Europe/Kaliningrad", "Europe/Moscow", "Asia/Yekaterinburg", "Asia/Vladivostok"]
STAMP = datetime(2026, 11, 1, tzinfo=UTC)


def meeting(number: int) -> CalendarMeeting:
    starts_at = datetime(2027, 1, 11, 7, tzinfo=UTC) + timedelta(hours=5 * number)
    meeting_id = UUID(int=number + 1)
    sites = [
        CalendarSite(UUID(int=10_000_000 + number), f"Библиотека № {number}", "Регион", zone)
        for zone in (ZONES[number % len(ZONES)], ZONES[(number + 1) % len(ZONES)])
    ]
    return CalendarMeeting(
        meeting_id=meeting_id,
        title=f"Телемост № {number}: «Читаем вместе»",
        kind="telebridge",
        status="scheduled",
        timezone=sites[0].timezone,
        sequence=0,
        sessions=[CalendarSession(meeting_id, starts_at, starts_at + timedelta(hours=2))],
        sites=sites,
        organizer_email="meetings@telebridge.example",
    )


def run(count: int, repeats: int) -> None:
    meetings = [meeting(number) for number in range(count)]
    began = time.perf_counter()
    entries = [
        FeedEntry(found.to_ical(), found.starts_at, found.ends_at, sorted(found.tzids))
        for item in meetings
        for found in calendar_objects(item, STAMP)
    ]
    rendering = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(repeats):
        feed = assemble_feed("Телемосты", timedelta(hours=1), entries)
    assembling = (time.perf_counter() - began) / repeats
    print(
        f"{count:>6} events: rendering all {rendering * 1000:9.1f} ms, "
        f"assembling the feed {assembling * 1000:7.1f} ms ({len(feed) / 1e6:.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    for count in arguments.events:
        run(count, arguments.repeats)


if __name__ == "__main__":
    main()
