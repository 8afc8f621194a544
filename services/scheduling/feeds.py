"""Calendar subscription feeds: per organization, per person, and a public one, each behind
an unguessable token in its URL that its owner can rotate or revoke.

Calendar programs poll a feed every hour or so: it answers 304 when nothing changed, and
otherwise assembles the stored entries (see `calendar_entries`), rendering nothing.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import partial
from typing import Final
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from services.scheduling import calendar_entries, store
from services.scheduling.access import unseen_organizations
from services.scheduling.ical import assemble_feed
from services.scheduling.schemas import Feed, FeedCreate
from shared.access import Caller, require_own_organization
from shared.db import Connection
from shared.errors import Conflict, Forbidden, Gone, NotFound, not_found
from shared.events import new_id
from shared.http.auth import KEY_SECURITY
from shared.http.media import CALENDAR
from shared.http.pagination import Page, decode_cursor, page_of
from shared.http.params import DEFAULT_PAGE_SIZE, AnyRequest, Cursor, PageSize, Transaction
from shared.http.params import Caller as CallerParam
from shared.readmodels import catchup
from shared.settings import SchedulingSettings

REFRESH: Final = timedelta(hours=1)
"""How often calendar programs are asked to poll (REFRESH-INTERVAL, X-PUBLISHED-TTL)."""


class FeedController(Controller):
    path = "/feeds"
    tags = ["feeds"]
    security = KEY_SECURITY

    @post("/", summary="Create a subscription feed; its URL is the only key to it")
    async def create_feed(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        data: JSONBody[FeedCreate],
    ) -> Feed:
        await _require_subject(connection, caller, data.kind, data.organization_id, data.person_id)
        row = await store.insert_feed(
            connection, new_id(), data.kind, data.organization_id, data.person_id, _new_token()
        )
        return _feed(request, row)

    @get("/", summary="Feeds of the caller's organization and its people (all for staff)")
    async def list_feeds(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
        revoked: FromQuery[bool] = False,
    ) -> Page[Feed]:
        organization_id = None if caller.is_staff else caller.organization_id
        rows = await store.feeds(
            connection,
            decode_cursor(cursor),
            limit + 1,
            organization_id=organization_id,
            revoked=revoked,
        )
        return page_of([_feed(request, row) for row in rows], [row.id for row in rows], limit)

    @get("/{feed_id:uuid}", summary="One feed")
    async def get_feed(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        feed_id: FromPath[UUID],
    ) -> Feed:
        return _feed(request, await _own_feed(connection, caller, feed_id))

    @post(
        "/{feed_id:uuid}/rotate",
        summary="Give the feed a new URL; the old one stops working (410)",
        status_code=201,
    )
    async def rotate_feed(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        feed_id: FromPath[UUID],
    ) -> Feed:
        old = await _own_feed(connection, caller, feed_id, for_update=True)
        if old.revoked_at is not None:
            raise Conflict("feed-revoked", f"feed {feed_id} is revoked: create a new one")
        new = await store.insert_feed(
            connection, new_id(), old.kind, old.organization_id, old.person_id, _new_token()
        )
        await store.revoke_feed(connection, feed_id, new.id)
        return _feed(request, new)

    @post("/{feed_id:uuid}/revoke", summary="Stop the feed's URL working (410)", status_code=200)
    async def revoke_feed(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        feed_id: FromPath[UUID],
    ) -> Feed:
        await _own_feed(connection, caller, feed_id, for_update=True)
        return _feed(request, await store.revoke_feed(connection, feed_id, None))


class CalendarController(Controller):
    path = "/calendars"
    tags = ["feeds"]

    @get(
        "/{token:str}",
        summary="A subscription feed, as calendar programs poll it",
        description="The token is the feed's only key. Answers 304 to If-None-Match "
        "(or If-Modified-Since) when nothing changed, 410 once the feed is revoked or rotated.",
        media_type=CALENDAR,
    )
    async def get_calendar(
        self, request: AnyRequest, connection: Transaction, token: FromPath[str]
    ) -> Response[bytes]:
        feed = await store.feed_at(connection, token.removesuffix(".ics"))
        if feed is None:
            raise NotFound("not-found", "no feed has this address")
        if feed.revoked_at is not None:
            raise Gone("feed-revoked", "this feed's address was revoked or replaced")
        subject = feed.organization_id or feed.person_id
        state = await calendar_entries.feed_state(connection, feed.kind, subject)
        headers = {
            "ETag": state.etag,
            "Cache-Control": "private, no-cache",
        }
        if state.last_modified is not None:
            headers["Last-Modified"] = format_datetime(state.last_modified, usegmt=True)
        if _not_modified(request, state.etag, state.last_modified):
            return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        entries = await calendar_entries.feed_entries(connection, feed.kind, subject)
        name = await _feed_name(connection, feed)
        return Response(
            assemble_feed(name, REFRESH, entries),
            media_type=CALENDAR,
            headers=headers | {"Content-Disposition": 'inline; filename="telebridge.ics"'},
        )


def _not_modified(request: AnyRequest, tag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match decides when sent; else If-Modified-Since."""
    if (match := request.headers.get("if-none-match")) is not None:
        tags = {candidate.strip().removeprefix("W/") for candidate in match.split(",")}
        return "*" in tags or tag in tags
    since = request.headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
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


async def _own_feed(
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


def _feed(request: AnyRequest, row: store.StoredFeed) -> Feed:
    settings: SchedulingSettings = request.app.state.settings
    url = f"{settings.http.base_url}/calendars/{row.token}.ics"
    return Feed(
        id=row.id,
        kind=row.kind,
        organization_id=row.organization_id,
        person_id=row.person_id,
        url=url,
        webcal_url="webcal://" + url.split("://", 1)[1],
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
