"""Scheduling's use cases: schedule, change, move and cancel meetings and their sessions,
advance the clock, and render what calendars see.

Each runs inside the caller's transaction, on a meeting it has locked, and writes there
the meeting's event to the outbox, its calendar entries, and the invites to mail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar
from uuid import UUID

import msgspec

from services.scheduling import calendar_entries, constraints, invitations, planning, store
from services.scheduling.lifecycle import Step
from services.scheduling.schemas import (
    MeetingCreate,
    MeetingWrite,
    SessionMove,
)
from services.scheduling.views import calendar_of, event_of
from shared.access import Caller
from shared.bus.outbox import add_event
from shared.db import Connection, Pool, acquire
from shared.errors import Conflict, FieldError, Forbidden, NotFound, invalid_fields
from shared.events import (
    MeetingCancelled,
    MeetingEvent,
    MeetingScheduled,
    MeetingSession,
    MeetingStatus,
    MeetingUpdated,
    new_id,
    utc_now,
)
from shared.settings import SchedulingSettings


@dataclass(frozen=True)
class Context:
    """What the use cases need of the service's settings."""

    base_url: str
    organizer_email: str

    @classmethod
    def of(cls, settings: SchedulingSettings) -> Context:
        return cls(base_url=settings.http.base_url, organizer_email=settings.organizer_email)


@dataclass(frozen=True)
class MeetingState:
    """A meeting with its sites and sessions, as read in one transaction."""

    stored: store.StoredMeeting
    """The meeting as stored: its fields, status, version and SEQUENCE."""
    site_rows: list[store.StoredSite]
    sites: list[store.KnownSite]
    """The sites whose organization scheduling knows, with its name and zone."""
    sessions: list[store.StoredSession]

    @property
    def id(self) -> UUID:
        return self.stored.id

    @property
    def timezone(self) -> str:
        if zone := self.stored.timezone:
            return zone
        return self.sites[0].timezone if self.sites else "UTC"

    @property
    def live_sessions(self) -> list[store.StoredSession]:
        return [session for session in self.sessions if session.status == "scheduled"]


async def load(connection: Connection, row: store.StoredMeeting) -> MeetingState:
    [state] = await load_many(connection, [row])
    return state


async def load_many(connection: Connection, rows: list[store.StoredMeeting]) -> list[MeetingState]:
    """The meetings with their sites and sessions: three statements however many."""
    ids = [row.id for row in rows]
    site_rows = _by_meeting(await store.site_rows(connection, ids))
    sites = _by_meeting(await store.sites(connection, ids))
    sessions = _by_meeting(await store.sessions(connection, ids))
    return [
        MeetingState(
            stored=row,
            site_rows=site_rows[row.id],
            sites=sites[row.id],
            sessions=sessions[row.id],
        )
        for row in rows
    ]


class _OfMeeting(Protocol):
    @property
    def meeting_id(self) -> UUID: ...


M = TypeVar("M", bound=_OfMeeting)


def _by_meeting(rows: list[M]) -> dict[UUID, list[M]]:
    grouped: dict[UUID, list[M]] = defaultdict(list)
    for row in rows:
        grouped[row.meeting_id].append(row)
    return grouped


# --- writing meetings -----------------------------------------------------------------


async def create(
    connection: Connection, data: MeetingCreate, caller: Caller, context: Context
) -> MeetingState:
    meeting_id = new_id()
    zone = data.timezone or await _host_zone(connection, data.host_organization_id)
    plan = planning.plan_sessions(meeting_id, data, zone, existing=[])
    refuse_past(planning.times_sent(data, plan), record_past=data.record_past, caller=caller)
    status: MeetingStatus = "draft" if data.draft else "scheduled"
    forced_by = None
    if not data.draft:
        forced_by = await constraints.check(
            connection, data.site_ids, plan.intervals, meeting_id, force=data.force, caller=caller
        )
    row = await store.insert_meeting(
        connection, meeting_id, planning.fields(data, plan, zone, status), forced_by
    )
    await store.replace_sites(connection, meeting_id, _site_rows(data))
    await store.save_sessions(connection, meeting_id, plan.sessions, drop_others=True)
    state = await load(connection, row)
    if status == "scheduled":
        await publish(connection, MeetingScheduled, state, context)
    return state


