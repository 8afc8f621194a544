"""A summary as people read it, in Russian or English: Markdown and an HTML page. Pure.

The text opens the way a press officer opens one: when, how many, from where («С 1 по 9
октября 2020 года — более ста участников из Астрахани, …, республик Крым, Тыва.»). Then
come who registered and who was there, the operator's outcomes, the sessions (when there
are several), the organizations and sites, and the programme as delivered with its
speakers and materials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.lists import format_list
from markdown_it import MarkdownIt
from markupsafe import Markup

from services.agenda import english, russian
from services.agenda.agendas.renderings import KIND_NAMES, link
from services.agenda.russian import (
    Place,
    capitalized,
    date_range,
    more_than,
    places_phrase,
    round_down,
)
from services.agenda.schemas import (
    AgendaItem,
    Outcomes,
    SummaryContent,
    SummaryOrganization,
    SummarySession,
)
from shared.events import MEETING_KINDS, Language
from shared.regions import Region, region
from shared.templates import render
from shared.timezones import zone_label
from shared.typography import quoted


@dataclass(frozen=True)
class SummaryText:
    """What the summary's renderings show: the facts, the operator's outcomes, and which
    version of the summary it is."""

    content: SummaryContent
    outcomes: Outcomes
    version: int


_ENGLISH_PLURALS: dict[str, dict[str, str]] = {
    "participant": {"one": "participant", "other": "participants"},
    "region": {"one": "region", "other": "regions"},
    "organization": {"one": "organization", "other": "organizations"},
    "person": {"one": "person", "other": "people"},
    "site": {"one": "site", "other": "sites"},
}
_RUSSIAN_NOUNS: dict[str, tuple[str, bool]] = {
    "participant": ("участник", False),
    "region": ("регион", True),  # after «из»: the genitive
    "organization": ("организация", False),
    "person": ("человек", False),
    "site": ("площадка", False),
}
_LABELS: dict[Language, dict[str, str]] = {
    "ru": {
        "summary": "Итоги",
        "version": "версия",
        "when": "Когда",
        "took_part": "Зарегистрировались",
        "from": "Откуда",
        "present": "Присутствовали",
        "checked_in": "по отметкам на сессиях",
        "in_rooms": "в залах площадок",
        "in_room": "в зале",
        "checked_in_short": "отмечено",
        "more": "ещё",
        "outcomes": "Результаты",
        "sessions": "Сессии",
        "organizations": "Организации и площадки",
        "regions": "Регионы",
        "programme": "Программа",
        "site": "площадка",
        "materials": "Материалы",
        "no_items": "Программа не была опубликована.",
        "empty_agenda": "В опубликованной программе не было пунктов.",
        "none_delivered": (
            "Программа была опубликована, но встреча завершилась до начала её первого пункта."
        ),
    },
    "en": {
        "summary": "Summary",
        "version": "version",
        "when": "When",
        "took_part": "Registered",
        "from": "From",
        "present": "Present",
        "checked_in": "checked in to sessions",
        "in_rooms": "in the sites' rooms",
        "in_room": "in its room",
        "checked_in_short": "checked in",
        "more": "and",
        "outcomes": "Outcomes",
        "sessions": "Sessions",
        "organizations": "Organizations and sites",
        "regions": "Regions",
        "programme": "Programme",
        "site": "site",
        "materials": "Materials",
        "no_items": "No agenda was published.",
        "empty_agenda": "The published agenda had no items.",
        "none_delivered": "An agenda was published, but the meeting ended before its first item.",
    },
}


def counted(count: int, noun: str, language: Language) -> str:
    """`count` and `noun` in agreement: 1 участник, 3 участника, 5 участников; 1 region."""
    if language == "ru":
        word, genitive = _RUSSIAN_NOUNS[noun]
        return russian.counted(count, word, genitive=genitive)
    forms = _ENGLISH_PLURALS[noun]
    form = Locale.parse(language).plural_form(count)
    return f"{count} {forms.get(form, forms['other'])}"


# --- what both renderings say -------------------------------------------------------------


def lead(summary: SummaryContent, language: Language) -> str | None:
    """The opening sentence: when, how many, from where. In Russian, places as an editor
    names them: by town, or by region where the town is not known; in English, the regions.
    None when the data cannot tell where everyone came from."""
    named = [found for org in summary.organizations if (found := _region_of(org))]
    if not named or len(named) < len(summary.organizations):
        return None
    people = summary.participants or summary.attended + summary.headcount
    if not people:
        return None
    first, last = _dates(summary)
    if language == "en":
        names = sorted({found.name_en for found in named})
        return (
            f"{_english_date_range(first, last)}, {_english_more_than(people)} took part, "
            f"coming from {_english_count(len(names), 'region')}: "
            f"{format_list([english.in_sentence(name) for name in names], locale='en')}."
        )
    places = [
        Place(org.city, found) for org, found in zip(summary.organizations, named, strict=True)
    ]
    return (
        f"{capitalized(date_range(first, last))} — {more_than(people, 'участник')} "
        f"из {places_phrase(places)}."
    )


def _region_of(org: SummaryOrganization) -> Region | None:
    return region(org.region_code) if org.region_code else None


def present(summary: SummaryContent, language: Language) -> str | None:
    """«98 участников по отметкам на сессиях, ещё 40 человек в залах площадок»; None when
    no attendance was recorded."""
    labels = _LABELS[language]
    parts = []
    if summary.attended:
        parts.append(f"{counted(summary.attended, 'participant', language)} {labels['checked_in']}")
    if summary.headcount:
        more = f"{labels['more']} " if parts else ""
        parts.append(f"{more}{counted(summary.headcount, 'person', language)} {labels['in_rooms']}")
    return ", ".join(parts) or None


def organization_line(org: SummaryOrganization, language: Language) -> str:
    """«Липецкая областная детская библиотека (Липецк, Липецкая область; площадка
    «Квест»): 5 участников, отмечено: 4, в зале: 12 человек»."""
    labels = _LABELS[language]
    name, city = org.name, org.city
    if language == "en":
        name = org.name_en or english.latin(org.name)
        city = org.city_en or (english.latin(org.city) if org.city else None)
    where = ", ".join(part for part in (city, region_name(org, language)) if part)
    if org.site:
        where += f"; {labels['site']}" + (f" {quoted(org.track, language)}" if org.track else "")
    counts = [counted(org.participants, "participant", language)]
    if org.attended:
        counts.append(f"{labels['checked_in_short']}: {org.attended}")
    if org.headcount:
        counts.append(f"{labels['in_room']}: {counted(org.headcount, 'person', language)}")
    return f"{name} ({where}): {', '.join(counts)}"


def region_name(org: SummaryOrganization, language: Language) -> str:
    """The organization's region as the reader's language names it."""
    found = _region_of(org) if language == "en" else None
    return found.name_en if found else org.region


def regions(content: SummaryContent, language: Language) -> list[str]:
    """The regions taking part, in the reader's language, in its alphabetical order."""
    names = {region_name(org, language) for org in content.organizations} or set(content.regions)
    return sorted(names, key=str.casefold)


