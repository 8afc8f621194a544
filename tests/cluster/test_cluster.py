"""The cluster proof: the end-to-end flow at a workshop's scale on a 3-node NATS cluster
with two replicas of each service, while a NATS node and the replicas are stopped and
started again.

Every stream is kept on all three nodes. Twenty people sign up in four rounds; each
round checks its people in and publishes a new version of the agenda, which goes into the
invites: so every consumer of every service has work in every round.

1. Everything is up.
2. Replica 0 of each service is stopped before the round, and the NATS node leading the
   REGISTRY stream while the round's requests are under way: replica 1 does the round
   alone, on two nodes.
3. The node and replica 0 start again while the round's requests are under way.
4. Replica 1 of each service is stopped (a rolling restart: one replica at a time), so
   replica 0, restarted, does the round alone; then replica 1 starts again.

Then the meeting ends and its summary is written and published. Because each replica has
a round of its own, "both replicas did work" holds whichever way JetStream spreads the
other rounds between them.

A replica is stopped as a deployment replaces one: out of the load balancer's rotation,
then SIGTERM, once the round before is done. A stop while a mail is being sent may send
that one mail twice (see services/scheduling/mail/sender.py); kills under traffic are the
fault suite's (tests/faults).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import uuid4

import httpx
import nats
import pytest

from shared.events import DEADLETTER, REGISTRY, SERVICES, STREAMS, Stream
from tests.cluster.cluster import CONSUMERS, NODES, REPLICAS, Cluster, cluster_ready
from tests.e2e.test_flow import Flow
from tests.faults.effects import check_effects, wait_until_quiet
from tests.faults.stack import KEEPER
from tests.faults.traffic import Ledger, Meeting, Partner, Registration
from tests.support import eventually

pytestmark = pytest.mark.cluster

PEOPLE = 20
ROUNDS = 4
QUIET_TIMEOUT = 60.0
"""Seconds the system may take to finish a round's work (mail included)."""


