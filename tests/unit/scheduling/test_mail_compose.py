"""An invite as an e-mail: the parts a mail program needs, in the recipient's language and
on the recipient's clock, with headers that survive any server."""

from __future__ import annotations

import email
import email.policy
import html
from dataclasses import replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr

import pytest

from services.scheduling.mail.compose import InviteMail, compose, when

CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Telebridge//RU\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:m@telebridge\r\nSUMMARY:Телемост «Липецк — Владивосток» 🎉\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
).encode()

MAIL = InviteMail(
    kind="invitation",
    method="REQUEST",
    title="Телемост «Липецк — Владивосток»",
    starts_at=datetime(2026, 12, 3, 8, 0, tzinfo=UTC),
    ends_at=datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
    recipient_name="Екатерина Александровна Ли-Соколова-Преображенская",
    recipient_email="ekaterina@library.example",
    language="ru",
    timezone="Asia/Vladivostok",
    organizer_email="events@lipetsk-library.example",
    organizer_name="Липецкая областная научная библиотека",
    conference_url="https://telemost.example/j/12345?pwd=a&b=<c>",
    dial_in="tel:+7-495-000-00-00",
    url="https://agenda.example/meetings/7/agenda.html",
    sites=[
        ("Липецкая областная научная библиотека", "Europe/Moscow"),
        ("Приморская краевая библиотека", "Asia/Vladivostok"),
    ],
    calendar=CALENDAR,
    message_id="<0123456789@lipetsk-library.example>",
)


def sent(mail: InviteMail) -> tuple[bytes, EmailMessage]:
    raw = compose(mail).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def text_of(message: EmailMessage, subtype: str) -> str:
    [part] = [p for p in message.walk() if p.get_content_type() == f"text/{subtype}"]
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


def decoded_name(raw: bytes, header: str) -> str:
    """RFC 2047 as written: the classic decoder, since Python 3.11's modern parser puts a
    space where folding split a name between two encoded words."""
    name, _ = parseaddr(email.message_from_bytes(raw)[header])
    return str(make_header(decode_header(name)))


def test_the_message_is_text_html_and_calendar_alternatives() -> None:
    _, message = sent(MAIL)
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html", "text/calendar"]


def test_the_calendar_part_names_its_method_and_charset_and_keeps_every_byte() -> None:
    _, message = sent(MAIL)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    assert part.get_param("charset") == "UTF-8"
    assert part.get_payload(decode=True) == CALENDAR
    _, cancelled = sent(replace(MAIL, kind="cancellation", method="CANCEL"))
    [part] = [p for p in cancelled.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "CANCEL"


def test_cyrillic_names_and_subject_survive_header_encoding() -> None:
    raw, message = sent(MAIL)
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    assert all(len(line) <= 78 for line in headers.split(b"\r\n"))
    assert decoded_name(raw, "To") == MAIL.recipient_name
    assert decoded_name(raw, "From") == MAIL.organizer_name
    assert message["To"].addresses[0].addr_spec == MAIL.recipient_email
    assert message["Subject"] == "Приглашение: Телемост «Липецк — Владивосток»"
    assert message["Message-ID"] == MAIL.message_id
    assert message["Content-Language"] == "ru"


def test_lines_end_with_crlf_as_smtp_wants() -> None:
    raw, _ = sent(MAIL)
    assert b"\n" not in raw.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Asia/Vladivostok", "четверг, 3 декабря 2026 г., 18:00–19:30 (Владивосток, UTC+10)"),
        ("Europe/Moscow", "четверг, 3 декабря 2026 г., 11:00–12:30 (Москва, UTC+3)"),
        ("Europe/Kaliningrad", "четверг, 3 декабря 2026 г., 10:00–11:30 (Калининград, UTC+2)"),
    ],
)
def test_the_time_is_on_the_recipients_clock(zone: str, expected: str) -> None:
    assert when(replace(MAIL, timezone=zone), "ru") == expected


