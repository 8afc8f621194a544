"""Settings come from one environment shared by the three services."""

from __future__ import annotations

import re

import pytest

from shared.settings import (
    AgendaSettings,
    RegistrySettings,
    SchedulingSettings,
    ServiceSettings,
    SettingsError,
    environment_names,
    load_settings,
)

SERVICES: list[tuple[type[ServiceSettings], str, int]] = [
    (RegistrySettings, "registry", 8001),
    (SchedulingSettings, "scheduling", 8002),
    (AgendaSettings, "agenda", 8003),
]


@pytest.mark.parametrize(("settings_type", "service", "port"), SERVICES)
def test_an_empty_environment_gives_the_defaults_for_telebridge_dev(
    settings_type: type[ServiceSettings], service: str, port: int
) -> None:
    settings = load_settings(settings_type, service, {})

    assert settings == settings_type()
    assert settings.http.port == port
    assert settings.http.host == "127.0.0.1"
    assert settings.http.base_url == f"http://127.0.0.1:{port}"
    assert settings.database.url == "postgresql://postgres@127.0.0.1:5432/telebridge"
    assert settings.nats.servers == ["nats://127.0.0.1:4222"]


def test_the_three_services_listen_on_different_ports_by_default() -> None:
    ports = {load_settings(kind, service, {}).http.port for kind, service, _ in SERVICES}
    assert len(ports) == 3


@pytest.mark.parametrize(("settings_type", "service", "_port"), SERVICES)
def test_a_shared_section_is_read_by_every_service(
    settings_type: type[ServiceSettings], service: str, _port: int
) -> None:
    environ = {
        "TELEBRIDGE_DATABASE_URL": "postgresql://db.example:5432/prod",
        "TELEBRIDGE_NATS_URL": "nats://a:4222, nats://b:4222,",
        "TELEBRIDGE_AUTH_OPERATOR_KEY": "secret",
    }
    settings = load_settings(settings_type, service, environ)

    assert settings.database.url == "postgresql://db.example:5432/prod"
    assert settings.nats.servers == ["nats://a:4222", "nats://b:4222"]
    assert settings.auth.operator_key == "secret"


def test_a_service_section_changes_that_service_only() -> None:
    environ = {"TELEBRIDGE_REGISTRY_HTTP_PORT": "9001"}

    registry = load_settings(RegistrySettings, "registry", environ)
    scheduling = load_settings(SchedulingSettings, "scheduling", environ)
    agenda = load_settings(AgendaSettings, "agenda", environ)

    assert registry.http.port == 9001
    assert registry.http.base_url == "http://127.0.0.1:9001"
    assert scheduling.http.port == 8002
    assert agenda.http.port == 8003


def test_setting_one_field_of_a_section_keeps_the_services_other_defaults() -> None:
    scheduling = load_settings(
        SchedulingSettings, "scheduling", {"TELEBRIDGE_SCHEDULING_HTTP_HOST": "10.0.0.5"}
    )
    registry = load_settings(RegistrySettings, "registry", {"TELEBRIDGE_REGISTRY_HTTP_PORT": "1"})

    assert scheduling.http.host == "10.0.0.5"
    assert scheduling.http.port == 8002  # the service's own default, not HttpSettings' 8000
    assert registry.http.host == "127.0.0.1"
    assert registry.http.public_url == ""


def test_public_url_wins_over_host_and_port() -> None:
    settings = load_settings(
        AgendaSettings, "agenda", {"TELEBRIDGE_AGENDA_HTTP_PUBLIC_URL": "https://agenda.example/"}
    )
    assert settings.http.base_url == "https://agenda.example"


