"""What the registry learns from other services: the meetings people may sign up for."""

from __future__ import annotations

from shared.bus.consumer import EventConsumer
from shared.events import SCHEDULING, SchedulingEvent
from shared.readmodels import meetings

MEETINGS = EventConsumer[SchedulingEvent](
    name="registry-meetings", stream=SCHEDULING, events=SchedulingEvent, apply=meetings.apply
)
