"""Responders on the map: CAD units' latest positions from an AVL feed or EIDO documents.

Each unit keeps only its newest report: a report older than the stored one (an AVL feed
delivering out of order) is counted as stale and changes nothing. A report dated more than
`MAX_FUTURE_S` ahead of the service's clock is refused (the whole batch, nothing stored), since a
unit from the future would never be replaced by its real later reports. Every stored change is
published on the live stream as a `unit` message, so the consoles see units move.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from cad_bridge import CadUnitPosition
from dfr.errors import InvalidInputError
from dfr.models import CadUnit, as_utc, utcnow
from telemetry import Hub, unit_message

log = logging.getLogger(__name__)

#: A position older than this is drawn faded: the unit may have moved since.
STALE_AFTER_S = 120.0
#: How far ahead of the service's clock a report may be dated (clock skew between CAD and DFR).
MAX_FUTURE_S = 60.0
#: The most unit reports one AVL post may carry.
MAX_REPORTS_PER_POST = 500
#: Unit ids are used as stream keys: letters, digits and `_ . : @ -`.
UNIT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"


class UnitStatus(StrEnum):
    """A responder unit's status as the map shows it."""

    AVAILABLE = "available"
    ENROUTE = "enroute"
    ON_SCENE = "on_scene"
    BUSY = "busy"
    OUT_OF_SERVICE = "out_of_service"


UnitId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=UNIT_ID_PATTERN),
]


