"""Run a plan: for each scenario start its resources, play it, clean up, collect evidence, stop all."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from simulator.scenarios.config import RunPlan, ScenarioEntry, required_resources, wiring_for
from simulator.scenarios.errors import (
    ConfigurationError,
    ResourceError,
    ScenarioCannotContinueError,
    ScenarioNotImplementedError,
    TestRunCannotContinueError,
    VehicleUnreachableError,
)
from simulator.scenarios.framework import CleanupPhase, Scenario, blank_record
from simulator.scenarios.record import (
    RunRecord,
    ScenarioOutcome,
    ScenarioRecord,
)
from simulator.scenarios.resources import (
    DEFAULT_VEHICLE_TIMEOUT_S,
    Resource,
    RunContext,
    build_resource,
    clean_work_dir,
)

log = logging.getLogger(__name__)

CLEANUP_TIMEOUT_S = 120.0
FAULTS_SKIPPED = (
    "skipped: this scenario injects faults through the simulator's control API, "
    "which external vehicles (--vehicle) do not have; run it against the simulator"
)


class RunListener(Protocol):
    """Progress callbacks (the CLI shows them with rich)."""

    def scenario_started(self, index: int, total: int, entry: ScenarioEntry) -> None:
        """A scenario is about to start its resources."""

    def scenario_finished(self, index: int, total: int, record: ScenarioRecord) -> None:
        """A scenario ended (any outcome)."""


class SilentListener:
    """No progress output."""

    def scenario_started(self, index: int, total: int, entry: ScenarioEntry) -> None:
        """Ignore."""

    def scenario_finished(self, index: int, total: int, record: ScenarioRecord) -> None:
        """Ignore."""


async def run_plan(
    plan: RunPlan,
    *,
    speedup: float | None = None,
    vehicle_urls: Sequence[str] = (),
    vehicle_timeout_s: float | None = None,
    listener: RunListener | None = None,
    work_dir: Path | None = None,
    keep_work_dir: bool = False,
) -> RunRecord:
    """Run every scenario of the plan in order; resources never outlive their scenario."""
    listener = listener or SilentListener()
    own_dir = work_dir is None
    base = Path(tempfile.mkdtemp(prefix="dfr-scenarios-")) if work_dir is None else work_dir
    base.mkdir(parents=True, exist_ok=True)
    effective_speedup = speedup if speedup is not None else plan.speedup
    run = RunRecord(
        name=plan.name,
        config_path=str(plan.path) if plan.path else None,
        started_at=datetime.now(UTC),
        speedup=effective_speedup,
        vehicles=list(vehicle_urls),
    )
    t0 = time.monotonic()
    try:
        total = len(plan.scenarios)
        for index, entry in enumerate(plan.scenarios):
            listener.scenario_started(index, total, entry)
            abort: tuple[str, str] | None = None
            if entry.scenario_type.injects_vehicle_faults and vehicle_urls:
                record = _record_without_run(entry, ScenarioOutcome.SKIPPED, FAULTS_SKIPPED)
            else:
                context = RunContext(
                    work_dir=base / f"{index:02d}-{entry.scenario_type.__name__}",
                    speedup=effective_speedup,
                    vehicle_urls=tuple(vehicle_urls),
                    vehicle_timeout_s=vehicle_timeout_s or DEFAULT_VEHICLE_TIMEOUT_S,
                )
                context.work_dir.mkdir(parents=True, exist_ok=True)
                record, abort = await run_entry(plan, entry, context)
            run.scenarios.append(record)
            listener.scenario_finished(index, total, record)
            if abort is not None:
                run.abort_kind, run.aborted = abort
                break
    finally:
        run.duration_s = round(time.monotonic() - t0, 3)
        if own_dir and not keep_work_dir:
            clean_work_dir(base)
    return run


def _record_without_run(
    entry: ScenarioEntry, outcome: ScenarioOutcome, error: str
) -> ScenarioRecord:
    """A record for a scenario that did not run (skipped, or it could not be constructed)."""
    scenario_type = entry.scenario_type
    record = blank_record(
        scenario_type.type_name(), scenario_type.documentation(), with_checks=False
    )
    record.outcome = outcome
    record.error = error
    return record


async def run_entry(
    plan: RunPlan, entry: ScenarioEntry, context: RunContext
) -> tuple[ScenarioRecord, tuple[str, str] | None]:
    """Run one scenario; returns its record and, when the whole run must stop, (kind, why)."""
    built: dict[str, Resource[Any]] = {}
    t0 = time.monotonic()
    scenario: Scenario | None = None
    abort: tuple[str, str] | None = None
    try:
        try:
            for name in required_resources(plan, entry):
                decl = plan.resources[name]
                try:
                    built[name] = build_resource(name, decl.type_name, decl.specification, context)
                except ConfigurationError as exc:
                    raise ConfigurationError(f"{decl.where}: {exc}") from None
            resources = await start_resources(built)
            kwargs = {param: resources[name] for param, name in wiring_for(entry).items()}
            scenario = entry.scenario_type(**kwargs)
        except (ResourceError, ConfigurationError) as exc:
            # Every later scenario would meet the same broken resource: stop the run.
            record = _record_without_run(entry, ScenarioOutcome.ERROR, f"{exc}")
            bad_input = isinstance(exc, ConfigurationError | VehicleUnreachableError)
            return record, ("bad_input" if bad_input else "resource", str(exc))
        except Exception as exc:
            record = _record_without_run(entry, ScenarioOutcome.ERROR, _describe(exc))
            return record, None
        abort = await _play(scenario, entry.timeout_s)
        for resource in built.values():
            try:
                resource.contribute(scenario.record)
            except Exception as exc:  # evidence is best effort; the checks already decided
                log.warning("resource %s could not add evidence: %s", resource.name, exc)
        return scenario.record, abort
    finally:
        # Shielded: a cancelled run (Ctrl-C, SIGTERM) still ends every process it started.
        await asyncio.shield(stop_resources(built))
        if scenario is not None:
            scenario.record.duration_s = round(time.monotonic() - t0, 3)


async def start_resources(built: Mapping[str, Resource[Any]]) -> dict[str, Resource[Any]]:
    """Start every resource as soon as those it references are up; returns them by name.

    Independent resources (the fleet, the CAD) start at the same time, and each one's
    `prepare()` overlaps its dependencies' starts: process start-up is mostly interpreter
    imports, so the scenario waits for the longest chain instead of the sum. The first failure
    cancels the other starts and is raised; `stop_resources` then stops them all, started or not.
    """
    started: dict[str, Resource[Any]] = {}
    tasks: dict[str, asyncio.Task[None]] = {}

    async def bring_up(resource: Resource[Any]) -> None:
        deps = [tasks[d] for d in resource.dependencies() if d in tasks]
        prepared, *dep_outcomes = await asyncio.gather(
            resource.prepare(), *deps, return_exceptions=True
        )
        if isinstance(prepared, BaseException):
            raise prepared
        if any(isinstance(o, BaseException) for o in dep_outcomes):
            return  # a dependency failed: its own task raises it
        await resource.start(started)
        started[resource.name] = resource

    # `built` is in dependency order, so every dependency's task exists before its dependents'.
    for name, resource in built.items():
        tasks[name] = asyncio.create_task(bring_up(resource), name=f"start {name}")
    pending = set(tasks.values())
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            # The first failure ends the other starts at once (in dependency order when several).
            for task in tasks.values():
                failure = task.exception() if task in done and not task.cancelled() else None
                if failure is not None:
                    raise failure
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return started


async def stop_resources(built: Mapping[str, Resource[Any]]) -> None:
    """Stop every resource once all that reference it have stopped; independent ones together."""
    dependents: dict[str, list[str]] = {name: [] for name in built}
    for name, resource in built.items():
        for dep in resource.dependencies():
            if dep in dependents:
                dependents[dep].append(name)
    tasks: dict[str, asyncio.Task[None]] = {}

    async def bring_down(resource: Resource[Any]) -> None:
        # A failed stop of a dependent does not keep this one running.
        await asyncio.gather(*(tasks[d] for d in dependents[resource.name]), return_exceptions=True)
        try:
            await resource.stop()
        except Exception as exc:
            log.error("stopping resource %s failed: %s", resource.name, exc)

    # Reverse dependency order: every dependent's task exists before the resource it references.
    for name in reversed(list(built)):
        tasks[name] = asyncio.create_task(bring_down(built[name]), name=f"stop {name}")
    await asyncio.gather(*tasks.values(), return_exceptions=True)


async def _play(scenario: Scenario, timeout_s: float) -> tuple[str, str] | None:
    record = scenario.record
    abort: tuple[str, str] | None = None
    try:
        async with asyncio.timeout(timeout_s):
            await scenario.run()
    except ScenarioCannotContinueError as exc:
        log.info("scenario stopped: %s", exc)
    except TestRunCannotContinueError as exc:
        abort = ("critical", f"{scenario.type_name()}: {exc}")
    except ScenarioNotImplementedError as exc:
        record.outcome = ScenarioOutcome.NOT_IMPLEMENTED
        record.error = str(exc)
    except TimeoutError:
        record.outcome = ScenarioOutcome.ERROR
        record.error = f"the scenario did not finish within its {timeout_s:.0f} s time limit"
    except Exception as exc:
        record.outcome = ScenarioOutcome.ERROR
        record.error = _describe(exc)
    scenario.end_test_case()
    try:
        with CleanupPhase(scenario):
            async with asyncio.timeout(CLEANUP_TIMEOUT_S):
                await scenario.cleanup()
    except (ScenarioCannotContinueError, TestRunCannotContinueError) as exc:
        log.info("cleanup check failed: %s", exc)
    except Exception as exc:
        if record.outcome is ScenarioOutcome.PASSED:
            record.outcome = ScenarioOutcome.ERROR
        record.error = (record.error + "\n" if record.error else "") + f"cleanup: {_describe(exc)}"
    if record.outcome is ScenarioOutcome.PASSED and record.failed_checks():
        record.outcome = ScenarioOutcome.FAILED
    return abort


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    location = f" (at {where[0].filename}:{where[0].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{location}"
