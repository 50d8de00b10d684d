"""Errors of the basemap: building one from an OpenStreetMap extract, reading a PMTiles archive.

BasemapError (a DfrError)
 ├── BasemapBuildError      the extract, the box or the tile builder refused the build
 └── BasemapArchiveError    a PMTiles file cannot be read (not PMTiles, unknown version, truncated)

A tile that does not exist is `dfr.errors.NotFoundError` (404 at the HTTP edge).
"""

from __future__ import annotations

from dfr.errors import DfrError

__all__ = ["BasemapArchiveError", "BasemapBuildError", "BasemapError"]


class BasemapError(DfrError):
    """Root of the basemap's errors."""


class BasemapBuildError(BasemapError):
    """A basemap could not be built (bad box, unreadable extract, nothing to draw, tippecanoe failed)."""


class BasemapArchiveError(BasemapError):
    """A PMTiles archive cannot be read."""
