"""Signed links: a person answers an invitation without logging in.

A token names what it is for (`purpose`) and the registration, and carries an
HMAC-SHA256 of both under the registry's secret: changing any part breaks the signature,
and a token made for one purpose is refused for another. How long it works is not in it:
an RSVP link works until the meeting it is for has ended, and a meeting moves, so the
registry asks its meetings when the link is used (`rsvp`). Pure: the secret is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Literal
from uuid import UUID

import msgspec

Purpose = Literal["rsvp"]


class _Claims(msgspec.Struct, frozen=True, array_like=True):
    purpose: str
    registration_id: UUID
    # Links made before the meeting's end decided carry a third claim, the Unix time they
    # were to stop working (30 days after they were made, however far the meeting was):
    # msgspec ignores an array's trailing elements, so they verify, signed as they were,
    # and work until their meeting has ended like any other.


class LinkError(Exception):
    """The token is not one the registry made for this purpose."""


def sign(secret: bytes, purpose: Purpose, registration_id: UUID) -> str:
    claims = msgspec.json.encode(_Claims(purpose, registration_id))
    return f"{_encode(claims)}.{_encode(_mac(secret, claims))}"


def verify(secret: bytes, purpose: Purpose, token: str) -> UUID:
    """The registration a token was made for; `LinkError` if it is forged or made for
    another purpose."""
    body, _, signature = token.partition(".")
    try:
        claims_bytes = _decode(body)
        valid = hmac.compare_digest(_decode(signature), _mac(secret, claims_bytes))
        claims = msgspec.json.decode(claims_bytes, type=_Claims) if valid else None
    except (binascii.Error, ValueError, msgspec.DecodeError):
        claims = None
    if claims is None or claims.purpose != purpose:
        raise LinkError
    return claims.registration_id


def _mac(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
