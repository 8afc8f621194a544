"""`POST /slots`: the slot search over the organizations scheduling knows."""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, post
from litestar.params import JSONBody

from services.scheduling import constraints
from services.scheduling.access import require_seen_organizations
from services.scheduling.schemas import SlotSearch
from services.scheduling.slots import WINDOW_EXTENSIONS, SlotQuery, SlotSearchResult, search
from shared.errors import FieldError, invalid_fields
from shared.events import utc_now
from shared.http.auth import KEY_SECURITY
from shared.http.params import Caller, Transaction


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
        security=KEY_SECURITY,
        status_code=200,
    )
    async def search_slots(
        self, connection: Transaction, caller: Caller, data: JSONBody[SlotSearch]
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
