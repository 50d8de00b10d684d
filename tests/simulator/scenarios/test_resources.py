"""Resource specifications: a fleet's agency policy reaches the fleet file the service reads.

What the policy means is the service's to judge: these tests read the written file with its reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dfr.fleet import read_fleet_file
from simulator.scenarios.errors import ConfigurationError
from simulator.scenarios.resources import RunContext, SimFleet, VehicleEndpoint, build_resource

SAND_CREEK = {"id": "sand-creek", "name": "Sand Creek", "lat": 38.8339, "lon": -104.747}


def _fleet(tmp_path: Path, **extra: Any) -> SimFleet:
    spec = {"docks": [SAND_CREEK], "vehicles": [{"id": "D1", "dock": "sand-creek"}], **extra}
    fleet = build_resource("fleet", "SimFleet", spec, RunContext(work_dir=tmp_path))
    assert isinstance(fleet, SimFleet)
    # Ports are only assigned on start; the fleet file needs an endpoint per vehicle.
    fleet.endpoints.append(VehicleEndpoint("D1", 1, "udpin://127.0.0.1:40001", None))
    return fleet


def test_fleet_policy_is_written_as_the_fleet_files_policy_table(tmp_path: Path) -> None:
    fleet = _fleet(
        tmp_path,
        policy={
            "night_waiver": True,
            "never": ["NONEMERG", "non emergency"],
            "preemption": {"allowed": True, "min_priority_gap": 2, "auto_launch": False},
            "response_radius_m": {"sand-creek": 4000.0},
            "call_types": {"SUSP": {"max_priority": 3, "auto_launch_max_priority": 1}},
        },
    )
    path = tmp_path / "fleet.toml"
    path.write_text(fleet.fleet_toml(), encoding="utf-8")

    policy = read_fleet_file(path).policy
    assert policy is not None
    assert policy.preemption.allowed and policy.preemption.min_priority_gap == 2
    assert not policy.preemption.auto_launch and policy.night_waiver
    assert policy.never == ("NONEMERG", "non emergency")
    assert policy.radius_for("sand-creek", 1000.0) == 4000.0
    assert policy.call_types["SUSP"].auto_launch_max_priority == 1
    assert "BURGLARY" in policy.call_types  # extends the default table


def test_fleet_without_policy_writes_no_policy_table(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(_fleet(tmp_path).fleet_toml(), encoding="utf-8")
    assert "[policy" not in path.read_text(encoding="utf-8")
    assert read_fleet_file(path).policy is None


def test_policy_a_fleet_file_cannot_hold_is_refused_naming_the_resource(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"resource 'fleet' \(SimFleet\): policy: .*TOML"):
        _fleet(tmp_path, policy={"preemption": {"allowed": True, "min_priority_gap": None}})
