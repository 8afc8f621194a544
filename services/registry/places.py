"""Places of a meeting: whether a person's organization still fits, and whom the waitlist
promotes when places free up. Pure: the registry loads `Places` and the waitlist, locked."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import msgspec

from services.registry.schemas import SiteCapacity


class Places(msgspec.Struct, frozen=True, kw_only=True):
    """A meeting's limits and who holds its places."""

    capacity: int | None
    """Places in all; None for no limit."""
    sites: list[SiteCapacity]
    """Organizations with a limit of their own, by id."""
    registered: dict[UUID, int]
    """People registered (not waitlisted) per organization."""
    waitlisted: int

    @property
    def registered_in_all(self) -> int:
        return sum(self.registered.values())

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.registered_in_all >= self.capacity

    def fits(self, organization_id: UUID) -> bool:
        """Whether one more person of the organization gets a place: one is left in all,
        and at the organization's site if it has a limit of its own."""
        if self.full:
            return False
        limit = next(
            (site.capacity for site in self.sites if site.organization_id == organization_id),
            None,
        )
        return limit is None or self.registered.get(organization_id, 0) < limit

    def taken_by(self, organization_id: UUID) -> Places:
        """The places once one more person of the organization holds one."""
        held = self.registered.get(organization_id, 0) + 1
        return msgspec.structs.replace(self, registered=self.registered | {organization_id: held})


class Waiting(msgspec.Struct, frozen=True):
    """A waitlisted registration, in the waitlist's order."""

    id: UUID
    organization_id: UUID


def promotions(places: Places, waitlist: Sequence[Waiting]) -> list[UUID]:
    """The waitlisted registrations that get a place, in the waitlist's order: each that
    fits, skipping those whose own site is full, until no place is left in all."""
    promoted: list[UUID] = []
    for waiting in waitlist:
        if places.full:
            break
        if places.fits(waiting.organization_id):
            promoted.append(waiting.id)
            places = places.taken_by(waiting.organization_id)
    return promoted
