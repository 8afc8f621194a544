"""The webhook endpoints API: a partner's key manages its organization's endpoints (staff
any organization's); an endpoint of another organization answers as one that does not
exist."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from services.registry import access
from services.registry.webhooks import endpoints, store
from services.registry.webhooks.addresses import Network, networks
from services.registry.webhooks.schemas import (
    Delivery,
    Endpoint,
    EndpointCreate,
    EndpointFields,
    EndpointWithSecret,
    Replay,
    Replayed,
    RotatedSecret,
    SecretRotation,
)
from shared.errors import not_found
from shared.http.contract import answers
from shared.http.pagination import Page, decode_cursor, page_of
from shared.http.params import (
    DEFAULT_PAGE_SIZE,
    MAX_INT4,
    AnyRequest,
    Cursor,
    PageSize,
    Transaction,
)
from shared.http.params import Caller as CallerParam
from shared.http.versions import check_version, created, with_etag
from shared.settings import RegistrySettings
from shared.webhooks import EVENT_TYPES

EXAMPLES = {
    "new meetings and sign-ups": {
        "url": "https://lodb.example/telebridge/webhooks",
        "event_types": ["meeting.scheduled", "meeting.updated", "registration.created"],
        "ordered": True,
        "description": "Сайт ЛОДБ",
    }
}


def _allowed(request: AnyRequest) -> list[Network]:
    settings: RegistrySettings = request.app.state.settings
    return networks(settings.webhooks.private_networks)


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @get("/event-types", summary="The event types an endpoint can ask for")
    async def event_types(self, caller: CallerParam) -> list[str]:
        return list(EVENT_TYPES)

    @post(
        "/endpoints",
        summary="Register an endpoint to receive signed webhooks",
        description="The answer holds the endpoint's secret (`whsec_…`), shown this once: "
        "every message is signed with it as the Standard Webhooks specification says.",
        opt=answers(etag=True, location=True, examples=EXAMPLES),
    )
    async def create_endpoint(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        data: JSONBody[EndpointCreate],
    ) -> Response[EndpointWithSecret]:
        return created(
            await endpoints.create(connection, caller, data, _allowed(request)),
            "webhooks/endpoints",
        )

    @get("/endpoints", summary="The endpoints of the caller's organization (all for staff)")
    async def list_endpoints(
        self,
        connection: Transaction,
        caller: CallerParam,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[Endpoint]:
        found = await store.endpoints(
            connection,
            organization_id=access.listed_organization(caller),
            after=decode_cursor(cursor),
            limit=limit + 1,
        )
        return page_of(found, [item.id for item in found], limit)

    @get(
        "/endpoints/{endpoint_id:uuid}",
        summary="One endpoint: whether it is enabled, and if not why",
        opt=answers(etag=True),
    )
    async def get_endpoint(
        self, connection: Transaction, caller: CallerParam, endpoint_id: FromPath[UUID]
    ) -> Response[Endpoint]:
        return with_etag(await access.own_endpoint(connection, caller, endpoint_id))

    @put(
        "/endpoints/{endpoint_id:uuid}",
        summary="Change an endpoint, or enable it again",
        description="Send every field, and the ETag last read as If-Match.",
        opt=answers(if_match=True, etag=True),
    )
    async def update_endpoint(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        endpoint_id: FromPath[UUID],
        data: JSONBody[EndpointFields],
    ) -> Response[Endpoint]:
        current = await access.own_endpoint(connection, caller, endpoint_id, for_update=True)
        check_version(request, current.version)
        return with_etag(await endpoints.update(connection, endpoint_id, data, _allowed(request)))

    @delete("/endpoints/{endpoint_id:uuid}", summary="Remove an endpoint and its deliveries")
    async def delete_endpoint(
        self, connection: Transaction, caller: CallerParam, endpoint_id: FromPath[UUID]
    ) -> None:
        await access.own_endpoint(connection, caller, endpoint_id, for_update=True)
        await store.delete_endpoint(connection, endpoint_id)

    @post(
        "/endpoints/{endpoint_id:uuid}/secret/rotate",
        summary="A new secret; the old one signs too for the overlap",
        description="During the overlap every message carries two signatures, so that a "
        "receiver can switch to the new secret at any moment.",
    )
    async def rotate_secret(
        self,
        connection: Transaction,
        caller: CallerParam,
        endpoint_id: FromPath[UUID],
        data: JSONBody[SecretRotation],
    ) -> RotatedSecret:
        await access.own_endpoint(connection, caller, endpoint_id, for_update=True)
        return await endpoints.rotate_secret(connection, endpoint_id, data.overlap_seconds)

    @get(
        "/endpoints/{endpoint_id:uuid}/deliveries",
        summary="What was sent to the endpoint, newest first, with every attempt",
    )
    async def list_deliveries(
        self,
        connection: Transaction,
        caller: CallerParam,
        endpoint_id: FromPath[UUID],
        before: Annotated[
            int,
            QueryParameter(
                ge=1,
                le=MAX_INT4,
                description="Only deliveries older than this one: the `id` of the last delivery "
                "of the previous page",
            ),
        ] = MAX_INT4,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> list[Delivery]:
        await access.own_endpoint(connection, caller, endpoint_id)
        return await endpoints.deliveries(connection, endpoint_id, before=before, limit=limit)

    @post(
        "/endpoints/{endpoint_id:uuid}/deliveries/{delivery_id:int}/replay",
        summary="Send one delivery again, with its webhook-id",
        status_code=202,
    )
    async def replay_delivery(
        self,
        connection: Transaction,
        caller: CallerParam,
        endpoint_id: FromPath[UUID],
        delivery_id: Annotated[int, PathParameter(ge=1, le=MAX_INT4)],
    ) -> Replayed:
        await access.own_endpoint(connection, caller, endpoint_id)
        queued = await endpoints.replay(connection, endpoint_id, delivery=delivery_id, since=None)
        if queued == 0:
            raise not_found("delivery", delivery_id)
        return Replayed(queued=queued)

    @post(
        "/endpoints/{endpoint_id:uuid}/replay",
        summary="Send again every delivery made since an instant",
        status_code=202,
    )
    async def replay_since(
        self,
        connection: Transaction,
        caller: CallerParam,
        endpoint_id: FromPath[UUID],
        data: JSONBody[Replay],
    ) -> Replayed:
        await access.own_endpoint(connection, caller, endpoint_id)
        return Replayed(
            queued=await endpoints.replay(connection, endpoint_id, delivery=None, since=data.since)
        )