class Workshop(Flow):
    """The flow's story with twenty people, each with a calendar feed, signed up, checked
    in and sent an agenda in rounds; what the services accepted is kept in a `Ledger`
    for the fault suite's `check_effects`. Requests are retried as a careful partner
    retries them (`tests.faults.traffic.Partner`)."""

    def __init__(self, cluster: Cluster, client: httpx.AsyncClient) -> None:
        super().__init__(cluster, client)
        self.ledger = Ledger()
        self.partner = Partner(client, self.ledger)

    async def accepted(
        self,
        status: int,
        method: str,
        service: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = self.url(service, path)
        response = await self.partner.expect(status, method, url, json=body, headers=headers)
        assert response is not None, self.ledger.failures
        return response

    async def people_with_feeds(self, count: int) -> None:
        for number in range(count):
            organization = (self.moscow, self.vladivostok)[number % 2]
            created = await self.accepted(
                201,
                "POST",
                "registry",
                "/people",
                {"organization_id": organization["id"], "given_name": "Ольга",
                 "surname": f"Участница{number}", "email": f"person{number}@cluster.example"},
            )  # fmt: skip
            person = created.json()
            feed = await self.accepted(
                201, "POST", "scheduling", "/feeds", {"kind": "person", "person_id": person["id"]}
            )
            self.people.append(person)
            self.ledger.people[person["id"]] = person["email"].lower()
            self.ledger.feeds[person["id"]] = feed.json()["url"]

    async def schedule(self) -> None:
        await super().schedule()
        [session] = self.meeting["sessions"]
        current = await self.accepted(200, "GET", "scheduling", f"/meetings/{self.meeting_id}")
        self.ledger.meetings[self.meeting_id] = Meeting(
            id=self.meeting_id,
            session_id=session["id"],
            starts_at=datetime.fromisoformat(session["starts_at"]),
            ends_at=datetime.fromisoformat(session["ends_at"]),
            etag=current.headers["ETag"],
            moves=False,
        )

    async def round(self, people: list[dict[str, Any]]) -> None:
        """Sign the people up (side by side, as partners do), check them in, and publish
        the agenda's next version."""
        await asyncio.gather(*(self.register(person) for person in people))
        await self.accepted(
            200,
            "POST",
            "registry",
            f"/meetings/{self.meeting_id}/check-ins",
            {"person_ids": [person["id"] for person in people]},
        )
        await self.publish_agenda()

    async def register(self, person: dict[str, Any]) -> None:
        response = await self.accepted(
            201,
            "POST",
            "registry",
            f"/meetings/{self.meeting_id}/registrations",
            {"person_id": person["id"]},
            headers={"Idempotency-Key": str(uuid4())},
        )
        self.ledger.registrations[person["id"], self.meeting_id] = Registration(
            response.json()["id"]
        )

    async def publish_agenda(self) -> None:
        """One item more than the version before, every one begun before the meeting
        ends (it began half an hour ago), so that the summary counts them all delivered."""
        meeting = self.ledger.meetings[self.meeting_id]
        version = meeting.agenda_versions + 1
        titles = [f"Пункт {number} версии {version}" for number in range(1, version + 2)]
        items = [
            {"title": title, "kind": "talk", "offset": f"PT{index * 5}M", "duration": "PT5M"}
            for index, title in enumerate(titles)
        ]
        response = await self.accepted(
            200,
            "PUT",
            "agenda",
            f"/meetings/{self.meeting_id}/agenda",
            {"items": items, "publish": True},
            headers={"If-Match": meeting.agenda_etag} if meeting.agenda_etag else None,
        )
        meeting.agenda_etag = response.headers["ETag"]
        meeting.agenda_titles = titles
        meeting.agenda_versions = version

    async def summary(self) -> dict[str, Any]:
        """Wait for the draft that counts everyone signed up and checked in and every item,
        and publish it as an operator does; the public summary."""
        path = f"/meetings/{self.meeting_id}/summary"
        everyone = len(self.ledger.registrations)
        items = len(self.ledger.meetings[self.meeting_id].agenda_titles)

        async def complete() -> dict[str, Any] | None:
            response = await self.client.get(self.url("agenda", f"{path}/versions/latest"))
            if response.status_code != 200:
                return None
            draft: dict[str, Any] = response.json()
            content = draft["content"]
            done = (
                content["participants"] == everyone
                and content["attended"] == everyone
                and len(content["items_delivered"]) == items
            )
            return draft if done else None

        draft = await eventually(complete, timeout=30)
        await self.accepted(
            200,
            "PUT",
            "agenda",
            path,
            {"outcomes": {"ru": "Участники обменялись опытом."}, "publish": True},
            headers={"If-Match": f'"{draft["version"]}"'},
        )
        published = await self.accepted(200, "GET", "agenda", path)
        summary: dict[str, Any] = published.json()
        return summary


def in_keeper(action: Callable[[], None]) -> asyncio.Future[None]:
    """Run a blocking `action` beside the requests, on the thread that outlives the
    processes it starts (`tests.faults.stack.KEEPER`)."""
    return asyncio.get_running_loop().run_in_executor(KEEPER, action)


async def until_quiet(cluster: Cluster) -> None:
    """Until every event is consumed, every outbox relayed and every mail sent."""
    backlog = await wait_until_quiet(cluster.database_url, cluster.nats_url, QUIET_TIMEOUT)
    assert backlog.quiet, f"still to do after {QUIET_TIMEOUT}s: {backlog}"


async def leader_of(cluster: Cluster, stream: Stream) -> int:
    """The number of the node leading `stream`."""
    client = await nats.connect(cluster.nats_url)
    try:
        info = await client.jetstream().stream_info(stream.name)
    finally:
        await client.close()
    assert info.cluster is not None, f"{stream.name} is not clustered"
    leader = info.cluster.leader
    async with httpx.AsyncClient() as monitor:
        for number, node in enumerate(cluster.nodes):
            varz = await monitor.get(f"http://127.0.0.1:{node.monitor_port}/varz")
            if varz.json()["server_name"] == leader:
                return number
    raise AssertionError(f"no node is named {leader}")


async def test_the_flow_goes_on_through_a_stopped_node_and_a_rolling_restart(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Workshop(cluster, client)
        await flow.organizations()
        await flow.people_with_feeds(PEOPLE)
        await flow.schedule()
        size = PEOPLE // ROUNDS
        first, second, third, fourth = (
            flow.people[start : start + size] for start in range(0, PEOPLE, size)
        )

        await flow.round(first)  # everything up
        await until_quiet(cluster)

        node = cluster.nodes[await leader_of(cluster, REGISTRY)]
        await in_keeper(lambda: cluster.stop_replicas(0))
        stopping = in_keeper(node.stop)
        await flow.round(second)  # replica 1 alone, on two nodes
        await stopping
        await until_quiet(cluster)

        def back() -> None:
            node.start()
            cluster_ready(cluster.nodes)
            cluster.start_replicas(0)

        starting = in_keeper(back)
        await flow.round(third)  # while the node and replica 0 come back
        await starting
        await until_quiet(cluster)

        await in_keeper(lambda: cluster.stop_replicas(1))
        await flow.round(fourth)  # replica 0, restarted, alone
        await until_quiet(cluster)
        await in_keeper(lambda: cluster.start_replicas(1))

        # Every sign-up is a registration in each service and an attendee, once; every
        # mail came once and the last says how the meeting stands; nothing is left undone.
        # Checked before the meeting ends: a change to an ended meeting is not mailed
        # (its calendar object is over), so the last mail would no longer say how it stands.
        urls = {service: cluster.url(service) for service in SERVICES}
        tally = await check_effects(
            flow.ledger, urls, cluster.database_url, cluster.nats_url, cluster.mailbox
        )
        assert tally.checked > 0
        assert (tally.lost, tally.doubled, tally.resent) == ([], [], [])

        await flow.end()
        summary = await flow.summary()
        assert summary["content"]["participants"] == PEOPLE
        assert summary["content"]["attended"] == PEOPLE
        await flow.summary_linked()
        await until_quiet(cluster)

    # No mail came twice, those sent after the end included; each consumer of each replica
    # applied events itself; every stream is whole on all three nodes, no dead letter.
    message_ids = Counter(invite.message_id for invite in cluster.mailbox.invites())
    assert message_ids, "no mail was sent"
    assert [id_ for id_, count in message_ids.items() if count > 1] == []

    applied = cluster.applied()
    idle = [
        f"{consumer} of {service} replica {number}"
        for service, consumers in CONSUMERS.items()
        for number in range(REPLICAS)
        for consumer in consumers
        if not applied[service, number][consumer]
    ]
    assert idle == [], f"applied events by replica: {applied}"

    await eventually(lambda: streams_replicated(cluster), timeout=30)


async def streams_replicated(cluster: Cluster) -> bool:
    """Every stream on all three nodes, each replica caught up, no dead letter."""
    client = await nats.connect(cluster.nats_url)
    try:
        js = client.jetstream()
        for stream in STREAMS:
            info = await js.stream_info(stream.name)
            assert info.config.num_replicas == NODES, stream.name
            if info.cluster is None or not info.cluster.leader:
                return False  # electing one
            followers = info.cluster.replicas or []
            if len(followers) != NODES - 1 or not all(peer.current for peer in followers):
                return False
            if stream is DEADLETTER:
                assert info.state.messages == 0, "dead letters"
    finally:
        await client.close()
    return True
