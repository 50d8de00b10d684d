"""The agency's docks and drones: create, update, delete and the fleet file, with domain checks."""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, delete, select

from dfr.dispatch.agency_policy import AgencyPolicy
from dfr.errors import ConflictError, FleetFileError, InvalidInputError, NotFoundError
from dfr.models import (
    Agency,
    Dock,
    DockCreate,
    DockUpdate,
    Drone,
    DroneCreate,
    DroneSigningKey,
    DroneUpdate,
    Flight,
    get_row,
    utcnow,
)
from dfr.retention_policy import RetentionPolicy
from dfr.transparency.policy import TransparencyPolicy
from dfr.url_policy import (
    DEFAULT_URL_POLICY,
    Binding,
    UrlPolicy,
    UrlRefusedError,
    drone_bindings,
    first_clash,
)

DEMO_FLEET_FILE = Path(__file__).resolve().parent / "data" / "demo_fleet.toml"


def ensure_agency(session: Session, agency_id: str, name: str, timezone: str = "UTC") -> Agency:
    """The agency `agency_id`, created (or renamed) as given."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        agency = Agency(id=agency_id, name=name, timezone=timezone)
        session.add(agency)
    elif (agency.name, agency.timezone) != (name, timezone):
        agency.name, agency.timezone, agency.updated_at = name, timezone, utcnow()
        session.add(agency)
    session.flush()
    return agency


def _require_agency(session: Session, agency_id: str) -> None:
    if session.get(Agency, agency_id) is None:
        raise NotFoundError("agency", agency_id)


_Row = TypeVar("_Row", Dock, Drone)


def get_dock(session: Session, dock_id: str) -> Dock:
    """The dock `dock_id` or NotFoundError."""
    return get_row(session, Dock, dock_id)


def get_drone(session: Session, drone_id: str) -> Drone:
    """The drone `drone_id` or NotFoundError."""
    return get_row(session, Drone, drone_id)


def _check_name_free(
    session: Session, model: type[_Row], agency_id: str, name: str, except_id: str
) -> None:
    other = session.exec(
        select(model).where(model.agency_id == agency_id, model.name == name, model.id != except_id)
    ).first()
    if other is not None:
        kind = model.__name__.lower()
        raise ConflictError(
            f"{kind} name {name!r} is already used by {kind} {other.id!r}", field="name"
        )


def _apply_changes(session: Session, row: Dock | Drone, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def create_dock(session: Session, data: DockCreate, default_agency_id: str) -> Dock:
    """Create a dock; refuses a taken id or name."""
    agency_id = data.agency_id or default_agency_id
    _require_agency(session, agency_id)
    if session.get(Dock, data.id) is not None:
        raise ConflictError(f"dock {data.id!r} already exists", field="id")
    _check_name_free(session, Dock, agency_id, data.name, data.id)
    dock = Dock(**data.model_dump(exclude={"agency_id"}), agency_id=agency_id)
    session.add(dock)
    session.flush()
    return dock


def update_dock(session: Session, dock_id: str, data: DockUpdate) -> Dock:
    """Apply the given fields to a dock."""
    dock = get_dock(session, dock_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes:
        _check_name_free(session, Dock, dock.agency_id, changes["name"], dock.id)
    _apply_changes(session, dock, changes)
    return dock


def delete_dock(session: Session, dock_id: str) -> None:
    """Delete a dock that no drone is based at."""
    dock = get_dock(session, dock_id)
    based = session.exec(select(Drone.id).where(Drone.dock_id == dock_id)).all()
    if based:
        raise ConflictError(f"dock {dock_id!r} still has drones: {', '.join(based)}")
    session.delete(dock)
    session.flush()


def _check_urls(
    session: Session,
    drone_id: str,
    mavlink_url: str,
    video_url: str | None,
    policy: UrlPolicy,
    ignore: Collection[str] = (),
) -> None:
    """Refuse URLs outside the agency's networks, or binding what another drone binds."""
    try:
        mine = policy.bindings(mavlink_url, video_url)
    except UrlRefusedError as exc:
        raise InvalidInputError(str(exc), field=exc.field) from exc
    others = session.exec(
        select(Drone.id, Drone.mavlink_url, Drone.video_url).where(Drone.id != drone_id)
    ).all()
    theirs: list[tuple[str, Binding]] = []
    for other_id, other_mavlink, other_video in others:
        if other_id in ignore:
            continue
        with contextlib.suppress(UrlRefusedError):  # a row stored before these rules
            theirs.extend((other_id, b) for b in drone_bindings(other_mavlink, other_video))
    clash = first_clash(mine, theirs)
    if clash is not None:
        binding, other_id, other = clash
        raise ConflictError(
            f"{binding.field} would use {binding.describe()}, which drone {other_id!r} already"
            f" uses ({other.field})",
            field=binding.field,
        )


