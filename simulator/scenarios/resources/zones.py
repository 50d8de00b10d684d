"""Zones the service loads and the scenario checks drone positions against."""

from __future__ import annotations

import importlib.resources
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from simulator.scenarios.errors import ConfigurationError
from simulator.scenarios.record import ScenarioRecord, ZoneShape
from simulator.scenarios.resources.base import SPEC_CONFIG, Resource, RunContext

PACKAGE_PREFIX = "package:"


class ZoneSetSpec(BaseModel):
    """GeoJSON zones (the geofence importer's property names), inline or from a file.

    `file` is a path or `package:<package>/<path inside it>` (e.g. the zones shipped with geofence).
    """

    model_config = SPEC_CONFIG

    file: str | None = None
    features: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> ZoneSetSpec:
        if self.file is not None and self.features:
            raise ValueError("give either file or features, not both")
        return self


@dataclass(frozen=True, slots=True)
class KeepOut:
    """A zone a drone must never enter, as vertices [(lat, lon), ...]."""

    zone_id: str
    name: str
    vertices: tuple[tuple[float, float], ...]


class ZoneSet(Resource[ZoneSetSpec]):
    """Zones the service loads (DFR_ZONES_FILE) and the scenario checks positions against."""

    type_name = "ZoneSet"
    spec_type = ZoneSetSpec

    def __init__(self, name: str, spec: ZoneSetSpec, context: RunContext) -> None:
        super().__init__(name, spec, context)
        if spec.file is not None:
            try:
                document = json.loads(_read_source(spec.file))
            except (OSError, ValueError, ModuleNotFoundError) as exc:
                raise ConfigurationError(f"zone file {spec.file}: {exc}") from exc
        else:
            document = {"type": "FeatureCollection", "features": list(spec.features)}
        self.document: dict[str, Any] = document
        self.path: Path | None = None
        self.keep_outs: list[KeepOut] = [_keep_out(f) for f in document.get("features", [])]
        self.keep_outs = [k for k in self.keep_outs if k.vertices]

    async def start(self, others: Mapping[str, Resource[Any]]) -> None:
        """Write the GeoJSON the service reads."""
        self.path = self.context.work_dir / f"zones-{self.name}.geojson"
        self.path.write_text(json.dumps(self.document), encoding="utf-8")

    def containing(self, lat: float, lon: float) -> list[KeepOut]:
        """Keep-out zones containing the point."""
        return [k for k in self.keep_outs if _point_in_polygon(lat, lon, k.vertices)]

    def contribute(self, record: ScenarioRecord) -> None:
        """Draw every zone."""
        for k in self.keep_outs:
            record.zones.append(ZoneShape(name=k.name, kind="exclusion", vertices=list(k.vertices)))


def _read_source(source: str) -> str:
    if source.startswith(PACKAGE_PREFIX):
        package, _, inner = source[len(PACKAGE_PREFIX) :].partition("/")
        return (importlib.resources.files(package) / inner).read_text(encoding="utf-8")
    return Path(source).read_text(encoding="utf-8")


def _keep_out(feature: Mapping[str, Any]) -> KeepOut:
    props = dict(feature.get("properties") or {})
    kind = str(props.get("kind", "exclusion"))
    zone_id = str(props.get("id", feature.get("id", "")))
    name = str(props.get("name", zone_id))
    geometry = feature.get("geometry") or {}
    if kind != "exclusion":
        return KeepOut(zone_id, name, ())
    if geometry.get("type") == "Polygon":
        ring = geometry["coordinates"][0]
        return KeepOut(zone_id, name, tuple((float(p[1]), float(p[0])) for p in ring))
    if geometry.get("type") == "Point" and "radius_m" in props:
        lon, lat = geometry["coordinates"][:2]
        return KeepOut(
            zone_id, name, circle_vertices(float(lat), float(lon), float(props["radius_m"]))
        )
    return KeepOut(zone_id, name, ())


def circle_vertices(
    lat: float, lon: float, radius_m: float, count: int = 48
) -> tuple[tuple[float, float], ...]:
    """A circle as a polygon (local equirectangular; fine at zone sizes)."""
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(lat))
    return tuple(
        (
            lat + radius_m * math.cos(2 * math.pi * i / count) / m_per_deg_lat,
            lon + radius_m * math.sin(2 * math.pi * i / count) / m_per_deg_lon,
        )
        for i in range(count)
    )


def _point_in_polygon(lat: float, lon: float, vertices: tuple[tuple[float, float], ...]) -> bool:
    inside = False
    n = len(vertices)
    for i in range(n):
        (y1, x1), (y2, x2) = vertices[i], vertices[(i + 1) % n]
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x_cross:
                inside = not inside
    return inside
