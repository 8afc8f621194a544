"""The participant registry: organizations, people and their sign-up for meetings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from litestar import Litestar
from nats.aio.client import Client as NATS

from services.registry import routes, store
from services.registry.consumers import MEETINGS
from services.registry.keys import register_admin_key
from services.registry.micro import ATTENDANCE
from services.registry.rsvp import make_link_secret
from services.registry.webhooks import fanout
from services.registry.webhooks import store as webhook_store
from services.registry.webhooks.routes import WebhookController
from services.registry.webhooks.sender import readings as webhook_readings
from services.registry.webhooks.sender import run_sender
from shared.db import Pool
from shared.readmodels import meetings
from shared.service import Runtime, ServiceDefinition, build_app
from shared.settings import RegistrySettings, load_settings

NAME = "registry"


async def webhook_sender(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, RegistrySettings)
    await run_sender(runtime.pool, runtime.notifier, settings.webhooks, max_sleep=30.0)


DEFINITION = ServiceDefinition(
    name=NAME,
    description="Organizations across regions and time zones, their people, partner API "
    "keys, sign-up for meetings with places and a waitlist, RSVP, and attendance.",
    route_handlers=[
        routes.RegionController,
        routes.OrganizationController,
        routes.PersonController,
        routes.KeyController,
        routes.MeetingController,
        routes.RegistrationController,
        routes.RsvpController,
        routes.SignedRsvpController,
        routes.AttendanceController,
        WebhookController,
    ],
    migrations=Path(__file__).parent / "migrations",
    read_models=[meetings.MIGRATIONS],
    consumers=[MEETINGS, *fanout.CONSUMERS],
    workers=[("webhook-sender", webhook_sender)],
    probes=[("webhook-queue", webhook_readings)],
    notify_channels=[webhook_store.CHANNEL],
    on_start=[register_admin_key, make_link_secret],
    ids={
        "organization": store.has_organization,
        "person": store.has_person,
        "key": store.has_key,
    },
    micro=[ATTENDANCE],
)


@cache
def get_settings() -> RegistrySettings:
    """The settings from the environment, read once per process."""
    return load_settings(RegistrySettings, NAME)


def create_app(
    settings: RegistrySettings | None = None, *, pool: Pool | None = None, nats: NATS | None = None
) -> Litestar:
    return build_app(DEFINITION, settings or get_settings(), pool=pool, nats=nats)
