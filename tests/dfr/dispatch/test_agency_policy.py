"""The agency policy table: defaults, the fleet file's [policy] table, and refused contradictions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

import dfr.dispatch
from dfr.dispatch import DEFAULT_CALL_TYPES, AgencyPolicy, CallTypeRule, WeatherLimits
from dfr.errors import FleetFileError
from dfr.fleet import DEMO_FLEET_FILE, read_fleet_file


def test_every_exported_name_exists() -> None:
    for name in dfr.dispatch.__all__:
        assert hasattr(dfr.dispatch, name), name
    assert len(set(dfr.dispatch.__all__)) == len(dfr.dispatch.__all__)


def test_default_table_flies_the_usual_dfr_call_types_and_never_nonemergency() -> None:
    policy = AgencyPolicy()
    for code in ("BURGLARY", "ROBBERY", "WEAPON", "SHOTS", "ASSAULT", "FIGHT", "SUSP", "PROWLER"):
        assert policy.rule_for(code, "unmapped") is not None, code
    for code in ("WELFARE", "MISSING", "TRAFFIC", "MVA"):
        assert policy.rule_for(code, "unmapped") is not None, code
    assert policy.is_never("NONEMERG", "non_emergency")
    assert policy.rule_for("NONEMERG", "non_emergency") is None


def _demo_without_policy() -> str:
    """The demo fleet file with its [policy] table taken out."""
    text = DEMO_FLEET_FILE.read_text(encoding="utf-8")
    # Every [policy] and [policy.*] / [[policy.*]] table, each with its lines up to the next table.
    return re.sub(r"^\[\[?policy[\].].*\n(?:[^\[\n].*\n|\n)*", "", text, flags=re.M)


def _fleet_with(tmp_path: Path, policy_toml: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(_demo_without_policy() + "\n" + policy_toml, encoding="utf-8")
    return path


def test_fleet_file_without_policy_has_none(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(_demo_without_policy(), encoding="utf-8")
    assert read_fleet_file(path).policy is None


def test_demo_agency_flies_at_night_under_the_default_table() -> None:
    policy = read_fleet_file(DEMO_FLEET_FILE).policy
    assert policy is not None and policy.night_waiver
    # The default table, plus the gatherings its guards hold for a supervisor.
    assert policy.call_types == {
        **AgencyPolicy().call_types,
        "PROTEST": CallTypeRule(max_priority=3),
        "GATHERING": CallTypeRule(max_priority=3),
    }


def test_fleet_file_policy_extends_the_default_table(tmp_path: Path) -> None:
    path = _fleet_with(
        tmp_path,
        """
[policy]
battery_reserve_pct = 25
night_waiver = true
never = ["NONEMERG", "non_emergency", "ALARM"]

[policy.call_types.burglary]
max_priority = 3
auto_launch_max_priority = 1

[policy.call_types.THEFT]
max_priority = 2
requires_in_progress = true

[policy.weather]
max_wind_mps = 10.0
forbidden_weather = ["TS", "ra"]

[policy.response_radius_m]
sand-creek = 4000.0

[policy.preemption]
allowed = true
min_priority_gap = 3
""",
    )
    policy = read_fleet_file(path).policy
    assert policy is not None
    assert policy.battery_reserve_pct == 25 and policy.night_waiver
    assert policy.call_types["BURGLARY"] == CallTypeRule(max_priority=3, auto_launch_max_priority=1)
    assert policy.call_types["THEFT"].requires_in_progress
    assert policy.call_types["ROBBERY"] == DEFAULT_CALL_TYPES["ROBBERY"]
    assert policy.weather.max_wind_mps == 10.0
    assert policy.weather.forbidden_weather == ("TS", "RA")
    assert policy.radius_for("sand-creek", 3218.7) == 4000.0
    assert policy.preemption.allowed and policy.preemption.min_priority_gap == 3
    assert policy.is_never("ALARM", "alarm")


def test_fleet_file_policy_can_replace_the_default_table(tmp_path: Path) -> None:
    path = _fleet_with(
        tmp_path,
        """
[policy]
replace_default_call_types = true
[policy.call_types.SHOTS]
max_priority = 1
""",
    )
    policy = read_fleet_file(path).policy
    assert policy is not None and set(policy.call_types) == {"SHOTS"}


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        (
            "[policy.call_types.BURGLARY]\nmax_priority = 1\nauto_launch_max_priority = 2\n",
            "auto_launch",
        ),
        ("[policy]\nbattery_reserve_pct = 40\nmin_launch_battery_pct = 30\n", "min_launch"),
        ('[policy.weather]\nforbidden_weather = ["RAIN!"]\n', "forbidden"),
        ("[policy.response_radius_m]\nsand-creek = -5.0\n", "radius"),
        ("[policy]\nbogus = 1\n", "bogus"),
        ("[policy.call_types.BURGLARY]\nmax_priority = 9\n", "max_priority"),
    ],
)
def test_fleet_file_with_a_contradictory_policy_is_refused_naming_the_field(
    tmp_path: Path, toml: str, field: str
) -> None:
    with pytest.raises(FleetFileError, match=field):
        read_fleet_file(_fleet_with(tmp_path, toml))


def test_weather_limits_normalise_codes_and_refuse_nonsense() -> None:
    assert WeatherLimits(forbidden_weather=(" +ra ",)).forbidden_weather == ("+RA",)
    with pytest.raises(ValidationError):
        WeatherLimits(forbidden_weather=("R",))
