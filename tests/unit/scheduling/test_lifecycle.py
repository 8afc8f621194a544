"""A meeting's lifecycle: what the clock owes it, and what operators may do to it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.scheduling.lifecycle import (
    Lifecycle,
    Step,
    TransitionError,
    cancel,
    due_steps,
    end_now,
)
from shared.events import MeetingCancelled, MeetingEnded, MeetingStarted, MeetingStatus

START = datetime(2026, 10, 1, 7, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
SCHEDULED = Lifecycle(status="scheduled", starts_at=START, ends_at=END)
LIVE = replace(SCHEDULED, status="live", started_at=START)
ENDED = replace(LIVE, status="ended", ended_at=END)
CANCELLED = replace(SCHEDULED, status="cancelled")


def kinds(steps: list[Step]) -> list[type]:
    return [step.event_type for step in steps]


def final(state: Lifecycle, steps: list[Step]) -> Lifecycle:
    return steps[-1].after if steps else state


# --- the clock ------------------------------------------------------------------------


@pytest.mark.parametrize("now", [START - timedelta(days=1), START - timedelta(microseconds=1)])
def test_nothing_is_due_before_the_start(now: datetime) -> None:
    assert due_steps(SCHEDULED, now) == []


@pytest.mark.parametrize("now", [START, START + timedelta(hours=1), END - timedelta(seconds=1)])
def test_between_start_and_end_the_meeting_starts_at_its_scheduled_time(now: datetime) -> None:
    steps = due_steps(SCHEDULED, now)

    assert kinds(steps) == [MeetingStarted]
    assert steps[0].after.status == "live"
    assert steps[0].after.started_at == START  # when it was due, not when the clock woke
    assert steps[0].after.ended_at is None
    assert steps[0].changes_invite is False


@pytest.mark.parametrize("now", [END, END + timedelta(days=3)])
def test_after_the_end_a_scheduled_meeting_starts_then_ends(now: datetime) -> None:
    steps = due_steps(SCHEDULED, now)

    assert kinds(steps) == [MeetingStarted, MeetingEnded]
    started, ended = (step.after for step in steps)
    assert (started.status, started.started_at, started.ended_at) == ("live", START, None)
    assert (ended.status, ended.started_at, ended.ended_at) == ("ended", START, END)


def test_a_live_meeting_after_its_end_only_ends() -> None:
    steps = due_steps(LIVE, END + timedelta(minutes=5))

    assert kinds(steps) == [MeetingEnded]
    assert steps[0].after == replace(LIVE, status="ended", ended_at=END)


def test_a_live_meeting_before_its_end_owes_nothing() -> None:
    assert due_steps(LIVE, END - timedelta(minutes=1)) == []


@pytest.mark.parametrize("state", [ENDED, CANCELLED])
def test_a_finished_meeting_owes_nothing_ever(state: Lifecycle) -> None:
    assert due_steps(state, END + timedelta(days=365)) == []


def test_a_live_meeting_started_early_by_hand_keeps_its_start() -> None:
    early = replace(LIVE, started_at=START - timedelta(minutes=10))
    steps = due_steps(early, END)

    assert steps[0].after.started_at == START - timedelta(minutes=10)


instants = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 (hypothesis takes naive bounds)
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
durations = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=9))
statuses = st.sampled_from(["scheduled", "live"])


@st.composite
def lifecycles(draw: st.DrawFn) -> Lifecycle:
    starts_at = draw(instants)
    ends_at = starts_at + draw(durations)
    status: MeetingStatus = draw(statuses)
    started_at = starts_at if status == "live" else None
    return Lifecycle(status=status, starts_at=starts_at, ends_at=ends_at, started_at=started_at)


@hypothesis_settings(max_examples=150)
@given(state=lifecycles(), now=instants)
def test_the_clock_applies_each_step_exactly_once(state: Lifecycle, now: datetime) -> None:
    steps = due_steps(state, now)
    after = final(state, steps)

    assert due_steps(after, now) == []
    assert len(steps) <= 2
    assert kinds(steps) in ([], [MeetingStarted], [MeetingEnded], [MeetingStarted, MeetingEnded])


@hypothesis_settings(max_examples=150)
@given(state=lifecycles(), first=instants, second=instants)
def test_waking_twice_owes_the_same_as_waking_once_later(
    state: Lifecycle, first: datetime, second: datetime
) -> None:
    earlier, later = sorted([first, second])
    in_two = due_steps(state, earlier)
    in_two += due_steps(final(state, in_two), later)
    at_once = due_steps(state, later)

    assert kinds(in_two) == kinds(at_once)
    assert final(state, in_two) == final(state, at_once)


@hypothesis_settings(max_examples=150)
@given(state=lifecycles(), now=instants)
def test_the_clock_never_writes_times_in_the_future(state: Lifecycle, now: datetime) -> None:
    for step in due_steps(state, now):
        assert step.after.started_at is not None
        assert step.after.started_at <= now
        if step.after.ended_at is not None:
            assert step.after.started_at <= step.after.ended_at <= now


# --- operators ------------------------------------------------------------------------


def test_ending_a_scheduled_meeting_early_starts_and_ends_it_now() -> None:
    now = START - timedelta(hours=1)
    steps = end_now(SCHEDULED, now)

    assert kinds(steps) == [MeetingStarted, MeetingEnded]
    assert steps[0].after.status == "live"
    assert steps[0].after.started_at == now
    assert steps[1].after.status == "ended"
    assert steps[1].after.started_at == now
    assert steps[1].after.ended_at == now


def test_ending_a_scheduled_meeting_the_clock_has_not_started_yet_keeps_its_start() -> None:
    now = START + timedelta(minutes=30)
    steps = end_now(SCHEDULED, now)

    assert kinds(steps) == [MeetingStarted, MeetingEnded]
    assert steps[-1].after.started_at == START  # what the clock would have written
    assert steps[-1].after.ended_at == now


def test_ending_a_live_meeting_ends_it_now() -> None:
    now = START + timedelta(minutes=45)
    steps = end_now(LIVE, now)

    assert kinds(steps) == [MeetingEnded]
    assert steps[0].after == replace(LIVE, status="ended", ended_at=now)


def test_ending_an_overdue_meeting_keeps_the_end_the_clock_would_have_written() -> None:
    now = END + timedelta(minutes=10)
    steps = end_now(LIVE, now)

    assert steps[-1].after.ended_at == END


@pytest.mark.parametrize("state", [ENDED, CANCELLED])
def test_a_finished_meeting_cannot_be_ended(state: Lifecycle) -> None:
    with pytest.raises(TransitionError, match=state.status):
        end_now(state, END + timedelta(hours=1))


def test_cancelling_a_scheduled_meeting_tells_the_attendees() -> None:
    steps = cancel(SCHEDULED)

    assert kinds(steps) == [MeetingCancelled]
    assert steps[0].after == replace(SCHEDULED, status="cancelled")
    assert steps[0].changes_invite is True


@pytest.mark.parametrize("state", [LIVE, ENDED, CANCELLED])
def test_only_a_meeting_that_has_not_started_can_be_cancelled(state: Lifecycle) -> None:
    with pytest.raises(TransitionError, match=state.status):
        cancel(state)


def test_a_cancelled_meeting_is_never_started_by_the_clock() -> None:
    (step,) = cancel(SCHEDULED)
    assert due_steps(step.after, END + timedelta(days=1)) == []
