"""A meeting's lifecycle: scheduled → live → ended, or cancelled. Pure: no I/O.

The meeting clock asks `due_steps` what should have happened by now; an operator's "end
now" and "cancel" are steps too. Each step becomes one event with the next version, so a
meeting whose start and end both passed while the service was down gets both events, in
order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.events import (
    MeetingCancelled,
    MeetingEnded,
    MeetingEvent,
    MeetingStarted,
    MeetingStatus,
)


class TransitionError(ValueError):
    """The meeting is not in a state that allows this change."""


@dataclass(frozen=True)
class Lifecycle:
    status: MeetingStatus
    starts_at: datetime
    ends_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    event_type: type[MeetingEvent]
    after: Lifecycle
    changes_invite: bool = False
    """Whether attendees' calendars must learn of it (raises the iCalendar SEQUENCE)."""


def due_steps(state: Lifecycle, now: datetime) -> list[Step]:
    """What the clock owes this meeting at `now`: its start, its end, both, or nothing."""
    steps: list[Step] = []
    if state.status == "scheduled" and state.starts_at <= now:
        state = replace(state, status="live", started_at=state.starts_at)
        steps.append(Step(MeetingStarted, state))
    if state.status == "live" and state.ends_at <= now:
        state = replace(state, status="ended", ended_at=state.ends_at)
        steps.append(Step(MeetingEnded, state))
    return steps


def end_now(state: Lifecycle, now: datetime) -> list[Step]:
    """An operator ends the meeting at `now`.

    A meeting the clock has not started yet starts in the same step: at its scheduled start
    if that has passed (as the clock would have written), else at `now`.
    """
    if state.status in ("ended", "cancelled"):
        raise TransitionError(f"the meeting is {state.status} already")
    steps: list[Step] = []
    if state.status == "scheduled":
        state = replace(state, status="live", started_at=min(now, state.starts_at))
        steps.append(Step(MeetingStarted, state))
    # Past its end but not yet ended by the clock: it ended when the clock would have said.
    state = replace(state, status="ended", ended_at=min(now, state.ends_at))
    steps.append(Step(MeetingEnded, state))
    return steps


def cancel(state: Lifecycle) -> list[Step]:
    if state.status != "scheduled":
        raise TransitionError(
            f"only a meeting that has not started can be cancelled; it is {state.status}"
        )
    return [Step(MeetingCancelled, replace(state, status="cancelled"), changes_invite=True)]
