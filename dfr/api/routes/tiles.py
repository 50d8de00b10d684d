"""`GET /tiles/{z}/{x}/{y}.{ext}`: the tiles of the PMTiles basemap (`map.basemap`), outside the API.

Public like the console's own files: the map library fetches tiles without the user's token,
and a basemap holds only the streets an agency published to its dispatchers. Tiles are read in
a worker thread (file I/O) from a cached archive and may be cached by the browser; a stored
gzip tile is sent as it is to a client that accepts gzip.
"""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Header, Response

from dfr.basemap import ARCHIVES, BasemapArchiveError, valid_tile
from dfr.deps import SettingsDep
from dfr.errors import NotFoundError, ServiceUnavailableError

router = APIRouter(tags=["basemap"])

#: A browser keeps a tile this long before asking again (then a 304 when it has not changed).
TILE_MAX_AGE_S = 3600


@router.get("/tiles/{z}/{x}/{y}.{ext}", include_in_schema=False)
def basemap_tile(
    z: int,
    x: int,
    y: int,
    ext: str,
    settings: SettingsDep,
    accept_encoding: Annotated[str, Header()] = "",
    if_none_match: Annotated[str, Header()] = "",
) -> Response:
    """One tile of the basemap; 204 inside the web map where the archive has no data."""
    path = settings.map.pmtiles_path
    if path is None:
        raise NotFoundError("basemap", "none served here (map.basemap is not a .pmtiles file)")
    try:
        archive = ARCHIVES.get(path)
    except BasemapArchiveError as exc:
        raise ServiceUnavailableError(str(exc)) from exc
    info = archive.info
    if ext != info.extension:
        raise NotFoundError("tile format", ext)
    if not valid_tile(z, x, y) or not (info.min_zoom <= z <= info.max_zoom):
        raise NotFoundError("tile", f"{z}/{x}/{y}")
    etag = f'"{archive.version}-{z}-{x}-{y}"'
    headers = {
        "Cache-Control": f"public, max-age={TILE_MAX_AGE_S}",
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    if etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    data = archive.tile(z, x, y)
    if data is None:
        return Response(status_code=204, headers=headers)
    if archive.gzipped:
        if "gzip" in accept_encoding.lower():
            headers["Content-Encoding"] = "gzip"
        else:
            data = gzip.decompress(data)
    return Response(content=data, media_type=info.media_type, headers=headers)