def session_line(session: SummarySession, zone: ZoneInfo, language: Language) -> str:
    start, end = session.starts_at.astimezone(zone), session.ends_at.astimezone(zone)
    line = _period(start, end, language)
    named = " · ".join(part for part in (session.title, session.track) if part)
    if named:
        line += f" — {named}"
    if session.attended:
        present = (
            counted(session.attended, "person", "ru")
            if language == "ru"
            else f"{session.attended} present"
        )
        line += f" ({present})"
    return line


def item_line(item: AgendaItem, zone: ZoneInfo, language: Language) -> str:
    at = item.starts_at.astimezone(zone)
    kind = KIND_NAMES[language][item.kind]
    track = f" [{item.track}]" if item.track else ""
    names = item.speakers if language == "ru" else [english.latin(s) for s in item.speakers]
    speakers = f" — {'; '.join(names)}" if names else ""
    return f"{_day(at, language)} {at:%H:%M} · {kind}{track}: {item.title}{speakers}"


# --- Markdown -------------------------------------------------------------------------------


def render_markdown(summary: SummaryText, language: Language = "ru") -> str:
    content = summary.content
    labels = _LABELS[language]
    zone = ZoneInfo(content.timezone)
    lines = [
        f"# {labels['summary']}: {content.title}",
        "",
        f"{MEETING_KINDS[language][content.kind]} · {labels['summary']}, "
        f"{labels['version']} {summary.version}",
        "",
    ]
    if opening := lead(content, language):
        lines += [opening, ""]
    lines += [f"- **{label}:** {value}" for label, value in _facts(content, language)]
    lines.append("")
    if outcome := _outcome(summary.outcomes, language):
        lines += [f"## {labels['outcomes']}", "", outcome.strip(), ""]
    for heading, entries in _listings(content, language):
        lines += [f"## {heading}", "", *(f"- {entry}" for entry in entries), ""]
    lines += [f"## {labels['programme']}", ""]
    for item in content.items_delivered:
        lines.append(f"- {item_line(item, zone, language)}")
        if item.materials:
            links = ", ".join(link(m.title, m.url) for m in item.materials)
            lines.append(f"  {labels['materials']}: {links}")
    if note := programme_note(content, language):
        lines += ["", note] if content.items_delivered else [note]
    return "\n".join(lines) + "\n"


