"""The SMTP server of `telebridge dev`: it takes every message and keeps it in a Maildir.

Nothing leaves the machine. Each message is one file under `new/`, exactly as the sender
wrote it after a `Delivered-To` line naming the envelope's recipients; `mutt -f DIR`,
Thunderbird (Maildir store) or any text editor opens them.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
DEFAULT_PORT = 8025


class MaildirHandler:
    def __init__(self, path: Path) -> None:
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        del server, session
        content = envelope.original_content or b""
        recipients = ", ".join(envelope.rcpt_tos)
        self.maildir.add(f"Delivered-To: {recipients}\r\n".encode() + content)
        return "250 Message kept"


@contextmanager
def mail_sink(path: Path, port: int = DEFAULT_PORT) -> Iterator[Controller]:
    """An SMTP server on `HOST:port` keeping what it receives in the Maildir at `path`."""
    controller = Controller(
        MaildirHandler(path), hostname=HOST, port=port, enable_SMTPUTF8=True, decode_data=False
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
