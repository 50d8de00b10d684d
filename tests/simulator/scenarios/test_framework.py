"""The Scenario base class and the runner, with tiny scenarios defined here."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenarios.config import RunPlan, ScenarioEntry
from simulator.scenarios.docs import Severity
from simulator.scenarios.errors import (
    ScenarioCannotContinueError,
    ScenarioNotImplementedError,
    UndeclaredCheckError,
)
from simulator.scenarios.framework import Scenario
from simulator.scenarios.record import CheckOutcome, ScenarioOutcome
from simulator.scenarios.report import junit_xml
from simulator.scenarios.runner import run_plan

NARRATIVE = """# Tiny test scenario

A scenario for the framework's own tests.

## Main test case

### First test step

#### ⚠️ Soft check
If it fails, **dfr.service.Healthy** is not met.

#### 🛑 Hard check
If it fails, **dfr.service.Healthy** is not met.

### Second test step

#### ℹ️ Late check
If it fails, **dfr.service.Healthy** is not met.

## Cleanup

### ⚠️ Tidy check
If it fails, **dfr.flight.RecoverAfterScenario** is not met.
"""


class FakeClock:
    """Time that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _scenario_type(tmp_path: Path, behaviour: str) -> type[Scenario]:
    doc = tmp_path / "tiny.md"
    doc.write_text(NARRATIVE, encoding="utf-8")

    class Tiny(Scenario):
        default_timeout_s = 30.0

        @classmethod
        def doc_path(cls) -> Path:
            return doc

        async def run(self) -> None:
            self.begin_test_case("Main")
            self.begin_test_step("First")
            with self.check("Soft", ["D1"]) as check:
                if behaviour in ("soft", "hard"):
                    check.record_failed("soft failure")
            with self.check("Hard", ["D1"]) as check:
                if behaviour == "hard":
                    check.record_failed("hard failure", "details")
            if behaviour == "undeclared":
                with self.check("Nobody wrote me"):
                    pass
            if behaviour == "not_implemented":
                raise ScenarioNotImplementedError("later")
            self.begin_test_step("Second")
            await self.sleep(2.0, "let things settle")
            with self.check("Late"):
                pass

        async def cleanup(self) -> None:
            with self.check("Tidy"):
                pass

    return Tiny


async def _run(tmp_path: Path, behaviour: str):  # type: ignore[no-untyped-def]
    scenario_type = _scenario_type(tmp_path, behaviour)
    plan = RunPlan(name="t", path=None, speedup=1.0)
    plan.scenarios.append(ScenarioEntry(scenario_type, 30.0, {}, "test"))
    return await run_plan(plan, work_dir=tmp_path / "work")


async def test_passing_scenario_records_every_check_and_sleep(tmp_path: Path) -> None:
    run = await _run(tmp_path, "pass")
    record = run.scenarios[0]
    assert record.outcome is ScenarioOutcome.PASSED and run.passed
    assert [c.outcome for c in record.checks()] == [CheckOutcome.PASSED] * 4
    assert [(s.duration_s, s.reason) for s in record.sleeps] == [(2.0, "let things settle")]
    assert record.checks()[0].participants == ["D1"]


async def test_failed_medium_check_continues_and_does_not_block_the_run(tmp_path: Path) -> None:
    run = await _run(tmp_path, "soft")
    record = run.scenarios[0]
    outcomes = {c.name: c.outcome for c in record.checks()}
    assert outcomes == {
        "Soft": CheckOutcome.FAILED,
        "Hard": CheckOutcome.PASSED,
        "Late": CheckOutcome.PASSED,
        "Tidy": CheckOutcome.PASSED,
    }
    assert record.outcome is ScenarioOutcome.FAILED
    assert run.passed  # only high and critical failures fail a run


