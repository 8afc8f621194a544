"""Settings read from the environment into typed, documented msgspec Structs.

Every field maps to one environment variable. Sections shared by all services
(`DatabaseSettings`, `NatsSettings`, `LogSettings`) read `TELEBRIDGE_<SECTION>_<FIELD>`;
everything else belongs to one service and reads `TELEBRIDGE_<SERVICE>_<FIELD>`, so one
environment can configure all three services at once. The defaults work for
`telebridge dev` on one machine.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar, get_type_hints

import msgspec

PREFIX = "TELEBRIDGE"


class SharedSection(msgspec.Struct, frozen=True, kw_only=True):
    """A section every service reads from the same variables."""


class DatabaseSettings(SharedSection, frozen=True, kw_only=True):
    url: str = "postgresql://postgres@127.0.0.1:5432/telebridge"
    """PostgreSQL DSN; each service keeps its tables in a schema of its own."""
    pool_min_size: int = 1
    """Connections each process opens at start."""
    pool_max_size: int = 10
    """Upper bound on connections each process holds for requests."""
    consumer_pool_size: int = 10
    """Connections each process keeps apart for applying events and relaying its outbox, so
    that requests waiting for a read model never hold every connection it needs; consumers
    apply events of different meetings side by side on them (`nats.consumer_parallel`)."""
    connect_timeout: float = 30.0
    """Seconds to keep retrying the first connection before giving up."""
    acquire_timeout: float = 5.0
    """Seconds a request waits for a free connection of the pool before a 503."""


class NatsSettings(SharedSection, frozen=True, kw_only=True):
    url: str = "nats://127.0.0.1:4222"
    """NATS server URLs, comma-separated: every server of the cluster."""
    connect_timeout: float = 60.0
    """Seconds to keep retrying the first connection, and then the declaration of the
    streams while JetStream does not answer yet (a cluster still forming), before giving
    up."""
    stream_replicas: int = 1
    """Replicas of each JetStream stream (3 in a cluster)."""
    ack_wait: float = 10.0
    """Seconds before an unacknowledged message is delivered again."""
    max_deliveries: int = 5
    """Attempts at a failing message before it goes to the dead-letter subject."""
    retry_backoff: float = 1.0
    """Seconds before the second attempt at a failing message; doubles after each."""
    consumer_parallel: int = 8
    """Events a consumer applies at once, each of another lane (aggregate or meeting); the
    consumers' pool (`database.consumer_pool_size`) bounds them too."""
    max_payload: int = 1024 * 1024
    """Largest message the NATS servers take (their max_payload, 1 MiB unless configured):
    a change whose event would not fit is refused when it is written, with a 413."""
    user: str = ""
    """User this service connects as, with `password`; each service has its own, allowed
    to publish only its own subjects (`shared.bus.permissions`)."""
    password: str = ""
    credentials: str = ""
    """Path of a `.creds` file (user JWT and NKey seed), instead of user and password."""
    nkey_seed: str = ""
    """Path of a file holding an NKey seed (`SU…`), instead of user and password."""
    tls_ca: str = ""
    """PEM file of the authorities the servers' certificates are checked against; setting
    it (or using `tls://` URLs) makes every connection TLS."""
    tls_cert: str = ""
    """PEM client certificate, for servers that verify their clients (with `tls_key`)."""
    tls_key: str = ""
    """PEM private key of `tls_cert`."""

    @property
    def servers(self) -> list[str]:
        return [server.strip() for server in self.url.split(",") if server.strip()]


class LogSettings(SharedSection, frozen=True, kw_only=True):
    level: str = "info"
    """Lowest level logged: debug, info, warning, error."""
    json: bool = False
    """One JSON object per line instead of console-friendly text."""


class AuthSettings(SharedSection, frozen=True, kw_only=True):
    operator_key: str = ""
    """Bearer key that unlocks operator endpoints; empty disables them."""


class RateLimitSettings(SharedSection, frozen=True, kw_only=True):
    """Requests each caller may send a service per `window` (0: unlimited), counted in the
    database so that all replicas count together (`shared.http.ratelimit`)."""

    window: float = 60.0
    """Seconds a limit counts over: a limit of N lets N requests through at once, then one
    every window/N seconds."""
    partner: int = 1200
    """Requests per window of each partner key."""
    operator: int = 6000
    """Requests per window of each operator key (the configured one included)."""
    admin: int = 6000
    """Requests per window of each admin key."""
    public: int = 600
    """Requests per window from each client address that sends no key: public pages,
    agendas, calendar feeds, RSVP links."""
    trusted_proxies: str = ""
    """Networks (CIDRs, comma-separated) of reverse proxies whose `X-Forwarded-For` names
    the client; none by default, so the client is the connection's address."""

    def __post_init__(self) -> None:
        for network in filter(None, (part.strip() for part in self.trusted_proxies.split(","))):
            try:
                ipaddress.ip_network(network)
            except ValueError as error:
                raise ValueError(f"TELEBRIDGE_RATE_LIMIT_TRUSTED_PROXIES: {error}") from None


class HttpSettings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    """Interface the HTTP server binds to."""
    port: int = 8000
    """TCP port of the HTTP server."""
    public_url: str = ""
    """Base URL clients reach this service at; derived from host and port when empty."""
    max_body_size: int = 1024 * 1024
    """Largest request body accepted, in bytes; a larger one is answered 413."""
    body_timeout: float = 30.0
    """Seconds a client has to send a request's whole body; a slower one is answered 408."""
    max_header_size: int = 16 * 1024
    """Largest request line and header block, in bytes; a larger one is answered 431."""
    workers: int = 1
    """Server processes sharing the port; each runs the service whole, as a replica does."""
    graceful_shutdown: float = 10.0
    """Seconds in-flight requests get to finish once the service is asked to stop; then as
    long again for the consumers to settle what they fetched and the relay to flush."""

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


class SmtpSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The server that takes outgoing mail; `telebridge dev` runs one on 127.0.0.1."""

    host: str = "127.0.0.1"
    port: int = 8025
    username: str = ""
    password: str = ""
    """Log in with these when `username` is set."""
    start_tls: bool = False
    """Upgrade the connection with STARTTLS (port 587)."""
    use_tls: bool = False
    """Speak TLS from the start (port 465)."""
    timeout: float = 30.0
    max_attempts: int = 12
    """Tries before a mail the server keeps refusing for the time being is given up."""
    retry_after: float = 30.0
    """Seconds before the first retry; each next one waits twice as long, up to an hour."""
    parallel: int = 4
    """Mails sent at once, each to another person (one person's leave one at a time)."""
    writers: int = 2
    """Processes that write the messages (MIME and iCalendar) beside the service's own."""


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service needs; each service extends it with its own fields."""

    database: DatabaseSettings = DatabaseSettings()
    nats: NatsSettings = NatsSettings()
    log: LogSettings = LogSettings()
    auth: AuthSettings = AuthSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    http: HttpSettings = HttpSettings()
    outbox_poll_interval: float = 1.0
    """Seconds the outbox relay sleeps when no notification wakes it."""
    catch_up_timeout: float = 5.0
    """Seconds a request waits for an id another service has just created to reach this
    service's read models before it answers 503 with Retry-After (0: never wait)."""


SettingsT = TypeVar("SettingsT", bound=msgspec.Struct)


class SettingsError(ValueError):
    """An environment variable holds a value its field cannot take."""


def load_settings(
    settings_type: type[SettingsT], service: str, environ: Mapping[str, str] | None = None
) -> SettingsT:
    """Build `settings_type` from its defaults overridden by the environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = msgspec.to_builtins(settings_type())
    for path, variable in _variables(settings_type, f"{PREFIX}_{service.upper()}"):
        if variable in environ:
            section = values
            for name in path[:-1]:
                section = section[name]
            section[path[-1]] = environ[variable]
    try:
        return msgspec.convert(values, settings_type, strict=False)
    except msgspec.ValidationError as error:
        variables = {
            "$." + ".".join(path): variable
            for path, variable in _variables(settings_type, f"{PREFIX}_{service.upper()}")
        }
        reason, _, where = str(error).partition(" - at `")
        where = where.rstrip("`")
        named = f"{variables[where]} ({where[2:]})" if where in variables else "a setting"
        raise SettingsError(f"invalid value for {named}: {reason}") from error


def environment_names(settings_type: type[msgspec.Struct], service: str) -> list[str]:
    """Every variable `load_settings` reads for this service, for documentation and checks."""
    return [variable for _, variable in _variables(settings_type, f"{PREFIX}_{service.upper()}")]


def _variables(
    section_type: type[msgspec.Struct], prefix: str
) -> Iterator[tuple[tuple[str, ...], str]]:
    hints = get_type_hints(section_type)
    for field in msgspec.structs.fields(section_type):
        field_type = hints[field.name]
        if isinstance(field_type, type) and issubclass(field_type, msgspec.Struct):
            shared = issubclass(field_type, SharedSection)
            section_prefix = f"{PREFIX if shared else prefix}_{field.name.upper()}"
            for path, variable in _variables(field_type, section_prefix):
                yield (field.name, *path), variable
        else:
            yield (field.name,), f"{prefix}_{field.name.upper()}"


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the registry delivers partners' webhooks (`services/registry/webhooks`)."""

    timeout: float = 10.0
    """Seconds one delivery may take, from connecting to the end of the answer."""
    retry_after: float = 5.0
    """Seconds before the second try; each next one waits six times longer."""
    retry_longest: float = 10 * 3600.0
    """The longest wait between two tries."""
    max_attempts: int = 10
    """Tries of one message before it is given up (about a day and a half with the waits)."""
    disable_after: float = 24 * 3600.0
    """Seconds an endpoint may fail without a success before it is disabled."""
    private_networks: str = ""
    """Networks (CIDRs, comma-separated) webhooks may go to although they are private,
    loopback or link-local; none by default. `telebridge dev` allows 127.0.0.0/8."""
    response_excerpt: int = 1024
    """Bytes of each answer read and kept in the delivery log; the rest is not read."""
    parallel: int = 16
    """Deliveries sent at once by each process."""


class RegistrySettings(ServiceSettings, frozen=True, kw_only=True):
    http: HttpSettings = HttpSettings(port=8001)
    admin_key: str = ""
    """An admin key (`tb_<prefix>_<secret>`) to register on first start, if it is unknown."""
    webhooks: WebhookSettings = WebhookSettings()


class SchedulingSettings(ServiceSettings, frozen=True, kw_only=True):
    http: HttpSettings = HttpSettings(port=8002)
    organizer_email: str = "meetings@telebridge.localhost"
    """Address written as ORGANIZER of invites, where calendar replies go."""
    clock_max_sleep: float = 30.0
    """Longest the meeting clock sleeps before it looks again for meetings due."""
    smtp: SmtpSettings = SmtpSettings()
    assembled_feeds_size: int = 128 * 1024 * 1024
    """Bytes of assembled feeds each process keeps to answer polls from memory."""


class AgendaSettings(ServiceSettings, frozen=True, kw_only=True):
    http: HttpSettings = HttpSettings(port=8003)
    summary_quiet: float = 2.0
    """Seconds without changes before a summary is (re)written: a burst makes one version."""
