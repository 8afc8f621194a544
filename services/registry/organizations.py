"""Organizations: registered by staff, kept up to date by themselves, imported in bulk."""

from __future__ import annotations

from typing import Annotated, Any, Final
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.registry.access import visible_organization
from services.registry.schemas import (
    ImportOutcome,
    ImportReport,
    ImportResult,
    ImportRow,
    OpeningHours,
    Organization,
    OrganizationCreate,
    OrganizationFields,
    OrganizationImport,
)
from shared.access import require_own_organization
from shared.bus.outbox import add_event
from shared.calendars import RUSSIA, countries, default_zone
from shared.db import Connection
from shared.errors import Conflict
from shared.events import OrganizationKind, OrganizationUpserted, WorkingHours, new_id
from shared.http.auth import KEY_SECURITY, operator_guard
from shared.http.pagination import Page, decode_cursor, page_of
from shared.http.params import (
    DEFAULT_PAGE_SIZE,
    AnyRequest,
    Cursor,
    PageSize,
    Transaction,
    Visitor,
)
from shared.http.params import Caller as CallerParam
from shared.http.versions import check_version, etag
from shared.regions import region

_COLUMNS: Final = (
    "name, short_name, kind, region_code, region, city, timezone, working_hours, "
    "blackout_dates, contacts, public, country, name_en, city_en"
)
_INSERT: Final = f"""
INSERT INTO organizations (id, external_id, {_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING *
"""
_UPDATE: Final = f"""
UPDATE organizations SET ({_COLUMNS}, version, updated_at)
    = ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, version + 1, now())
WHERE id = $1
RETURNING *
"""
_BY_ID: Final = "SELECT * FROM organizations WHERE id = $1"
_BY_ID_FOR_UPDATE: Final = "SELECT * FROM organizations WHERE id = $1 FOR UPDATE"
_BY_EXTERNAL_ID_FOR_UPDATE: Final = "SELECT * FROM organizations WHERE external_id = $1 FOR UPDATE"
_LIST: Final = """
SELECT * FROM organizations
WHERE ($1::uuid IS NULL OR id > $1)
  AND ($3::text IS NULL OR region_code = $3)
  AND ($4::text IS NULL OR kind = $4)
  AND ($5::text IS NULL
       OR name ILIKE '%' || $5 || '%' OR short_name ILIKE '%' || $5 || '%'
       OR city ILIKE '%' || $5 || '%')
  AND (public OR $6 OR id = $7)
ORDER BY id LIMIT $2
"""

RegionFilter = Annotated[
    str | None, QueryParameter(description="Region code, such as RU-LIP", max_length=16)
]
KindFilter = Annotated[OrganizationKind | None, QueryParameter(description="Kind of organization")]
TextFilter = Annotated[
    str | None,
    QueryParameter(
        description="Part of the name, short name or city, any case", min_length=1, max_length=100
    ),
]


class OrganizationController(Controller):
    path = "/organizations"
    tags = ["organizations"]

    @post(
        "/",
        summary="Register an organization",
        guards=[operator_guard],
        security=KEY_SECURITY,
        description="Staff only. The time zone defaults to the region's.",
    )
    async def create_organization(
        self, connection: Transaction, data: JSONBody[OrganizationCreate]
    ) -> Response[Organization]:
        if data.external_id is not None and await connection.fetchrow(
            _BY_EXTERNAL_ID_FOR_UPDATE, data.external_id
        ):
            raise Conflict(
                "duplicate-external-id", f"an organization has external id {data.external_id}"
            )
        organization = await _insert(connection, data, data.external_id)
        return _with_etag(organization, status=201)

    @get("/{organization_id:uuid}", summary="One organization", security=[{}, *KEY_SECURITY])
    async def get_organization(
        self, connection: Transaction, visitor: Visitor, organization_id: FromPath[UUID]
    ) -> Response[Organization]:
        row = await visible_organization(connection, visitor, organization_id)
        return _with_etag(organization_of(row))

    @put(
        "/{organization_id:uuid}",
        summary="Change an organization",
        security=KEY_SECURITY,
        description="Send every field, and the ETag last read as If-Match. A partner key "
        "changes only its own organization.",
    )
    async def update_organization(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        organization_id: FromPath[UUID],
        data: JSONBody[OrganizationFields],
    ) -> Response[Organization]:
        row = await visible_organization(connection, caller, organization_id, for_update=True)
        require_own_organization(caller, organization_id)
        check_version(request, row["version"])
        organization, _ = await _update(connection, row, data)
        return _with_etag(organization)

    @get(
        "/",
        summary="Organizations, oldest first, by region, kind or text",
        security=[{}, *KEY_SECURITY],
        description="Without a key, public organizations only; a partner key also sees its "
        "own, a staff key every one.",
    )
    async def list_organizations(
        self,
        *,
        connection: Transaction,
        visitor: Visitor,
        region: RegionFilter = None,
        kind: KindFilter = None,
        text: FromQuery[TextFilter] = None,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Organization]:
        rows = await connection.fetch(
            _LIST,
            decode_cursor(cursor),
            limit + 1,
            region.upper() if region else None,
            kind,
            _escape_like(text) if text else None,
            visitor is not None and visitor.is_staff,
            visitor.organization_id if visitor else None,
        )
        found = [organization_of(row) for row in rows]
        return page_of(found, [item.id for item in found], limit)

    @post(
        "/import",
        summary="Create or update organizations in bulk, by external id",
        guards=[operator_guard],
        security=KEY_SECURITY,
        status_code=200,
        description="Staff only. Each row is checked on its own: good rows are saved, bad "
        "ones reported with their row number, and a row equal to what is stored changes "
        "nothing, so importing a file twice is harmless. `telebridge orgs import` sends CSV "
        "files here.",
    )
    async def import_organizations(
        self, connection: Transaction, data: JSONBody[OrganizationImport]
    ) -> ImportReport:
        results: list[ImportResult] = []
        seen: dict[str, int] = {}
        for index, raw in enumerate(data.rows, start=1):
            results.append(await _import_row(connection, raw, index, seen, dry_run=data.dry_run))
        return ImportReport(dry_run=data.dry_run, results=results)


