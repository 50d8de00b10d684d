"""Persistence tables (SQLModel) and the HTTP model families (Create / Update / Public) per resource.

A table class is never returned by the API: routes declare a `*Public` response model.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ConfigDict, field_validator
from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, Session, SQLModel

from dfr.errors import NotFoundError
from dfr.url_policy import check_mavlink_url, check_video_url

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Stored datetimes come back naive from SQLite; they are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_Row = TypeVar("_Row", bound=SQLModel)


def get_row(session: Session, table: type[_Row], row_id: int | str) -> _Row:
    """The row of `table` with primary key `row_id`, or NotFoundError naming the table."""
    row = session.get(table, row_id)
    if row is None:
        raise NotFoundError(table.__name__.lower(), row_id)
    return row


class Role(StrEnum):
    """Who a token belongs to; every endpoint declares the roles it admits."""

    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    PILOT = "pilot"
    ANALYST = "analyst"
    TESTER = "tester"
    CAD = "cad"
    #: Approves or refuses launches the policy holds for a supervisor; marks flights reviewed.
    SUPERVISOR = "supervisor"


# --- agency -----------------------------------------------------------------------------------


class AgencyBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)


class Agency(AgencyBase, table=True):
    __tablename__ = "agencies"

    id: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AgencyPublic(AgencyBase):
    id: str


# --- docks ------------------------------------------------------------------------------------


def _check_lat(value: float) -> float:
    if not math.isfinite(value) or not -90.0 <= value <= 90.0:
        raise ValueError("latitude must be a finite number within -90..90 degrees")
    return value


def _check_lon(value: float) -> float:
    if not math.isfinite(value) or not -180.0 <= value <= 180.0:
        raise ValueError("longitude must be a finite number within -180..180 degrees")
    return value


class DockBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    lat: float
    lon: float
    alt_amsl_m: float = Field(default=0.0, ge=-500.0, le=9000.0)
    response_radius_m: float = Field(default=3218.7, gt=0, le=50_000)

    @field_validator("lat")
    @classmethod
    def _lat(cls, v: float) -> float:
        return _check_lat(v)

    @field_validator("lon")
    @classmethod
    def _lon(cls, v: float) -> float:
        return _check_lon(v)


class Dock(DockBase, table=True):
    __tablename__ = "docks"
    __table_args__ = (UniqueConstraint("agency_id", "name", name="uq_docks_agency_name"),)

    id: str = Field(primary_key=True, max_length=64)
    agency_id: str = Field(foreign_key="agencies.id", index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DockCreate(DockBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    id: str = Field(schema_extra={"pattern": ID_PATTERN})
    agency_id: str | None = None


class DockUpdate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str | None = Field(default=None, min_length=1, max_length=200)
    lat: float | None = None
    lon: float | None = None
    alt_amsl_m: float | None = Field(default=None, ge=-500.0, le=9000.0)
    response_radius_m: float | None = Field(default=None, gt=0, le=50_000)

    @field_validator("lat")
    @classmethod
    def _lat(cls, v: float | None) -> float | None:
        return None if v is None else _check_lat(v)

    @field_validator("lon")
    @classmethod
    def _lon(cls, v: float | None) -> float | None:
        return None if v is None else _check_lon(v)


class DockPublic(DockBase):
    id: str
    agency_id: str


class DocksPublic(SQLModel):
    data: list[DockPublic]
    count: int


# --- drones -----------------------------------------------------------------------------------


class DroneBase(SQLModel):
    name: str = Field(default="", max_length=200)
    mavlink_url: str = Field(min_length=1, max_length=300)
    cruise_speed_mps: float = Field(default=15.0, gt=0, le=60)
    climb_rate_mps: float = Field(default=4.0, gt=0, le=20)
    endurance_s: float = Field(default=2400.0, gt=0, le=36_000)
    battery_capacity_wh: float = Field(default=100.0, gt=0, le=10_000)
    hover_power_w: float = Field(default=250.0, gt=0, le=20_000)
    cruise_power_w: float = Field(default=220.0, gt=0, le=20_000)
    video_url: str | None = Field(default=None, max_length=300)
    in_maintenance: bool = False


class Drone(DroneBase, table=True):
    __tablename__ = "drones"
    __table_args__ = (UniqueConstraint("agency_id", "name", name="uq_drones_agency_name"),)

    id: str = Field(primary_key=True, max_length=64)
    agency_id: str = Field(foreign_key="agencies.id", index=True, max_length=64)
    dock_id: str = Field(foreign_key="docks.id", index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DroneCreate(DroneBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    id: str = Field(schema_extra={"pattern": ID_PATTERN})
    dock_id: str = Field(min_length=1, max_length=64)

    @field_validator("mavlink_url")
    @classmethod
    def _mavlink_url(cls, v: str) -> str:
        return check_mavlink_url(v)

    @field_validator("video_url")
    @classmethod
    def _video_url(cls, v: str | None) -> str | None:
        return None if v is None else check_video_url(v)


class DroneUpdate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str | None = Field(default=None, max_length=200)
    dock_id: str | None = Field(default=None, min_length=1, max_length=64)
    mavlink_url: str | None = Field(default=None, min_length=1, max_length=300)
    cruise_speed_mps: float | None = Field(default=None, gt=0, le=60)
    climb_rate_mps: float | None = Field(default=None, gt=0, le=20)
    endurance_s: float | None = Field(default=None, gt=0, le=36_000)
    battery_capacity_wh: float | None = Field(default=None, gt=0, le=10_000)
    hover_power_w: float | None = Field(default=None, gt=0, le=20_000)
    cruise_power_w: float | None = Field(default=None, gt=0, le=20_000)
    video_url: str | None = Field(default=None, max_length=300)
    in_maintenance: bool | None = None

    @field_validator("mavlink_url")
    @classmethod
    def _mavlink_url(cls, v: str | None) -> str | None:
        return None if v is None else check_mavlink_url(v)

    @field_validator("video_url")
    @classmethod
    def _video_url(cls, v: str | None) -> str | None:
        return None if v is None else check_video_url(v)


class DronePublic(DroneBase):
    id: str
    agency_id: str
    dock_id: str
    live: dict[str, Any] | None = Field(
        default=None, description="the drone's latest reported state (stream `drone` payload)"
    )
    flight_id: int | None = None


class DronesPublic(SQLModel):
    data: list[DronePublic]
    count: int


# --- calls (CAD incidents) ----------------------------------------------------------------------


class CallLifecycle(StrEnum):
    """DFR's view of a call: new -> recommended -> dispatched -> on_scene -> cleared | cancelled."""

    NEW = "new"
    RECOMMENDED = "recommended"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"
    CANCELLED = "cancelled"


