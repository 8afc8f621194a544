"""An SMTP server that keeps every message in memory, and can refuse for a while (4xx)."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from email.message import EmailMessage

import icalendar
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedInvite:
    """One mail as the recipient's calendar program reads it."""

    order: int
    received_at: float
    """`time.monotonic()` when the server took it."""
    recipient: str
    message_id: str
    method: str
    uid: str
    sequence: int
    status: str
    starts_at: str
    description: str


class Mailbox:
    """What the SMTP server took, in the order it took it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[float, list[str], bytes]] = []
        self.refusing = False
        self.refused = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        del server, session
        with self._lock:
            if self.refusing:
                self.refused += 1
                return "451 4.3.0 Mailbox busy, try again later"
            self._messages.append(
                (time.monotonic(), list(envelope.rcpt_tos), envelope.original_content or b"")
            )
        return "250 Message kept"

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def invites(self) -> list[ReceivedInvite]:
        with self._lock:
            messages = list(self._messages)
        return [
            invite
            for order, (received_at, recipients, content) in enumerate(messages)
            for invite in _invites(order, received_at, recipients, content)
        ]


def _invites(
    order: int, received_at: float, recipients: list[str], content: bytes
) -> Iterator[ReceivedInvite]:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    for part in message.walk():
        if part.get_content_type() != "text/calendar":
            continue
        calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
        for event in calendar.walk("VEVENT"):
            for recipient in recipients:
                yield ReceivedInvite(
                    order=order,
                    received_at=received_at,
                    recipient=recipient.lower(),
                    message_id=str(message["Message-ID"]),
                    method=str(calendar.get("method", "")),
                    uid=str(event["uid"]),
                    sequence=int(event.get("sequence", 0)),
                    status=str(event.get("status", "")),
                    starts_at=event.decoded("dtstart").astimezone(UTC).isoformat(),
                    description=str(event.get("description", "")),
                )


@contextmanager
def smtp_server(port: int) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(
        mailbox, hostname=HOST, port=port, enable_SMTPUTF8=True, decode_data=False
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