def create_drone(
    session: Session,
    data: DroneCreate,
    policy: UrlPolicy = DEFAULT_URL_POLICY,
    *,
    ignore: Collection[str] = (),
) -> Drone:
    """Create a drone at an existing dock; refuses a taken id or name, or URLs the policy refuses
    (`ignore`: drones whose URLs change in the same fleet file, checked there)."""
    dock = get_dock(session, data.dock_id)
    if session.get(Drone, data.id) is not None:
        raise ConflictError(f"drone {data.id!r} already exists", field="id")
    name = data.name or data.id
    _check_name_free(session, Drone, dock.agency_id, name, data.id)
    _check_urls(session, data.id, data.mavlink_url, data.video_url, policy, ignore)
    drone = Drone(
        **data.model_dump(exclude={"name"}),
        name=name,
        agency_id=dock.agency_id,
    )
    session.add(drone)
    session.flush()
    return drone


def update_drone(
    session: Session,
    drone_id: str,
    data: DroneUpdate,
    policy: UrlPolicy = DEFAULT_URL_POLICY,
    *,
    ignore: Collection[str] = (),
) -> Drone:
    """Apply the given fields to a drone (URLs checked as create_drone does)."""
    drone = get_drone(session, drone_id)
    changes = data.model_dump(exclude_unset=True)
    if "dock_id" in changes and changes["dock_id"] is not None:
        dock = get_dock(session, changes["dock_id"])
        if dock.agency_id != drone.agency_id:
            raise ConflictError("a drone cannot move to another agency's dock", field="dock_id")
    if changes.get("name"):
        _check_name_free(session, Drone, drone.agency_id, changes["name"], drone.id)
    # A null clears only the video URL; other nulls mean "unchanged".
    kept = {k: v for k, v in changes.items() if v is not None or k == "video_url"}
    if "mavlink_url" in kept or "video_url" in kept:
        mavlink_url = kept.get("mavlink_url", drone.mavlink_url)
        video_url = kept.get("video_url", drone.video_url)
        _check_urls(session, drone.id, mavlink_url, video_url, policy, ignore)
    _apply_changes(session, drone, kept)
    return drone


def delete_drone(session: Session, drone_id: str) -> None:
    """Delete a drone that has never flown (flights keep their drone for the record)."""
    drone = get_drone(session, drone_id)
    flown = session.exec(select(col(Flight.id)).where(Flight.drone_id == drone_id)).first()
    if flown is not None:
        raise ConflictError(
            f"drone {drone_id!r} has flight records; set in_maintenance instead of deleting"
        )
    session.exec(delete(DroneSigningKey).where(col(DroneSigningKey.drone_id) == drone_id))
    session.delete(drone)
    session.flush()


# --- fleet file -----------------------------------------------------------------------------------


class _FleetAgency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    timezone: str = "UTC"


class _FleetDock(DockCreate):
    pass


class _FleetDrone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    dock: str
    name: str = ""
    mavlink_url: str
    cruise_speed_mps: float = 15.0
    climb_rate_mps: float = 4.0
    endurance_s: float = 2400.0
    battery_capacity_wh: float = 100.0
    hover_power_w: float = 250.0
    cruise_power_w: float = 220.0
    video_url: str | None = None
    in_maintenance: bool = False
    #: The MAVLink signing key the vehicle already holds (64 hex digits; stored encrypted).
    signing_key: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$", repr=False)


