"""Organizations: registered by staff, kept up to date by themselves, imported in bulk.

Every change that changes something is announced as `OrganizationUpserted`; a row of an
import equal to what is stored changes nothing, so importing a file twice is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from services.registry import store
from services.registry.schemas import (
    ImportOutcome,
    ImportReport,
    ImportResult,
    ImportRow,
    OpeningHours,
    Organization,
    OrganizationCreate,
    OrganizationFields,
    RawRow,
)
from services.registry.store import OrganizationValues, StoredOrganization
from shared.bus.outbox import add_event
from shared.calendars import RUSSIA, countries, default_zone
from shared.db import Connection
from shared.errors import Conflict
from shared.events import OrganizationUpserted, new_id
from shared.regions import region


async def create(connection: Connection, data: OrganizationCreate) -> Organization:
    if data.external_id is not None and await store.organizations_by_external_id(
        connection, [data.external_id]
    ):
        raise Conflict(
            "duplicate-external-id", f"an organization has external id {data.external_id}"
        )
    return organization_of(await _insert(connection, data, data.external_id))


async def update(
    connection: Connection, current: StoredOrganization, fields: OrganizationFields
) -> Organization:
    """The organization (locked by the caller) described anew by `fields`."""
    return organization_of(await _update(connection, current, values_of(fields)))


async def import_rows(
    connection: Connection, rows: Sequence[RawRow], *, dry_run: bool
) -> ImportReport:
    """Create or update each good row by its external id; report each bad one instead."""
    checked: list[ImportRow | ImportResult] = []
    first_row_of: dict[str, int] = {}
    for index, raw in enumerate(rows, start=1):
        checked.append(_checked_row(raw, index, first_row_of))
    existing = await store.organizations_by_external_id(connection, first_row_of)
    results: list[ImportResult] = []
    for row in checked:
        if isinstance(row, ImportRow):
            stored = existing.get(row.external_id)
            results.append(await _import_row(connection, row, stored, dry_run=dry_run))
        else:
            results.append(row)
    return ImportReport(dry_run=dry_run, results=results)


def organization_of(stored: StoredOrganization) -> Organization:
    """The organization as the API shows it."""
    return Organization(
        id=stored.id,
        external_id=stored.external_id,
        name=stored.name,
        short_name=stored.short_name,
        kind=stored.kind,
        region=stored.region_code,
        region_name=stored.region,
        country=stored.country,
        city=stored.city,
        timezone=stored.timezone,
        # Stored as the events carry them (HH:MM:SS); answered in the API's form.
        working_hours=None
        if stored.working_hours is None
        else OpeningHours.of(stored.working_hours),
        blackout_dates=stored.blackout_dates,
        contacts=stored.contacts,
        public=stored.public,
        version=stored.version,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        name_en=stored.name_en,
        city_en=stored.city_en,
    )


def values_of(fields: OrganizationFields) -> OrganizationValues:
    """What the organization's columns hold for a description: the region's name and time
    zone from the directory in Russia, the country's abroad."""
    region_code: str | None
    if fields.country == RUSSIA:
        assert fields.region is not None  # OrganizationFields checked it
        directory = region(fields.region)
        assert directory is not None
        region_code, region_name = directory.code, directory.name
        zone = fields.timezone or directory.timezone
    else:
        # Abroad: the subdivision (if any) for its holidays, the country's name where a
        # Russian organization shows its region.
        region_code = fields.region.upper() if fields.region else None
        region_name = countries()[fields.country]
        found_zone = fields.timezone or default_zone(fields.country)
        assert found_zone is not None  # OrganizationFields checked it
        zone = found_zone
    return OrganizationValues(
        name=fields.name,
        short_name=fields.short_name,
        kind=fields.kind,
        region_code=region_code,
        region=region_name,
        city=fields.city,
        timezone=zone,
        working_hours=None if fields.working_hours is None else fields.working_hours.as_event(),
        blackout_dates=fields.blackout_dates,
        contacts=fields.contacts,
        public=fields.public,
        country=fields.country,
        name_en=fields.name_en,
        city_en=fields.city_en,
    )


async def _insert(
    connection: Connection, fields: OrganizationFields, external_id: str | None
) -> StoredOrganization:
    created = await store.insert_organization(connection, new_id(), external_id, values_of(fields))
    await _announce(connection, created)
    return created


async def _update(
    connection: Connection, current: StoredOrganization, values: OrganizationValues
) -> StoredOrganization:
    """The organization with `values`: as it is, unannounced, if that changes nothing."""
    if current.same_as(values):
        return current
    updated = await store.update_organization(connection, current.id, values)
    await _announce(connection, updated)
    return updated


async def _announce(connection: Connection, organization: StoredOrganization) -> None:
    await add_event(
        connection,
        OrganizationUpserted(
            aggregate_id=organization.id,
            aggregate_version=organization.version,
            name=organization.name,
            region=organization.region,
            timezone=organization.timezone,
            short_name=organization.short_name,
            kind=organization.kind,
            region_code=organization.region_code,
            city=organization.city,
            working_hours=organization.working_hours,
            blackout_dates=organization.blackout_dates,
            public=organization.public,
            country=organization.country,
            name_en=organization.name_en,
            city_en=organization.city_en,
        ),
    )


def _checked_row(raw: RawRow, index: int, first_row_of: dict[str, int]) -> ImportRow | ImportResult:
    """The row, if it is a good one and its external id is not on an earlier row; else
    the result that says why not."""
    try:
        row = msgspec.convert(raw, ImportRow)
    except msgspec.ValidationError as error:
        number = raw.get("row")
        number = number if isinstance(number, int) and number >= 1 else index
        return ImportResult(row=number, outcome="invalid", error=str(error))
    if row.external_id in first_row_of:
        return ImportResult(
            row=row.row,
            outcome="invalid",
            external_id=row.external_id,
            error=f"external_id {row.external_id!r} was already given on row "
            f"{first_row_of[row.external_id]}",
        )
    first_row_of[row.external_id] = row.row
    return row


async def _import_row(
    connection: Connection, row: ImportRow, existing: StoredOrganization | None, *, dry_run: bool
) -> ImportResult:
    fields = msgspec.convert(
        {name: getattr(row, name) for name in OrganizationFields.__struct_fields__},
        OrganizationFields,
        from_attributes=True,
    )
    outcome: ImportOutcome
    if existing is None:
        outcome = "created"
        organization_id = (
            None if dry_run else (await _insert(connection, fields, row.external_id)).id
        )
    else:
        values = values_of(fields)
        outcome = "unchanged" if existing.same_as(values) else "updated"
        if not dry_run:
            await _update(connection, existing, values)
        organization_id = existing.id
    return ImportResult(
        row=row.row, outcome=outcome, external_id=row.external_id, id=organization_id
    )
