"""The regions directory over REST: read-only, the same for everyone."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromPath

from shared.errors import not_found
from shared.regions import Region, all_regions, region


class RegionController(Controller):
    path = "/regions"
    tags = ["regions"]

    @get("/", summary="Every federal subject of Russia, by its number", cache=3600)
    async def list_regions(self) -> list[Region]:
        return list(all_regions())

    @get("/{code:str}", summary="One region, by its code such as RU-LIP", cache=3600)
    async def get_region(self, code: FromPath[str]) -> Region:
        found = region(code)
        if found is None:
            raise not_found("region", code)
        return found