class CallBase(SQLModel):
    cad_incident_id: str = Field(max_length=200)
    call_type: str = Field(max_length=64)
    call_type_text: str = Field(default="", max_length=300)
    category: str = Field(default="unmapped", max_length=64)
    priority: int = Field(ge=1, le=5)
    lat: float
    lon: float
    address: str | None = Field(default=None, max_length=500)
    received_at: datetime
    cad_status: str = Field(default="Active", max_length=64)
    lifecycle: CallLifecycle = CallLifecycle.NEW


class Call(CallBase, table=True):
    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("agency_id", "cad_incident_id", name="uq_calls_agency_incident"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: str = Field(foreign_key="agencies.id", index=True, max_length=64)
    flags: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    raw_format: str = Field(default="plain", max_length=16)
    raw_document: str = Field(default="")
    content_hash: str = Field(default="", max_length=64)
    #: The instance that stored the call and decides it (a dead one's undecided calls are recovered).
    received_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CallPublic(CallBase):
    id: int
    agency_id: str
    flags: dict[str, Any]
    raw_format: str
    created_at: datetime
    updated_at: datetime


class CallsPublic(SQLModel):
    data: list[CallPublic]
    count: int


# --- dispatch decisions ---------------------------------------------------------------------------


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    eligible: bool = False
    recommended_drone_id: str | None = Field(default=None, max_length=64)
    runner_up_drone_id: str | None = Field(default=None, max_length=64)
    eta_s: float | None = None
    summary: str = Field(default="", max_length=1000)
    rules: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- flights ----------------------------------------------------------------------------------------


class Flight(SQLModel, table=True):
    __tablename__ = "flights"

    id: int | None = Field(default=None, primary_key=True)
    drone_id: str = Field(foreign_key="drones.id", index=True, max_length=64)
    call_id: int | None = Field(default=None, foreign_key="calls.id", index=True)
    state: str = Field(default="planned", max_length=32, index=True)
    state_reason: str = Field(default="", max_length=1000)
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    mission_signature: str = Field(default="", max_length=128)
    target_lat: float = 0.0
    target_lon: float = 0.0
    orbit_radius_m: float = 0.0
    machine: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    # Privacy in transit lifted for this flight ("search", "location unclear"): by whom, when, why.
    privacy_lifted_at: datetime | None = None
    privacy_lifted_by: str = Field(default="", max_length=200)
    privacy_lift_reason: str = Field(default="", max_length=500)
    # Predicted and actual seconds per phase (take-off, transit, on scene, return, landing).
    phase_times: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )


class FlightEventPublic(SQLModel):
    id: int
    at: datetime
    from_state: str
    to_state: str
    reason: str
    snapshot: dict[str, Any]


class FlightPublic(SQLModel):
    id: int
    drone_id: str
    call_id: int | None
    state: str
    state_reason: str
    target_lat: float
    target_lon: float
    orbit_radius_m: float
    created_by: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    summary: dict[str, Any] = {}
    privacy_lifted_at: datetime | None = None
    privacy_lifted_by: str = ""
    privacy_lift_reason: str = ""
    #: Predicted and actual seconds per phase and their error (`dfr.flights.records.phase_times`).
    phase_times: dict[str, Any] = {}


class FlightDetailPublic(FlightPublic):
    events: list[FlightEventPublic]
    route: dict[str, Any]
    track: dict[str, Any]


class FlightsPublic(SQLModel):
    data: list[FlightPublic]
    count: int


class FlightEvent(SQLModel, table=True):
    __tablename__ = "flight_events"

    id: int | None = Field(default=None, primary_key=True)
    flight_id: int = Field(foreign_key="flights.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    from_state: str = Field(default="", max_length=32)
    to_state: str = Field(max_length=32)
    reason: str = Field(default="", max_length=1000)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class TrackPoint(SQLModel, table=True):
    __tablename__ = "track_points"
    __table_args__ = (Index("ix_track_points_flight_at", "flight_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    flight_id: int = Field(foreign_key="flights.id")
    at: datetime
    lat: float
    lon: float
    alt_amsl_m: float
    alt_agl_m: float | None = None


# --- notes and outbox -------------------------------------------------------------------------------


class Note(SQLModel, table=True):
    __tablename__ = "notes"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    author: str = Field(max_length=200)
    source: str = Field(default="dfr", max_length=32)
    text: str = Field(max_length=20_000)


class OutboxItem(SQLModel, table=True):
    """One outbound fact for CAD, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    agency_id: str = Field(foreign_key="agencies.id", max_length=64)
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


# --- instances and leases ----------------------------------------------------------------------------


class ServiceInstance(SQLModel, table=True):
    """One running (or once running) `dfr serve` process, by its DFR_INSTANCE_ID."""

    __tablename__ = "instances"

    id: str = Field(primary_key=True, max_length=200)
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow)
    stopped_at: datetime | None = None
    bus: str = Field(default="", max_length=32)


class Lease(SQLModel, table=True):
    """Who may act on a resource now (`drone:<id>` link, `outbox`, `recovery`) and its fencing token.

    The token grows by one at every change of holder, so a holder that lost the lease (paused,
    partitioned) is refused by a check against the row even before it notices.
    """

    __tablename__ = "leases"

    resource: str = Field(primary_key=True, max_length=128)
    holder: str | None = Field(default=None, max_length=200, index=True)
    token: int = 0
    acquired_at: datetime | None = None
    renewed_at: datetime | None = None
    expires_at: datetime = Field(default_factory=utcnow)
    takeovers: int = 0


# --- zones ---------------------------------------------------------------------------------------------


class ZoneRecord(SQLModel, table=True):
    """An imported zone kept as its normalised GeoJSON feature."""

    __tablename__ = "zones"

    id: str = Field(primary_key=True, max_length=128)
    agency_id: str = Field(foreign_key="agencies.id", index=True, max_length=64)
    name: str = Field(default="", max_length=300)
    kind: str = Field(max_length=32)
    source_format: str = Field(default="geojson", max_length=16)
    feature: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


# --- tokens and audit ---------------------------------------------------------------------------------


class DroneSigningKey(SQLModel, table=True):
    """A drone's MAVLink 2 signing key, encrypted with the service's key-encryption key."""

    __tablename__ = "drone_signing_keys"

    drone_id: str = Field(primary_key=True, foreign_key="drones.id", max_length=64)
    #: Increases by one at each rotation.
    key_version: int = Field(default=1)
    key_ciphertext: str = Field(max_length=512)
    created_at: datetime = Field(default_factory=utcnow)
    #: When the vehicle confirmed the key (signed traffic accepted after SETUP_SIGNING); None until then.
    provisioned_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    role: Role = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    #: None: the token does not expire.
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


#: The longest lifetime a token may be given (a token for ever is made without an expiry).
MAX_TOKEN_LIFETIME_S = 10 * 365 * 86_400


class TokenCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=200)
    role: Role
    #: The token expires this many seconds after creation (or at `expires_at`; not both).
    expires_in_s: int | None = Field(default=None, ge=60, le=MAX_TOKEN_LIFETIME_S)
    expires_at: datetime | None = None


class TokenPublic(SQLModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None
    #: When the token last authenticated, to the minute.
    last_used_at: datetime | None = None


class TokenCreated(TokenPublic):
    token: str


class TokensPublic(SQLModel):
    data: list[TokenPublic]
    count: int


class AuditEntry(SQLModel, table=True):
    """Append-only: who did what, when, with what outcome."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(default="", max_length=200)
    role: str = Field(default="", max_length=16)
    method: str = Field(max_length=10)
    path: str = Field(max_length=500)
    action: str = Field(default="", max_length=200)
    status_code: int
    outcome: str = Field(max_length=16)
    detail: str = Field(default="", max_length=2000)
    #: The client's address as the service saw it (after a trusted proxy's X-Forwarded-For).
    client_address: str = Field(default="", max_length=64)
    #: What was acted on ("recording 12", "token 3", a drone id); "" for a plain request row.
    target: str = Field(default="", max_length=200, index=True)
    #: Position in the hash chain (1, 2, ...); None on rows written before the chain existed.
    chain_seq: int | None = Field(default=None, index=True, unique=True)
    #: SHA-256 (hex) of the previous row in the chain, and of this row's canonical content.
    prev_hash: str = Field(default="", max_length=64)
    row_hash: str = Field(default="", max_length=64)


class AuditEntryPublic(SQLModel):
    id: int
    at: datetime
    actor: str
    role: str
    method: str
    path: str
    action: str
    status_code: int
    outcome: str
    detail: str
    client_address: str = ""
    target: str = ""
    chain_seq: int | None = None
    row_hash: str = ""


class AuditPublic(SQLModel):
    data: list[AuditEntryPublic]
    count: int
    #: Pass as `before_id` for the next (older) page; None when this page is the last.
    next_before_id: int | None = None


class HealthPublic(SQLModel):
    status: str
    version: str
    database: str
    #: Which instance answered (DFR_INSTANCE_ID).
    instance_id: str = ""
    #: Each dependency and running part: "ok"/"unavailable" (database), "running"/"stopped",
    #: "not configured".
    dependencies: dict[str, str] = Field(default_factory=dict)
    drones_linked: int = 0
    drones_connected: int = 0


# --- view-only call links for responding officers -----------------------------------------------


class CallShareLink(SQLModel, table=True):
    """A view-only live link to one call; only the SHA-256 of its token and a salted PIN hash are kept."""

    __tablename__ = "call_share_links"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=200)
    #: "scrypt$<salt hex>$<hash hex>", or None for a link without a PIN.
    pin_hash: str | None = Field(default=None, max_length=200)
    max_viewers: int = 5
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str = Field(default="", max_length=200)
    #: Wrong PINs in a row; at the limit the link refuses every PIN until `locked_until`.
    pin_failures: int = 0
    locked_until: datetime | None = None
    opens: int = 0


class CallShareViewer(SQLModel, table=True):
    """One opening of a share link (a phone), holding its own viewer key (hashed)."""

    __tablename__ = "call_share_viewers"

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="call_share_links.id", index=True)
    key_hash: str = Field(max_length=64, unique=True)
    opened_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    client_address: str = Field(default="", max_length=64)
    closed_at: datetime | None = None


# --- audit chain and retention (recording holds) ----------------------------------------------------


class AuditChainHead(SQLModel, table=True):
    """The one row naming the audit chain's last link; writers lock it, so the chain never forks."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    head_hash: str = Field(default="", max_length=64)


class RecordingHold(SQLModel, table=True):
    """A named hold on a flight's recording: the purge keeps it (and its snapshots) while active."""

    __tablename__ = "recording_holds"

    id: int | None = Field(default=None, primary_key=True)
    #: A recording is a flight's (`<data_dir>/recordings/flight-<id>/`), so it goes by the flight id.
    flight_id: int = Field(index=True)
    reason: str = Field(max_length=500)
    case_number: str | None = Field(default=None, max_length=64)
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    released_at: datetime | None = None
    released_by: str = Field(default="", max_length=200)
    release_reason: str = Field(default="", max_length=500)


# --- supervisor approval of launches and flight review for publication --------------------------


class LaunchApproval(SQLModel, table=True):
    """A launch the policy holds for a supervisor (dfr.dispatch.guards), and the supervisor's answer."""

    __tablename__ = "launch_approvals"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", unique=True)
    #: pending, approved or refused (dfr.dispatch.guards.ApprovalState).
    state: str = Field(default="pending", max_length=16, index=True)
    #: Why the policy holds the call (the guard's reason as the decision showed it).
    held_because: str = Field(default="", max_length=1000)
    requested_at: datetime = Field(default_factory=utcnow)
    decided_by: str = Field(default="", max_length=200)
    decided_at: datetime | None = None
    decision_reason: str = Field(default="", max_length=1000)


class FlightReview(SQLModel, table=True):
    """A supervisor's review of a flight, which publishes it on the transparency portal."""

    __tablename__ = "flight_reviews"

    flight_id: int = Field(primary_key=True, foreign_key="flights.id")
    reviewed_by: str = Field(max_length=200)
    reviewed_at: datetime = Field(default_factory=utcnow)
    #: Public wording of why the drone flew and how it ended (shown as text, never HTML).
    purpose: str = Field(default="", max_length=200)
    outcome: str = Field(default="", max_length=200)


# --- cameras: community registry, footage requests, owners' upload links, clips ------------------


class CameraRegistration(SQLModel, table=True):
    """A resident's or business's camera, told by its owner (never viewable live)."""

    __tablename__ = "camera_registrations"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: str = Field(foreign_key="agencies.id", index=True, max_length=64)
    owner_name: str = Field(max_length=200)
    email: str = Field(max_length=254, index=True)
    phone: str | None = Field(default=None, max_length=40)
    lat: float
    lon: float
    facing_deg: float | None = None
    fov_deg: float | None = None
    street_facing: bool = False
    records: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    description: str = Field(default="", max_length=500)
    #: pending until the owner opens the emailed confirmation link, then active.
    status: str = Field(default="pending", max_length=16, index=True)
    confirm_hash: str | None = Field(default=None, max_length=64, unique=True)
    confirm_expires_at: datetime | None = None
    manage_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class FootageRequest(SQLModel, table=True):
    """An analyst's request to the owners of cameras near a call: a time window and a message."""

    __tablename__ = "footage_requests"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    requested_by: str = Field(max_length=200)
    radius_m: float
    window_start: datetime
    window_end: datetime
    message: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)


