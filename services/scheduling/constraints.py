"""The sites' constraints as scheduling knows them, for slot search and for scheduling.

Working hours, blackout days, countries and regions come from the registry's events; public
holidays and moved working days from `shared.calendars` (the `holidays` package by country
and subdivision, and the project's data on Russia's republics and production calendar); busy
times from the other meetings the organizations take part in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from services.scheduling import store
from services.scheduling.slots import SiteConstraints, Violation, violations
from shared.access import Caller
from shared.calendars import RUSSIA
from shared.db import Connection
from shared.errors import Conflict, Forbidden
from shared.regions import region

SCHEDULING_BUFFER = timedelta(0)
"""Kept free around other meetings when a meeting is scheduled (slot search takes its own)."""


async def site_constraints(
    connection: Connection,
    organization_ids: Sequence[UUID],
    window: tuple[datetime, datetime],
    *,
    except_meeting: UUID | None = None,
) -> list[SiteConstraints]:
    """What limits each organization's times within `window` (padded for buffers)."""
    organizations = await store.organizations(connection, list(organization_ids))
    padding = timedelta(days=1)
    busy = {
        row.organization_id: tuple(zip(row.starts, row.ends, strict=True))
        for row in await store.busy(
            connection,
            list(organization_ids),
            window[0] - padding,
            window[1] + padding,
            except_meeting=except_meeting or UUID(int=0),
        )
    }
    sites = []
    for organization_id in organization_ids:
        organization = organizations[organization_id]
        country, subdivision = organization.country, None
        found = region(organization.region_code) if organization.region_code else None
        if found is not None:
            subdivision = found.holidays.subdivision
        elif organization.region_code and country != RUSSIA:
            # Abroad, region_code is the ISO 3166-2 subdivision, such as DE-BE.
            subdivision = organization.region_code.split("-", 1)[-1]
        sites.append(
            SiteConstraints(
                organization_id=organization_id,
                name=organization.short_name or organization.name,
                timezone=organization.timezone,
                working_hours=organization.working_hours,
                blackout_dates=frozenset(organization.blackout_dates),
                holidays_country=country,
                holidays_subdivision=subdivision,
                region_code=found.code if found else None,
                busy=busy.get(organization_id, ()),
            )
        )
    return sites


async def check(
    connection: Connection,
    organization_ids: Sequence[UUID],
    intervals: Sequence[tuple[datetime, datetime]],
    meeting_id: UUID,
    *,
    force: bool,
    caller: Caller,
) -> str | None:
    """Refuse with a 409 listing every constraint the meeting's sessions break, unless an
    operator forces it; returns who forced it, if anyone had to."""
    if force and not caller.is_staff:
        raise Forbidden("forbidden", "only operator and admin keys may force a meeting")
    window = (min(start for start, _ in intervals), max(end for _, end in intervals))
    sites = await site_constraints(connection, organization_ids, window, except_meeting=meeting_id)
    broken: list[Violation] = []
    for starts_at, ends_at in intervals:
        broken += violations(sites, starts_at, ends_at, buffer=SCHEDULING_BUFFER)
    if not broken:
        return None
    if force:
        return str(caller.key_id) if caller.key_id else "operator"
    shown = broken[:50]
    raise Conflict(
        "constraints-violated",
        "the meeting's time does not suit its sites: "
        + "; ".join(violation.message for violation in shown[:3])
        + (f" (and {len(broken) - 3} more)" if len(broken) > 3 else "")
        + ". Search free slots with POST /slots, or have an operator force it.",
        extensions={"violations": msgspec.to_builtins(shown)},
    )
