"""Statutory and monthly flight reports: one row per drone use, as the state's reporting law asks.

Illinois, 725 ILCS 167/35 (Freedom from Drone Surveillance Act, annual report to the Illinois
Criminal Justice Information Authority): per use, the date, time, reason, location, whether video
was recorded and whether it is kept for training; with the number of drones the agency owns.
Texas, Gov't Code 423.008(b): per use, date, time, location, type of incident and justification,
whether it aided a criminal investigation and how. The program's total cost (423.008(b)(4)) is
not a per-use figure and is not in DFR; the agency adds it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from dfr.models import (
    Agency,
    Call,
    Dock,
    Drone,
    Flight,
    FlightEvent,
    FlightReview,
    RecordingHold,
    as_utc,
)

__all__ = [
    "IL_COLUMNS",
    "MONTHLY_COLUMNS",
    "TX_COLUMNS",
    "Report",
    "annual_report",
    "monthly_report",
    "write_csv",
    "write_xlsx",
]

State = Literal["IL", "TX"]

IL_COLUMNS = (
    "agency",
    "report_year",
    "drones_owned",
    "use_id",
    "date_of_use",
    "time_of_use",
    "authority",
    "reason_for_use",
    "location",
    "video_recorded",
    "video_retained_for_training",
)
TX_COLUMNS = (
    "agency",
    "report_year",
    "use_id",
    "date_of_use",
    "time_of_use",
    "location",
    "incident_type",
    "justification",
    "criminal_investigation",
    "how_it_aided",
)
MONTHLY_COLUMNS = ("month", "call_type", "flights", "flight_hours")

#: DFR categories whose calls are criminal matters (Texas 423.008(b)(2) against (b)(3)).
CRIMINAL_CATEGORIES = frozenset(
    {"violent_crime", "property_crime", "suspicious", "disturbance", "alarm"}
)


@dataclass(frozen=True, slots=True)
class Report:
    """A report's columns and rows (every value a string)."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Use:
    flight: Flight
    call: Call | None
    review: FlightReview | None
    local_start: datetime
    duration_s: float
    on_scene_s: float | None


def _tz(session: Session, agency_id: str) -> tuple[str, tzinfo]:
    agency = session.get(Agency, agency_id)
    name = agency.name if agency else agency_id
    try:
        return name, ZoneInfo(agency.timezone) if agency else ZoneInfo("UTC")
    except (KeyError, ValueError):
        return name, ZoneInfo("UTC")


def _uses(session: Session, tz: tzinfo) -> list[_Use]:
    uses: list[_Use] = []
    for flight in session.exec(select(Flight).order_by(col(Flight.id))).all():
        assert flight.id is not None
        call = None if flight.call_id is None else session.get(Call, flight.call_id)
        started = as_utc(flight.started_at or flight.created_at)
        ended = as_utc(flight.ended_at) if flight.ended_at else None
        scene_at = session.exec(
            select(FlightEvent.at)
            .where(FlightEvent.flight_id == flight.id, FlightEvent.to_state == "on_scene")
            .order_by(col(FlightEvent.at))
        ).first()
        left_at = session.exec(
            select(FlightEvent.at)
            .where(FlightEvent.flight_id == flight.id, FlightEvent.to_state == "returning")
            .order_by(col(FlightEvent.at))
        ).first()
        on_scene_s = None
        if scene_at is not None and left_at is not None:
            on_scene_s = (as_utc(left_at) - as_utc(scene_at)).total_seconds()
        uses.append(
            _Use(
                flight=flight,
                call=call,
                review=session.get(FlightReview, flight.id),
                local_start=started.astimezone(tz),
                duration_s=0.0 if ended is None else max(0.0, (ended - started).total_seconds()),
                on_scene_s=on_scene_s,
            )
        )
    return uses


def _location(use: _Use, docks: dict[str, str], drone_docks: dict[str, str]) -> str:
    call = use.call
    if call is not None:
        if call.address:
            return call.address
        return f"{call.lat:.4f}, {call.lon:.4f}"
    dock = docks.get(drone_docks.get(use.flight.drone_id, ""), "")
    return f"from {dock}" if dock else "agency operating area"


def _reason(use: _Use) -> str:
    if use.review is not None and use.review.purpose:
        return use.review.purpose
    if use.call is None:
        return "Pilot flight (training, test or inspection)"
    text = use.call.call_type_text or use.call.category.replace("_", " ")
    return f"Response to a call for service: {text} ({use.call.call_type})"


