"""Calendar subscription feeds: per organization, per person, and a public one, each behind
an unguessable token in its URL that its owner can rotate or revoke.

Calendar programs poll a feed every hour or so: it answers 304 when nothing changed, and
otherwise assembles the stored entries (see `calendar_entries`), rendering nothing. Each
process keeps what it assembled until something changes (see `assembled`).

Use cases only: the controllers that serve them are in `routes`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Final
from uuid import UUID

import msgspec

from services.scheduling import calendar_entries, store
from services.scheduling.access import unseen_organizations
from services.scheduling.assembled import Assembled, AssembledFeeds
from services.scheduling.ical import assemble_feed
from services.scheduling.schemas import FeedCreate
from shared.access import Caller, require_own_organization
from shared.db import Connection, Pool, acquire
from shared.errors import Conflict, Forbidden, Gone, NotFound, not_found
from shared.events import new_id
from shared.readmodels import catchup

REFRESH: Final = timedelta(hours=1)
"""How often calendar programs are asked to poll (REFRESH-INTERVAL, X-PUBLISHED-TTL)."""


class CalendarRead(msgspec.Struct, frozen=True):
    """A feed as a calendar program polled it: what identifies its content, and the
    content itself unless the program's copy is current."""

    etag: str
    last_modified: datetime | None
    body: bytes | None
    """None when the conditions sent say nothing changed (a 304)."""


async def create_feed(connection: Connection, caller: Caller, data: FeedCreate) -> store.StoredFeed:
    await _require_subject(connection, caller, data.kind, data.organization_id, data.person_id)
    return await store.insert_feed(
        connection, new_id(), data.kind, data.organization_id, data.person_id, _new_token()
    )


async def list_feeds(
    connection: Connection, caller: Caller, after: UUID | None, count: int, *, revoked: bool
) -> list[store.StoredFeed]:
    """Feeds of the caller's organization and its people (all for staff), after `after`."""
    organization_id = None if caller.is_staff else caller.organization_id
    return await store.feeds(
        connection, after, count, organization_id=organization_id, revoked=revoked
    )


async def own_feed(
    connection: Connection, caller: Caller, feed_id: UUID, *, for_update: bool = False
) -> store.StoredFeed:
    """The feed if the caller may manage it; a 404 as if it did not exist if not."""
    feed = await store.feed(connection, feed_id, for_update=for_update)
    if feed is None:
        raise not_found("feed", feed_id)
    if not caller.is_staff:
        owner = feed.organization_id
        if feed.kind == "person":
            person = await store.person(connection, feed.person_id)
            owner = person.organization_id if person else None
        if owner != caller.organization_id:
            raise not_found("feed", feed_id)
    return feed


async def rotate_feed(connection: Connection, caller: Caller, feed_id: UUID) -> store.StoredFeed:
    """A new feed of the same subject replaces this one, whose URL stops working."""
    old = await own_feed(connection, caller, feed_id, for_update=True)
    if old.revoked_at is not None:
        raise Conflict("feed-revoked", f"feed {feed_id} is revoked: create a new one")
    new = await store.insert_feed(
        connection, new_id(), old.kind, old.organization_id, old.person_id, _new_token()
    )
    await store.revoke_feed(connection, feed_id, new.id)
    return new


async def revoke_feed(connection: Connection, caller: Caller, feed_id: UUID) -> store.StoredFeed:
    await own_feed(connection, caller, feed_id, for_update=True)
    return await store.revoke_feed(connection, feed_id, None)


async def read_calendar(
    assembled: AssembledFeeds,
    pool: Pool,
    acquire_timeout: float,
    token: str,
    *,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> CalendarRead:
    """The feed behind `token`, unless the conditions say nothing changed.

    Answered from the bodies this process keeps while nothing changed since (a 304 then
    touches no row); else the database says whether the kept body still holds, and the
    feed is assembled anew only if it does not.
    """
    token = token.removesuffix(".ics")
    found = assembled.current(token)
    if found is None:
        changes = assembled.changes
        async with (
            acquire(pool, acquire_timeout) as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            try:
                found = await _assemble(connection, token, assembled.kept(token))
            except (NotFound, Gone):
                assembled.forget(token)
                raise
        assembled.keep(token, changes, found)
    if not_modified(if_none_match, if_modified_since, found.etag, found.last_modified):
        return CalendarRead(found.etag, found.last_modified, None)
    return CalendarRead(found.etag, found.last_modified, found.body)


async def _assemble(connection: Connection, token: str, kept: Assembled | None) -> Assembled:
    """The feed behind `token` as it is now; `kept` again if its content is unchanged."""
    feed = await store.feed_at(connection, token)
    if feed is None:
        raise NotFound("not-found", "no feed has this address")
    if feed.revoked_at is not None:
        raise Gone("feed-revoked", "this feed's address was revoked or replaced")
    subject = feed.organization_id or feed.person_id
    name = await _feed_name(connection, feed)
    state = await calendar_entries.feed_state(connection, feed.kind, subject, name)
    if kept is not None and kept.etag == state.etag:
        return kept
    entries = await calendar_entries.feed_entries(connection, feed.kind, subject)
    return Assembled(state.etag, state.last_modified, assemble_feed(name, REFRESH, entries))


def not_modified(
    if_none_match: str | None,
    if_modified_since: str | None,
    tag: str,
    last_modified: datetime | None,
) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match decides when sent; else If-Modified-Since."""
    if if_none_match is not None:
        tags = {candidate.strip().removeprefix("W/") for candidate in if_none_match.split(",")}
        return "*" in tags or tag in tags
    if if_modified_since is None or last_modified is None:
        return False
    try:
        moment = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    return last_modified.replace(microsecond=0) <= moment


async def _feed_name(connection: Connection, feed: store.StoredFeed) -> str:
    if feed.kind == "organization" and feed.organization_id is not None:
        organization = await store.organization(connection, feed.organization_id)
        return f"Телемосты: {organization.name}" if organization else "Телемосты"
    if feed.kind == "organization":
        return "Телемосты"
    if feed.kind == "person":
        person = await store.person(connection, feed.person_id)
        if person is None:
            return "Telebridge"
        if person.language == "en":
            return f"Telebridge: {person.name}"
        return f"Телемосты: {person.name}"
    return "Телемосты: открытые встречи"


def _new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


async def _require_subject(
    connection: Connection,
    caller: Caller,
    kind: str,
    organization_id: UUID | None,
    person_id: UUID | None,
) -> None:
    """A partner makes feeds of its own organization and people; staff any, and the public."""
    if kind == "public":
        if not caller.is_staff:
            raise Forbidden("forbidden", "only operator and admin keys make the public feed")
    elif kind == "organization":
        assert organization_id is not None
        if await unseen_organizations(connection, caller, [organization_id]):
            raise not_found("organization", organization_id)
        require_own_organization(caller, organization_id)
    else:
        person = await catchup.find(
            "person", person_id, partial(store.person, connection, person_id)
        )
        if person is None or not caller.acts_for(person.organization_id):
            raise not_found("person", person_id)
