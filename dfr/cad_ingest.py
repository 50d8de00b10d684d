"""Storing calls from CAD: idempotent by (agency, cad_incident_id), updates in place, never duplicates."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cad_bridge import CadCall
from dfr.errors import InvalidInputError
from dfr.models import Agency, Call, CallLifecycle, Note, utcnow

_LIFECYCLE_FOR_STATUS = {"Cancelled": CallLifecycle.CANCELLED, "Closed": CallLifecycle.CLEARED}


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What storing a CAD document did."""

    call_id: int
    created: bool
    changed: bool
    ended: bool  # CAD cancelled or closed the call just now


def _apply(row: Call, call: CadCall, digest: str) -> None:
    row.call_type = call.call_type
    row.call_type_text = call.call_type_text
    row.category = call.category
    row.priority = call.priority
    row.lat = call.location.lat_deg
    row.lon = call.location.lon_deg
    row.address = call.address
    row.received_at = call.received_at
    row.cad_status = call.status
    row.flags = call.flags.model_dump()
    row.raw_format = call.raw_format
    row.raw_document = call.raw_document
    row.content_hash = digest
    lifecycle = _LIFECYCLE_FOR_STATUS.get(call.status)
    if lifecycle is not None and row.lifecycle not in (
        CallLifecycle.CANCELLED,
        CallLifecycle.CLEARED,
    ):
        row.lifecycle = lifecycle


def _add_notes(session: Session, call_id: int, call: CadCall) -> None:
    existing = {
        (n.author, n.text)
        for n in session.exec(select(Note).where(Note.call_id == call_id, Note.source == "cad"))
    }
    for note in call.notes:
        if (note.author, note.text) not in existing:
            existing.add((note.author, note.text))
            session.add(
                Note(
                    call_id=call_id,
                    author=note.author,
                    source="cad",
                    text=note.text,
                    at=note.at or utcnow(),
                )
            )


def ingest_call(session: Session, call: CadCall) -> IngestResult:
    """Create or update the call in `session` (the caller commits)."""
    if session.get(Agency, call.agency) is None:
        raise InvalidInputError(f"agency {call.agency!r} is not known here", field="agency")
    digest = call.content_hash()
    row = session.exec(
        select(Call).where(
            Call.agency_id == call.agency, Call.cad_incident_id == call.cad_incident_id
        )
    ).first()
    if row is not None and row.id is not None:
        if row.content_hash == digest:
            return IngestResult(row.id, created=False, changed=False, ended=False)
        was_terminal = row.cad_status in _LIFECYCLE_FOR_STATUS
        _apply(row, call, digest)
        row.updated_at = utcnow()
        session.add(row)
        _add_notes(session, row.id, call)
        session.flush()
        return IngestResult(
            row.id, created=False, changed=True, ended=call.is_terminal and not was_terminal
        )
    row = Call(
        agency_id=call.agency,
        cad_incident_id=call.cad_incident_id,
        call_type=call.call_type,
        priority=call.priority,
        lat=call.location.lat_deg,
        lon=call.location.lon_deg,
        received_at=call.received_at,
    )
    _apply(row, call, digest)
    session.add(row)
    session.flush()
    assert row.id is not None
    _add_notes(session, row.id, call)
    session.flush()
    return IngestResult(row.id, created=True, changed=True, ended=call.is_terminal)


def store_call(engine: Engine, call: CadCall) -> IngestResult:
    """Ingest in its own transaction (blocking; run in a worker thread)."""
    for attempt in range(2):
        with Session(engine, expire_on_commit=False) as session:
            try:
                result = ingest_call(session, call)
                session.commit()
                return result
            except IntegrityError:
                # Two first posts of one incident raced; the second becomes an update.
                session.rollback()
                if attempt == 1:
                    raise
    raise AssertionError("unreachable")
