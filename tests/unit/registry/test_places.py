"""Places of a meeting: who fits, and whom a freed place goes to (with real meetings, under
concurrent sign-ups: tests/integration/registry/test_registrations.py)."""

from __future__ import annotations

from uuid import UUID

from services.registry.places import Places, Waiting, promotions
from services.registry.schemas import SiteCapacity

LIPETSK = UUID("01a203f3-0000-7000-8000-00000000000a")
VLADIVOSTOK = UUID("01a203f3-0000-7000-8000-00000000000b")


def waiting(number: int, organization_id: UUID) -> Waiting:
    return Waiting(UUID(int=number), organization_id)


def places(
    capacity: int | None, registered: dict[UUID, int], sites: dict[UUID, int] | None = None
) -> Places:
    return Places(
        capacity=capacity,
        sites=[SiteCapacity(site, limit) for site, limit in (sites or {}).items()],
        registered=registered,
        waitlisted=0,
    )


def test_without_limits_everyone_fits() -> None:
    assert places(None, {LIPETSK: 1000}).fits(LIPETSK)


def test_no_one_fits_once_every_place_is_taken() -> None:
    full = places(3, {LIPETSK: 2, VLADIVOSTOK: 1})
    assert full.full
    assert not full.fits(VLADIVOSTOK)


def test_a_site_at_its_own_limit_is_full_while_others_still_fit() -> None:
    some_left = places(10, {LIPETSK: 2}, sites={LIPETSK: 2})
    assert not some_left.fits(LIPETSK)
    assert some_left.fits(VLADIVOSTOK)


def test_the_waitlist_is_promoted_in_order_until_no_place_is_left() -> None:
    waitlist = [waiting(number, LIPETSK) for number in range(1, 5)]
    assert promotions(places(3, {LIPETSK: 1}), waitlist) == [UUID(int=1), UUID(int=2)]


def test_a_waiting_person_whose_site_is_full_is_passed_over_not_in_the_way() -> None:
    waitlist = [waiting(1, LIPETSK), waiting(2, VLADIVOSTOK), waiting(3, LIPETSK)]
    assert promotions(places(5, {LIPETSK: 1}, sites={LIPETSK: 1}), waitlist) == [UUID(int=2)]


def test_no_free_place_promotes_no_one() -> None:
    assert promotions(places(1, {VLADIVOSTOK: 1}), [waiting(1, LIPETSK)]) == []
