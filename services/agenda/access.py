"""Who may see what of agenda publishing's: every meeting a caller names is looked up here.

The rules are `shared.access`'s (and the table in docs/design.md): the agenda and summary
of a public meeting are everyone's, those of a private one its sites' and staff's; only the
host and staff write them. What the caller may not see answers exactly as an unknown id.
"""

from __future__ import annotations

from uuid import UUID

from shared.access import Caller, require_host, sees_meeting
from shared.db import Connection
from shared.errors import unknown_meeting
from shared.readmodels import catchup, meetings
from shared.readmodels.meetings import Meeting


async def visible_meeting(
    connection: Connection, caller: Caller | None, meeting_id: UUID
) -> Meeting:
    async def lookup() -> Meeting | None:
        return await meetings.meeting(connection, meeting_id)

    meeting = await catchup.find("meeting", meeting_id, lookup)
    if meeting is None or not sees_meeting(
        caller, public=meeting.public, status=meeting.status, site_ids=meeting.organization_ids
    ):
        raise unknown_meeting(meeting_id, "agenda publishing")
    return meeting


async def hosted_meeting(connection: Connection, caller: Caller, meeting_id: UUID) -> Meeting:
    """The meeting, if the caller may see it (else 404) and hosts it (else 403)."""
    meeting = await visible_meeting(connection, caller, meeting_id)
    require_host(caller, meeting.host_organization_id)
    return meeting