class FootageLink(SQLModel, table=True):
    """One owner's upload link for one request (one case); only the token's hash is kept."""

    __tablename__ = "footage_links"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="footage_requests.id", index=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    #: Not a foreign key: an owner may delete the registration, the link's record stays.
    registration_id: int = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    emailed_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str = Field(default="", max_length=200)


class ClipUpload(SQLModel, table=True):
    """A clip arriving in chunks through an upload link (removed when it completes)."""

    __tablename__ = "clip_uploads"

    id: str = Field(primary_key=True, max_length=64)
    link_id: int = Field(foreign_key="footage_links.id", index=True)
    file_name: str = Field(max_length=200)
    size_bytes: int = Field(sa_type=BigInteger)
    received_bytes: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow)


class FootageClip(SQLModel, table=True):
    """An owner's clip in the evidence store, with its chain of custody."""

    __tablename__ = "footage_clips"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    request_id: int = Field(foreign_key="footage_requests.id", index=True)
    link_id: int = Field(foreign_key="footage_links.id", index=True)
    registration_id: int
    file_name: str = Field(max_length=200)
    size_bytes: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    duration_s: float
    codec: str = Field(max_length=32)
    width: int = 0
    height: int = 0
    #: Relative to the data dir's evidence store.
    stored_path: str = Field(max_length=500)
    uploaded_by: str = Field(max_length=200)
    uploaded_at: datetime = Field(default_factory=utcnow)
    client_address: str = Field(default="", max_length=64)


