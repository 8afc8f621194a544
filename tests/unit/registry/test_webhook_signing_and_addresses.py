"""Webhook signatures as the Standard Webhooks package reads and writes them, and the
addresses a webhook may not go to."""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from services.registry.webhooks.addresses import literal_refusal, networks, refusal
from shared.webhooks import new_secret, signature_header, verified


@given(st.binary(max_size=2000), st.uuids())
def test_every_message_we_sign_verifies_with_the_specification_s_package(
    body: bytes, message_id: object
) -> None:
    secret = new_secret()
    now = int(time.time())
    headers = {
        "webhook-id": str(message_id),
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header([new_secret(), secret], str(message_id), now, body),
    }
    Webhook(secret).verify(body, headers, json_parse=False)  # raises unless verified
    assert verified([secret], headers, body, now)


def test_a_message_the_package_signs_verifies_here_and_a_changed_one_does_not() -> None:
    secret = new_secret()
    body = b'{"type":"meeting.scheduled"}'
    moment = datetime.now(UTC)
    signed = Webhook(secret).sign("msg_1", moment, body.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signed,
    }
    assert verified([secret], headers, body, moment.timestamp())
    assert not verified([secret], headers, body + b" ", moment.timestamp())
    assert not verified([new_secret()], headers, body, moment.timestamp())
    assert not verified([secret], headers, body, moment.timestamp() + 301)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not one bound
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fd12:3456::1",
        "::ffff:10.0.0.1",
        "::",
    ],
)
def test_an_address_inside_the_service_s_reach_is_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), []) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2a00:1450:4010:c05::8b", "77.88.55.88"])
def test_a_public_address_is_taken(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), []) is None


def test_an_operator_may_allow_a_private_network() -> None:
    allowed = networks("127.0.0.0/8, 10.20.0.0/16")
    assert refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refusal(ipaddress.ip_address("10.20.3.4"), allowed) is None
    assert refusal(ipaddress.ip_address("10.21.3.4"), allowed) is not None
    assert literal_refusal("http://localhost:8004/hook", allowed) is None
    assert literal_refusal("http://localhost:8004/hook", []) is not None
    assert literal_refusal("https://lodb.example/hook", []) is None