def organization_of(row: Any) -> Organization:
    fields = dict(row)
    fields["region_name"] = fields.pop("region")
    fields["region"] = fields.pop("region_code")
    if fields["working_hours"] is not None:
        # Stored as the events carry them (HH:MM:SS); answered in the API's form.
        stored = msgspec.convert(fields["working_hours"], WorkingHours)
        fields["working_hours"] = OpeningHours.of(stored)
    return msgspec.convert(fields, Organization, from_attributes=True)


def _with_etag(organization: Organization, status: int = 200) -> Response[Organization]:
    return Response(organization, status_code=status, headers={"ETag": etag(organization.version)})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _values(fields: OrganizationFields) -> list[Any]:
    region_code: str | None
    zone: str | None
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
        zone = fields.timezone or default_zone(fields.country)
    return [
        fields.name,
        fields.short_name,
        fields.kind,
        region_code,
        region_name,
        fields.city,
        zone,
        None if fields.working_hours is None else fields.working_hours.as_event(),
        fields.blackout_dates,
        fields.contacts,
        fields.public,
        fields.country,
        fields.name_en,
        fields.city_en,
    ]


async def _insert(
    connection: Connection, fields: OrganizationFields, external_id: str | None
) -> Organization:
    row = await connection.fetchrow(_INSERT, new_id(), external_id, *_values(fields))
    assert row is not None
    return await _announce(connection, organization_of(row))


async def _update(
    connection: Connection, row: Any, fields: OrganizationFields
) -> tuple[Organization, bool]:
    """The organization with `fields`, and whether that changed anything."""
    current = organization_of(row)
    values = _values(fields)
    if _stored_values(row) == msgspec.to_builtins(values):
        return current, False
    updated = await connection.fetchrow(_UPDATE, row["id"], *values)
    assert updated is not None
    return await _announce(connection, organization_of(updated)), True


def _stored_values(row: Any) -> list[Any]:
    names = [name.strip() for name in _COLUMNS.split(",")]
    stored: list[Any] = msgspec.to_builtins([row[name] for name in names])
    return stored


async def _announce(connection: Connection, organization: Organization) -> Organization:
    await add_event(
        connection,
        OrganizationUpserted(
            aggregate_id=organization.id,
            aggregate_version=organization.version,
            name=organization.name,
            region=organization.region_name,
            timezone=organization.timezone,
            short_name=organization.short_name,
            kind=organization.kind,
            region_code=organization.region,
            city=organization.city,
            working_hours=None
            if organization.working_hours is None
            else organization.working_hours.as_event(),
            blackout_dates=organization.blackout_dates,
            public=organization.public,
            country=organization.country,
            name_en=organization.name_en,
            city_en=organization.city_en,
        ),
    )
    return organization


async def _import_row(
    connection: Connection,
    raw: dict[str, Any],
    index: int,
    seen: dict[str, int],
    *,
    dry_run: bool,
) -> ImportResult:
    try:
        row = msgspec.convert(raw, ImportRow)
    except msgspec.ValidationError as error:
        number = raw.get("row")
        number = number if isinstance(number, int) and number >= 1 else index
        return ImportResult(row=number, outcome="invalid", error=str(error))
    if row.external_id in seen:
        return ImportResult(
            row=row.row,
            outcome="invalid",
            external_id=row.external_id,
            error=f"external_id {row.external_id!r} was already given on row "
            f"{seen[row.external_id]}",
        )
    seen[row.external_id] = row.row
    fields = msgspec.convert(
        {name: getattr(row, name) for name in OrganizationFields.__struct_fields__},
        OrganizationFields,
        from_attributes=True,
    )
    existing = await connection.fetchrow(_BY_EXTERNAL_ID_FOR_UPDATE, row.external_id)
    if dry_run:
        outcome = "created" if existing is None else _dry_outcome(existing, fields)
        return ImportResult(
            row=row.row,
            outcome=outcome,
            external_id=row.external_id,
            id=existing["id"] if existing else None,
        )
    if existing is None:
        created = await _insert(connection, fields, row.external_id)
        return ImportResult(
            row=row.row, outcome="created", external_id=row.external_id, id=created.id
        )
    organization, changed = await _update(connection, existing, fields)
    return ImportResult(
        row=row.row,
        outcome="updated" if changed else "unchanged",
        external_id=row.external_id,
        id=organization.id,
    )


def _dry_outcome(existing: Any, fields: OrganizationFields) -> ImportOutcome:
    same = _stored_values(existing) == msgspec.to_builtins(_values(fields))
    return "unchanged" if same else "updated"
