"""EIDO parsing against the published schema, priority mapping, refs, and outbound documents."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cad_bridge import (
    EVENT_CANCELLED,
    CadInputError,
    CallTypeMapper,
    EidoSchemaError,
    OutboundEvent,
    UnitReport,
    dfr_priority_to_eido,
    eido_priority_to_dfr,
    event_to_eido,
    parse_call,
    parse_eido,
    validate_eido,
)
from tests.cad_bridge.factories import outbound_event

FIXTURES = Path(__file__).parent / "fixtures" / "eido"
MAPPER = CallTypeMapper()


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_eido_fixture_validates_against_the_published_schema(name: str) -> None:
    validate_eido(_load(name))


def test_burglary_eido_normalises_to_a_call() -> None:
    call = parse_eido(_load("burglary_in_progress.json"), agency="cspd", mapper=MAPPER)
    assert call.cad_incident_id.startswith("urn:emergency:uid:incidentid:b3f9a1c2")
    assert (call.call_type, call.category, call.priority) == ("BURGLARY", "property_crime", 2)
    assert call.location.lat_deg == pytest.approx(38.8745)
    assert call.location.lon_deg == pytest.approx(-104.7201)
    assert call.address == "4125 Barnes Rd, Colorado Springs, CO, 80917"
    assert call.received_at == datetime(2025, 3, 15, 3, 5, 40, tzinfo=UTC)
    assert call.flags.in_progress and not call.flags.weapons
    assert call.notes[0].text == "RP reports two males breaking rear window, one with flashlight."
    assert call.raw_format == "eido" and "eidoVersion" in call.raw_document


def test_circle_location_uses_its_centre_and_weapon_caution_sets_the_flag() -> None:
    call = parse_eido(_load("robbery_weapon_circle.json"), agency="cspd", mapper=MAPPER)
    assert call.location.lat_deg == pytest.approx(38.8339)
    assert call.priority == 1 and call.flags.weapons
    assert call.status == "ResourcesAssigned"


def test_script_in_a_note_is_dropped() -> None:
    call = parse_eido(_load("robbery_weapon_circle.json"), agency="cspd", mapper=MAPPER)
    assert all("alert" not in n.text for n in call.notes)
    assert call.notes[1].text == "Suspect fled on foot northbound"


def test_cancelled_status_is_terminal() -> None:
    call = parse_eido(_load("welfare_cancelled.json"), agency="cspd", mapper=MAPPER)
    assert call.status == "Cancelled" and call.is_terminal


def _drop_agency(doc: dict[str, Any]) -> None:
    del doc["agencyComponent"]


def _version_2(doc: dict[str, Any]) -> None:
    doc["eidoVersion"] = "2.0"


def _dangling_reference(doc: dict[str, Any]) -> None:
    doc["incidentComponent"]["locationReference"] = [{"$ref": "nowhere"}]


def _location_by_reference_url(doc: dict[str, Any]) -> None:
    loc = doc["locationComponent"][0]
    del loc["locationByValue"]
    loc["locationByReferenceUrl"] = "https://lis.example/loc/1"


def _latitude_98(doc: dict[str, Any]) -> None:
    loc = doc["locationComponent"][0]
    loc["locationByValue"] = loc["locationByValue"].replace("38.8745 -104.7201", "98.1 -104.7")


def _priority_11(doc: dict[str, Any]) -> None:
    doc["incidentComponent"]["incidentCommonPriorityNumber"] = 11


@pytest.mark.parametrize(
    ("change", "error", "reason"),
    [
        pytest.param(_drop_agency, EidoSchemaError, "agencyComponent", id="no-agency-component"),
        pytest.param(_version_2, EidoSchemaError, "^eidoVersion: ", id="wrong-version"),
        pytest.param(_dangling_reference, CadInputError, "nowhere", id="dangling-location-ref"),
        pytest.param(
            _location_by_reference_url,
            CadInputError,
            "no location by value",
            id="location-only-by-reference-url",
        ),
        pytest.param(_latitude_98, CadInputError, "latitude", id="impossible-pidf-coordinates"),
        pytest.param(_priority_11, CadInputError, "0..10", id="priority-out-of-range"),
    ],
)
def test_a_broken_eido_is_refused_with_the_reason(
    change: Callable[[dict[str, Any]], None], error: type[CadInputError], reason: str
) -> None:
    doc = _load("burglary_in_progress.json")
    change(doc)
    with pytest.raises(error, match=reason):
        parse_eido(doc, agency="cspd", mapper=MAPPER)


def test_unknown_incident_type_is_accepted_and_unmapped() -> None:
    doc = _load("burglary_in_progress.json")
    doc["incidentComponent"]["incidentTypeCommonRegistryText"] = "GOATLOOSE"
    call = parse_eido(doc, agency="cspd", mapper=MAPPER)
    assert call.category == "unmapped"


def test_eido_is_recognised_by_shape_in_parse_call() -> None:
    body = (FIXTURES / "burglary_in_progress.json").read_bytes()
    assert parse_call(body, default_agency="cspd", mapper=MAPPER).raw_format == "eido"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (10, 1),
        (9, 1),
        (8, 2),
        (7, 2),
        (6, 3),
        (5, 3),
        (4, 4),
        (3, 4),
        (2, 5),
        (1, 5),
        (0, 5),
        (None, 3),
    ],
)
def test_eido_priority_maps_pairs_to_dfr_levels(number: int | None, expected: int) -> None:
    assert eido_priority_to_dfr(number) == expected


@given(st.integers(min_value=1, max_value=5))
def test_outbound_priority_maps_back_to_the_same_dfr_level(priority: int) -> None:
    assert eido_priority_to_dfr(dfr_priority_to_eido(priority)) == priority


@given(st.integers(min_value=0, max_value=10))
def test_eido_priority_mapping_is_monotonic(number: int) -> None:
    if number < 10:
        assert eido_priority_to_dfr(number) >= eido_priority_to_dfr(number + 1)


@pytest.mark.parametrize(
    "event",
    [
        outbound_event("note", author="dispatcher 4", text="Drone sees two people <at> the rear"),
        outbound_event(
            "unit_status",
            event_id="ev-2",
            unit=UnitReport(id="D1", status="EnRoute", eta_s=95, lat=38.83, lon=-104.74),
        ),
        outbound_event(
            "cancel",
            event_id="ev-3",
            author="dispatcher 4",
            text="No emergency found",
            disposition=EVENT_CANCELLED,
            call_type="WELFARE",
        ),
    ],
    ids=["note", "unit_status", "cancel"],
)
def test_outbound_eido_documents_validate_and_carry_the_event_id(event: OutboundEvent) -> None:
    doc = event_to_eido(event)
    validate_eido(doc)
    assert doc["$id"] == "urn:x"
    assert doc["notesComponent"][0]["$id"] == event.event_id


def test_outbound_unit_status_is_an_unmanned_aerial_vehicle_with_eta() -> None:
    event = outbound_event("unit_status", unit=UnitReport(id="D1", status="OnScene", eta_s=60))
    resource = event_to_eido(event)["emergencyResourceComponent"][0]
    assert resource["emergencyResourceTypeCommonRegistryText"] == "UnmannedAerialVehicle"
    assert resource["secondaryUnitStatusRegistryText"] == ["OnScene"]
    assert resource["eta"] == "2025-03-15T03:11:00.000Z"


def test_outbound_cancel_states_cancelled_with_disposition_10() -> None:
    event = outbound_event("cancel", disposition=EVENT_CANCELLED, call_type="WELFARE")
    incident = event_to_eido(event)["incidentComponent"]
    assert incident["incidentStatusCommonRegistryText"] == ["Cancelled"]
    assert incident["dispositionComponent"][0]["dispositionCommonRegistryCode"] == "10"


def test_outbound_note_html_is_escaped() -> None:
    event = outbound_event("note", text="<script>x</script>")
    assert "<script>" not in event_to_eido(event)["notesComponent"][0]["notesActionComments"]


def test_parsing_does_not_mutate_the_document() -> None:
    doc = _load("burglary_in_progress.json")
    before = copy.deepcopy(doc)
    parse_eido(doc, agency="cspd", mapper=MAPPER)
    assert doc == before
