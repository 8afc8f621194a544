"""A published agenda as people and programs read it: an HTML page, Markdown, an ICS of the
items, and the frab (pentabarf) schedule XML that conference apps read. Pure: facts in,
text out.

Every time is given on the host's clock and, beside it, on the clock of every other zone
the sites are in (zones that agree at the meeting's start share a column).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from uuid import UUID
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_timezone_location
from icalendar import Calendar, Event

from services.agenda.agendas.identities import Identity, SpeakerKey, speaker_key
from services.agenda.agendas.items import LINK_SCHEMES
from services.agenda.russian import capitalized
from services.agenda.schemas import ItemKind, Material, ScheduledItem, Speaker
from shared.events import MEETING_KINDS, Language, MeetingKind
from shared.templates import environment, render

KIND_NAMES: dict[Language, dict[ItemKind, str]] = {
    "ru": {
        "opening": "Открытие",
        "welcome": "Приветствие",
        "talk": "Доклад",
        "presentation": "Презентация",
        "master-class": "Мастер-класс",
        "tour": "Экскурсия",
        "discussion": "Обсуждение",
        "quest-task": "Задание квеста",
        "break": "Перерыв",
        "closing": "Закрытие",
        "other": "Другое",
    },
    "en": {
        "opening": "Opening",
        "welcome": "Welcome",
        "talk": "Talk",
        "presentation": "Presentation",
        "master-class": "Master class",
        "tour": "Tour",
        "discussion": "Discussion",
        "quest-task": "Quest task",
        "break": "Break",
        "closing": "Closing",
        "other": "Other",
    },
}
_LABELS: dict[Language, dict[str, str]] = {
    "ru": {
        "programme": "Программа",
        "version": "версия",
        "time": "Время",
        "item": "Пункт программы",
        "sites": "Площадки",
        "materials": "Материалы",
        "every_site": "Все площадки",
        "empty": "В программе пока нет пунктов.",
    },
    "en": {
        "programme": "Programme",
        "version": "version",
        "time": "Time",
        "item": "Item",
        "sites": "Sites",
        "materials": "Materials",
        "every_site": "All sites",
        "empty": "The programme has no items yet.",
    },
}
LONGEST_FRAB_DURATION = timedelta(hours=99, minutes=59)
"""The longest a frab schedule can say an event lasts ("HH:MM")."""


@dataclass(frozen=True)
class Site:
    name: str
    region: str
    timezone: str
    track: str | None = None
    """The workshop track it takes part in; None: the whole meeting."""


@dataclass(frozen=True)
class Programme:
    meeting_id: UUID
    title: str
    kind: MeetingKind
    timezone: str
    """The host's zone: the first column of times."""
    version: int
    items: Sequence[ScheduledItem]
    """In order of time."""
    sites: Sequence[Site]
    url: str
    """Where the page is published."""
    starts_at: datetime
    ends_at: datetime
    """When the meeting is held."""
    published_at: datetime
    """When this version was published: the time the ICS says it was written."""
    identities: Sequence[Identity]
    """What calendars and apps know each of `items` by, in the same order."""
    speaker_numbers: Mapping[SpeakerKey, int]
    """The speakers' frab person ids (see `services.agenda.agendas.identities`)."""

    def __post_init__(self) -> None:
        if len(self.identities) != len(self.items):
            raise ValueError("a programme needs one identity per item")


@dataclass(frozen=True)
class Clock:
    """A column of local times: the zones that agree at the meeting's start."""

    label: str
    zone: ZoneInfo


def clocks(programme: Programme, language: Language) -> list[Clock]:
    """The host's clock first, then one per other offset among the sites, east-bound."""
    host = ZoneInfo(programme.timezone)
    if not programme.items:
        return [Clock(_place(host, language), host)]
    moment = programme.items[0].starts_at
    zones = {programme.timezone: host} | {s.timezone: ZoneInfo(s.timezone) for s in programme.sites}

    def offset(zone: ZoneInfo) -> timedelta:
        return moment.astimezone(zone).utcoffset() or timedelta(0)

    host_offset = offset(host)
    others = sorted((z for z in zones.values() if offset(z) != host_offset), key=offset)
    found = [Clock(_place(host, language), host)]
    for _, same in groupby(others, key=offset):
        group = list(same)
        found.append(Clock(", ".join(_place(zone, language) for zone in group), group[0]))
    return found


def _place(zone: ZoneInfo, language: Language) -> str:
    return str(get_timezone_location(zone, locale=language, return_city=True))


def speaker_text(speaker: Speaker) -> str:
    """«Умеренко Светлана Вячеславовна (Управление культуры)», or either part alone."""
    if speaker.name and speaker.organization:
        return f"{speaker.name} ({speaker.organization})"
    return speaker.name or speaker.organization or ""


@dataclass(frozen=True)
class Track:
    """A day's items of one track, with the sites that follow it; `name` None: the items
    every site follows."""

    name: str | None
    items: list[ScheduledItem]
    sites: list[Site]


