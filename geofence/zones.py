"""Zones (operating area, exclusions, advisories), UASFM ceiling cells, and the validated set of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import shapely
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from geofence.errors import InvalidGeometryError, UnknownZoneError
from geofence.geo import WGS84, Altitude, AltitudeDatum, GeoPoint
from geofence.schedule import Applicability, is_active


class ZoneKind(StrEnum):
    """What a zone means for a flight."""

    INCLUSION = "inclusion"  # the operating area: flights must stay inside
    EXCLUSION = "exclusion"  # keep-out
    ADVISORY = "advisory"  # shown and reported, never blocks


@dataclass(frozen=True, slots=True)
class ZonePolygon:
    """A polygon: exterior ring and optional holes, each without the repeated closing vertex."""

    exterior: tuple[GeoPoint, ...]
    holes: tuple[tuple[GeoPoint, ...], ...] = ()

    def to_shapely_lonlat(self) -> Polygon:
        """As a shapely polygon in (lon, lat) degrees."""
        return Polygon(
            [(p.lon_deg, p.lat_deg) for p in self.exterior],
            [[(p.lon_deg, p.lat_deg) for p in ring] for ring in self.holes],
        )


@dataclass(frozen=True, slots=True)
class ZoneCircle:
    """A circle on the ground: centre and radius in metres."""

    centre: GeoPoint
    radius_m: float

    def ring(self, segments: int = 64) -> tuple[GeoPoint, ...]:
        """Vertices of a polygon around the circle (geodesic, on the circle)."""
        lons, lats, _ = WGS84.fwd(
            [self.centre.lon_deg] * segments,
            [self.centre.lat_deg] * segments,
            [i * 360.0 / segments for i in range(segments)],
            [self.radius_m] * segments,
        )
        return tuple(GeoPoint(float(la), float(lo)) for la, lo in zip(lats, lons, strict=True))


ZoneShape = ZonePolygon | ZoneCircle


@dataclass(frozen=True, slots=True)
class Zone:
    """One airspace zone with its vertical limits and when it applies."""

    id: str
    kind: ZoneKind
    shape: ZoneShape
    name: str = ""
    reason: str = ""
    source: str = ""
    floor: Altitude | None = None  # None: from the ground
    ceiling: Altitude | None = None  # None: unlimited
    applicability: tuple[Applicability, ...] = ()  # empty: permanent
    message: str = ""

    def is_active(self, at: datetime) -> bool:
        """True if the zone applies at `at` (timezone-aware)."""
        return is_active(self.applicability, at)

    @property
    def is_permanent(self) -> bool:
        """True if the zone applies at every time."""
        return not self.applicability or any(a.permanent for a in self.applicability)

    def describe(self) -> str:
        """A short human label: name, or id."""
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id


@dataclass(frozen=True, slots=True)
class CeilingCell:
    """A UAS Facility Map cell: the maximum altitude above ground a flight may use inside it."""

    id: str
    shape: ZonePolygon
    ceiling_agl_m: float
    source: str = ""
    airport: str = ""


@dataclass(frozen=True, slots=True)
class ZoneSet:
    """A validated, consistent set of zones and ceiling cells (ids unique across both)."""

    zones: tuple[Zone, ...] = ()
    ceiling_cells: tuple[CeilingCell, ...] = ()
    _ids: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        ids = [z.id for z in self.zones] + [c.id for c in self.ceiling_cells]
        seen: set[str] = set()
        for zone_id in ids:
            if zone_id in seen:
                raise InvalidGeometryError("duplicate id", zone_id=zone_id, field="id")
            seen.add(zone_id)
        object.__setattr__(self, "_ids", frozenset(seen))
        _refuse_overlapping_inclusions([z for z in self.zones if z.kind is ZoneKind.INCLUSION])

    def __len__(self) -> int:
        return len(self.zones) + len(self.ceiling_cells)

    def __iter__(self) -> Iterator[Zone]:
        return iter(self.zones)

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._ids

    @property
    def ids(self) -> frozenset[str]:
        """Every zone and cell id."""
        return self._ids

    def get(self, zone_id: str) -> Zone | CeilingCell:
        """The zone or cell with this id, or UnknownZoneError."""
        for z in self.zones:
            if z.id == zone_id:
                return z
        for c in self.ceiling_cells:
            if c.id == zone_id:
                return c
        raise UnknownZoneError(zone_id)

    def merged(self, imported: ZoneSet) -> ZoneSet:
        """This set with `imported` added; zones with the same id are replaced (all or nothing)."""
        replaced = imported.ids
        return ZoneSet(
            tuple(z for z in self.zones if z.id not in replaced) + imported.zones,
            tuple(c for c in self.ceiling_cells if c.id not in replaced) + imported.ceiling_cells,
        )

    def without(self, zone_id: str) -> ZoneSet:
        """This set without the zone or cell `zone_id`; UnknownZoneError if absent."""
        if zone_id not in self._ids:
            raise UnknownZoneError(zone_id)
        return ZoneSet(
            tuple(z for z in self.zones if z.id != zone_id),
            tuple(c for c in self.ceiling_cells if c.id != zone_id),
        )

    def active(self, at: datetime) -> list[Zone]:
        """Zones that apply at `at`."""
        return [z for z in self.zones if z.is_active(at)]

    def to_geojson(self, active_at: datetime | None = None) -> dict[str, Any]:
        """An RFC 7946 FeatureCollection for the map (only zones active at `active_at` if given)."""
        features: list[dict[str, Any]] = []
        for z in self.zones:
            if active_at is not None and not z.is_active(active_at):
                continue
            features.append(_zone_feature(z, active_at))
        features.extend(_cell_feature(c) for c in self.ceiling_cells)
        return {"type": "FeatureCollection", "features": features}


def _ring_coords(ring: Iterable[GeoPoint]) -> list[list[float]]:
    coords = [[p.lon_deg, p.lat_deg] for p in ring]
    return coords + coords[:1]


def _polygon_geometry(shape: ZonePolygon) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [_ring_coords(shape.exterior)] + [_ring_coords(h) for h in shape.holes],
    }


def _zone_feature(z: Zone, active_at: datetime | None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": z.id,
        "name": z.name,
        "kind": str(z.kind),
        "reason": z.reason,
        "source": z.source,
        "message": z.message,
        "uom": "m",
        "floor": None if z.floor is None else z.floor.value_m,
        "floor_reference": None if z.floor is None else str(z.floor.datum),
        "ceiling": None if z.ceiling is None else z.ceiling.value_m,
        "ceiling_reference": None if z.ceiling is None else str(z.ceiling.datum),
        "applicability": [a.to_json() for a in z.applicability],
    }
    if active_at is not None:
        props["active"] = True
    if isinstance(z.shape, ZoneCircle):
        geometry = {"type": "Polygon", "coordinates": [_ring_coords(z.shape.ring())]}
        props["circle"] = {
            "centre": [z.shape.centre.lon_deg, z.shape.centre.lat_deg],
            "radius_m": z.shape.radius_m,
        }
    else:
        geometry = _polygon_geometry(z.shape)
    return {"type": "Feature", "id": z.id, "geometry": geometry, "properties": props}


def _cell_feature(c: CeilingCell) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": c.id,
        "geometry": _polygon_geometry(c.shape),
        "properties": {
            "id": c.id,
            "kind": "ceiling_cell",
            "ceiling_agl_m": c.ceiling_agl_m,
            "ceiling_ft": round(c.ceiling_agl_m / 0.3048, 1),
            "airport": c.airport,
            "source": c.source,
        },
    }


def validate_polygon(shape: ZonePolygon, zone_id: str) -> ZonePolygon:
    """`shape` itself if it is a simple polygon with area; InvalidGeometryError naming why otherwise."""
    for ring_name, ring in [("exterior ring", shape.exterior)] + [
        (f"hole {i}", h) for i, h in enumerate(shape.holes)
    ]:
        distinct = {(p.lat_deg, p.lon_deg) for p in ring}
        if len(distinct) < 3:
            raise InvalidGeometryError(
                f"{ring_name} has {len(distinct)} distinct vertices, at least 3 are needed",
                zone_id=zone_id,
                field="geometry",
            )
    poly = shape.to_shapely_lonlat()
    if not poly.is_valid:
        raise InvalidGeometryError(
            f"invalid polygon: {_validity_text(explain_validity(poly))}",
            zone_id=zone_id,
            field="geometry",
        )
    if poly.area <= 1e-14:
        raise InvalidGeometryError("polygon has no area", zone_id=zone_id, field="geometry")
    if poly.bounds[2] - poly.bounds[0] > 180.0:
        raise InvalidGeometryError(
            "polygon spans more than 180 degrees of longitude", zone_id=zone_id, field="geometry"
        )
    return shape


def _validity_text(text: str) -> str:
    """GEOS 'Self-intersection[x y]' as 'self-intersection at lon x, lat y'."""
    if "[" in text and text.endswith("]"):
        what, where = text[:-1].split("[", 1)
        parts = where.split()
        if len(parts) >= 2:
            return f"{what.lower()} at lon {parts[0]}, lat {parts[1]}"
    return text.lower()


def validate_zone(zone: Zone) -> Zone:
    """`zone` itself if its geometry and limits are consistent; InvalidGeometryError otherwise."""
    if not zone.id or not zone.id.strip():
        raise InvalidGeometryError("zone has no id", field="id")
    if isinstance(zone.shape, ZoneCircle):
        if not math.isfinite(zone.shape.radius_m) or zone.shape.radius_m <= 0:
            raise InvalidGeometryError(
                f"circle radius {zone.shape.radius_m} m must be > 0",
                zone_id=zone.id,
                field="radius",
            )
    else:
        validate_polygon(zone.shape, zone.id)
    if zone.floor is not None and zone.ceiling is not None:
        if zone.floor.datum is zone.ceiling.datum and zone.ceiling.value_m < zone.floor.value_m:
            raise InvalidGeometryError(
                f"ceiling {zone.ceiling.value_m:g} m is below floor {zone.floor.value_m:g} m",
                zone_id=zone.id,
                field="ceiling",
            )
    if zone.kind is ZoneKind.INCLUSION and zone.floor is not None and zone.floor.value_m > 0:
        # A raised floor on the operating area would forbid every take-off and landing.
        raise InvalidGeometryError(
            "an operating area cannot have a floor above ground", zone_id=zone.id, field="floor"
        )
    return zone


def validate_cell(cell: CeilingCell) -> CeilingCell:
    """`cell` itself if its polygon and ceiling are usable."""
    validate_polygon(cell.shape, cell.id)
    if not math.isfinite(cell.ceiling_agl_m) or cell.ceiling_agl_m < 0:
        raise InvalidGeometryError(
            f"ceiling {cell.ceiling_agl_m} must be >= 0", zone_id=cell.id, field="CEILING"
        )
    return cell


def _refuse_overlapping_inclusions(inclusions: list[Zone]) -> None:
    if len(inclusions) < 2:
        return
    shapes = [
        Polygon(_ring_coords(z.shape.ring()))
        if isinstance(z.shape, ZoneCircle)
        else z.shape.to_shapely_lonlat()
        for z in inclusions
    ]
    tree = shapely.STRtree(shapes)
    for i, j in zip(*tree.query(shapes, predicate="overlaps"), strict=True):
        if i < j:
            raise InvalidGeometryError(
                f"operating areas {inclusions[i].id!r} and {inclusions[j].id!r} overlap: "
                "it is ambiguous which one applies",
                zone_id=inclusions[j].id,
                field="geometry",
            )


def agl_limit_m(alt: Altitude | None, ground_amsl_m: float | None, default: float) -> float:
    """A zone limit as metres above ground; `default` when unknown (no limit or no ground elevation)."""
    if alt is None:
        return default
    if alt.datum in (AltitudeDatum.AGL, AltitudeDatum.TAKEOFF):
        return alt.value_m
    if alt.datum is AltitudeDatum.AMSL and ground_amsl_m is not None:
        return alt.value_m - ground_amsl_m
    return default
