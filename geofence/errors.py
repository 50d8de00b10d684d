"""Errors raised by geofence; none carries an HTTP status (those are assigned in dfr/api/errors.py).

GeofenceError
 ├── InvalidGeometryError    a zone or point is malformed (self-intersecting, out of range, < 3 vertices ...)
 ├── UnsupportedDatumError   an altitude datum or unit cannot be used here
 ├── ImportFormatError       a zone document could not be read in any supported format
 ├── InvalidTimeError        a naive time, an unknown time zone or an end before its start
 └── UnknownZoneError        no zone or ceiling cell with that id

Every leaf is also a ValueError (UnknownZoneError a KeyError), so callers that
only know the builtin kinds still catch them. AirspacePolicy refuses impossible
limits with a plain ValueError: that is a settings mistake, not bad input.
"""

from __future__ import annotations


class GeofenceError(Exception):
    """Root of every geofence error."""


class InvalidGeometryError(GeofenceError, ValueError):
    """A geometry or coordinate is invalid; `zone_id` and `field` say where when known."""

    def __init__(
        self, reason: str, *, zone_id: str | None = None, field: str | None = None
    ) -> None:
        self.reason = reason
        self.zone_id = zone_id
        self.field = field
        where = f"zone {zone_id!r}: " if zone_id else ""
        super().__init__(f"{where}{reason}")


class UnsupportedDatumError(GeofenceError, ValueError):
    """An altitude datum or unit of measure is not supported."""


class ImportFormatError(GeofenceError, ValueError):
    """A zone document is not in a supported format, or fails its schema."""


class InvalidTimeError(GeofenceError, ValueError):
    """A time is naive, a time zone is unknown, or a period ends before it starts."""


class UnknownZoneError(GeofenceError, KeyError):
    """No zone or ceiling cell has this id."""

    def __init__(self, zone_id: str) -> None:
        self.zone_id = zone_id
        super().__init__(f"unknown zone {zone_id!r}")

    def __str__(self) -> str:
        return f"unknown zone {self.zone_id!r}"