def tracks(programme: Programme, items: list[ScheduledItem]) -> list[Track]:
    """A day's items by track: those for every site first, then each track in the order its
    first item starts."""
    names = list(dict.fromkeys(item.track for item in items if item.track))
    return [
        Track(
            name,
            [item for item in items if item.track == name],
            [site for site in programme.sites if name is not None and site.track == name],
        )
        for name in [None, *names]
        if any(item.track == name for item in items)
    ]


def days(programme: Programme) -> list[tuple[str, list[ScheduledItem]]]:
    """The items by day of the host's clock."""
    host = ZoneInfo(programme.timezone)
    return [
        (day, list(items))
        for day, items in groupby(
            programme.items, key=lambda item: item.starts_at.astimezone(host).date().isoformat()
        )
    ]


# --- HTML -------------------------------------------------------------------------------


def render_html(programme: Programme, language: Language = "ru") -> str:
    """A page that needs no script: readable, printable, in Russian or English."""
    labels = _LABELS[language]

    def day_title(day: str) -> str:
        found = format_date(datetime.fromisoformat(day).date(), "EEEE, d MMMM y", locale=language)
        return capitalized(found)

    return render(
        _PAGES,
        "agenda.html",
        language=language,
        title=f"{programme.title} — {labels['programme']}",
        programme=programme,
        labels=labels,
        kind=MEETING_KINDS[language][programme.kind],
        kind_names=KIND_NAMES[language],
        clocks=clocks(programme, language),
        days=[
            {"title": day_title(day), "tracks": tracks(programme, items)}
            for day, items in days(programme)
        ],
        span=_span,
        speakers=lambda item: "; ".join(speaker_text(s) for s in item.speakers),
    )


def _span(item: ScheduledItem, zone: ZoneInfo) -> str:
    start, end = item.starts_at.astimezone(zone), item.ends_at.astimezone(zone)
    if end.date() != start.date():
        return f"{start:%H:%M}–{end:%d.%m %H:%M}"
    return f"{start:%H:%M}–{end:%H:%M}"


_PAGES = "services.agenda"
environment(_PAGES).globals["link_schemes"] = LINK_SCHEMES


def anchor(material: Material) -> str:
    """A material as an HTML link; as plain text if its address is not one pages link to
    (kept from before such addresses were refused)."""
    found: str = environment(_PAGES).get_template("macros.html").module.anchor(material)  # type: ignore[attr-defined]
    return found


# --- Markdown ---------------------------------------------------------------------------


