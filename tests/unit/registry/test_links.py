"""Signed links: what a token says and who could have made it; how long it works is the
registry's to decide from the meeting (tests/integration/registry/test_rsvp_and_attendance.py)."""

from __future__ import annotations

import base64
from uuid import UUID

import pytest

from services.registry import links

SECRET = b"the registry secret of 32 bytes!"
REGISTRATION = UUID("01a203f3-0000-7000-8000-000000000001")
MADE_BEFORE = (
    "WyJyc3ZwIiwiMDFhMjAzZjMtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAxIiwxNTkxNjYwODAwXQ."
    "6HWxIH13BwBgZu0AqNjj_l3pczE4f1pQCSskHHGI1ys"
)
"""A link as the registry made them until links lived as long as their meeting: signed
with SECRET for REGISTRATION, its claims ending with when it was to stop (9 June 2020)."""


def test_a_token_names_its_registration() -> None:
    token = links.sign(SECRET, "rsvp", REGISTRATION)
    assert links.verify(SECRET, "rsvp", token) == REGISTRATION


def test_a_link_made_before_still_verifies_whatever_date_it_carries() -> None:
    assert links.verify(SECRET, "rsvp", MADE_BEFORE) == REGISTRATION


def _with_claims(claims: bytes) -> str:
    """MADE_BEFORE's signature under other claims: another registration, a later date."""
    body = base64.urlsafe_b64encode(claims).decode().rstrip("=")
    return f"{body}.{MADE_BEFORE.partition('.')[2]}"


@pytest.mark.parametrize(
    "token",
    [
        links.sign(b"another secret", "rsvp", REGISTRATION),
        _with_claims(b'["rsvp","01a203f3-0000-7000-8000-000000000002",1591660800]'),
        _with_claims(b'["rsvp","01a203f3-0000-7000-8000-000000000001",4102444800]'),
        MADE_BEFORE[:-2] + "AA",
        "garbage",
        "",
        MADE_BEFORE.partition(".")[0] + ".",
    ],
)
def test_a_forged_or_damaged_token_is_refused(token: str) -> None:
    with pytest.raises(links.LinkError):
        links.verify(SECRET, "rsvp", token)
