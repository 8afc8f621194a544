"""What each service may publish and subscribe to on NATS: the boundary that keeps one
service's credentials from speaking for another.

Consumers take an event on `registry.>` for the registry's word (an API key issued, a
person registered): the events carry no signature, so the server's subject permissions
are what makes them trustworthy. Each service connects as a user of its own that may
publish only its own subjects, its dead letters and the JetStream and service calls it
makes. It may create a missing stream (consumers of a stream start before its owner) but
update only its own and the dead letters'; it may not delete, purge or edit streams nor
their messages. Replies it may send only to requests it received (`allow_responses`),
and it reads replies on an inbox prefix of its own (`inbox_prefix`), so no service can
read or answer another's replies, nor answer discovery in another's name. `telebridge
dev` and the tests run NATS with exactly these permissions (`telebridge.embedded`);
deploy/k8s/ and deploy/nats/ (Compose) write the same lists into the servers'
configuration, and tests keep them equal.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.events import DEADLETTER, SERVICES, STREAMS, Stream


def own_stream(service: str) -> Stream:
    """The stream of the subjects `service` publishes (its prefix is the service's name)."""
    for stream in STREAMS:
        if stream.prefix == service:
            return stream
    raise LookupError(f"no stream belongs to {service!r}")


def inbox_prefix(service: str) -> str:
    """Where `service` reads the replies to its requests; nobody else may subscribe there."""
    return f"_INBOX.{service}"


def publish_allowed(service: str) -> list[str]:
    own = own_stream(service)
    return [
        *own.subjects,
        *DEADLETTER.subjects,
        "$JS.ACK.>",
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.*",
        "$JS.API.STREAM.NAMES",
        "$JS.API.STREAM.LIST",
        "$JS.API.STREAM.CREATE.*",
        f"$JS.API.STREAM.UPDATE.{own.name}",
        f"$JS.API.STREAM.UPDATE.{DEADLETTER.name}",
        "$JS.API.CONSUMER.>",
        "telebridge.>",
    ]


def subscribe_allowed(service: str) -> list[str]:
    return [
        f"{inbox_prefix(service)}.>",
        f"telebridge.{service}.>",
        *discovery_subjects(service),
    ]


def discovery_subjects(service: str) -> list[str]:
    """What `service` hears of nats.micro discovery: the calls to every service, and those
    by name (`$SRV.<verb>.<name>[.<id>]`) only for its own, so that no service can answer
    for another where `telebridge status` asks by name."""
    return ["$SRV.PING", "$SRV.INFO", "$SRV.STATS", f"$SRV.*.{service}", f"$SRV.*.{service}.*"]


def updates_stream(service: str, stream: Stream) -> bool:
    """Whether `service` may bring `stream`'s configuration up to date."""
    return stream is DEADLETTER or stream is own_stream(service)


def server_authorization(passwords: dict[str, str], admin: str = "operator") -> str:
    """The `authorization` block of a nats-server configuration: a user per service with
    the permissions above, and `admin` (operators' tools and the tests) with every right."""
    users = [_user(admin, passwords[admin], None)]
    users += [_user(service, passwords[service], service) for service in SERVICES]
    return "authorization {\n  users = [\n" + ",\n".join(users) + "\n  ]\n}\n"


def _user(name: str, password: str, service: str | None) -> str:
    entry = f"    {{user: {_quoted(name)}, password: {_quoted(password)}"
    if service is not None:
        entry += (
            ", permissions: {"
            f"publish: {{allow: {_list(publish_allowed(service))}}}, "
            f"subscribe: {{allow: {_list(subscribe_allowed(service))}}}, "
            "allow_responses: true}"
        )
    return entry + "}"


def _list(subjects: Sequence[str]) -> str:
    return "[" + ", ".join(_quoted(subject) for subject in subjects) + "]"


def _quoted(text: str) -> str:
    if '"' in text or "\\" in text or "\n" in text:
        raise ValueError(f"not written into a nats-server configuration: {text!r}")
    return f'"{text}"'
