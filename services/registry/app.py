"""The participant registry: organizations, people and their sign-up for meetings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from litestar import Litestar
from nats.aio.client import Client as NATS

from services.registry.consumers import MEETINGS
from services.registry.routes import MeetingController, OrganizationController, PersonController
from shared.db import Pool
from shared.readmodels import meetings
from shared.service import ServiceDefinition, build_app
from shared.settings import RegistrySettings, load_settings

NAME = "registry"

DEFINITION = ServiceDefinition(
    name=NAME,
    description="Organizations across regions and time zones, their people, and sign-up "
    "for meetings.",
    route_handlers=[OrganizationController, PersonController, MeetingController],
    migrations=Path(__file__).parent / "migrations",
    read_models=[meetings.MIGRATIONS],
    consumers=[MEETINGS],
)


@cache
def get_settings() -> RegistrySettings:
    """The settings from the environment, read once per process."""
    return load_settings(RegistrySettings, NAME)


def create_app(
    settings: RegistrySettings | None = None, *, pool: Pool | None = None, nats: NATS | None = None
) -> Litestar:
    return build_app(DEFINITION, settings or get_settings(), pool=pool, nats=nats)
