"""RSVP: a registered person accepts, declines or tentatively accepts.

A partner answers for its people, or hands a person a signed link (`links`), which works
without a key for that one registration until the meeting has ended: however far away the
meeting is, and wherever it moves meanwhile (for a series, until its last occurrence has
ended). Scheduling turns the answer into the PARTSTAT of the person's invite.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Final
from uuid import UUID

from services.registry import links, store
from services.registry.registrations import announce
from services.registry.schemas import Registration, RsvpInvitation
from shared.db import Connection, acquire
from shared.errors import Conflict, Gone, NotFound
from shared.events import Rsvp, RsvpChanged, utc_now
from shared.service import Runtime

_LINK_KEY: Final = "rsvp-links"


async def answer(connection: Connection, registration_id: UUID, rsvp: Rsvp) -> Registration:
    """The registration with the person's answer, announced if it changed."""
    state = await store.lock_rsvp(connection, registration_id)
    assert state is not None  # the caller found it
    if state.status == "cancelled":
        raise Conflict("registration-cancelled", "this registration was cancelled")
    if state.meeting_status in ("ended", "cancelled"):
        raise Conflict(f"meeting-{state.meeting_status}", f"the meeting is {state.meeting_status}")
    if state.rsvp != rsvp:
        await store.set_rsvp(connection, registration_id, rsvp)
        [changed] = await announce(connection, RsvpChanged, [registration_id])
        return changed
    unchanged = await store.registration(connection, registration_id)
    assert unchanged is not None
    return unchanged


async def link(connection: Connection, registration_id: UUID) -> tuple[str, datetime]:
    """A token the person can answer with, and when it stops working: when the meeting ends."""
    end = await store.link_end(connection, registration_id)
    assert end is not None  # the caller found the registration
    return links.sign(await _secret(connection), "rsvp", registration_id), end.expires_at


async def registration_of(connection: Connection, token: str) -> UUID:
    """The registration a link is for, while its meeting has not ended."""
    invalid = NotFound("invalid-link", "this link is not one the registry made")
    try:
        registration_id = links.verify(await _secret(connection), "rsvp", token)
    except links.LinkError as error:
        raise invalid from error
    end = await store.link_end(connection, registration_id)
    if end is None:  # signed, but for no registration this registry has
        raise invalid
    if end.ended or end.expires_at <= utc_now():
        raise Gone("link-expired", "this link has expired: its meeting has ended")
    return registration_id


async def invitation(connection: Connection, registration_id: UUID) -> RsvpInvitation:
    """What a link shows the person: the meeting, their name, their answer so far."""
    found = await store.invitation(connection, registration_id)
    assert found is not None  # registrations are cancelled, never deleted
    return found


async def make_link_secret(runtime: Runtime) -> None:
    """On start: the secret links are signed with, made once and shared by every replica."""
    async with acquire(runtime.pool) as connection:
        await store.make_secret(connection, _LINK_KEY, secrets.token_bytes(32))


async def _secret(connection: Connection) -> bytes:
    value = await store.secret(connection, _LINK_KEY)
    assert value is not None  # made on start
    return value
