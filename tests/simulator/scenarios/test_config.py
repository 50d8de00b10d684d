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


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        pytest.param(
            "name: x\nscenarios:\n  - [unclosed\n",
            ConfigurationError,
            r"run\.yaml:\d+: not valid YAML",
            id="yaml-that-does-not-parse",
        ),
        pytest.param(
            "resources:\n  fleet:\n    resource_type: Flet\n",
            UnknownResourceError,
            r"run\.yaml:3: .*'Flet'",
            id="unknown-resource-type",
        ),
        pytest.param(
            "scenarios:\n  - scenario: no_such_thing\n",
            UnknownScenarioError,
            r"run\.yaml:2: .*no_such_thing",
            id="unknown-scenario",
        ),
        pytest.param(
            "scenarios:\n  - scenario: notes_and_cancel_to_cad\n",
            MissingResourceError,
            r"run\.yaml:2: .*needs resource 'service'",
            id="scenario-without-its-resources",
        ),
        pytest.param(
            "name: x\nspeed: 3\n",
            ConfigurationError,
            r"run\.yaml:2: unknown key 'speed'",
            id="unknown-key",
        ),
    ],
)
def test_bad_config_is_refused_naming_file_and_line(
    tmp_path: Path, text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        load_config(_write(tmp_path, text))


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