async def update(
    connection: Connection,
    before: MeetingState,
    data: MeetingWrite,
    caller: Caller,
    context: Context,
) -> MeetingState:
    status = before.stored.status
    if status not in ("draft", "scheduled"):
        raise Conflict(
            "meeting-not-editable",
            f"the meeting is {status}: only drafts and meetings that have not started change",
        )
    zone = data.timezone or await _host_zone(connection, data.host_organization_id)
    plan = planning.plan_sessions(before.id, data, zone, existing=before.sessions)
    refuse_past(planning.times_sent(data, plan), record_past=data.record_past, caller=caller)
    forced_by = None
    if status == "scheduled":
        forced_by = await constraints.check(
            connection, data.site_ids, plan.intervals, before.id, force=data.force, caller=caller
        )
    fields = planning.fields(data, plan, zone, status)
    await store.replace_sites(connection, before.id, _site_rows(data))
    await store.save_sessions(
        connection,
        before.id,
        plan.sessions,
        drop_others=plan.series or before.stored.recurrence is not None,
    )
    row = await store.update_meeting(
        connection, before.id, fields, forced_by=forced_by, changes_invite=False
    )
    after = await load(connection, row)
    return await _raise_sequence_if_seen(connection, before, after, context)


async def schedule_draft(
    connection: Connection,
    draft: MeetingState,
    *,
    force: bool,
    record_past: bool,
    caller: Caller,
    context: Context,
) -> MeetingState:
    if draft.stored.status != "draft":
        raise Conflict("not-a-draft", f"the meeting is {draft.stored.status} already")
    site_ids = [site.organization_id for site in draft.site_rows]
    intervals = [(s.starts_at, s.ends_at) for s in draft.live_sessions]
    refuse_past(
        [(f"sessions[{index}].starts_at", start) for index, (start, _) in enumerate(intervals)],
        record_past=record_past,
        caller=caller,
        detail="the draft's times have passed: change them, or record it as a past meeting",
    )
    forced_by = await constraints.check(
        connection, site_ids, intervals, draft.id, force=force, caller=caller
    )
    fields = msgspec.structs.replace(draft.stored, status="scheduled")
    row = await store.update_meeting(
        connection, draft.id, fields, forced_by=forced_by, changes_invite=False
    )
    state = await load(connection, row)
    await publish(connection, MeetingScheduled, state, context)
    return state


async def move_session(
    connection: Connection,
    *,
    before: MeetingState,
    session_id: UUID,
    data: SessionMove,
    caller: Caller,
    context: Context,
) -> MeetingState:
    """Move one session (or one occurrence of a series) to another time."""
    session = _editable_session(before, session_id)
    refuse_past([("starts_at", data.starts_at)], record_past=data.record_past, caller=caller)
    moved: list[MeetingSession] = [
        msgspec.structs.replace(s, starts_at=data.starts_at, ends_at=data.ends_at)
        if s.id == session.id
        else s
        for s in before.sessions
    ]
    if before.stored.status == "scheduled":
        site_ids = [site.organization_id for site in before.site_rows]
        forced_by = await constraints.check(
            connection,
            site_ids,
            [(s.starts_at, s.ends_at) for s in moved if s.status == "scheduled"],
            before.id,
            force=data.force,
            caller=caller,
        )
    else:
        forced_by = None
    return await _save_sessions(connection, before, moved, forced_by, context)


async def cancel_session(
    connection: Connection, before: MeetingState, session_id: UUID, context: Context
) -> MeetingState:
    session = _editable_session(before, session_id)
    if session.status == "cancelled":
        raise Conflict("session-cancelled", f"session {session_id} is cancelled already")
    if len(before.live_sessions) == 1:
        raise Conflict(
            "last-session",
            "this is the meeting's only session left: cancel the meeting instead",
        )
    changed: list[MeetingSession] = [
        msgspec.structs.replace(s, status="cancelled") if s.id == session_id else s
        for s in before.sessions
    ]
    return await _save_sessions(connection, before, changed, None, context)


def _editable_session(state: MeetingState, session_id: UUID) -> store.StoredSession:
    if state.stored.status not in ("draft", "scheduled"):
        raise Conflict(
            "meeting-not-editable",
            f"the meeting is {state.stored.status}: its sessions no longer change",
        )
    for session in state.sessions:
        if session.id == session_id:
            return session
    raise NotFound("not-found", f"the meeting has no session {session_id}")


async def _save_sessions(
    connection: Connection,
    before: MeetingState,
    sessions: list[MeetingSession],
    forced_by: str | None,
    context: Context,
) -> MeetingState:
    await store.save_sessions(connection, before.id, sessions, drop_others=False)
    starts_at, ends_at = planning.span(sessions)
    fields = msgspec.structs.replace(before.stored, starts_at=starts_at, ends_at=ends_at)
    row = await store.update_meeting(
        connection, before.id, fields, forced_by=forced_by, changes_invite=False
    )
    return await _raise_sequence_if_seen(connection, before, await load(connection, row), context)


