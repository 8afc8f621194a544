"""API keys as the kernel knows them: how a secret looks, what identifies it, what it may do.

Only the registry issues keys; every service verifies them (`shared.http.auth`) against the
hashes the registry's key events replicate.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

SCOPES: Final = (
    "registry:read",
    "registry:write",
    "scheduling:read",
    "scheduling:write",
    "agenda:read",
    "agenda:write",
)
"""What a key may be allowed: reading or changing what each service keeps."""

_KEY_PREFIX: Final = "tb_"
_PREFIX_LENGTH: Final = 12


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: `secret` is shown once, only the rest is stored."""

    prefix: str
    secret: str
    secret_sha256: str


def generate_key() -> NewKey:
    prefix = secrets.token_hex(_PREFIX_LENGTH // 2)
    secret = f"{_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(prefix=prefix, secret=secret, secret_sha256=sha256_of(secret))


def sha256_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def prefix_of(secret: str) -> str | None:
    """The prefix of a well-formed key, which identifies it; None for anything else."""
    if not secret.startswith(_KEY_PREFIX):
        return None
    prefix, separator, rest = secret[len(_KEY_PREFIX) :].partition("_")
    if not separator or len(prefix) != _PREFIX_LENGTH or not rest:
        return None
    return prefix
