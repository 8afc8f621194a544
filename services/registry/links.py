"""Signed links: a person answers an invitation without logging in.

A token names what it is for (`purpose`), the registration, and when it stops working,
and carries an HMAC-SHA256 of all three under the registry's secret: changing any part
breaks the signature, and a token made for one purpose is refused for another. Pure: the
secret and the clock are passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import msgspec

Purpose = Literal["rsvp"]


class _Claims(msgspec.Struct, frozen=True, array_like=True):
    purpose: str
    registration_id: UUID
    expires: int
    """Unix time after which the link no longer works."""


@dataclass(frozen=True)
class Link:
    registration_id: UUID
    expires_at: datetime


@dataclass(frozen=True)
class LinkError(Exception):
    reason: Literal["invalid", "expired"]


def sign(secret: bytes, purpose: Purpose, registration_id: UUID, expires_at: datetime) -> str:
    claims = msgspec.json.encode(_Claims(purpose, registration_id, int(expires_at.timestamp())))
    return f"{_encode(claims)}.{_encode(_mac(secret, claims))}"


def verify(secret: bytes, purpose: Purpose, token: str, now: datetime) -> Link:
    """What a token was made for; `LinkError` if it is forged, for another purpose, or
    expired."""
    body, _, signature = token.partition(".")
    try:
        claims_bytes = _decode(body)
        valid = hmac.compare_digest(_decode(signature), _mac(secret, claims_bytes))
        claims = msgspec.json.decode(claims_bytes, type=_Claims) if valid else None
    except (binascii.Error, ValueError, msgspec.DecodeError):
        claims = None
    if claims is None or claims.purpose != purpose:
        raise LinkError("invalid")
    expires_at = datetime.fromtimestamp(claims.expires, UTC)
    if expires_at <= now:
        raise LinkError("expired")
    return Link(claims.registration_id, expires_at)


def _mac(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