class IntegratedCamera(SQLModel, table=True):
    """A business's camera shared live under the owner's rules (only near a qualifying open call)."""

    __tablename__ = "integrated_cameras"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: str = Field(foreign_key="agencies.id", index=True, max_length=64)
    name: str = Field(max_length=200)
    owner_email: str = Field(max_length=254)
    lat: float
    lon: float
    #: RTP H.264 the service listens for (udp://host:port or rtp://host:port), like a drone's video.
    stream_url: str = Field(max_length=500)
    #: Which of the owner's feeds this is, as the owner names it.
    feed: str = Field(default="", max_length=200)
    live_allowed: bool = False
    #: Live only for calls of priority <= this (1 = most urgent).
    max_priority: int = 1
    #: How far from the call the camera may be and still be shown live.
    radius_m: float = 500.0
    retention_days: int = 30
    unplug_hash: str = Field(max_length=64, unique=True)
    unplugged_at: datetime | None = None
    unplugged_by: str = Field(default="", max_length=200)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


# --- CAD units: responders' latest positions (AVL feed or EIDO) ----------------------------------


class CadUnit(SQLModel, table=True):
    """A CAD responder unit's latest reported position and status (an older report never replaces it)."""

    __tablename__ = "cad_units"

    agency_id: str = Field(foreign_key="agencies.id", primary_key=True, max_length=64)
    unit_id: str = Field(primary_key=True, max_length=64)
    status: str = Field(max_length=32)
    lat: float
    lon: float
    heading_deg: float | None = None
    speed_mps: float | None = None
    #: The CAD's incident reference the unit is working, as CAD names it.
    call_ref: str | None = Field(default=None, max_length=200)
    #: How the report came in: "avl" (POST /cad/units) or "eido" (a unit of an EIDO document).
    source: str = Field(default="avl", max_length=16)
    reported_at: datetime = Field(index=True)
    received_at: datetime = Field(default_factory=utcnow)
