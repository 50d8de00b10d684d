"""What the console is told of the basemap: what to draw, from where, with which credit."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from dfr.basemap.errors import BasemapArchiveError
from dfr.basemap.tiles import TileArchives
from dfr.settings import MapSettings

__all__ = ["NO_BASEMAP_HINT", "TILES_PATH", "BasemapPublic", "basemap_config", "is_vector_url"]

#: Where this service serves the tiles of its PMTiles basemap (`{ext}`: the archive's format).
TILES_PATH = "/tiles/{z}/{x}/{y}.{ext}"
NO_BASEMAP_HINT = (
    "No basemap: set DFR_MAP__BASEMAP to a .pmtiles file (build one with "
    "`dfr map build --osm extract.osm.pbf --bbox W,S,E,N -o area.pmtiles`) or to a tile URL."
)
VECTOR_EXTENSIONS = (".mvt", ".pbf")


class BasemapPublic(BaseModel):
    """The basemap as the console draws it; `kind` none means the grid, with `hint`."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["none", "vector", "raster"]
    url: str | None
    attribution: str
    min_zoom: int
    max_zoom: int
    #: West, south, east, north in degrees (an archive's extent; none for a tile URL).
    bounds: tuple[float, float, float, float] | None
    hint: str


def is_vector_url(url: str) -> bool:
    """Whether a tile URL template names vector tiles (by its extension)."""
    return urlsplit(url).path.lower().endswith(VECTOR_EXTENSIONS)


def _none(hint: str) -> BasemapPublic:
    return BasemapPublic(
        kind="none", url=None, attribution="", min_zoom=0, max_zoom=0, bounds=None, hint=hint
    )


def basemap_config(settings: MapSettings, archives: TileArchives) -> BasemapPublic:
    """The console's basemap under these settings (an unreadable archive: none, saying why)."""
    source = settings.basemap
    if source is None:
        return _none(NO_BASEMAP_HINT)
    path = settings.pmtiles_path
    if path is None:
        host = urlsplit(source).hostname or "the tile server"
        return BasemapPublic(
            kind="vector" if is_vector_url(source) else "raster",
            url=source,
            attribution=settings.attribution or f"Map tiles: {host}",
            min_zoom=0,
            max_zoom=settings.max_zoom,
            bounds=None,
            hint="",
        )
    try:
        info = archives.get(path).info
    except BasemapArchiveError as exc:
        return _none(f"The basemap cannot be read ({exc}). {NO_BASEMAP_HINT}")
    return BasemapPublic(
        kind="vector" if info.vector else "raster",
        url=TILES_PATH.replace("{ext}", info.extension),
        attribution=settings.attribution or info.attribution or "Basemap",
        min_zoom=info.min_zoom,
        max_zoom=info.max_zoom,
        bounds=(info.west_deg, info.south_deg, info.east_deg, info.north_deg),
        hint="",
    )