def _aided(use: _Use, recorded: bool) -> str:
    if use.review is not None and use.review.outcome:
        return use.review.outcome
    parts = ["Aerial view of the scene for dispatch and responding officers"]
    if use.on_scene_s is not None:
        parts.append(f"{use.on_scene_s / 60:.0f} min over the scene")
    parts.append("video recorded" if recorded else "no video recorded")
    return "; ".join(parts)


def annual_report(
    session: Session, *, state: State, year: int, agency_id: str, recorded: set[int]
) -> Report:
    """Every drone use in `year` (the agency's local calendar) as the state's statute lists them."""
    name, tz = _tz(session, agency_id)
    docks = {d.id: d.name for d in session.exec(select(Dock)).all()}
    drones = session.exec(select(Drone)).all()
    drone_docks = {d.id: d.dock_id for d in drones}
    # Kept for training = an active named hold on the recording whose reason says training.
    training = {
        h.flight_id
        for h in session.exec(
            select(RecordingHold).where(col(RecordingHold.released_at).is_(None))
        ).all()
        if "training" in h.reason.lower()
    }
    rows: list[dict[str, str]] = []
    for use in _uses(session, tz):
        if use.local_start.year != year:
            continue
        fid = use.flight.id
        video = fid in recorded
        common = {
            "agency": name,
            "report_year": str(year),
            "use_id": str(fid),
            "date_of_use": use.local_start.date().isoformat(),
            "time_of_use": use.local_start.strftime("%H:%M"),
            "location": _location(use, docks, drone_docks),
        }
        if state == "IL":
            rows.append(
                {
                    **common,
                    "drones_owned": str(len(drones)),
                    "authority": (
                        "725 ILCS 167/15: response to a call for service"
                        if use.call is not None
                        else "725 ILCS 167/15: training or demonstration"
                    ),
                    "reason_for_use": _reason(use),
                    "video_recorded": "yes" if video else "no",
                    "video_retained_for_training": "yes" if fid in training else "no",
                }
            )
        else:
            category = use.call.category if use.call is not None else ""
            rows.append(
                {
                    **common,
                    "incident_type": (
                        use.call.call_type_text or use.call.call_type
                        if use.call is not None
                        else "none (pilot flight)"
                    ),
                    "justification": _reason(use),
                    "criminal_investigation": "yes" if category in CRIMINAL_CATEGORIES else "no",
                    "how_it_aided": _aided(use, video),
                }
            )
    columns = IL_COLUMNS if state == "IL" else TX_COLUMNS
    return Report(columns, tuple({c: row[c] for c in columns} for row in rows))


def monthly_report(session: Session, *, year: int, month: int, agency_id: str) -> Report:
    """Flights and flight hours in one month, by call type, with a total row."""
    _, tz = _tz(session, agency_id)
    counts: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    for use in _uses(session, tz):
        if (use.local_start.year, use.local_start.month) != (year, month):
            continue
        kind = use.call.call_type if use.call is not None else "(pilot flight)"
        counts[kind] += 1
        seconds[kind] += use.duration_s
    label = f"{year:04d}-{month:02d}"
    rows = [
        {
            "month": label,
            "call_type": kind,
            "flights": str(counts[kind]),
            "flight_hours": f"{seconds[kind] / 3600:.2f}",
        }
        for kind in sorted(counts)
    ]
    rows.append(
        {
            "month": label,
            "call_type": "TOTAL",
            "flights": str(sum(counts.values())),
            "flight_hours": f"{sum(seconds.values()) / 3600:.2f}",
        }
    )
    return Report(MONTHLY_COLUMNS, tuple(rows))


def _cell(text: str) -> str:
    # A spreadsheet runs a cell starting with these as a formula; CAD text is not ours to trust.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def write_csv(report: Report) -> str:
    """The report as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_cell(row[c]) for c in report.columns])
    return buffer.getvalue()


def write_xlsx(report: Report, path: Path, sheet: str) -> None:
    """The report as an .xlsx workbook (every cell text, so nothing is read as a formula)."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet[:31]
    ws.append(list(report.columns))
    for row in report.rows:
        ws.append([row[c] for c in report.columns])
        for cell in ws[ws.max_row]:
            cell.data_type = "s"
    book.save(path)
