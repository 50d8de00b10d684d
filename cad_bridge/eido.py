"""NENA EIDO JSON (NENA-STA-021.1b-2022): schema validation, parsing into CadCall, and outbound documents.

Priority. EIDO's `incidentCommonPriorityNumber` runs 0..10 with 10 the most urgent; DFR's runs 1
(highest) .. 5. Pairs of EIDO values map to one DFR value: 9-10 -> 1, 7-8 -> 2, 5-6 -> 3, 3-4 -> 4,
0-2 -> 5. A missing number is priority 3. Outbound, DFR's 1..5 become 10, 8, 6, 4, 2, which map
back to the same DFR value.

Location. The incident's `locationReference` entries are resolved by `$ref` against the
`locationComponent` `$id`s; a CurrentIncident location wins over InitialIncident, then any other
referenced one, then any location in the document. Its `locationByValue` PIDF-LO must hold a
point or a circle: a location only given by reference URL is refused (DFR does not dereference).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Final

from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

from cad_bridge.errors import CadInputError, EidoSchemaError
from cad_bridge.mapping import CallTypeMapper
from cad_bridge.models import CadCall, CadNote, CallFlags, EventKind, OutboundEvent, UnitStatus
from cad_bridge.pidf import parse_pidf, pidf_point

EIDO_MEDIA_TYPE: Final = "application/emergency.eido+json"
EIDO_VERSION: Final = "1.0"
DEFAULT_PRIORITY: Final = 3
_LOCATION_PREFERENCE: Final = ("CurrentIncident", "InitialIncident")
_WEAPON_TYPES: Final = frozenset({"WEAPON", "SHOOTING", "SHOTS", "STABBING"})
_BLOCK_TAG = re.compile(r"</?(p|br|div|li|ul|ol|h[1-6]|tr|td|table)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


@cache
def eido_schema() -> dict[str, Any]:
    """The EIDO 1.0 JSON schema transcribed from NENA911/EIDO-JSON Schema/openapi.yaml."""
    text = resources.files("cad_bridge.schemas").joinpath("eido-1.0.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft7Validator:
    return Draft7Validator(eido_schema())


def validate_eido(document: Any) -> None:
    """Raise EidoSchemaError naming the first failing place when `document` is not a valid EIDO."""
    error = best_match(_validator().iter_errors(document))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "body"
        raise EidoSchemaError(f"EIDO schema: {error.message}", field=where)


def eido_priority_to_dfr(number: int | None) -> int:
    """EIDO 0..10 (10 most urgent) to DFR 1 (highest) .. 5."""
    if number is None:
        return DEFAULT_PRIORITY
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 10:
        raise CadInputError(
            f"incidentCommonPriorityNumber {number!r} is outside 0..10",
            field="incidentComponent.incidentCommonPriorityNumber",
        )
    if number >= 9:
        return 1
    return 5 - (number - 1) // 2 if number >= 1 else 5


def dfr_priority_to_eido(priority: int) -> int:
    """DFR 1..5 to EIDO 10, 8, 6, 4, 2."""
    if not 1 <= priority <= 5:
        raise ValueError(f"DFR priority {priority} is outside 1..5")
    return 12 - 2 * priority


def parse_timestamp(value: Any, *, field: str) -> datetime:
    """An RFC 3339 timestamp; one without an offset is read as UTC."""
    if not isinstance(value, str):
        raise CadInputError("a timestamp must be a string", field=field)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CadInputError(f"{value!r} is not an RFC 3339 timestamp", field=field) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def html_to_text(fragment: str) -> str:
    """Notes arrive as HTML5 fragments; keep their text, drop scripts and tags."""
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", _SCRIPT.sub(" ", fragment)))
    return " ".join(html.unescape(text).split())


def _by_id(components: Any) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for component in components or []:
        if isinstance(component, Mapping) and isinstance(component.get("$id"), str):
            found[component["$id"]] = component
    return found


def _refs(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    return [i["$ref"] for i in items if isinstance(i, Mapping) and isinstance(i.get("$ref"), str)]


def _pick_location(
    incident: Mapping[str, Any], locations: dict[str, Mapping[str, Any]]
) -> Mapping[str, Any]:
    referenced = [locations[r] for r in _refs(incident.get("locationReference")) if r in locations]
    missing = [r for r in _refs(incident.get("locationReference")) if r not in locations]
    if missing:
        raise CadInputError(
            f"locationReference {missing[0]!r} names no locationComponent",
            field="incidentComponent.locationReference",
        )
    candidates = referenced or list(locations.values())
    for wanted in _LOCATION_PREFERENCE:
        for loc in candidates:
            if loc.get("locationTypeDescriptionRegistryText") == wanted and loc.get(
                "locationByValue"
            ):
                return loc
    for loc in candidates:
        if loc.get("locationByValue"):
            return loc
    raise CadInputError(
        "the incident has no location by value (a PIDF-LO point or circle is required)",
        field="locationComponent",
    )


def parse_eido(document: Any, *, agency: str, mapper: CallTypeMapper, raw: str = "") -> CadCall:
    """Validate an EIDO and normalise it to a CadCall of `agency`."""
    validate_eido(document)
    incident = document.get("incidentComponent")
    if not isinstance(incident, Mapping):
        raise CadInputError("an EIDO call needs an incidentComponent", field="incidentComponent")
    locations = _by_id(document.get("locationComponent"))
    location = _pick_location(incident, locations)
    where = parse_pidf(str(location["locationByValue"]), field="locationComponent.locationByValue")
    if where.point is None:
        raise CadInputError(
            "the incident location has no point or circle",
            field="locationComponent.locationByValue",
        )
    call_type = str(incident["incidentTypeCommonRegistryText"]).strip()
    if not call_type:
        raise CadInputError(
            "incidentTypeCommonRegistryText is empty",
            field="incidentComponent.incidentTypeCommonRegistryText",
        )
    statuses = [str(s) for s in incident.get("incidentStatusCommonRegistryText") or []]
    terminal = [s for s in statuses if s in ("Cancelled", "Closed")]
    status = terminal[-1] if terminal else (statuses[-1] if statuses else "Active")
    call_starts = [
        parse_timestamp(c["callStartTimestamp"], field="callComponent.callStartTimestamp")
        for c in document.get("callComponent") or []
        if isinstance(c, Mapping) and "callStartTimestamp" in c
    ]
    received_at = (
        min(call_starts)
        if call_starts
        else parse_timestamp(incident["lastUpdateTimeStamp"], field="incidentComponent")
    )
    notes = []
    for note in document.get("notesComponent") or []:
        text = html_to_text(str(note.get("notesActionComments", "")))
        if not text:
            continue
        author = _refs(note.get("agentReference")) or _refs(note.get("updatedByAgentReference"))
        notes.append(
            CadNote(
                text=text[:20_000],
                author=(author[0] if author else "cad")[:200],
                at=parse_timestamp(note["lastUpdateTimeStamp"], field="notesComponent"),
            )
        )
    cautions = " ".join(
        str(c.get("cautionTypeCommonRegistryText", ""))
        + " "
        + str(c.get("cautionTypeInternalText", ""))
        for c in document.get("cautionComponent") or []
        if isinstance(c, Mapping)
    ).lower()
    internal_text = str(incident.get("incidentTypeInternalText", ""))
    flags = CallFlags(
        weapons=call_type.upper() in _WEAPON_TYPES or "weapon" in cautions or "firearm" in cautions,
        in_progress="in progress" in internal_text.lower(),
        outdoor=False,
    )
    address = where.address or (str(location.get("locationDescriptionText") or "") or None)
    return CadCall(
        agency=agency,
        cad_incident_id=str(document["$id"])[:200],
        call_type=call_type[:64],
        call_type_text=internal_text[:300],
        category=mapper.category(agency, call_type),
        priority=eido_priority_to_dfr(incident.get("incidentCommonPriorityNumber")),
        location=where.point,
        address=address[:500] if address else None,
        received_at=received_at,
        status=status[:64],
        notes=tuple(notes),
        flags=flags,
        raw_format="eido",
        raw_document=raw or json.dumps(document, separators=(",", ":")),
    )


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _prologue(component_id: str, at: datetime, agency_id: str, agent_id: str) -> dict[str, Any]:
    return {
        "$id": component_id,
        "lastUpdateTimeStamp": _stamp(at),
        "updatedByAgencyReference": {"$ref": agency_id},
        "updatedByAgentReference": {"$ref": agent_id},
    }


def event_to_eido(event: OutboundEvent, *, issuing_element: str = "dfr.local") -> dict[str, Any]:
    """The EIDO document telling CAD one outbound event.

    Every document carries a notesComponent whose `$id` is the event id (the idempotency key inside
    the document); the drone is an emergencyResourceComponent of type UnmannedAerialVehicle; a
    cancellation restates the incident with status Cancelled and its disposition.
    """
    agency_id = f"{event.agency}.dfr"
    agent_id = f"dfr-automaton@{agency_id}"
    at = event.at

    def prologue(component_id: str) -> dict[str, Any]:
        return _prologue(component_id, at, agency_id, agent_id)

    note_text = event.text or ""
    doc: dict[str, Any] = {
        **prologue(event.cad_incident_id),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": issuing_element,
        "agencyComponent": [
            {
                **prologue(agency_id),
                "agencyRoleDescriptionRegistryText": ["Responding"],
                "agencyType": ["police"],
            }
        ],
        "agentComponent": [
            {
                **prologue(agent_id),
                "agentRoleRegistryText": ["Automaton"],
                "agencyReference": {"$ref": agency_id},
            }
        ],
    }
    if event.kind is EventKind.UNIT_STATUS and event.unit is not None:
        unit = event.unit
        resource_id = f"uav-{unit.id}@{agency_id}"
        available = unit.status in (UnitStatus.CLEARED, UnitStatus.ASSIGNMENT_CANCELLED)
        resource: dict[str, Any] = {
            **prologue(resource_id),
            "emergencyResourceTypeCommonRegistryText": "UnmannedAerialVehicle",
            "emergencyResourceName": unit.id,
            "resourceAttributeRegistryText": ["Other"],
            "resourceAttributeInternalText": ["DFR drone"],
            "primaryUnitStatusRegistryText": "Available" if available else "NotAvailable",
            "secondaryUnitStatusRegistryText": [unit.status.value],
            "agentReference": [{"$ref": agent_id}],
            "activeOnIncidentId": event.cad_incident_id,
            "notesReference": [{"$ref": event.event_id}],
        }
        if unit.eta_s is not None:
            resource["eta"] = _stamp(at + timedelta(seconds=unit.eta_s))
        if unit.lat is not None and unit.lon is not None:
            location_id = f"{event.event_id}-unit-location"
            resource["unitLocationReference"] = {"$ref": location_id}
            doc["locationComponent"] = [
                {
                    **prologue(location_id),
                    "locationTypeDescriptionRegistryText": "UnitLocation",
                    "locationByValue": pidf_point(unit.lat, unit.lon),
                }
            ]
        doc["emergencyResourceComponent"] = [resource]
        eta = f", ETA {round(unit.eta_s)} s" if unit.eta_s is not None else ""
        note_text = note_text or f"Drone {unit.id} {unit.status.value}{eta}"
    if event.kind is EventKind.CANCEL:
        incident: dict[str, Any] = {
            **prologue(f"{event.cad_incident_id}#incident"),
            "incidentTypeCommonRegistryText": event.call_type or "Other",
            "incidentStatusCommonRegistryText": ["Cancelled"],
            "notesReference": [{"$ref": event.event_id}],
        }
        if event.disposition is not None:
            incident["dispositionComponent"] = [
                {
                    **prologue(f"{event.event_id}-disposition"),
                    "dispositionCommonRegistryCode": event.disposition.code,
                    "dispositionPrimaryIndicator": True,
                    "dispositionDescriptionText": event.disposition.text,
                    "notesReference": [{"$ref": event.event_id}],
                }
            ]
        doc["incidentComponent"] = incident
        note_text = note_text or "Call cancelled by DFR"
    doc["notesComponent"] = [
        {
            **prologue(event.event_id),
            "notesActionComments": f"<p>{html.escape(note_text)}</p>",
            "agentReference": {"$ref": agent_id},
        }
    ]
    return doc
