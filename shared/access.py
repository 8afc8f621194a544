"""Who may see what: the visibility rules every service applies, in one place.

The roles are those of `docs/design.md` ("Who may see and do what"): staff (operator and
admin keys) see everything; a partner key acts for its own organization; without a key a
caller sees only what is public. What a caller may not see answers exactly as what does
not exist, so these predicates decide visibility and the services turn a `False` into the
same 404 as an unknown id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from shared.errors import Forbidden
from shared.events import KeyRole


@dataclass(frozen=True)
class Caller:
    """The verified key of a request."""

    key_id: UUID | None
    """None for the configured operator key."""
    role: KeyRole
    organization_id: UUID | None
    scopes: frozenset[str]

    @property
    def is_staff(self) -> bool:
        """Operators and admins act across organizations."""
        return self.role in ("admin", "operator")

    def acts_for(self, organization_id: UUID) -> bool:
        return self.is_staff or self.organization_id == organization_id


def takes_part(caller: Caller | None, site_ids: Iterable[UUID]) -> bool:
    """Staff, or a key of one of the meeting's sites (the host is one of them)."""
    if caller is None:
        return False
    return caller.is_staff or caller.organization_id in set(site_ids)


def sees_meeting(
    caller: Caller | None, *, public: bool, status: str, site_ids: Iterable[UUID]
) -> bool:
    """A public meeting is seen by everyone once it is no longer a draft; any other by its
    sites and staff."""
    return (public and status != "draft") or takes_part(caller, site_ids)


def sees_organization(caller: Caller | None, organization_id: UUID, *, public: bool) -> bool:
    """A public organization is listed to anyone; a private one to its own keys and staff."""
    return public or (caller is not None and caller.acts_for(organization_id))


def require_own_organization(caller: Caller, organization_id: UUID) -> None:
    """A partner key acts for its own organization only: 403 for any other (they are public)."""
    if not caller.acts_for(organization_id):
        raise Forbidden(
            "other-organization",
            f"this key acts for organization {caller.organization_id}, not {organization_id}",
        )


def hosts(caller: Caller, host_organization_id: UUID) -> bool:
    """Staff, or a key of the meeting's host organization."""
    return caller.acts_for(host_organization_id)


def require_host(caller: Caller, host_organization_id: UUID) -> None:
    """Only the host organization's key or staff change a meeting: a 403 naming the rule
    for a caller that sees the meeting but does not host it."""
    if not hosts(caller, host_organization_id):
        raise Forbidden(
            "not-the-host",
            f"only the host organization {host_organization_id} or an operator may do this",
        )
