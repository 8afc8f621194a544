"""Post-event summaries, written from data alone. Pure: facts in, summary and text out.

`write_summary` decides what the summary says: who took part, from which organizations and
regions, and which agenda items were delivered before the meeting ended.
`render_markdown` says it in Russian or English, with numbers agreeing with their nouns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date

from services.agenda import russian
from services.agenda.russian import Place, capitalized, date_range, more_than, places_phrase
from services.agenda.schemas import AgendaItem, SummaryContent, SummaryOrganization
from shared.events import MEETING_KINDS, MeetingKind
from shared.regions import region

Language = Literal["ru", "en"]


@dataclass(frozen=True)
class MeetingFacts:
    id: UUID
    title: str
    kind: MeetingKind
    host_organization_id: UUID
    site_ids: list[UUID]
    starts_at: datetime
    ends_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class OrganizationFacts:
    id: UUID
    name: str
    region: str
    timezone: str
    city: str | None = None
    region_code: str | None = None


def write_summary(
    meeting: MeetingFacts,
    organizations: dict[UUID, OrganizationFacts],
    participant_organizations: list[UUID],
    agenda: list[AgendaItem],
) -> SummaryContent:
    """The summary of an ended meeting.

    `participant_organizations` has one entry per registered person: the organization they
    came from. Organizations the service does not know yet are left out until they are.
    """
    held_from = meeting.started_at or meeting.starts_at
    held_until = meeting.ended_at or meeting.ends_at
    per_organization = Counter(participant_organizations)
    taking_part = list(dict.fromkeys([*meeting.site_ids, *per_organization]))
    known = [organizations[org_id] for org_id in taking_part if org_id in organizations]
    host = organizations.get(meeting.host_organization_id)
    return SummaryContent(
        meeting_id=meeting.id,
        title=meeting.title,
        kind=meeting.kind,
        timezone=host.timezone if host else "UTC",
        held_from=held_from,
        held_until=held_until,
        participants=len(participant_organizations),
        organizations=sorted(
            (
                SummaryOrganization(
                    id=org.id,
                    name=org.name,
                    region=org.region,
                    participants=per_organization[org.id],
                    site=org.id in meeting.site_ids,
                    city=org.city,
                    region_code=org.region_code,
                )
                for org in known
            ),
            key=lambda org: (-org.participants, org.name.casefold()),
        ),
        regions=sorted({org.region for org in known}, key=str.casefold),
        items_delivered=[item for item in agenda if item.starts_at < held_until],
    )


# --- text -----------------------------------------------------------------------------

_ENGLISH_PLURALS: dict[str, dict[str, str]] = {
    "participant": {"one": "participant", "other": "participants"},
    "region": {"one": "region", "other": "regions"},
    "organization": {"one": "organization", "other": "organizations"},
}
_RUSSIAN_NOUNS: dict[str, tuple[str, bool]] = {
    "participant": ("участник", False),
    "region": ("регион", True),  # after «из»: the genitive
    "organization": ("организация", False),
}
_LABELS: dict[Language, dict[str, str]] = {
    "ru": {
        "summary": "Итоги",
        "when": "Когда",
        "took_part": "Приняли участие",
        "from": "из",
        "organizations": "Организации",
        "regions": "Регионы",
        "programme": "Программа",
        "site": "площадка",
        "no_items": "Программа не была опубликована.",
    },
    "en": {
        "summary": "Summary",
        "when": "When",
        "took_part": "Took part",
        "from": "from",
        "organizations": "Organizations",
        "regions": "Regions",
        "programme": "Programme",
        "site": "site",
        "no_items": "No agenda was published.",
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


def render_markdown(summary: SummaryContent, language: Language = "ru") -> str:
    labels = _LABELS[language]
    zone = ZoneInfo(summary.timezone)
    start = summary.held_from.astimezone(zone)
    end = summary.held_until.astimezone(zone)
    lines = [
        f"# {labels['summary']}: {summary.title}",
        "",
        f"{MEETING_KINDS[language][summary.kind]}.",
        "",
        *_lead(summary, language),
        f"- **{labels['when']}:** {_period(start, end, language)} ({summary.timezone})",
        f"- **{labels['took_part']}:** {counted(summary.participants, 'participant', language)} "
        f"{labels['from']} {counted(len(summary.regions), 'region', language)}, "
        f"{counted(len(summary.organizations), 'organization', language)}",
        "",
        f"## {labels['organizations']}",
        "",
    ]
    for org in summary.organizations:
        site = f", {labels['site']}" if org.site else ""
        lines.append(
            f"- {org.name} ({org.region}{site}): "
            f"{counted(org.participants, 'participant', language)}"
        )
    lines += ["", f"## {labels['regions']}", ""]
    lines += [f"- {region}" for region in summary.regions]
    lines += ["", f"## {labels['programme']}", ""]
    if not summary.items_delivered:
        lines.append(labels["no_items"])
    for item in summary.items_delivered:
        speakers = f" — {', '.join(item.speakers)}" if item.speakers else ""
        at = item.starts_at.astimezone(zone)
        lines.append(f"- {_day(at, language)} {at:%H:%M} {item.title}{speakers}")
    return "\n".join(lines) + "\n"


def _lead(summary: SummaryContent, language: Language) -> list[str]:
    """The sentence a press release opens with, in Russian: «С 1 по 9 октября 2020 года —
    более ста участников из Астрахани, …, республик Крым, Тыва.» Places are named as an
    editor names them, which needs every organization's town and region."""
    places = [
        Place(org.city, found)
        for org in summary.organizations
        if org.city and org.region_code and (found := region(org.region_code))
    ]
    if language != "ru" or not places or len(places) < len(summary.organizations):
        return []
    zone = ZoneInfo(summary.timezone)
    first, last = (
        moment.astimezone(zone).date() for moment in (summary.held_from, summary.held_until)
    )
    people = more_than(summary.participants, "участник")
    return [f"{capitalized(date_range(first, last))} — {people} из {places_phrase(places)}.", ""]


def _period(start: datetime, end: datetime, language: Language) -> str:
    if start.date() == end.date():
        return f"{_day(start, language)}, {start:%H:%M}–{end:%H:%M}"
    return f"{_day(start, language)} {start:%H:%M} – {_day(end, language)} {end:%H:%M}"


def _day(moment: datetime, language: Language) -> str:
    return format_date(moment.date(), "d MMMM y", locale=language)