def test_strings_are_converted_to_the_field_types() -> None:
    environ = {
        "TELEBRIDGE_DATABASE_POOL_MAX_SIZE": "20",
        "TELEBRIDGE_NATS_ACK_WAIT": "2.5",
        "TELEBRIDGE_NATS_RETRY_BACKOFF": "3",
        "TELEBRIDGE_LOG_JSON": "true",
        "TELEBRIDGE_SCHEDULING_CLOCK_MAX_SLEEP": "0.5",
        "TELEBRIDGE_SCHEDULING_ORGANIZER_EMAIL": "calendar@example.org",
    }
    settings = load_settings(SchedulingSettings, "scheduling", environ)

    assert settings.database.pool_max_size == 20
    assert isinstance(settings.database.pool_max_size, int)
    assert settings.nats.ack_wait == 2.5
    assert settings.nats.retry_backoff == 3.0
    assert isinstance(settings.nats.retry_backoff, float)
    assert settings.log.json is True
    assert settings.clock_max_sleep == 0.5
    assert settings.organizer_email == "calendar@example.org"


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("false", False), ("1", True), ("0", False)]
)
def test_booleans_are_read_from_their_usual_spellings(text: str, value: bool) -> None:
    settings = load_settings(RegistrySettings, "registry", {"TELEBRIDGE_LOG_JSON": text})
    assert settings.log.json is value


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("TELEBRIDGE_REGISTRY_HTTP_PORT", "eighty", "http.port"),
        ("TELEBRIDGE_DATABASE_POOL_MAX_SIZE", "2.5", "database.pool_max_size"),
        ("TELEBRIDGE_NATS_ACK_WAIT", "soon", "nats.ack_wait"),
        ("TELEBRIDGE_LOG_JSON", "maybe", "log.json"),
    ],
)
def test_a_bad_value_raises_settings_error_naming_the_variable_and_field(
    variable: str, value: str, field: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"{variable} ({field})")):
        load_settings(RegistrySettings, "registry", {variable: value})


def test_variables_of_other_services_and_unknown_ones_are_ignored() -> None:
    environ = {
        "TELEBRIDGE_SCHEDULING_HTTP_PORT": "not even a number",
        "TELEBRIDGE_REGISTRY_NO_SUCH_FIELD": "x",
        "HTTP_PORT": "1",
    }
    assert load_settings(RegistrySettings, "registry", environ) == RegistrySettings()


SWITCHES = {
    "TELEBRIDGE_LOG_JSON",
    "TELEBRIDGE_SCHEDULING_SMTP_START_TLS",
    "TELEBRIDGE_SCHEDULING_SMTP_USE_TLS",
}
"""The variables of yes-or-no settings, which read "1" and refuse "7"."""
NETWORKS = {"TELEBRIDGE_RATE_LIMIT_TRUSTED_PROXIES"}
"""The variables of networks, which read "10.0.0.0/8" and refuse "7"."""


@pytest.mark.parametrize(("settings_type", "service", "_port"), SERVICES)
def test_environment_names_lists_every_variable_load_settings_reads(
    settings_type: type[ServiceSettings], service: str, _port: int
) -> None:
    names = environment_names(settings_type, service)

    assert len(names) == len(set(names))
    assert "TELEBRIDGE_DATABASE_URL" in names
    assert f"TELEBRIDGE_{service.upper()}_HTTP_PORT" in names
    assert f"TELEBRIDGE_{service.upper()}_OUTBOX_POLL_INTERVAL" in names
    defaults = load_settings(settings_type, service, {})
    for name in names:
        # "7" reads as a string, an int or a float, and is no field's default.
        value = "1" if name in SWITCHES else "10.0.0.0/8" if name in NETWORKS else "7"
        changed = load_settings(settings_type, service, {name: value})
        assert changed != defaults, f"{name} is listed but not read"


def test_environment_names_has_the_service_specific_fields() -> None:
    names = environment_names(SchedulingSettings, "scheduling")
    assert "TELEBRIDGE_SCHEDULING_ORGANIZER_EMAIL" in names
    assert "TELEBRIDGE_SCHEDULING_CLOCK_MAX_SLEEP" in names
    assert "TELEBRIDGE_SCHEDULING_SMTP_HOST" in names
    assert not any(name.startswith("TELEBRIDGE_REGISTRY_") for name in names)
    # one variable per leaf field, every section included
    assert len(names) == 6 + 15 + 2 + 1 + 6 + 8 + 2 + 3 + 11