def test_a_meeting_over_midnight_names_both_days() -> None:
    late = replace(
        MAIL,
        starts_at=datetime(2026, 12, 3, 13, 30, tzinfo=UTC),
        ends_at=datetime(2026, 12, 3, 14, 30, tzinfo=UTC),
    )
    assert when(late, "en") == (
        "Thursday, 3 December 2026, 23:30–Friday, 4 December 2026, 00:30 (Vladivostok, UTC+10)"
    )


def test_a_russian_invitation_reads_in_russian_with_each_sites_local_time() -> None:
    _, message = sent(MAIL)
    text = text_of(message, "plain")
    assert text.startswith(f"Здравствуйте, {MAIL.recipient_name}!")
    assert "Приглашаем вас на встречу «Телемост „Липецк — Владивосток“»." in text
    assert "Когда: четверг, 3 декабря 2026 г., 18:00–19:30" in text
    assert (
        "Площадки: Липецкая областная научная библиотека — 11:00, "
        "Приморская краевая библиотека — 18:00"
    ) in text
    assert f"Подключение: {MAIL.conference_url}" in text
    assert "По телефону: +7-495-000-00-00" in text
    assert "Программа и подробности: https://agenda.example/meetings/7/agenda.html" in text
    assert "Приглашение для календаря приложено к письму." in text


def test_an_english_invitation_reads_in_english() -> None:
    _, message = sent(replace(MAIL, language="en", recipient_name="John Smith"))
    text = text_of(message, "plain")
    assert message["Subject"] == "Invitation: Телемост «Липецк — Владивосток»"
    assert message["Content-Language"] == "en"
    assert text.startswith("Dear John Smith,")
    assert "You are invited to “Телемост ‘Липецк — Владивосток’”." in text
    assert "When: Thursday, 3 December 2026, 18:00–19:30 (Vladivostok, UTC+10)" in text
    assert "The calendar invitation is attached." in text


def test_an_unknown_language_falls_back_to_russian() -> None:
    _, message = sent(replace(MAIL, language="tt"))
    assert message["Subject"].startswith("Приглашение: ")


def test_an_update_and_a_cancellation_say_so() -> None:
    _, updated = sent(replace(MAIL, kind="update"))
    assert updated["Subject"] == "Изменено: Телемост «Липецк — Владивосток»"
    assert "изменилась" in text_of(updated, "plain")
    _, cancelled = sent(replace(MAIL, kind="cancellation", method="CANCEL"))
    text = text_of(cancelled, "plain")
    assert cancelled["Subject"] == "Отменено: Телемост «Липецк — Владивосток»"
    assert "Встреча «Телемост „Липецк — Владивосток“» отменена." in text
    assert "Подключение" not in text
    assert "Приложенный файл уберёт встречу из вашего календаря." in text


def test_only_a_published_agenda_is_linked() -> None:
    _, message = sent(replace(MAIL, url=None))
    assert "Программа" not in text_of(message, "plain")
    assert "Программа" not in text_of(message, "html")


def test_html_escapes_what_partners_typed_and_links_the_conference() -> None:
    _, message = sent(replace(MAIL, title="Книги & <игры>", recipient_name='Анна "Ли"'))
    markup = text_of(message, "html")
    assert '<html lang="ru">' in markup
    assert "Книги &amp; &lt;игры&gt;" in markup
    assert "<игры>" not in markup
    assert 'Анна "Ли"' not in markup
    assert 'Здравствуйте, Анна "Ли"!' in html.unescape(markup)
    shown = "https://telemost.example/j/12345?pwd=a&amp;b=&lt;c&gt;"
    assert f'<a href="{shown}">{shown}</a>' in markup


def test_a_single_site_meeting_lists_no_sites() -> None:
    _, message = sent(replace(MAIL, sites=MAIL.sites[:1]))
    assert "Площадки" not in text_of(message, "plain")
