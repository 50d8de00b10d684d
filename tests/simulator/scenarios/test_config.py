"""Run configurations: bad input names the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenarios.config import CONFIG_DIR, load_config
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
