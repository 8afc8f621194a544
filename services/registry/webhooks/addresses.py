"""Where a webhook may be sent: never, unless the operator allowed its network, to an
address inside the service's own reach (loopback, RFC 1918 and unique-local, link-local,
carrier-grade NAT, multicast, reserved). Otherwise a partner could make the registry call
its neighbours (server-side request forgery).

The name is resolved once per attempt and the request goes to the address checked, with
the name in `Host` and TLS's SNI, so that a name that resolves elsewhere a moment later
(DNS rebinding) changes nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")


class Refused(Exception):  # noqa: N818 - the reason is the message
    """The URL may not be called; the message says why, for the delivery log."""


def networks(setting: str) -> list[Network]:
    """The networks an operator allowed, from a comma-separated list of CIDRs."""
    return [ipaddress.ip_network(part.strip()) for part in setting.split(",") if part.strip()]


def refusal(address: Address, allowed: Sequence[Network]) -> str | None:
    """Why a request may not go to `address`, or None when it may."""
    if any(address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped, allowed)
    kinds = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private or address in _SHARED_ADDRESS_SPACE),
        ("reserved", address.is_reserved),
    )
    for kind, found in kinds:
        if found:
            return f"{address} is a {kind} address"
    return None


@dataclass(frozen=True)
class Target:
    """Where one attempt goes: the address checked, and the URL's own name for it."""

    url: str
    """The URL with the address in place of the name."""
    host: str
    """`Host` header: the URL's own host and port."""
    server_name: str


async def _resolved(host: str, port: int) -> list[Address]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise Refused(f"{host} does not resolve: {error}") from error
    if not found:
        raise Refused(f"{host} does not resolve")
    return [ipaddress.ip_address(entry[4][0]) for entry in found]


def literal_refusal(url: str, allowed: Sequence[Network]) -> str | None:
    """Why a URL naming an address (or `localhost`) may not be used, known without DNS."""
    host = urlsplit(url).hostname or ""
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return refusal(ipaddress.ip_address("127.0.0.1"), allowed)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return refusal(address, allowed)


async def target(url: str, allowed: Sequence[Network]) -> Target:
    """The address to send to, every address of the name checked; `Refused` if one is not
    allowed or the name does not resolve."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolved(host, port)
    for address in addresses:
        if (reason := refusal(address, allowed)) is not None:
            raise Refused(f"{host} is refused: {reason}; an operator may allow its network")
    chosen = addresses[0]
    netloc = f"[{chosen}]:{port}" if chosen.version == 6 else f"{chosen}:{port}"
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return Target(
        url=f"{parts.scheme}://{netloc}{path}{query}",
        host=parts.netloc.rsplit("@", 1)[-1],
        server_name=host,
    )
