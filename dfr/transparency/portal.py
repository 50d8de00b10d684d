"""The public flight log: which flights are published, in what coarse form, and the outcome figures.

Nothing here names a person, an address or an exact position: a flight is its date and time, the
DFR category of its call, purpose, duration, a path snapped to a coarse grid with the stretch near
each dock left out, whether video was recorded, and its outcome.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from dfr.models import (
    Agency,
    Call,
    CallLifecycle,
    Dock,
    Flight,
    FlightEvent,
    FlightReview,
    TrackPoint,
    as_utc,
)
from dfr.transparency.policy import TransparencyPolicy
from geofence import GeoPoint, distance_m

__all__ = [
    "CSV_COLUMNS",
    "PortalFlight",
    "PortalStats",
    "coarse_path",
    "flights_csv",
    "portal_flights",
    "portal_stats",
]

_M_PER_DEG_LAT = 111_320.0
_MAX_PATH_POINTS = 400
#: Flight phases after which a flight is over and may be published.
ENDED_STATES = frozenset({"completed", "landed", "aborted"})
#: Response-time histogram bins, in whole minutes (the last is open-ended).
RESPONSE_BINS_MIN = 10

CSV_COLUMNS = (
    "id",
    "date",
    "time",
    "call_category",
    "purpose",
    "duration_s",
    "response_time_s",
    "video_recorded",
    "outcome",
    "path",
)


@dataclass(frozen=True, slots=True)
class PortalFlight:
    """One published flight as the public sees it."""

    id: int
    date: str
    time: str
    call_category: str
    purpose: str
    duration_s: int | None
    response_time_s: int | None
    video_recorded: bool
    outcome: str
    path: tuple[tuple[float, float], ...]  # [lon, lat] grid cells, GeoJSON order
    week: str
    drone_first: bool | None
    cleared_without_officer: bool | None

    def to_public(self) -> dict[str, Any]:
        """The JSON row: every field of the public log, nothing else."""
        return {
            "id": self.id,
            "date": self.date,
            "time": self.time,
            "call_category": self.call_category,
            "purpose": self.purpose,
            "duration_s": self.duration_s,
            "response_time_s": self.response_time_s,
            "video_recorded": self.video_recorded,
            "outcome": self.outcome,
            "path": {"type": "LineString", "coordinates": [list(p) for p in self.path]},
        }


def coarse_path(
    points: Sequence[tuple[float, float]], docks: Sequence[GeoPoint], policy: TransparencyPolicy
) -> tuple[tuple[float, float], ...]:
    """(lat, lon) points -> [lon, lat] grid cells, without those near a dock or repeated."""
    cells: list[tuple[float, float]] = []
    step_lat = policy.path_grid_m / _M_PER_DEG_LAT
    for lat, lon in points:
        here = GeoPoint(lat, lon)
        if any(distance_m(here, dock) < policy.dock_trim_m for dock in docks):
            continue
        cell_lat = round(lat / step_lat) * step_lat
        # The longitude step follows the cell's latitude, not the point's: one grid for all points.
        cos_lat = max(math.cos(math.radians(cell_lat)), 0.01)
        step_lon = policy.path_grid_m / (_M_PER_DEG_LAT * cos_lat)
        cell = (round(round(lon / step_lon) * step_lon, 5), round(cell_lat, 5))
        centre = GeoPoint(cell[1], cell[0])
        if any(distance_m(centre, dock) < policy.dock_trim_m for dock in docks):
            continue  # snapping may move a point up to ~70 m: the cell itself stays clear too
        if not cells or cells[-1] != cell:
            cells.append(cell)
    if len(cells) > _MAX_PATH_POINTS:
        stride = math.ceil(len(cells) / _MAX_PATH_POINTS)
        cells = cells[::stride]
    return tuple(cells)


def _published(
    flight: Flight, review: FlightReview | None, policy: TransparencyPolicy, now: datetime
) -> bool:
    if flight.state not in ENDED_STATES and flight.ended_at is None:
        return False
    if review is not None:
        return True
    if policy.auto_publish_after_days <= 0:
        return False
    ended = as_utc(flight.ended_at or flight.updated_at)
    return now - ended >= timedelta(days=policy.auto_publish_after_days)


def _outcome(flight: Flight, call: Call | None) -> str:
    if flight.state == "aborted":
        return "Flight ended early"
    if call is None:
        return "Flight completed"
    if call.lifecycle == CallLifecycle.CANCELLED:
        return "Call cancelled"
    if call.lifecycle == CallLifecycle.CLEARED:
        return "Call cleared"
    return "Flight completed"


def _flag_time(call: Call, name: str) -> datetime | None:
    value = (call.flags or {}).get(name)
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _agency_tz(session: Session, agency_id: str) -> tzinfo:
    agency = session.get(Agency, agency_id)
    try:
        return ZoneInfo(agency.timezone) if agency else ZoneInfo("UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def portal_flights(
    session: Session,
    *,
    agency_id: str,
    policy: TransparencyPolicy,
    now: datetime,
    recorded: Callable[[int], bool],
) -> list[PortalFlight]:
    """Every published flight, newest first."""
    tz = _agency_tz(session, agency_id)
    docks = [GeoPoint(d.lat, d.lon) for d in session.exec(select(Dock)).all()]
    reviews = {r.flight_id: r for r in session.exec(select(FlightReview)).all()}
    out: list[PortalFlight] = []
    for flight in session.exec(select(Flight).order_by(col(Flight.id).desc())).all():
        assert flight.id is not None
        review = reviews.get(flight.id)
        if not _published(flight, review, policy, now):
            continue
        call = None if flight.call_id is None else session.get(Call, flight.call_id)
        started = as_utc(flight.started_at or flight.created_at)
        ended = None if flight.ended_at is None else as_utc(flight.ended_at)
        on_scene = session.exec(
            select(FlightEvent.at)
            .where(FlightEvent.flight_id == flight.id, FlightEvent.to_state == "on_scene")
            .order_by(col(FlightEvent.at))
        ).first()
        response_s: int | None = None
        drone_first: bool | None = None
        cleared_alone: bool | None = None
        if call is not None and on_scene is not None:
            delta = (as_utc(on_scene) - as_utc(call.received_at)).total_seconds()
            response_s = round(delta) if delta >= 0 else None
            officer = _flag_time(call, "officer_on_scene_at")
            if officer is not None:
                drone_first = as_utc(on_scene) < officer
        if call is not None:
            dispatched = (call.flags or {}).get("officer_dispatched")
            if isinstance(dispatched, bool) and call.lifecycle in (
                CallLifecycle.CLEARED,
                CallLifecycle.CANCELLED,
            ):
                cleared_alone = not dispatched
        points = session.exec(
            select(TrackPoint.lat, TrackPoint.lon)
            .where(TrackPoint.flight_id == flight.id)
            .order_by(col(TrackPoint.at))
        ).all()
        local = started.astimezone(tz)
        category = call.category if call is not None else "no call (pilot flight)"
        default_purpose = (
            f"Response to a {category.replace('_', ' ')} call for service"
            if call is not None
            else "Pilot flight (training, test or inspection)"
        )
        year, week, _ = local.isocalendar()
        out.append(
            PortalFlight(
                id=flight.id,
                date=local.date().isoformat(),
                time=local.strftime("%H:%M"),
                call_category=category,
                purpose=(review.purpose if review and review.purpose else default_purpose),
                duration_s=None
                if ended is None
                else max(0, round((ended - started).total_seconds())),
                response_time_s=response_s,
                video_recorded=recorded(flight.id),
                outcome=(review.outcome if review and review.outcome else _outcome(flight, call)),
                path=coarse_path([(p[0], p[1]) for p in points], docks, policy),
                week=f"{year}-W{week:02d}",
                drone_first=drone_first,
                cleared_without_officer=cleared_alone,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class PortalStats:
    """The outcome figures over the published flights."""

    flights: int
    per_week: tuple[tuple[str, int], ...]
    response_bins: tuple[tuple[str, int], ...]
    median_response_s: int | None
    drone_first_known: int
    drone_first: int
    cleared_known: int
    cleared_without_officer: int

    def to_public(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "flights": self.flights,
            "flights_per_week": [{"week": w, "flights": n} for w, n in self.per_week],
            "response_time_min_histogram": [
                {"bin": b, "flights": n} for b, n in self.response_bins
            ],
            "median_response_time_s": self.median_response_s,
            "drone_first_on_scene": {
                "known": self.drone_first_known,
                "drone_first": self.drone_first,
            },
            "cleared_without_officer": {
                "known": self.cleared_known,
                "cleared_without_officer": self.cleared_without_officer,
            },
        }


def portal_stats(flights: Sequence[PortalFlight]) -> PortalStats:
    """Flights per week, the response-time histogram and the shares, from the published flights."""
    weeks = Counter(f.week for f in flights)
    times = sorted(f.response_time_s for f in flights if f.response_time_s is not None)
    bins = [0] * (RESPONSE_BINS_MIN + 1)
    for t in times:
        bins[min(t // 60, RESPONSE_BINS_MIN)] += 1
    labels = [f"{i}-{i + 1}" for i in range(RESPONSE_BINS_MIN)] + [f"{RESPONSE_BINS_MIN}+"]
    first = [f.drone_first for f in flights if f.drone_first is not None]
    cleared = [f.cleared_without_officer for f in flights if f.cleared_without_officer is not None]
    return PortalStats(
        flights=len(flights),
        per_week=tuple(sorted(weeks.items())),
        response_bins=tuple(zip(labels, bins, strict=True)) if times else (),
        median_response_s=times[len(times) // 2] if times else None,
        drone_first_known=len(first),
        drone_first=sum(first),
        cleared_known=len(cleared),
        cleared_without_officer=sum(cleared),
    )


def flights_csv(flights: Sequence[PortalFlight]) -> str:
    """The public log as CSV (path as `lon lat` pairs separated by `;`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in flights:
        row = f.to_public()
        path = ";".join(f"{lon} {lat}" for lon, lat in f.path)
        writer.writerow([_csv_safe(row[c]) for c in CSV_COLUMNS if c != "path"] + [path])
    return buffer.getvalue()


def _csv_safe(value: Any) -> str:
    text = (
        ""
        if value is None
        else ("yes" if value is True else "no" if value is False else str(value))
    )
    # A spreadsheet would run a cell starting with these as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
