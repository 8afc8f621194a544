"""Where `telebridge status` looks for NATS, and what of its URL it shows."""

from __future__ import annotations

from pathlib import Path

from shared.bus.jetstream import without_login
from telebridge.status import nats_settings


def test_the_url_comes_from_the_option_then_the_variable_then_telebridge_dev(
    tmp_path: Path,
) -> None:
    (tmp_path / "nats-url").write_text("nats://127.0.0.1:4999\n", encoding="utf-8")
    variable = {"TELEBRIDGE_NATS_URL": "nats://bus:4222"}
    assert nats_settings("nats://given:4222", tmp_path, variable).url == "nats://given:4222"
    assert nats_settings(None, tmp_path, variable).url == "nats://bus:4222"
    assert nats_settings(None, tmp_path, {}).url == "nats://127.0.0.1:4999"
    assert nats_settings(None, tmp_path / "none", {}).url == "nats://127.0.0.1:4222"


def test_no_password_is_shown() -> None:
    assert without_login("nats://status:s3cret@nats-1:4222, tls://nats-2:4222") == (
        "nats://nats-1:4222,tls://nats-2:4222"
    )
