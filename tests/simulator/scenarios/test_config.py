"""Run configurations: bad input names the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenarios.config import CONFIG_DIR, load_config, plan_for_scenarios, wiring_for
from simulator.scenarios.errors import (
    ConfigurationError,
    MissingResourceError,
    UnknownResourceError,
    UnknownScenarioError,
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_ci_config_parses_with_its_standard_resources() -> None:
    plan = load_config(CONFIG_DIR / "ci.yaml")
    assert plan.scenarios and {"service", "fleet", "cad"} <= set(plan.resources)


def test_yaml_that_does_not_parse_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nscenarios:\n  - [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"run\.yaml:\d+: not valid YAML"):
        load_config(path)


def test_unknown_resource_type_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "resources:\n  fleet:\n    resource_type: Flet\n")
    with pytest.raises(UnknownResourceError, match=r"run\.yaml:3: .*'Flet'"):
        load_config(path)


def test_unknown_scenario_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "scenarios:\n  - scenario: no_such_thing\n")
    with pytest.raises(UnknownScenarioError, match=r"run\.yaml:2: .*no_such_thing"):
        load_config(path)


def test_scenario_without_its_resources_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "scenarios:\n  - scenario: notes_and_cancel_to_cad\n")
    with pytest.raises(MissingResourceError, match=r"run\.yaml:2: .*needs resource 'service'"):
        load_config(path)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nspeed: 3\n")
    with pytest.raises(ConfigurationError, match=r"run\.yaml:2: unknown key 'speed'"):
        load_config(path)


def test_scenario_run_by_name_gets_the_resources_it_names_as_defaults() -> None:
    plan = plan_for_scenarios(["preemption"])
    assert wiring_for(plan.scenarios[0]) == {
        "service": "service_preemption",
        "cad": "cad",
        "fleet": "fleet_preemption",
        "zones": "zones",
    }


def test_config_wiring_overrides_the_scenarios_default_resources(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"extends: {CONFIG_DIR / 'standard_resources.yaml'}\n"
        "scenarios:\n  - scenario: preemption\n    resources: {fleet: fleet}\n",
    )
    wiring = wiring_for(load_config(path).scenarios[0])
    assert wiring["fleet"] == "fleet" and wiring["service"] == "service_preemption"
