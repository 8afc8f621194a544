"""A Radicale CalDAV server of the tests' own, and a calendar client storing files in it as
a calendar program does when the user accepts an invite or imports a feed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import caldav
import httpx
import icalendar
from caldav.collection import Calendar

from telebridge.embedded import free_port
from tests.readers.readers import FROM, UNTIL, Occurrence, by_caldav_expansion

CONFIG = """\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = none

[rights]
type = owner_only

[storage]
filesystem_folder = {folder}

[logging]
level = warning
"""
USER = "reader"


@contextmanager
def radicale_server(folder: Path) -> Iterator[str]:
    """Radicale on a free port; yields the URL of the reader's principal."""
    port = free_port()
    config = folder / "config"
    folder.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG.format(port=port, folder=folder / "collections"))
    log = folder / "radicale.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/{USER}/"
    try:
        _wait_until_up(process, port, log)
        # The first login makes the user's principal collection.
        httpx.request("PROPFIND", url, auth=(USER, "x"), headers={"Depth": "0"}, timeout=60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until Radicale listens. Only the connection is awaited: its first answer can take
    seconds on a busy machine, and a request given up early would be asked again forever."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Radicale exited with {process.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise TimeoutError(f"Radicale did not listen on port {port}: {log.read_text()}")


def as_stored(data: bytes) -> list[bytes]:
    """What a calendar program stores from a file: one calendar object resource per UID
    with the VTIMEZONEs it uses, and no METHOD, which RFC 4791 forbids in stored objects."""
    calendar = icalendar.Calendar.from_ical(data)
    timezones = calendar.walk("VTIMEZONE")
    by_uid: dict[str, list[icalendar.cal.Component]] = {}
    for event in calendar.walk("VEVENT"):
        by_uid.setdefault(str(event["UID"]), []).append(event)
    resources = []
    for events in by_uid.values():
        stored = icalendar.Calendar()
        for name, value in calendar.property_items(recursive=False):
            if name not in {"BEGIN", "END", "METHOD"}:
                stored.add(name, value)
        used = {
            str(value.params.get("TZID"))
            for event in events
            for name in ("DTSTART", "DTEND")
            if (value := event.get(name)) is not None
        }
        for timezone in timezones:
            if str(timezone["TZID"]) in used:
                stored.add_component(timezone)
        for event in events:
            stored.add_component(event)
        resources.append(stored.to_ical())
    return resources


def stored(principal_url: str, data: bytes) -> list[Occurrence]:
    """Store the file in a new calendar and read back what the server keeps, as written."""
    with _new_calendar(principal_url, data) as calendar:
        return by_caldav_expansion(calendar.events())


def stored_and_expanded(principal_url: str, data: bytes) -> list[Occurrence]:
    """Store the file in a new calendar, then ask the server for every occurrence."""
    with _new_calendar(principal_url, data) as calendar:
        found = calendar.search(
            start=FROM,
            end=UNTIL,
            event=True,
            expand=True,
            server_expand=True,
            post_filter=False,
        )
        return by_caldav_expansion(found)


@contextmanager
def _new_calendar(principal_url: str, data: bytes) -> Iterator[Calendar]:
    with caldav.DAVClient(url=principal_url, username=USER, password="x") as client:
        # The principal's URL is known: discovering it costs a second per client.
        principal = caldav.Principal(client=client, url=principal_url)
        calendar: Calendar = principal.make_calendar(cal_id=str(uuid4()))
        for resource in as_stored(data):
            calendar.save_event(ical=resource.decode("utf-8"))
        yield calendar
