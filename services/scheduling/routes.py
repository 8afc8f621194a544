"""Scheduling's REST API: meetings, their sessions and lifecycle, and their invites; slot
search; subscription feeds and the calendars calendar programs poll.

A partner key schedules and changes meetings its organization hosts and sees those its
organization takes part in; public meetings are visible to anyone. Operators act on all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from services.scheduling import constraints, examples, feeds, meetings, store
from services.scheduling.access import (
    hosted_meeting,
    require_seen_organizations,
    site_ids,
    takes_part_in,
    visible_meeting,
)
from services.scheduling.assembled import AssembledFeeds
from services.scheduling.ical import render_invite, uid_of
from services.scheduling.lifecycle import Lifecycle, Step, TransitionError, cancel, end_now
from services.scheduling.meetings import Context, MeetingState
from services.scheduling.schemas import (
    Feed,
    FeedCreate,
    Meeting,
    MeetingCreate,
    MeetingWrite,
    ScheduleDraft,
    SessionMove,
    SlotSearch,
)
from services.scheduling.slots import WINDOW_EXTENSIONS, SlotQuery, SlotSearchResult, search
from services.scheduling.views import attendee_of, calendar_of, feed_of, view_of
from shared.access import Caller, require_host
from shared.db import Connection
from shared.errors import (
    Conflict,
    FieldError,
    Gone,
    Invalid,
    NotFound,
    invalid_fields,
    not_found,
)
from shared.events import MeetingStatus, utc_now
from shared.http.auth import KEYLESS, operator_guard
from shared.http.contract import answers
from shared.http.media import CALENDAR
from shared.http.pagination import (
    Page,
    UpdatedSince,
    change_page,
    decode_cursor,
    list_order,
    page_of,
)
from shared.http.params import (
    DEFAULT_PAGE_SIZE,
    AnyRequest,
    ChangeCursor,
    Cursor,
    PageSize,
    Transaction,
    Visitor,
)
from shared.http.params import Caller as CallerParam
from shared.http.versions import check_version, etag
from shared.metrics import SLOT_SEARCH_SECONDS
from shared.service import Runtime
from shared.settings import SchedulingSettings


def context_of(request: AnyRequest) -> Context:
    settings: SchedulingSettings = request.app.state.settings
    return Context.of(settings)


class MeetingController(Controller):
    path = "/meetings"
    tags = ["meetings"]

    @post(
        "/",
        summary="Schedule a meeting, or keep it a draft",
        opt=answers(Conflict, etag=True, location=True, examples=examples.MEETING),
        description="The sites' working hours, holidays, blackout days and other meetings "
        "are checked: a 409 lists what the time breaks. An operator may send `force`. Times "
        "that have passed are a 422 naming the field, unless an operator records a past "
        "meeting with `record_past`.",
    )
    async def schedule_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        data: JSONBody[MeetingCreate],
    ) -> Response[Meeting]:
        require_host(caller, data.host_organization_id)
        await _require_seen_sites(connection, caller, data)
        state = await meetings.create(connection, data, caller, context_of(request))
        return _response(request, state, 201)

    @get(
        "/{meeting_id:uuid}",
        summary="One meeting, with every site's local time",
        opt=answers(etag=True),
    )
    async def get_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
    ) -> Response[Meeting]:
        state = await visible_meeting(connection, visitor, meeting_id)
        return _response(request, state)

    @get(
        "/",
        summary="Meetings the caller may see, oldest scheduled first, or as they change",
        opt=answers(Invalid),
        description="Without a key, public meetings; a partner key also sees its own "
        "organization's, a staff key every one. With `updated_since`, a change feed: "
        "meetings in the order they were last changed (scheduled, moved, started, ended, "
        "cancelled), each as it is now.",
    )
    async def list_meetings(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        status: Annotated[
            MeetingStatus | None, QueryParameter(description="Only meetings in this state")
        ] = None,
        organization_id: Annotated[
            UUID | None,
            QueryParameter(description="Only meetings this organization takes part in or hosts"),
        ] = None,
        updated_since: UpdatedSince = None,
        cursor: ChangeCursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Meeting]:
        which = store.MeetingFilter(
            all_visible=visitor is not None and visitor.is_staff,
            own_organization_id=visitor.organization_id if visitor else None,
            status=status,
            organization_id=organization_id,
        )
        order = list_order(cursor, updated_since)
        base_url = context_of(request).base_url
        if order.after_change is not None:
            changes = await store.changed_meetings(
                connection, order.after_change, order.since, limit + 1, which
            )
            states = await meetings.load_many(connection, changes.items)
            views = [view_of(state, base_url) for state in states]
            return change_page(views, changes, limit, order.after_change)
        found = await store.meetings(connection, order.after_id, limit + 1, which)
        states = await meetings.load_many(connection, found)
        return page_of(
            [view_of(state, base_url) for state in states],
            [row.id for row in found],
            limit,
        )

    @put(
        "/{meeting_id:uuid}",
        summary="Change a draft or a meeting that has not started",
        opt=answers(Conflict, if_match=True, etag=True),
        description="Send every field, and the ETag last read as If-Match. A change "
        "attendees would see raises the SEQUENCE of its invites, which are sent again.",
    )
    async def update_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        data: JSONBody[MeetingWrite],
    ) -> Response[Meeting]:
        before = await hosted_meeting(connection, caller, meeting_id)
        check_version(request, before.stored.version)
        require_host(caller, data.host_organization_id)
        await _require_seen_sites(connection, caller, data, already=site_ids(before))
        state = await meetings.update(connection, before, data, caller, context_of(request))
        return _response(request, state)

    @post(
        "/{meeting_id:uuid}/schedule",
        summary="Schedule a draft: its sites are checked and invited",
        opt=answers(Conflict, etag=True),
        status_code=200,
    )
    async def schedule_draft(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        data: JSONBody[ScheduleDraft],
    ) -> Response[Meeting]:
        draft = await hosted_meeting(connection, caller, meeting_id)
        state = await meetings.schedule_draft(
            connection,
            draft,
            force=data.force,
            record_past=data.record_past,
            caller=caller,
            context=context_of(request),
        )
        return _response(request, state)

    @put(
        "/{meeting_id:uuid}/sessions/{session_id:uuid}",
        summary="Move one session, or one occurrence of a series",
        opt=answers(Conflict, if_match=True, etag=True),
        description="Send the meeting's ETag as If-Match.",
    )
    async def move_session(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        session_id: FromPath[UUID],
        data: JSONBody[SessionMove],
    ) -> Response[Meeting]:
        before = await hosted_meeting(connection, caller, meeting_id)
        check_version(request, before.stored.version)
        state = await meetings.move_session(
            connection,
            before=before,
            session_id=session_id,
            data=data,
            caller=caller,
            context=context_of(request),
        )
        return _response(request, state)

    @post(
        "/{meeting_id:uuid}/sessions/{session_id:uuid}/cancel",
        summary="Cancel one session, or one occurrence of a series",
        opt=answers(Conflict, etag=True),
        status_code=200,
    )
    async def cancel_session(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        session_id: FromPath[UUID],
    ) -> Response[Meeting]:
        before = await hosted_meeting(connection, caller, meeting_id)
        state = await meetings.cancel_session(connection, before, session_id, context_of(request))
        return _response(request, state)

    @get(
        "/{meeting_id:uuid}/invite.ics",
        summary="The meeting's invite",
        description="With a key of the host, a site or staff, every registered person is an "
        "ATTENDEE (METHOD:REQUEST); otherwise the meeting alone (METHOD:PUBLISH). A meeting "
        "of several sessions comes as one file of all of them (PUBLISH).",
        media_type=CALENDAR,
    )
    async def get_invite(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
    ) -> Response[bytes]:
        state = await visible_meeting(connection, visitor, meeting_id)
        return await _invite(request, connection, visitor, state, uid=None)

    @get(
        "/{meeting_id:uuid}/sessions/{session_id:uuid}/invite.ics",
        summary="One session's invite (one calendar object)",
        media_type=CALENDAR,
    )
    async def get_session_invite(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
        session_id: FromPath[UUID],
    ) -> Response[bytes]:
        state = await visible_meeting(connection, visitor, meeting_id)
        if not any(session.id == session_id for session in state.sessions):
            raise not_found("session", session_id)
        uid = uid_of(meeting_id if state.stored.recurrence else session_id)
        return await _invite(request, connection, visitor, state, uid=uid)

    @post(
        "/{meeting_id:uuid}/end",
        summary="End a meeting now (operator)",
        opt=answers(Conflict, etag=True),
        guards=[operator_guard],
        status_code=200,
    )
    async def end_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        meeting_id: FromPath[UUID],
    ) -> Response[Meeting]:
        return await _transition(
            request,
            connection,
            meeting_id,
            lambda state: end_now(state, utc_now()),
            refusal="meeting-not-running",
        )

    @post(
        "/{meeting_id:uuid}/cancel",
        summary="Cancel a meeting that has not started",
        opt=answers(Conflict, etag=True),
        status_code=200,
    )
    async def cancel_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
    ) -> Response[Meeting]:
        await hosted_meeting(connection, caller, meeting_id)
        return await _transition(
            request, connection, meeting_id, cancel, refusal="meeting-not-cancellable"
        )


async def _invite(
    request: AnyRequest,
    connection: Connection,
    visitor: Caller | None,
    state: MeetingState,
    *,
    uid: str | None,
) -> Response[bytes]:
    context = context_of(request)
    attendees = []
    if takes_part_in(visitor, state):
        attendees = [attendee_of(row) for row in await store.attendees(connection, state.id)]
    body = render_invite(calendar_of(state, context), attendees, utc_now(), uid=uid)
    return Response(
        body,
        media_type=CALENDAR,
        headers={"Content-Disposition": f'attachment; filename="meeting-{state.id}.ics"'},
    )


async def _transition(
    request: AnyRequest,
    connection: Connection,
    meeting_id: UUID,
    steps_for: Callable[[Lifecycle], list[Step]],
    *,
    refusal: str,
) -> Response[Meeting]:
    """Apply a lifecycle change to a locked meeting; 409 when its state forbids."""
    meeting = await _meeting(connection, meeting_id, for_update=True)
    try:
        steps = steps_for(meeting.lifecycle())
    except TransitionError as error:
        raise Conflict(refusal, str(error)) from error
    state = await meetings.apply_steps(connection, meeting, steps, context_of(request))
    return _response(request, state)


async def _meeting(
    connection: Connection, meeting_id: UUID, *, for_update: bool = False
) -> store.StoredMeeting:
    meeting = await store.meeting(connection, meeting_id, for_update=for_update)
    if meeting is None:
        raise not_found("meeting", meeting_id)
    return meeting


async def _require_seen_sites(
    connection: Connection, caller: Caller, data: MeetingWrite, *, already: Sequence[UUID] = ()
) -> None:
    """Every site must be an organization the caller may name (those already sites of the
    meeting stay nameable)."""
    named = [site for site in data.site_ids if site not in already]
    await require_seen_organizations(
        connection,
        caller,
        named,
        {data.host_organization_id: "host_organization_id"},
        field="sites",
    )


def _response(request: AnyRequest, state: MeetingState, status: int = 200) -> Response[Meeting]:
    view = view_of(state, context_of(request).base_url)
    headers = {"ETag": etag(view.version)}
    if status == 201:
        headers["Location"] = f"/meetings/{view.id}"
    return Response(view, status_code=status, headers=headers)


class SlotController(Controller):
    path = "/slots"
    tags = ["slots"]

    @post(
        "/",
        summary="Find times that suit every organization",
        description="Candidates are ranked by how comfortable the time is at every site "
        "(10:00–17:00 local is best) and show each site's local time and the reasons. "
        "Working hours in each organization's zone, public holidays of its region, its "
        "blackout days and its other meetings (with the buffer) are respected, and only "
        "slots that start after now are offered. When nothing "
        "fits, `blockers` says which site or constraint blocks and `relaxations` the "
        "nearest changes that would find a time.",
        status_code=200,
        opt=answers(examples=examples.SLOTS),
    )
    async def search_slots(
        self, connection: Transaction, caller: CallerParam, data: JSONBody[SlotSearch]
    ) -> SlotSearchResult:
        # Any key may search the organizations it may see; the answer shows free and busy,
        # not meetings.
        await require_seen_organizations(connection, caller, data.organization_ids)
        now = utc_now()
        if data.window_end <= now:
            raise invalid_fields(
                [
                    FieldError(
                        message="the window has passed: slots are offered from now on",
                        field="window_end",
                        source="body",
                    )
                ],
                slug="in-the-past",
            )
        window = (data.window_start, data.window_end)
        # Busy times as far as the longest window a relaxation tries.
        padded = (window[0], window[1] + WINDOW_EXTENSIONS[-1])
        with SLOT_SEARCH_SECONDS.time():
            sites = await constraints.site_constraints(connection, data.organization_ids, padded)
            return search(
                SlotQuery(
                    sites=sites,
                    duration=timedelta(minutes=data.duration_minutes),
                    window=window,
                    granularity=timedelta(minutes=data.granularity_minutes),
                    buffer=timedelta(minutes=data.buffer_minutes),
                    limit=data.limit,
                    now=now,
                )
            )


class FeedController(Controller):
    path = "/feeds"
    tags = ["feeds"]

    @post(
        "/",
        summary="Create a subscription feed; its URL is the only key to it",
        opt=answers(NotFound, location=True, examples=examples.FEED),
    )
    async def create_feed(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        data: JSONBody[FeedCreate],
    ) -> Response[Feed]:
        return _new_feed(request, await feeds.create_feed(connection, caller, data))

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
        rows = await feeds.list_feeds(
            connection, caller, decode_cursor(cursor), limit + 1, revoked=revoked
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
        return _feed(request, await feeds.own_feed(connection, caller, feed_id))

    @post(
        "/{feed_id:uuid}/rotate",
        summary="Give the feed a new URL; the old one stops working (410)",
        opt=answers(Conflict, location=True),
        status_code=201,
    )
    async def rotate_feed(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        feed_id: FromPath[UUID],
    ) -> Response[Feed]:
        return _new_feed(request, await feeds.rotate_feed(connection, caller, feed_id))

    @post("/{feed_id:uuid}/revoke", summary="Stop the feed's URL working (410)", status_code=200)
    async def revoke_feed(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        feed_id: FromPath[UUID],
    ) -> Feed:
        return _feed(request, await feeds.revoke_feed(connection, caller, feed_id))


class CalendarController(Controller):
    path = "/calendars"
    tags = ["feeds"]
    opt = {KEYLESS: True}

    @get(
        "/{token:str}",
        summary="A subscription feed, as calendar programs poll it",
        opt=answers(Gone, conditional=True),
        description="The token is the feed's only key. Answers 304 to If-None-Match "
        "(or If-Modified-Since) when nothing changed, 410 once the feed is revoked or rotated.",
        media_type=CALENDAR,
    )
    async def get_calendar(self, request: AnyRequest, token: FromPath[str]) -> Response[bytes]:
        # No connection is taken for the request: most polls are answered from memory.
        runtime: Runtime = request.app.state.runtime
        assembled: AssembledFeeds = request.app.state.assembled_feeds
        read = await feeds.read_calendar(
            assembled.following(runtime.notifier),
            runtime.pool,
            runtime.settings.database.acquire_timeout,
            token,
            if_none_match=request.headers.get("if-none-match"),
            if_modified_since=request.headers.get("if-modified-since"),
        )
        headers = {
            "ETag": read.etag,
            "Cache-Control": "private, no-cache",
        }
        if read.last_modified is not None:
            headers["Last-Modified"] = _http_date(read.last_modified)
        if read.body is None:
            return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(
            read.body,
            media_type=CALENDAR,
            headers=headers | {"Content-Disposition": 'inline; filename="telebridge.ics"'},
        )


@lru_cache(maxsize=1024)
def _http_date(moment: datetime) -> str:
    """Polls of one feed name the same moment over and over."""
    return format_datetime(moment, usegmt=True)


def _feed(request: AnyRequest, row: store.StoredFeed) -> Feed:
    return feed_of(row, context_of(request).base_url)


def _new_feed(request: AnyRequest, row: store.StoredFeed) -> Response[Feed]:
    return Response(_feed(request, row), status_code=201, headers={"Location": f"/feeds/{row.id}"})