# --- HTML -----------------------------------------------------------------------------------

_OUTCOMES_MARKDOWN = MarkdownIt("commonmark", {"html": False})
"""Outcomes are the operator's Markdown; raw HTML in them is shown as text."""


def render_html(summary: SummaryText, language: Language = "ru") -> str:
    """The summary as a page: no script, printable."""
    content = summary.content
    labels = _LABELS[language]
    zone = ZoneInfo(content.timezone)
    outcome = _outcome(summary.outcomes, language)
    return render(
        "services.agenda",
        "summary.html",
        language=language,
        title=f"{labels['summary']}: {content.title}",
        content=content,
        version=summary.version,
        labels=labels,
        kind=MEETING_KINDS[language][content.kind],
        lead=lead(content, language),
        facts=_facts(content, language),
        # The operator's Markdown, raw HTML in it already shown as text by the renderer.
        outcome=Markup(_OUTCOMES_MARKDOWN.render(outcome)) if outcome else None,  # noqa: S704
        listings=_listings(content, language),
        items=[(item_line(item, zone, language), item) for item in content.items_delivered],
        note=programme_note(content, language),
    )


def programme_note(content: SummaryContent, language: Language) -> str | None:
    """What the programme's list leaves unsaid: that no agenda was published, that the one
    published was empty, or that the meeting ended before some of its items (how many of
    them took place); None when every published item was delivered."""
    labels = _LABELS[language]
    delivered, planned = len(content.items_delivered), content.items_planned
    if planned is None:
        return labels["no_items"] if not delivered else None
    if not planned:
        return labels["empty_agenda"]
    if not delivered:
        return labels["none_delivered"]
    if delivered >= planned:
        return None
    if language == "ru":
        return (
            f"Проведено {delivered} из {russian.counted(planned, 'пункт', genitive=True)} "
            "программы: встреча завершилась до начала остальных."
        )
    return (
        f"{delivered} of {planned} agenda items took place: the meeting ended before the "
        "others began."
    )


# --- pieces -----------------------------------------------------------------------------------


