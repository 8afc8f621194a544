"""Scheduling's REST API: meetings, their lifecycle, and their invites."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody

from services.scheduling import meetings, store
from services.scheduling.lifecycle import Lifecycle, Step, TransitionError, cancel, end_now
from services.scheduling.schemas import Meeting, MeetingCreate
from shared.db import Connection
from shared.events import utc_now
from shared.http.auth import OPERATOR_SECURITY, operator_guard
from shared.http.pagination import Page, decode_cursor, page_of
from shared.http.params import DEFAULT_PAGE_SIZE, AnyRequest, Cursor, PageSize, Transaction
from shared.http.problems import Problem, not_found
from shared.settings import SchedulingSettings

CALENDAR = "text/calendar; charset=utf-8"


def _settings(request: AnyRequest) -> SchedulingSettings:
    settings: SchedulingSettings = request.app.state.settings
    return settings


class MeetingController(Controller):
    path = "/meetings"
    tags = ["meetings"]

    @post("/", summary="Schedule a meeting")
    async def schedule_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        data: JSONBody[MeetingCreate],
    ) -> Meeting:
        meeting = await meetings.schedule(connection, data)
        return await _view(request, connection, meeting)

    @get("/{meeting_id:uuid}", summary="One meeting, with every site's local time")
    async def get_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        meeting_id: FromPath[UUID],
    ) -> Meeting:
        return await _view(request, connection, await _meeting(connection, meeting_id))

    @get("/", summary="Meetings, oldest scheduled first")
    async def list_meetings(
        self,
        request: AnyRequest,
        connection: Transaction,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Meeting]:
        found = await store.meetings(connection, decode_cursor(cursor), limit + 1)
        views = await meetings.views(connection, found, _settings(request).http.base_url)
        return page_of(views, [view.id for view in views], limit)

    @get(
        "/{meeting_id:uuid}/invite.ics",
        summary="The meeting's invite, with every registered person as ATTENDEE",
        media_type=CALENDAR,
    )
    async def get_invite(
        self,
        request: AnyRequest,
        connection: Transaction,
        meeting_id: FromPath[UUID],
    ) -> Response[bytes]:
        meeting = await _meeting(connection, meeting_id)
        settings = _settings(request)
        body = await meetings.invite(
            connection,
            meeting,
            organizer_email=settings.organizer_email,
            base_url=settings.http.base_url,
        )
        return Response(
            body,
            media_type=CALENDAR,
            headers={"Content-Disposition": f'attachment; filename="meeting-{meeting_id}.ics"'},
        )

    @post(
        "/{meeting_id:uuid}/end",
        summary="End a meeting now (operator)",
        guards=[operator_guard],
        security=OPERATOR_SECURITY,
        status_code=200,
    )
    async def end_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        meeting_id: FromPath[UUID],
    ) -> Meeting:
        return await _transition(
            request,
            connection,
            meeting_id,
            lambda state: end_now(state, utc_now()),
            refusal="meeting-not-running",
        )

    @post(
        "/{meeting_id:uuid}/cancel",
        summary="Cancel a meeting that has not started (operator)",
        guards=[operator_guard],
        security=OPERATOR_SECURITY,
        status_code=200,
    )
    async def cancel_meeting(
        self,
        request: AnyRequest,
        connection: Transaction,
        meeting_id: FromPath[UUID],
    ) -> Meeting:
        return await _transition(
            request, connection, meeting_id, cancel, refusal="meeting-not-cancellable"
        )


async def _transition(
    request: AnyRequest,
    connection: Connection,
    meeting_id: UUID,
    steps_for: Callable[[Lifecycle], list[Step]],
    *,
    refusal: str,
) -> Meeting:
    """Apply an operator's lifecycle change to a locked meeting; 409 when its state forbids."""
    meeting = await _meeting(connection, meeting_id, for_update=True)
    try:
        steps = steps_for(store.lifecycle_of(meeting))
    except TransitionError as error:
        raise Problem(409, refusal, str(error)) from error
    meeting = await meetings.apply_steps(connection, meeting, steps)
    return await _view(request, connection, meeting)


async def _meeting(
    connection: Connection, meeting_id: UUID, *, for_update: bool = False
) -> asyncpg.Record:
    meeting = await store.meeting(connection, meeting_id, for_update=for_update)
    if meeting is None:
        raise not_found("meeting", meeting_id)
    return meeting


async def _view(request: AnyRequest, connection: Connection, meeting: asyncpg.Record) -> Meeting:
    [view] = await meetings.views(connection, [meeting], _settings(request).http.base_url)
    return view