async def apply_steps(
    connection: Connection, meeting: store.StoredMeeting, steps: list[Step], context: Context
) -> MeetingState:
    """Apply lifecycle steps to a meeting locked by the caller, one event per step."""
    state = await load(connection, meeting)
    for step in steps:
        row = await store.apply_lifecycle(
            connection, meeting.id, step.after, changes_invite=step.changes_invite
        )
        state = replace(state, stored=row)
        await publish(connection, step.event_type, state, context)
    return state


async def render_stale_entries(pool: Pool, context: Context, batch: int = 100) -> int:
    """Render again the calendar entries an earlier rendering wrote; how many meetings'.

    Nothing about the meetings changed, so no event, no SEQUENCE and no mail: the feeds
    that hold them change (their ETag with them) and calendar programs read them anew.
    """
    count = 0
    while True:
        async with acquire(pool) as connection, connection.transaction():
            found = await calendar_entries.stale(connection, batch)
            for meeting_id in found:
                row = await store.meeting(connection, meeting_id, for_update=True)
                if row is not None:
                    state = await load(connection, row)
                    await calendar_entries.write(connection, calendar_of(state, context))
        count += len(found)
        if len(found) < batch:
            return count


async def _raise_sequence_if_seen(
    connection: Connection, before: MeetingState, after: MeetingState, context: Context
) -> MeetingState:
    """Publish the change of a scheduled meeting, raising its SEQUENCE if attendees'
    calendars would show anything different, and mail them what changed."""
    if after.stored.status == "draft":
        return after
    if invitations.changed_uids(calendar_of(before, context), calendar_of(after, context)):
        after = replace(after, stored=await store.raise_sequence(connection, after.id))
    await publish(connection, MeetingUpdated, after, context, before=before)
    return after


async def publish(
    connection: Connection,
    event_type: type[MeetingEvent],
    state: MeetingState,
    context: Context,
    *,
    before: MeetingState | None = None,
    mail: bool = True,
) -> None:
    """Write the meeting's event, its calendar entries, and the mails the change causes."""
    await add_event(connection, event_of(event_type, state))
    calendar = calendar_of(state, context)
    await calendar_entries.write(connection, calendar)
    if not mail:
        return
    cause = f"meeting-v{state.stored.version}"
    if event_type is MeetingScheduled:
        await invitations.send_all(connection, calendar, "invitation", cause=cause)
    elif event_type is MeetingCancelled:
        await invitations.send_all(connection, calendar, "cancellation", cause=cause)
    elif event_type is MeetingUpdated and before is None:
        await invitations.send_all(connection, calendar, "update", cause=cause)
    elif event_type is MeetingUpdated and before is not None:
        previous = calendar_of(before, context)
        if cancelled := invitations.newly_cancelled_occurrences(previous, calendar):
            await invitations.send_occurrence_cancels(connection, calendar, cancelled, cause=cause)
            previous = replace(
                previous,
                sessions=[
                    replace(session, status="cancelled")
                    if session.id in {c.id for c in cancelled}
                    else session
                    for session in previous.sessions
                ],
            )
        if changed := invitations.changed_uids(previous, calendar):
            await invitations.send_all(connection, calendar, "update", cause=cause, only=changed)


# --- times in the past ----------------------------------------------------------------


def refuse_past(
    starts: Sequence[tuple[str, datetime]],
    *,
    record_past: bool,
    caller: Caller,
    detail: str | None = None,
) -> None:
    """Refuse times that start before now, naming each field, unless an operator records a
    past meeting explicitly (such a meeting starts and ends as soon as it is scheduled, and
    can then be neither moved nor cancelled)."""
    if record_past and not caller.is_staff:
        raise Forbidden("forbidden", "only operator and admin keys may record past meetings")
    if record_past:
        return
    now = utc_now()
    past = [
        FieldError(
            message=f"{start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} has passed: a meeting is "
            "scheduled ahead (an operator records a past one with record_past)",
            field=field,
            source="body",
        )
        for field, start in starts
        if start <= now
    ]
    if past:
        raise invalid_fields(past, slug="in-the-past", detail=detail)


def _site_rows(data: MeetingWrite) -> list[store.SiteRow]:
    return [
        store.SiteRow(organization_id=site.organization_id, room=site.room, track=site.track)
        for site in data.site_list
    ]


async def _host_zone(connection: Connection, host_organization_id: UUID) -> str:
    host = (await store.organizations(connection, [host_organization_id]))[host_organization_id]
    return host.timezone
