"""The wire documents the simulated CAD posts: plain JSON and NENA EIDO 1.0 (NENA-STA-021.1b)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from xml.sax.saxutils import escape

from simulator.cad.incidents import SimIncident

AGENCY_ID: Final = "cspd.coloradosprings.gov"
AGENT_ID: Final = "calltaker.sim@cspd.coloradosprings.gov"


def incident_tracking_id(incident_id: str) -> str:
    """NENA-STA-010 incident tracking identifier of a local incident id."""
    return f"urn:emergency:uid:incidentid:{incident_id.lower()}:{AGENCY_ID}"


def plain_document(incident: SimIncident, *, agency: str | None = None) -> dict[str, Any]:
    """The plain JSON call form."""
    doc: dict[str, Any] = {
        "cad_incident_id": incident.incident_id,
        "call_type": incident.call_type,
        "call_type_text": incident.call_type_text,
        "priority": incident.priority,
        "location": {"lat": incident.lat, "lon": incident.lon, "address": incident.address},
        "received_at": incident.received_at.astimezone(UTC).isoformat(),
        "status": incident.status,
        "notes": list(incident.notes),
        "flags": {
            "weapons": incident.weapons,
            "in_progress": incident.in_progress,
            "outdoor": incident.outdoor,
        },
    }
    if agency:
        doc["agency"] = agency
    return doc


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pidf(incident: SimIncident) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
        'xmlns:gml="http://www.opengis.net/gml" entity="pres:cad-sim@localhost">'
        '<dm:device id="sim"><gp:geopriv><gp:location-info>'
        '<gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
        f"<gml:pos>{incident.lat:.6f} {incident.lon:.6f}</gml:pos></gml:Point>"
        '<civicAddress xmlns="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr">'
        f"<country>US</country><A1>CO</A1><A3>Colorado Springs</A3>"
        f"<RD>{escape(incident.address.split(',')[0])}</RD></civicAddress>"
        "</gp:location-info><gp:usage-rules/><gp:method>Manual</gp:method>"
        "</gp:geopriv></dm:device></presence>"
    )


def eido_priority(priority: int) -> int:
    """This CAD's 1 (highest) .. 5 as EIDO's common priority 0..10 (10 most urgent)."""
    return {1: 10, 2: 8, 3: 6, 4: 4, 5: 2}[priority]


def eido_document(incident: SimIncident, *, updated_at: datetime | None = None) -> dict[str, Any]:
    """The incident as an EIDO 1.0 document."""
    at = _stamp(updated_at or datetime.now(UTC))

    def prologue(component_id: str) -> dict[str, Any]:
        return {
            "$id": component_id,
            "lastUpdateTimeStamp": at,
            "updatedByAgencyReference": {"$ref": AGENCY_ID},
            "updatedByAgentReference": {"$ref": AGENT_ID},
        }

    key = incident.incident_id.lower()
    location_id = f"loc-{key}"
    note_ids = [f"note-{key}-{i}" for i in range(len(incident.notes))]
    internal = incident.call_type_text + (" in progress" if incident.in_progress else "")
    doc: dict[str, Any] = {
        **prologue(incident_tracking_id(incident.incident_id)),
        "eidoVersion": "1.0",
        "issuingElementIdentification": "cad-sim.cspd.coloradosprings.gov",
        "incidentComponent": {
            **prologue(f"incident-{key}"),
            "incidentTypeCommonRegistryText": incident.call_type,
            "incidentTypeInternalText": internal,
            "incidentStatusCommonRegistryText": [incident.status],
            "internalIncidentId": incident.incident_id,
            "incidentCommonPriorityNumber": eido_priority(incident.priority),
            "locationReference": [{"$ref": location_id}],
            "notesReference": [{"$ref": n} for n in note_ids],
        },
        "callComponent": [
            {
                **prologue(f"urn:emergency:uid:callid:{key}:{AGENCY_ID}"),
                "standardPrimaryCallType": "emergency",
                "direction": "incoming",
                "callStateRegistryText": "callAnswered",
                "callStartTimestamp": _stamp(incident.received_at),
            }
        ],
        "agencyComponent": [
            {
                **prologue(AGENCY_ID),
                "agencyRoleDescriptionRegistryText": ["CallReceiving"],
                "agencyType": ["police"],
            }
        ],
        "agentComponent": [
            {
                **prologue(AGENT_ID),
                "agentRoleRegistryText": ["Call Taking"],
                "agencyReference": {"$ref": AGENCY_ID},
            }
        ],
        "locationComponent": [
            {
                **prologue(location_id),
                "locationTypeDescriptionRegistryText": "CurrentIncident",
                "locationByValue": _pidf(incident),
            }
        ],
        "notesComponent": [
            {**prologue(n), "notesActionComments": f"<p>{escape(text)}</p>"}
            for n, text in zip(note_ids, incident.notes, strict=True)
        ],
    }
    if incident.weapons:
        doc["cautionComponent"] = [
            {
                **prologue(f"caution-{key}"),
                "cautionTypeInternalText": "Armed subject",
                "cautionTypeCommonRegistryText": "Weapon",
                "cautionSeverity": "highest",
            }
        ]
    return doc
