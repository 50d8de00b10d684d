import json

import pytest
from pydantic import ValidationError

from telemetry import (
    DroneFrame,
    InvalidMessageError,
    StreamMessage,
    alert_message,
    call_message,
    drone_message,
    parse_drone_frame,
)
from tests.telemetry.factories import T0, frame


def test_drone_message_envelope_has_version_type_key_and_the_frame() -> None:
    wire = json.loads(drone_message(frame("D7", step=3), T0).to_json())
    assert wire["v"] == 1
    assert wire["type"] == "drone"
    assert wire["key"] == "drone:D7"
    assert wire["at"] == "2025-06-01T15:00:00Z"
    assert wire["data"]["drone_id"] == "D7"
    assert wire["data"]["link"] == "connected"
    assert parse_drone_frame(wire["data"]) == frame("D7", step=3)


def test_a_key_must_name_the_type_of_its_message() -> None:
    with pytest.raises(ValidationError):
        StreamMessage(type="call", at=T0, key="drone:D1", data={})
    with pytest.raises(ValidationError):
        StreamMessage(type="call", at=T0, key="call:bad key", data={})


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError):
        StreamMessage(type="call", at=T0.replace(tzinfo=None), key="call:1", data={})


def test_a_frame_with_latitude_but_no_longitude_is_refused() -> None:
    with pytest.raises(InvalidMessageError) as info:
        parse_drone_frame({"drone_id": "D1", "available": True, "last_seen": None, "lat": 38.0})
    assert "together" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("lat", 91.0), ("lon", float("nan")), ("battery_pct", 120.0), ("heading_deg", -1.0)],
)
def test_impossible_frame_values_are_refused_naming_the_field(field: str, value: float) -> None:
    data = {"drone_id": "D1", "available": True, "last_seen": None, "lat": 38.0, "lon": -104.0}
    data[field] = value
    with pytest.raises(InvalidMessageError) as info:
        parse_drone_frame(data)
    assert info.value.field == field


def test_frames_are_immutable() -> None:
    with pytest.raises(ValidationError):
        frame().battery_pct = 10.0  # type: ignore[misc]


def test_alerts_are_events_and_calls_are_states() -> None:
    assert alert_message("x1", {"text": "link lost"}, T0).is_event
    assert not call_message(4, {"priority": 1}, T0).is_event
    assert call_message(4, {}, T0).data["id"] == 4


def test_an_unknown_link_state_is_refused() -> None:
    with pytest.raises(ValidationError):
        DroneFrame(drone_id="D1", available=False, last_seen=None, link="gone")  # type: ignore[arg-type]