class CadUnitReport(BaseModel):
    """One AVL report: where a unit is, what it is doing, and when CAD saw it there."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    unit_id: UnitId = Field(description="CAD unit id (letters, digits, _ . : @ -)")
    status: UnitStatus
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)
    heading_deg: float | None = Field(default=None, ge=0.0, le=360.0)
    speed_mps: float | None = Field(default=None, ge=0.0, le=150.0)
    reported_at: AwareDatetime | None = Field(
        default=None,
        description="RFC 3339 with an offset; default: when received; more than 60 s ahead is refused",
    )
    call_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="the CAD's incident reference"
    )


class UnitsAccepted(BaseModel):
    """What became of an AVL post: reports stored, and reports older than the stored ones."""

    accepted: int
    ignored_stale: int


class CadUnitPublic(BaseModel):
    """A unit as the map shows it; `stale` when its position is older than 120 s."""

    unit_id: str
    status: str
    lat: float
    lon: float
    heading_deg: float | None
    speed_mps: float | None
    call_id: str | None
    source: str
    reported_at: datetime
    age_s: float
    stale: bool


class CadUnitsPublic(BaseModel):
    data: list[CadUnitPublic]
    count: int
    stale_after_s: float = STALE_AFTER_S


_EIDO_STATUS = {
    "Available": UnitStatus.AVAILABLE,
    "ConditionallyAvailable": UnitStatus.AVAILABLE,
    "NotAvailable": UnitStatus.BUSY,
    "InService": UnitStatus.AVAILABLE,
    "Cleared": UnitStatus.AVAILABLE,
    "AssignmentCancelled": UnitStatus.AVAILABLE,
    "Assigned": UnitStatus.BUSY,
    "Staging": UnitStatus.BUSY,
    "Dispatched": UnitStatus.ENROUTE,
    "EnRoute": UnitStatus.ENROUTE,
    "Arrived": UnitStatus.ON_SCENE,
    "OnScene": UnitStatus.ON_SCENE,
    "OutofService": UnitStatus.OUT_OF_SERVICE,
    "OutOfService": UnitStatus.OUT_OF_SERVICE,
}


def eido_unit_status(position: CadUnitPosition) -> UnitStatus | None:
    """The map status of an EIDO unit: its latest known secondary status, else its primary one."""
    for text in reversed(position.secondary_statuses):
        if text in _EIDO_STATUS:
            return _EIDO_STATUS[text]
    return _EIDO_STATUS.get(position.primary_status or "")


_UPSERTS: dict[str, Any] = {}
_COLUMNS = (
    "status",
    "lat",
    "lon",
    "heading_deg",
    "speed_mps",
    "call_ref",
    "source",
    "reported_at",
    "received_at",
)


def _upsert_statement(dialect: str) -> Any:
    """`INSERT ... ON CONFLICT DO UPDATE ... WHERE not older RETURNING unit_id`, once per dialect."""
    stmt = _UPSERTS.get(dialect)
    if stmt is not None:
        return stmt
    table = CadUnit.__table__  # type: ignore[attr-defined]
    if dialect == "sqlite":
        insert: Any = sqlite.insert(table)
    elif dialect == "postgresql":
        insert = postgresql.insert(table)
    else:
        raise NotImplementedError(f"unit upsert is not written for {dialect!r}")
    c = table.c
    names = ("agency_id", "unit_id", *_COLUMNS)
    insert = insert.values({name: bindparam(name, type_=c[name].type) for name in names})
    stmt = insert.on_conflict_do_update(
        index_elements=[c.agency_id, c.unit_id],
        set_={name: insert.excluded[name] for name in _COLUMNS},
        # Out-of-order AVL: an older report never replaces a newer one (an equal one may correct it).
        where=insert.excluded.reported_at >= c.reported_at,
    ).returning(c.unit_id)
    _UPSERTS[dialect] = stmt
    return stmt


def _row(
    agency_id: str, report: CadUnitReport, source: str, received_at: datetime
) -> dict[str, Any]:
    return {
        "agency_id": agency_id,
        "unit_id": report.unit_id,
        "status": report.status.value,
        "lat": report.lat,
        "lon": report.lon,
        "heading_deg": report.heading_deg,
        "speed_mps": report.speed_mps,
        "call_ref": report.call_id,
        "source": source,
        "reported_at": as_utc(report.reported_at or received_at),
        "received_at": received_at,
    }


def _iso(at: datetime) -> str:
    return as_utc(at).isoformat().replace("+00:00", "Z")


class CadUnits:
    """Stores CAD units' latest positions and tells the live stream when one changes."""

    def __init__(
        self,
        *,
        engine: Engine,
        hub: Hub,
        default_agency_id: str,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._hub = hub
        self._agency_id = default_agency_id
        self._now = now

    def check(self, reports: Sequence[CadUnitReport]) -> None:
        """Refuse the batch (InvalidInputError naming the report) if any is dated in the future."""
        limit = self._now() + timedelta(seconds=MAX_FUTURE_S)
        for index, report in enumerate(reports):
            if report.reported_at is not None and report.reported_at > limit:
                raise InvalidInputError(
                    f"reported_at {report.reported_at.isoformat()} is more than "
                    f"{MAX_FUTURE_S:g} s ahead of the service's clock",
                    field=f"body.{index}.reported_at",
                )

    async def report(
        self, reports: Sequence[CadUnitReport], *, source: str = "avl"
    ) -> UnitsAccepted:
        """Store the reports newer than the stored ones (in one transaction) and publish them."""
        self.check(reports)
        received_at = self._now()
        rows = [_row(self._agency_id, r, source, received_at) for r in reports]
        stored = await asyncio.to_thread(self._write, rows)
        for row in stored:
            self._publish(row)
        return UnitsAccepted(accepted=len(stored), ignored_stale=len(rows) - len(stored))

    async def report_eido(self, positions: Sequence[CadUnitPosition], call_ref: str) -> int:
        """Store the units of an EIDO document that carry a status and a position; how many changed."""
        reports = []
        for position in positions:
            status = eido_unit_status(position)
            if status is None:
                continue
            try:
                reports.append(
                    CadUnitReport(
                        unit_id=position.unit_id,
                        status=status,
                        lat=position.lat,
                        lon=position.lon,
                        reported_at=min(position.reported_at, self._now()),
                        call_id=position.incident_ref or call_ref[:200],
                    )
                )
            except ValueError:
                log.info("EIDO unit %r skipped: not a usable unit id or position", position.unit_id)
        if not reports:
            return 0
        return (await self.report(reports, source="eido")).accepted

    def _write(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stored: list[dict[str, Any]] = []
        with self._engine.begin() as conn:
            statement = _upsert_statement(conn.dialect.name)
            stored.extend(row for row in rows if self._upsert(conn, statement, row))
        return stored

    @staticmethod
    def _upsert(conn: Connection, statement: Any, row: dict[str, Any]) -> bool:
        return conn.execute(statement, row).first() is not None

    def _publish(self, row: dict[str, Any]) -> None:
        data = {
            "status": row["status"],
            "lat": row["lat"],
            "lon": row["lon"],
            "heading_deg": row["heading_deg"],
            "speed_mps": row["speed_mps"],
            "call_id": row["call_ref"],
            "source": row["source"],
            "reported_at": _iso(row["reported_at"]),
        }
        self._hub.publish(unit_message(row["unit_id"], data, row["received_at"]))

    async def listing(self, *, max_age_s: float | None = None) -> CadUnitsPublic:
        """Every unit (or those reported within `max_age_s`), with its age and staleness now."""
        return await asyncio.to_thread(self._listing, max_age_s)

    def _listing(self, max_age_s: float | None) -> CadUnitsPublic:
        now = self._now()
        with Session(self._engine) as session:
            query = select(CadUnit).where(CadUnit.agency_id == self._agency_id)
            if max_age_s is not None:
                query = query.where(CadUnit.reported_at >= now - timedelta(seconds=max_age_s))
            rows = session.exec(query.order_by(col(CadUnit.unit_id))).all()
        data = []
        for row in rows:
            age_s = max(0.0, (now - as_utc(row.reported_at)).total_seconds())
            data.append(
                CadUnitPublic(
                    unit_id=row.unit_id,
                    status=row.status,
                    lat=row.lat,
                    lon=row.lon,
                    heading_deg=row.heading_deg,
                    speed_mps=row.speed_mps,
                    call_id=row.call_ref,
                    source=row.source,
                    reported_at=as_utc(row.reported_at),
                    age_s=round(age_s, 1),
                    stale=age_s > STALE_AFTER_S,
                )
            )
        return CadUnitsPublic(data=data, count=len(data))
