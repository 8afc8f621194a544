"""What can go wrong in a use case, said without HTTP.

Use cases, pure modules and consumers raise these; the same code runs behind an HTTP
request and inside an event consumer, so it names the failure, not a status code. One
mapping in `shared.http.problems` turns each kind into an RFC 9457 problem; a consumer
treats them as a reason to dead-letter or skip (see `shared.bus.consumer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec


class FieldError(msgspec.Struct, frozen=True, omit_defaults=True):
    message: str
    field: str | None = None
    """Dotted path of the offending field, when one field is to blame."""
    source: str | None = None
    """Where the field was sent: body, query, path or header."""


class DomainError(Exception):
    """An expected failure with a stable `slug` and a sentence that says what to do."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        errors: Sequence[FieldError] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.title = title
        self.errors = list(errors) if errors else None
        self.extensions = extensions or {}


class NotFound(DomainError):
    """No such thing, or one the caller may not see: the two read the same."""


class Forbidden(DomainError):
    """The caller may see the thing but not do this to it."""


class Conflict(DomainError):
    """The thing is not in a state that allows this (cancelled, ended, already there)."""


class Gone(DomainError):
    """The thing existed and is no more (a link past its time, a feed of a deleted key)."""


class Invalid(DomainError):
    """Well-formed input that the rules do not accept; `errors` names every field."""


class VersionRequired(DomainError):
    """A change that does not say which version it is based on (428)."""


class StaleVersion(DomainError):
    """A change based on a version that is no longer the current one (412)."""


class NotYetKnown(DomainError):
    """Something created a moment ago that this service has not heard of yet."""

    def __init__(self, slug: str, detail: str, *, retry_after: int) -> None:
        super().__init__(slug, detail, title="Not known here yet")
        self.retry_after = retry_after


def invalid(field: str, message: str) -> Invalid:
    """One field that is well-formed but not acceptable."""
    return invalid_fields([FieldError(message=message, field=field, source="body")])


def invalid_fields(
    errors: Sequence[FieldError], slug: str = "validation", detail: str | None = None
) -> Invalid:
    """Every field that is well-formed but not acceptable, in one error."""
    return Invalid(
        slug,
        detail or "; ".join(f"{error.field}: {error.message}" for error in errors),
        title="Request is not valid",
        errors=errors,
    )


def not_found(what: str, identifier: object) -> NotFound:
    return NotFound("not-found", f"{what} {identifier} does not exist", title=f"No such {what}")


def unknown_meeting(meeting_id: object, service: str) -> NotFound:
    """A meeting this service has no read model row for: never scheduled, or not yet heard of."""
    return NotFound(
        "unknown-meeting",
        f"meeting {meeting_id} is not known to {service}: it was never scheduled, "
        "or scheduling's event has not arrived yet",
        title="No such meeting",
    )


def require_version(current: int, expected: int | None) -> None:
    """Refuse a change made without naming the version it is based on, or based on another
    version than `current`: optimistic concurrency, so no one's change is silently lost."""
    if expected is None:
        raise VersionRequired(
            "if-match-required",
            f"send the ETag you last read as If-Match (it is at version {current}), so that "
            "no one else's change is lost",
        )
    if expected != current:
        raise StaleVersion(
            "version-mismatch",
            f"the resource is at version {current}, not {expected}: read it again, then retry",
            extensions={"current_version": current},
        )
