"""The street basemap: built from an OpenStreetMap extract, served as tiles from a PMTiles archive."""

from __future__ import annotations

from dfr.basemap.config import (
    NO_BASEMAP_HINT,
    TILES_PATH,
    BasemapPublic,
    basemap_config,
    is_vector_url,
)
from dfr.basemap.errors import BasemapArchiveError, BasemapBuildError, BasemapError
from dfr.basemap.tiles import TileArchive, TileArchives, valid_tile

#: The archives this process has open (one per basemap file version), shared by the tile route
#: and the console's configuration.
ARCHIVES = TileArchives()

__all__ = [
    "ARCHIVES",
    "NO_BASEMAP_HINT",
    "TILES_PATH",
    "BasemapArchiveError",
    "BasemapBuildError",
    "BasemapError",
    "BasemapPublic",
    "TileArchive",
    "TileArchives",
    "basemap_config",
    "is_vector_url",
    "valid_tile",
]
