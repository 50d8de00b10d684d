"""What an owner tells about a camera, checked; and whether a camera may have seen a scene."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cameras.errors import CameraInputError
from geofence import GeofenceError, GeoPoint, bearing_deg, distance_m

#: What a camera may record, as the owner declares it (the registration form's choices).
RECORDS = ("street", "sidewalk", "driveway", "yard", "parking", "entrance", "audio")
#: Within this distance a camera is taken to see the scene whatever its facing.
AT_SCENE_M = 15.0
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{5,30}$")


def checked_text(text: str, field: str) -> str:
    """Free text (a message, a description), trimmed, without control characters but tab and newline."""
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise CameraInputError("must not contain control characters", field=field)
    return text.strip()


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """A camera as registered: position, optional facing and field of view, what it may record."""

    lat: float
    lon: float
    #: Degrees clockwise from true north the camera looks towards; None = not told.
    facing_deg: float | None
    #: The horizontal field of view in degrees; None = not told.
    fov_deg: float | None
    street_facing: bool
    records: tuple[str, ...]

    @property
    def point(self) -> GeoPoint:
        """The camera's position."""
        return GeoPoint(self.lat, self.lon)


def checked_spec(
    *,
    lat: float,
    lon: float,
    facing_deg: float | None,
    fov_deg: float | None,
    street_facing: bool,
    records: list[str] | tuple[str, ...],
) -> CameraSpec:
    """The spec, or CameraInputError naming the first field refused."""
    for name, value in (("lat", lat), ("lon", lon)):
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise CameraInputError("must be a finite number of degrees", field=name)
    try:
        GeoPoint(float(lat), float(lon))
    except GeofenceError as exc:
        field = "lat" if getattr(exc, "field", "") == "lat_deg" else "lon"
        raise CameraInputError(str(exc), field=field) from exc
    if lat == 0.0 and lon == 0.0:
        raise CameraInputError("0, 0 is not a camera's position (a missing location?)", field="lat")
    if facing_deg is not None and not (math.isfinite(facing_deg) and 0.0 <= facing_deg < 360.0):
        raise CameraInputError("must be 0 up to 360 degrees from north", field="facing_deg")
    if fov_deg is not None and not (math.isfinite(fov_deg) and 1.0 <= fov_deg <= 360.0):
        raise CameraInputError("must be 1 to 360 degrees", field="fov_deg")
    unknown = [r for r in records if r not in RECORDS]
    if unknown:
        raise CameraInputError(
            f"unknown choice {unknown[0]!r}; choose from {', '.join(RECORDS)}", field="records"
        )
    return CameraSpec(
        lat=float(lat),
        lon=float(lon),
        facing_deg=facing_deg,
        fov_deg=fov_deg,
        street_facing=street_facing,
        records=tuple(dict.fromkeys(records)),
    )


def checked_email(email: str) -> str:
    """The address, trimmed and with its domain lower-cased, or CameraInputError."""
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise CameraInputError("is not an email address", field="email")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def checked_phone(phone: str | None) -> str | None:
    """The phone number as given (None when blank), or CameraInputError."""
    if phone is None or not phone.strip():
        return None
    if not _PHONE.match(phone.strip()):
        raise CameraInputError("is not a phone number", field="phone")
    return phone.strip()


def checked_name(name: str) -> str:
    """The owner's name, trimmed, without control characters, or CameraInputError."""
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise CameraInputError("must be 1 to 200 printable characters", field="owner_name")
    return name


@dataclass(frozen=True, slots=True)
class Coverage:
    """How a camera relates to a scene: its distance, and whether it may have seen it."""

    distance_m: float
    #: True when the facing and field of view include the scene, or are not told.
    covers: bool
    #: Whether the owner told the facing and field of view.
    facing_known: bool


def coverage(spec: CameraSpec, scene: GeoPoint) -> Coverage:
    """Whether `spec`'s camera may have seen `scene` (unknown facing counts as may have)."""
    away_m = distance_m(spec.point, scene)
    if spec.facing_deg is None or spec.fov_deg is None:
        return Coverage(away_m, True, False)
    if away_m <= AT_SCENE_M or spec.fov_deg >= 360.0:
        return Coverage(away_m, True, True)
    towards = bearing_deg(spec.point, scene)
    off_axis = abs((towards - spec.facing_deg + 180.0) % 360.0 - 180.0)
    return Coverage(away_m, off_axis <= spec.fov_deg / 2.0, True)
