"""The agency's airspace: zones kept in the database, and the Airspace built from them for checks and plans.

Zone documents are imported all-or-nothing; the current Airspace is rebuilt after each change and
shared read-only (its checks are pure).
"""

from __future__ import annotations

import threading
from datetime import datetime
from importlib import resources
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from dfr.db import session_scope
from dfr.errors import InvalidInputError, NotFoundError
from dfr.models import Dock, ZoneRecord
from geofence import Airspace, AirspacePolicy, ZoneSet, load_zones

PACKAGE_PREFIX = "package:"


def read_zone_source(source: str, relative_to: Path | None = None) -> bytes:
    """The bytes of a zone file: a path (relative to the fleet file) or `package:<pkg>/<path>`."""
    if source.startswith(PACKAGE_PREFIX):
        package, _, inner = source[len(PACKAGE_PREFIX) :].partition("/")
        return (resources.files(package) / inner).read_bytes()
    path = Path(source)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return path.read_bytes()


class AirspaceService:
    """Zones of the agency and the Airspace over them."""

    def __init__(self, engine: Engine, agency_id: str, max_alt_agl_m: float) -> None:
        self._engine = engine
        self._agency_id = agency_id
        self._max_alt_agl_m = max_alt_agl_m
        self._lock = threading.Lock()
        self._zones = ZoneSet()
        self._airspace: Airspace | None = None

    def load(self) -> None:
        """Read the stored zones (blocking)."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(ZoneRecord).where(ZoneRecord.agency_id == self._agency_id)
            ).all()
            ground = session.exec(
                select(Dock.alt_amsl_m).where(Dock.agency_id == self._agency_id)
            ).all()
        features = [r.feature for r in rows]
        zones = (
            load_zones({"type": "FeatureCollection", "features": features}, "geojson")
            if features
            else ZoneSet()
        )
        self._set(zones, sum(ground) / len(ground) if ground else None)

    def _set(self, zones: ZoneSet, ground_amsl_m: float | None) -> None:
        policy = AirspacePolicy(max_alt_agl_m=self._max_alt_agl_m, ground_amsl_m=ground_amsl_m)
        airspace = Airspace(zones, policy) if zones.zones else None
        with self._lock:
            self._zones = zones
            self._airspace = airspace

    @property
    def zones(self) -> ZoneSet:
        """The current zones."""
        return self._zones

    def airspace(self) -> Airspace:
        """The current Airspace; InvalidInputError when no operating area is defined."""
        airspace = self._airspace
        if airspace is None:
            raise InvalidInputError(
                "no zones are defined: import the operating area before planning flights",
                field="zones",
            )
        return airspace

    def prepare(self, *at: datetime) -> None:
        """Build the routing structures for the zones active at each time (blocking, cached).

        A new set of active zones (an import, a time window opening) costs a visibility-graph
        build; done here ahead of time, the next dispatch decision does not wait for it.
        """
        airspace = self._airspace
        if airspace is not None:
            for t in at:
                airspace.prepare(t)

    def import_document(self, document: bytes, format: str | None) -> list[str]:  # noqa: A002
        """Import a zone document (all or nothing); returns the ids imported or replaced."""
        imported = load_zones(document, format)
        merged = self._zones.merged(imported)  # validates the combination before anything is stored
        features = merged.to_geojson()["features"]
        by_id = {f["properties"]["id"]: f for f in features}
        with session_scope(self._engine) as session:
            for zone_id in sorted(imported.ids):
                feature = by_id[zone_id]
                props = feature["properties"]
                existing = session.get(ZoneRecord, zone_id)
                if existing is not None and existing.agency_id != self._agency_id:
                    raise InvalidInputError(
                        f"zone id {zone_id!r} belongs to another agency", field="id"
                    )
                row = existing or ZoneRecord(id=zone_id, agency_id=self._agency_id, kind="")
                row.name = str(props.get("name") or "")[:300]
                row.kind = str(props.get("kind") or "ceiling")
                row.source_format = format or "auto"
                row.feature = feature
                session.add(row)
        self.load()
        return sorted(imported.ids)

    def delete_zone(self, zone_id: str) -> None:
        """Remove one zone."""
        with session_scope(self._engine) as session:
            row = session.get(ZoneRecord, zone_id)
            if row is None or row.agency_id != self._agency_id:
                raise NotFoundError("zone", zone_id)
            session.exec(delete(ZoneRecord).where(col(ZoneRecord.id) == zone_id))
        self.load()

    def geojson(self, active_at: datetime | None) -> dict[str, object]:
        """The zones as GeoJSON for the map."""
        return self._zones.to_geojson(active_at)
