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

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody

from services.registry import links
from services.registry.schemas import Registration, RsvpFields, RsvpInvitation, RsvpLink
from services.registry.signup import announce, registration, visible_registration
from shared.db import Connection
from shared.errors import Conflict, Gone, NotFound
from shared.events import Rsvp, RsvpChanged, utc_now
from shared.http.auth import KEY_SECURITY
from shared.http.params import AnyRequest, Transaction
from shared.http.params import Caller as CallerParam
from shared.service import Runtime
from shared.settings import RegistrySettings

# When the meeting ended (an operator may end it early), or else when it is to end: the
# last session's end, the last occurrence's for a series.
_MEETING_END: Final = "COALESCE(m.ended_at, m.ends_at)"

_LINK_KEY: Final = "rsvp-links"
_READ_KEY: Final = "SELECT value FROM secrets WHERE name = $1"
_MAKE_KEY: Final = "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING"
_LOCK: Final = """
SELECT r.status, r.rsvp, m.status AS meeting_status
FROM registrations r JOIN meetings m ON m.id = r.meeting_id
WHERE r.id = $1 FOR UPDATE OF r
"""
_SET_RSVP: Final = """
UPDATE registrations SET rsvp = $2, version = version + 1, updated_at = now() WHERE id = $1
"""
_INVITATION: Final = f"""
SELECT r.id AS registration_id, m.title AS meeting_title, m.starts_at, m.ends_at,
       p.display_name, r.rsvp, {_MEETING_END} AS expires_at
FROM registrations r JOIN meetings m ON m.id = r.meeting_id JOIN people p ON p.id = r.person_id
WHERE r.id = $1
"""
_LINK_ENDS: Final = f"""
SELECT {_MEETING_END} AS expires_at, m.status = 'ended' AS ended
FROM registrations r JOIN meetings m ON m.id = r.meeting_id
WHERE r.id = $1
"""


class RsvpController(Controller):
    path = "/registrations/{registration_id:uuid}"
    tags = ["rsvp"]
    security = KEY_SECURITY

    @put("/rsvp", summary="Answer for a registered person")
    async def set_rsvp(
        self,
        connection: Transaction,
        caller: CallerParam,
        registration_id: FromPath[UUID],
        data: JSONBody[RsvpFields],
    ) -> Registration:
        await visible_registration(connection, caller, registration_id)
        return await answer(connection, registration_id, data.rsvp)

    @get(
        "/rsvp-link",
        summary="A signed link the person can answer with, without logging in",
        description="Send it to the person; it works for this registration only, until the "
        "meeting has ended (`expires_at`, which follows the meeting when it moves).",
    )
    async def rsvp_link(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        registration_id: FromPath[UUID],
    ) -> RsvpLink:
        await visible_registration(connection, caller, registration_id)
        settings: RegistrySettings = request.app.state.settings
        expires_at: datetime = await connection.fetchval(_LINK_ENDS, registration_id)
        token = links.sign(await _secret(connection), "rsvp", registration_id)
        base = settings.http.public_url or str(request.base_url).rstrip("/")
        return RsvpLink(url=f"{base}/rsvp/{token}", token=token, expires_at=expires_at)


class SignedRsvpController(Controller):
    path = "/rsvp/{token:str}"
    tags = ["rsvp"]

    @get("/", summary="What a signed RSVP link is for")
    async def invitation(self, connection: Transaction, token: FromPath[str]) -> RsvpInvitation:
        return await _invitation(connection, await _registration_of(connection, token))

    @post("/", summary="Answer through a signed link", status_code=200)
    async def answer_by_link(
        self, connection: Transaction, token: FromPath[str], data: JSONBody[RsvpFields]
    ) -> RsvpInvitation:
        registration_id = await _registration_of(connection, token)
        await answer(connection, registration_id, data.rsvp)
        return await _invitation(connection, registration_id)


async def answer(connection: Connection, registration_id: UUID, rsvp: Rsvp) -> Registration:
    state = await connection.fetchrow(_LOCK, registration_id)
    assert state is not None  # the caller found it
    if state["status"] == "cancelled":
        raise Conflict("registration-cancelled", "this registration was cancelled")
    if state["meeting_status"] in ("ended", "cancelled"):
        raise Conflict(
            f"meeting-{state['meeting_status']}", f"the meeting is {state['meeting_status']}"
        )
    if state["rsvp"] == rsvp:
        return await registration(connection, registration_id)
    await connection.execute(_SET_RSVP, registration_id, rsvp)
    return await announce(connection, RsvpChanged, registration_id)


async def make_link_secret(runtime: Runtime) -> None:
    """On start: the secret links are signed with, made once and shared by every replica."""
    await runtime.pool.execute(_MAKE_KEY, _LINK_KEY, secrets.token_bytes(32))


async def _secret(connection: Connection) -> bytes:
    value: bytes = await connection.fetchval(_READ_KEY, _LINK_KEY)
    return value


async def _registration_of(connection: Connection, token: str) -> UUID:
    """The registration a link is for, while its meeting has not ended."""
    invalid = NotFound("invalid-link", "this link is not one the registry made")
    try:
        registration_id = links.verify(await _secret(connection), "rsvp", token)
    except links.LinkError as error:
        raise invalid from error
    meeting = await connection.fetchrow(_LINK_ENDS, registration_id)
    if meeting is None:  # signed, but for no registration this registry has
        raise invalid
    if meeting["ended"] or meeting["expires_at"] <= utc_now():
        raise Gone("link-expired", "this link has expired: its meeting has ended")
    return registration_id


async def _invitation(connection: Connection, registration_id: UUID) -> RsvpInvitation:
    row = await connection.fetchrow(_INVITATION, registration_id)
    assert row is not None  # registrations are cancelled, never deleted
    return RsvpInvitation(**dict(row))
