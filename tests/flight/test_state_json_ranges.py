"""A vehicle state from another instance holds measurements only: no NaN, no infinity."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from flight.models import LinkState, VehicleId, VehicleState
from flight.state_json import vehicle_state_from_json, vehicle_state_to_json


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_a_state_with_a_non_finite_number_is_refused_naming_the_field(bad: str) -> None:
    state = VehicleState(
        VehicleId("D1"), datetime(2026, 1, 1, tzinfo=UTC), True, None, LinkState.CONNECTED
    )
    raw = json.loads(vehicle_state_to_json(state))
    raw["battery_pct"] = "__bad__"
    data = json.dumps(raw).replace('"__bad__"', bad).encode()
    with pytest.raises(ValueError, match="battery_pct: expected a finite number"):
        vehicle_state_from_json(data)
