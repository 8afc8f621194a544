"""An invite as an e-mail: text, HTML and the calendar, in the recipient's language and zone.

The message is multipart/alternative: text/plain, text/html, and the iCalendar object as
`text/calendar; method=…; charset=UTF-8`, which mail programs with a calendar (Outlook,
Thunderbird, Apple Mail, Gmail) show as an invitation to accept or decline. Headers are
encoded by the standard library's SMTP policy, so Cyrillic names and subjects survive any
server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime as rfc5322_date
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from shared.events import Language, utc_now
from shared.templates import render
from shared.timezones import zone_label
from shared.typography import quoted

MailKind = Literal["invitation", "update", "cancellation"]

POLICY = SMTP
"""CRLF line ends and RFC 2047 encoded words: what any SMTP server takes."""


@dataclass(frozen=True)
class InviteMail:
    kind: MailKind
    method: Literal["REQUEST", "CANCEL"]
    title: str
    starts_at: datetime
    ends_at: datetime
    recipient_name: str
    recipient_email: str
    language: str
    timezone: str
    """The recipient's zone: the times in the text are on their clock."""
    organizer_email: str
    organizer_name: str
    conference_url: str | None
    dial_in: str | None
    url: str | None
    """The published agenda's page («Программа и подробности»); None before there is one."""
    sites: list[tuple[str, str]]
    """Each site's name and zone, host first."""
    calendar: bytes
    message_id: str
    greeting_name: str | None = None
    """How the text greets the recipient («Ирина Леонидовна»); the display name if None."""


_SUBJECTS: dict[Language, dict[MailKind, str]] = {
    "ru": {"invitation": "Приглашение", "update": "Изменено", "cancellation": "Отменено"},
    "en": {"invitation": "Invitation", "update": "Updated", "cancellation": "Cancelled"},
}
_LEADS: dict[Language, dict[MailKind, str]] = {
    "ru": {
        "invitation": "Приглашаем вас на встречу {title}.",
        "update": "Встреча {title} изменилась: вот её новое описание.",
        "cancellation": "Встреча {title} отменена.",
    },
    "en": {
        "invitation": "You are invited to {title}.",
        "update": "{title} has changed; here is how it stands now.",
        "cancellation": "{title} is cancelled.",
    },
}
"""The first line of the text; `{title}` comes in the language's quotation marks."""
_LABELS: dict[Language, dict[str, str]] = {
    "ru": {
        "greeting": "Здравствуйте, {name}!",
        "when": "Когда",
        "sites": "Площадки",
        "join": "Подключение",
        "phone": "По телефону",
        "more": "Программа и подробности",
        "calendar": "Приглашение для календаря приложено к письму.",
        "cancelled_calendar": "Приложенный файл уберёт встречу из вашего календаря.",
        "date": "EEEE, d MMMM y 'г.'",
    },
    "en": {
        "greeting": "Dear {name},",
        "when": "When",
        "sites": "Sites",
        "join": "Join",
        "phone": "By phone",
        "more": "Programme and details",
        "calendar": "The calendar invitation is attached.",
        "cancelled_calendar": "The attached file removes the meeting from your calendar.",
        "date": "EEEE, d MMMM y",
    },
}


def compose(mail: InviteMail) -> EmailMessage:
    language = _language(mail.language)
    message = EmailMessage(policy=POLICY)
    message["From"] = Address(mail.organizer_name, addr_spec=mail.organizer_email)
    message["To"] = Address(mail.recipient_name, addr_spec=mail.recipient_email)
    message["Subject"] = f"{_SUBJECTS[language][mail.kind]}: {mail.title}"
    message["Date"] = rfc5322_date(utc_now())
    message["Message-ID"] = mail.message_id
    paragraphs = _paragraphs(mail, language)
    message.set_content("\n\n".join(paragraph.plain for paragraph in paragraphs) + "\n")
    html = render("services.scheduling", "mail.html", language=language, paragraphs=paragraphs)
    message.add_alternative(html, subtype="html")
    message.add_alternative(
        mail.calendar,
        maintype="text",
        subtype="calendar",
        params={"method": mail.method, "charset": "UTF-8"},
        cte="base64",
    )
    # Last: setting the content moves every Content-* header into the first part.
    message["Content-Language"] = language
    return message


def when(mail: InviteMail, language: Language) -> str:
    """The meeting's time on the recipient's clock, in words of their language."""
    zone = ZoneInfo(mail.timezone)
    starts, ends = mail.starts_at.astimezone(zone), mail.ends_at.astimezone(zone)
    pattern = _LABELS[language]["date"]
    text = f"{format_datetime(starts, pattern, locale=language)}, {starts:%H:%M}–"
    if ends.date() != starts.date():
        text += f"{format_datetime(ends, pattern, locale=language)}, "
    return f"{text}{ends:%H:%M} ({zone_label(zone, starts, language)})"


class Paragraph(NamedTuple):
    """One paragraph of a letter: its words, and the address they lead to, if any."""

    text: str
    url: str | None = None

    @property
    def plain(self) -> str:
        return f"{self.text}: {self.url}" if self.url else self.text


def _paragraphs(mail: InviteMail, language: Language) -> list[Paragraph]:
    labels = _LABELS[language]
    paragraphs = [
        Paragraph(labels["greeting"].format(name=mail.greeting_name or mail.recipient_name)),
        Paragraph(_LEADS[language][mail.kind].format(title=quoted(mail.title, language))),
        Paragraph(f"{labels['when']}: {when(mail, language)}"),
    ]
    if len(mail.sites) > 1:
        local = ", ".join(
            f"{name} — {mail.starts_at.astimezone(ZoneInfo(zone)):%H:%M}"
            for name, zone in mail.sites
        )
        paragraphs.append(Paragraph(f"{labels['sites']}: {local}"))
    if mail.kind != "cancellation":
        if mail.conference_url:
            paragraphs.append(Paragraph(labels["join"], mail.conference_url))
        if mail.dial_in:
            paragraphs.append(Paragraph(f"{labels['phone']}: {mail.dial_in.removeprefix('tel:')}"))
        if mail.url:
            paragraphs.append(Paragraph(labels["more"], mail.url))
    closing = "cancelled_calendar" if mail.kind == "cancellation" else "calendar"
    paragraphs.append(Paragraph(labels[closing]))
    return paragraphs


def _language(value: str) -> Language:
    return "en" if value == "en" else "ru"