class _FleetCad(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str | None = None
    format: Literal["plain", "eido"] = "plain"
    token: str | None = None


class FleetFile(BaseModel):
    """The TOML fleet file: the agency, its docks and drones (and optionally its CAD link)."""

    model_config = ConfigDict(extra="forbid")
    agency: _FleetAgency
    docks: list[_FleetDock] = []
    drones: list[_FleetDrone] = []
    cad: _FleetCad | None = None
    zones: list[str] = Field(default_factory=list, description="zone files, relative to this file")
    policy: AgencyPolicy | None = None
    #: How long recordings, snapshots, flight paths and audit rows are kept (dfr.retention).
    retention: RetentionPolicy | None = None
    transparency: TransparencyPolicy | None = None


def read_fleet_file(path: Path) -> FleetFile:
    """Parse and validate a fleet file (FleetFileError names the entry and field)."""
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FleetFileError(f"fleet file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise FleetFileError(f"fleet file {path} is not valid TOML: {exc}") from exc
    try:
        fleet = FleetFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FleetFileError(f"fleet file {path}: {where}: {first['msg']}") from exc
    for kind, ids in (
        ("dock", [d.id for d in fleet.docks]),
        ("drone", [d.id for d in fleet.drones]),
    ):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise FleetFileError(f"fleet file {path}: duplicate {kind} ids {dupes}")
    dock_ids = {d.id for d in fleet.docks}
    for drone in fleet.drones:
        if drone.dock not in dock_ids:
            raise FleetFileError(
                f"fleet file {path}: drone {drone.id!r} names unknown dock {drone.dock!r}"
            )
    _check_fleet_urls(path, fleet.drones)
    return fleet


def _check_fleet_urls(path: Path, drones: list[_FleetDrone]) -> None:
    """Each drone's URLs well formed, and no two drones of the file on one binding."""
    bound: list[tuple[str, Binding]] = []
    for drone in drones:
        try:
            mine = drone_bindings(drone.mavlink_url, drone.video_url)
        except UrlRefusedError as exc:
            raise FleetFileError(
                f"fleet file {path}: drone {drone.id!r}: {exc.field}: {exc}"
            ) from exc
        clash = first_clash(mine, bound)
        if clash is not None:
            binding, other_id, other = clash
            raise FleetFileError(
                f"fleet file {path}: drone {drone.id!r}: {binding.field} would use"
                f" {binding.describe()}, as drone {other_id!r} does ({other.field})"
            )
        bound.extend((drone.id, b) for b in mine)


def apply_fleet_file(
    session: Session, fleet: FleetFile, policy: UrlPolicy = DEFAULT_URL_POLICY
) -> None:
    """Create or update the agency, docks and drones by id (never duplicates)."""
    agency = fleet.agency
    ensure_agency(session, agency.id, agency.name, agency.timezone)
    for dock in fleet.docks:
        fields = dock.model_dump(exclude={"id", "agency_id"})
        existing = session.get(Dock, dock.id)
        if existing is None:
            create_dock(session, dock.model_copy(update={"agency_id": agency.id}), agency.id)
        else:
            update_dock(session, dock.id, DockUpdate(**fields))
    # The file's drones were checked against each other when it was read; here, against the rest.
    in_file = frozenset(d.id for d in fleet.drones)
    for drone in fleet.drones:
        fields = drone.model_dump(exclude={"id", "dock", "signing_key"})
        fields["name"] = drone.name or drone.id  # as create_drone names an unnamed drone
        try:
            if session.get(Drone, drone.id) is None:
                create = DroneCreate(id=drone.id, dock_id=drone.dock, **fields)
                create_drone(session, create, policy, ignore=in_file)
            else:
                update = DroneUpdate(dock_id=drone.dock, **fields)
                update_drone(session, drone.id, update, policy, ignore=in_file)
        except (ConflictError, InvalidInputError) as exc:
            raise FleetFileError(f"fleet file: drone {drone.id!r}: {exc}") from exc
