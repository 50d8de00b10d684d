"""The real scenario files, their narratives, the requirement docs and ci.yaml agree."""

from __future__ import annotations

import inspect

from simulator.scenarios.config import (
    CONFIG_DIR,
    load_config,
    resolve_scenario,
    standard_scenario_names,
)
from simulator.scenarios.docs_check import check_ci_config, check_directory


def test_every_standard_scenario_matches_its_narrative_and_requirements() -> None:
    problems = check_directory()
    assert problems == [], "\n".join(str(p) for p in problems)


def test_ci_config_lists_only_implemented_scenarios() -> None:
    problems = check_ci_config()
    assert problems == [], "\n".join(str(p) for p in problems)


def test_nightly_config_lists_every_standard_scenario() -> None:
    plan = load_config(CONFIG_DIR / "nightly.yaml")
    listed = {e.scenario_type.__module__.rpartition(".")[2] for e in plan.scenarios}
    assert listed == set(standard_scenario_names())


def test_scenarios_that_inject_vehicle_faults_say_so() -> None:
    # The runner skips them against external vehicles, which have no fault-injection API.
    for name in standard_scenario_names():
        scenario_type = resolve_scenario(name)
        injects = ".inject(" in inspect.getsource(inspect.getmodule(scenario_type))  # type: ignore[arg-type]
        assert scenario_type.injects_vehicle_faults is injects, name