async def test_failed_high_check_ends_scenario_but_still_cleans_up(tmp_path: Path) -> None:
    run = await _run(tmp_path, "hard")
    record = run.scenarios[0]
    outcomes = {c.name: c.outcome for c in record.checks()}
    assert outcomes["Hard"] is CheckOutcome.FAILED
    assert outcomes["Late"] is CheckOutcome.NOT_RUN
    assert outcomes["Tidy"] is CheckOutcome.PASSED
    assert not run.passed
    failed = [c for c in record.checks() if c.name == "Hard"][0]
    assert (failed.summary, failed.details, failed.severity) == (
        "hard failure",
        "details",
        Severity.HIGH,
    )


async def test_undeclared_check_is_an_error_naming_the_declared_ones(tmp_path: Path) -> None:
    run = await _run(tmp_path, "undeclared")
    record = run.scenarios[0]
    assert record.outcome is ScenarioOutcome.ERROR
    assert "Nobody wrote me" in (record.error or "") and "Soft" in (record.error or "")
    assert not run.passed


async def test_not_implemented_scenario_is_never_a_pass(tmp_path: Path) -> None:
    run = await _run(tmp_path, "not_implemented")
    assert run.scenarios[0].outcome is ScenarioOutcome.NOT_IMPLEMENTED
    assert not run.passed


async def test_a_fault_injecting_scenario_is_skipped_against_external_vehicles(
    tmp_path: Path,
) -> None:
    faulty = type("Faulty", (_scenario_type(tmp_path, "pass"),), {"injects_vehicle_faults": True})
    plan = RunPlan(name="t", path=None, speedup=1.0)
    plan.scenarios.append(ScenarioEntry(faulty, 30.0, {}, "test"))
    external = await run_plan(
        plan, vehicle_urls=["udpin://127.0.0.1:9"], work_dir=tmp_path / "external"
    )
    record = external.scenarios[0]
    assert record.outcome is ScenarioOutcome.SKIPPED and external.passed
    assert "--vehicle" in (record.error or "")
    assert all(c.outcome is CheckOutcome.NOT_RUN for c in record.checks())
    assert '<skipped message="skipped: this scenario injects faults' in junit_xml(external)
    simulated = await run_plan(plan, work_dir=tmp_path / "simulated")
    assert simulated.scenarios[0].outcome is ScenarioOutcome.PASSED


async def test_check_raises_undeclared_check_error_directly(tmp_path: Path) -> None:
    scenario = _scenario_type(tmp_path, "pass")()
    scenario.begin_test_case("Main")
    scenario.begin_test_step("Second")
    with pytest.raises(UndeclaredCheckError, match="declared checks: \\['Late'\\]"):
        with scenario.check("Soft"):
            pass


async def test_high_check_raises_scenario_cannot_continue(tmp_path: Path) -> None:
    scenario = _scenario_type(tmp_path, "pass")()
    scenario.begin_test_case("Main")
    scenario.begin_test_step("First")
    with pytest.raises(ScenarioCannotContinueError, match="boom"):
        with scenario.check("Hard") as check:
            check.record_failed("boom")


async def test_wait_until_records_how_long_it_waited(tmp_path: Path) -> None:
    scenario = _scenario_type(tmp_path, "pass")()
    clock = FakeClock()
    scenario.use_clock(clock)
    ticks = iter([False, False, True])

    async def condition() -> bool:
        return next(ticks)

    assert await scenario.wait_until(condition, 10.0, "three polls", poll_s=0.5)
    wait = scenario.record.sleeps[-1]
    assert (wait.kind, wait.duration_s, wait.met) == ("wait", 1.0, True)

    async def never() -> bool:
        return False

    assert not await scenario.wait_until(never, 2.0, "never", poll_s=0.5)
    assert scenario.record.sleeps[-1].met is False


async def test_event_latency_is_measured_from_the_named_earlier_event(tmp_path: Path) -> None:
    scenario = _scenario_type(tmp_path, "pass")()
    clock = FakeClock()
    scenario.use_clock(clock)
    scenario.record_event("call_posted", "posted")
    clock.now += 1.5
    event = scenario.record_event("decision", "decided", latency_from="call_posted")
    assert event.latency_s == 1.5
