"""`GET /metrics`: the service's figures in Prometheus' text format (`shared.metrics`).

It takes no key, as the health endpoints: operators scrape it from inside the cluster, and
it tells nothing of any partner (no label holds an id, a name or an address; a route is its
template). A deployment that exposes the services to the internet keeps `/metrics` to its
own network at the proxy, as it would `/health`.
"""

from __future__ import annotations

from typing import Final

from litestar import Controller, Response, get
from litestar.datastructures import State

from shared import metrics
from shared.http.auth import KEYLESS
from shared.http.media import PROMETHEUS

SCRAPE: Final = "telebridge.scrape"
"""Key of `app.state` that holds the service's `shared.metrics.Scrape`."""


class MetricsController(Controller):
    path = "/metrics"
    tags = ["metrics"]
    opt = {KEYLESS: True}

    @get(
        summary="The service's figures for Prometheus",
        description="Prometheus' text exposition format, version 0.0.4 "
        "(`text/plain; version=0.0.4`): request latency by route template and status, the "
        "outbox backlog and the age of its oldest unsent event, each consumer's lag, "
        "redeliveries, dead letters and processing time, and the service's own queues. "
        "Counters are summed over the service's worker processes; the figures of shared "
        "state are read from the database and the bus when scraped.",
        media_type="text/plain",
    )
    async def scrape(self, state: State) -> Response[bytes]:
        readings = await metrics.read(state[SCRAPE], state.get("runtime"))
        return Response(metrics.exposition(readings), media_type=PROMETHEUS)
