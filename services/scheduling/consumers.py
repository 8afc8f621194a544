"""What scheduling learns from the registry: organizations, people, registrations."""

from __future__ import annotations

from shared.bus.consumer import EventConsumer
from shared.events import REGISTRY, RegistryEvent
from shared.readmodels import registry

REGISTRY_EVENTS = EventConsumer[RegistryEvent](
    name="scheduling-registry", stream=REGISTRY, events=RegistryEvent, apply=registry.apply
)