def _listings(content: SummaryContent, language: Language) -> list[tuple[str, list[str]]]:
    """The lists between the outcomes and the programme, each under its heading: the
    sessions (when there are several), the organizations and sites, the regions."""
    labels = _LABELS[language]
    zone = ZoneInfo(content.timezone)
    found = []
    if len(content.sessions) > 1:
        found.append(
            (labels["sessions"], [session_line(s, zone, language) for s in content.sessions])
        )
    organizations = [organization_line(org, language) for org in content.organizations]
    found.append((labels["organizations"], organizations))
    found.append((labels["regions"], regions(content, language)))
    return found


def _facts(content: SummaryContent, language: Language) -> list[tuple[str, str]]:
    labels = _LABELS[language]
    zone = ZoneInfo(content.timezone)
    start, end = content.held_from.astimezone(zone), content.held_until.astimezone(zone)
    facts = [
        (labels["when"], f"{_period(start, end, language)} ({zone_label(zone, start, language)})"),
        (labels["took_part"], counted(content.participants, "participant", language)),
        (labels["from"], _from(content, language)),
    ]
    if presence := present(content, language):
        facts.append((labels["present"], presence))
    return facts


def _from(content: SummaryContent, language: Language) -> str:
    """«25 организаций из 18 регионов»; "25 organizations in 18 regions"."""
    organizations = counted(len(content.organizations), "organization", language)
    places = counted(len(regions(content, language)), "region", language)
    return f"{organizations} из {places}" if language == "ru" else f"{organizations} in {places}"


def _outcome(outcomes: Outcomes, language: Language) -> str | None:
    written = outcomes.ru if language == "ru" else outcomes.en
    return written if written and written.strip() else None


def _dates(summary: SummaryContent) -> tuple[date, date]:
    zone = ZoneInfo(summary.timezone)
    first, last = (
        moment.astimezone(zone).date() for moment in (summary.held_from, summary.held_until)
    )
    return first, last


def _english_date_range(first: date, last: date) -> str:
    """«On October 1, 2020», «From October 1 to 9, 2020», «From September 28 to October 9,
    2020»."""
    if first == last:
        return f"On {format_date(first, 'MMMM d, y', locale='en')}"
    if (first.year, first.month) == (last.year, last.month):
        return f"From {format_date(first, 'MMMM d', locale='en')} to {last.day}, {last.year}"
    if first.year == last.year:
        return (
            f"From {format_date(first, 'MMMM d', locale='en')} "
            f"to {format_date(last, 'MMMM d, y', locale='en')}"
        )
    return (
        f"From {format_date(first, 'MMMM d, y', locale='en')} "
        f"to {format_date(last, 'MMMM d, y', locale='en')}"
    )


_ENGLISH_TENS = [
    "ten",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
]
_ENGLISH_NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
]


def _english_more_than(count: int) -> str:
    """«more than a hundred participants» for 115, rounded as the Russian rounds it."""
    rounded = round_down(count)
    if rounded is None or rounded == count:
        return _english_count(count, "participant")
    if rounded == 1000:
        words = "a thousand"
    elif rounded >= 100:
        words = "a hundred" if rounded == 100 else f"{_ENGLISH_NUMBERS[rounded // 100]} hundred"
    else:
        words = _ENGLISH_TENS[rounded // 10 - 1]
    return f"more than {words} participants"


def _english_count(count: int, noun: str) -> str:
    """Numbers up to ten in words, as English style guides write them."""
    written = counted(count, noun, "en")
    return written.replace(str(count), _ENGLISH_NUMBERS[count], 1) if count <= 10 else written


def _period(start: datetime, end: datetime, language: Language) -> str:
    if start.date() == end.date():
        return f"{_day(start, language)}, {start:%H:%M}–{end:%H:%M}"
    return f"{_day(start, language)} {start:%H:%M} – {_day(end, language)} {end:%H:%M}"


def _day(moment: datetime, language: Language) -> str:
    """«1 октября 2020»; "October 1, 2020", as the English lead writes it."""
    return format_date(
        moment.date(), "d MMMM y" if language == "ru" else "MMMM d, y", locale=language
    )