def render_markdown(programme: Programme, language: Language = "ru") -> str:
    labels = _LABELS[language]
    columns = clocks(programme, language)
    lines = [
        f"# {programme.title}",
        "",
        f"{MEETING_KINDS[language][programme.kind]} · {labels['programme']}, "
        f"{labels['version']} {programme.version}",
        "",
    ]
    if not programme.items:
        lines.append(labels["empty"])
    for day, items in days(programme):
        lines += [
            f"## {format_date(datetime.fromisoformat(day).date(), 'd MMMM y', locale=language)}",
            "",
        ]
        header = [clock.label for clock in columns] + [labels["item"]]
        day_tracks = tracks(programme, items)
        for track in day_tracks:
            if track.name is not None or len(day_tracks) > 1:
                lines += [f"### {track.name or labels['every_site']}", ""]
            if track.sites:
                lines += [f"{labels['sites']}: {', '.join(s.name for s in track.sites)}", ""]
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            for item in track.items:
                times = [_span(item, clock.zone) for clock in columns]
                what = f"**{cell(item.title)}**"
                if item.speakers:
                    what += " — " + cell("; ".join(speaker_text(s) for s in item.speakers))
                if item.materials:
                    links = ", ".join(link(m.title, m.url) for m in item.materials)
                    what += f" ({links})"
                lines.append("| " + " | ".join([*times, what]) + " |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def link(title: str, url: str) -> str:
    """A Markdown link; an address with spaces, parentheses or angle brackets goes in
    angle brackets (escaped), which CommonMark reads whole."""
    if any(character in url for character in " ()<>"):
        url = "<" + url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20") + ">"
    return f"[{cell(title)}]({url})"


def cell(value: str) -> str:
    """`value` as text in a Markdown table cell or link title."""
    return value.replace("|", "\\|").replace("\n", " ")


# --- ICS --------------------------------------------------------------------------------


def render_ics(programme: Programme) -> bytes:
    """Each item as an event of its own, times in UTC, for a calendar to import or subscribe
    to. The same published version gives the same bytes every time."""
    calendar = Calendar()
    calendar.add("prodid", "-//Telebridge//Agenda//RU")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("name", programme.title)
    calendar.add("x-wr-calname", programme.title)
    for item, identity in zip(programme.items, programme.identities, strict=True):
        event = Event()
        event.add("uid", f"{identity.uid}@telebridge-agenda")
        # With METHOD, DTSTAMP is when the calendar object was made: its publication.
        event.add("dtstamp", programme.published_at.astimezone(UTC))
        event.add("sequence", identity.sequence)
        event.add("dtstart", item.starts_at)
        event.add("dtend", item.ends_at)
        event.add("summary", item.title)
        description = [KIND_NAMES["ru"][item.kind]]
        description += [speaker_text(s) for s in item.speakers]
        description += [f"{m.title}: {m.url}" for m in item.materials]
        event.add("description", "\n".join(description))
        if item.track:
            event.add("location", item.track)
        event.add("url", programme.url)
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


# --- frab schedule XML -------------------------------------------------------------------


def render_frab(programme: Programme, language: Language = "ru") -> bytes:
    """The pentabarf/frab schedule conference apps (Giggity, ConfClerk…) read: days, rooms
    (the tracks, or one room for the whole meeting), events with start and duration on the
    host's clock. Valid against the frab schedule XSD (see tests/fixtures/frab/README.md)."""
    host = ZoneInfo(programme.timezone)
    schedule = ElementTree.Element("schedule")
    ElementTree.SubElement(schedule, "version").text = str(programme.version)
    conference = ElementTree.SubElement(schedule, "conference")
    _add(conference, "acronym", str(programme.meeting_id))
    _add(conference, "title", programme.title)
    by_day = days(programme)
    if by_day:
        _add(conference, "start", by_day[0][0])
        _add(conference, "end", by_day[-1][0])
    _add(conference, "days", str(len(by_day)))
    _add(conference, "timeslot_duration", "00:05")
    _add(conference, "time_zone_name", programme.timezone)
    _add(conference, "base_url", programme.url)
    default_room = MEETING_KINDS[language][programme.kind]
    if not by_day:
        # The schedule needs a day: an agenda without items has the meeting's, empty.
        ElementTree.SubElement(
            schedule,
            "day",
            index="1",
            date=programme.starts_at.astimezone(host).date().isoformat(),
            start=programme.starts_at.astimezone(host).isoformat(),
            end=programme.ends_at.astimezone(host).isoformat(),
        )
    for index, (day, items) in enumerate(by_day, start=1):
        element = ElementTree.SubElement(
            schedule,
            "day",
            index=str(index),
            date=day,
            start=items[0].starts_at.astimezone(host).isoformat(),
            end=max(item.ends_at for item in items).astimezone(host).isoformat(),
        )
        rooms = sorted({item.track or default_room for item in items})
        for room in rooms:
            room_element = ElementTree.SubElement(element, "room", name=room)
            for item in items:
                if (item.track or default_room) == room:
                    identity = programme.identities[programme.items.index(item)]
                    _frab_event(
                        room_element,
                        programme,
                        item=item,
                        identity=identity,
                        room=room,
                        language=language,
                    )
    _only_xml_characters(schedule)
    ElementTree.indent(schedule)
    data: bytes = ElementTree.tostring(schedule, encoding="utf-8", xml_declaration=True)
    return data


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What XML 1.0 cannot carry: the API refuses control characters, not U+FFFE or U+FFFF."""


def _only_xml_characters(root: ElementTree.Element) -> None:
    """Every character XML cannot carry replaced by U+FFFD, so that the file still parses."""
    for element in root.iter():
        if element.text:
            element.text = _NOT_XML.sub("\ufffd", element.text)
        for name, value in element.attrib.items():
            element.set(name, _NOT_XML.sub("\ufffd", value))


def _frab_event(
    room_element: ElementTree.Element,
    programme: Programme,
    *,
    item: ScheduledItem,
    identity: Identity,
    room: str,
    language: Language,
) -> None:
    host = ZoneInfo(programme.timezone)
    start = item.starts_at.astimezone(host)
    # An item of more than four days is cut to what the format can say; the ICS has its end.
    minutes = int(min(item.ends_at - item.starts_at, LONGEST_FRAB_DURATION).total_seconds() // 60)
    event = ElementTree.SubElement(
        room_element, "event", guid=str(identity.uid), id=str(identity.number)
    )
    _add(event, "date", start.isoformat())
    _add(event, "start", f"{start:%H:%M}")
    _add(event, "duration", f"{minutes // 60:02d}:{minutes % 60:02d}")
    _add(event, "room", room)
    _add(event, "slug", f"{programme.meeting_id}-{identity.number}")
    _add(event, "title", item.title)
    _add(event, "track", item.track or "")
    _add(event, "type", item.kind)
    _add(event, "language", language)
    _add(event, "abstract", "")
    persons = ElementTree.SubElement(event, "persons")
    for speaker in item.speakers:
        person = ElementTree.SubElement(persons, "person")
        number = programme.speaker_numbers.get(speaker_key(speaker))
        if number is not None:
            person.set("id", str(number))
        if speaker.person_id is not None:
            person.set("guid", str(speaker.person_id))
        person.text = speaker_text(speaker)
    links = ElementTree.SubElement(event, "links")
    for material in item.materials:
        ElementTree.SubElement(links, "link", href=material.url).text = material.title


def _add(parent: ElementTree.Element, name: str, text: str) -> None:
    ElementTree.SubElement(parent, name).text = text
